"""``encoder_from_state_dict``: a torch ``nn.TransformerEncoder`` classifier's state_dict becomes an encoder whose f,
attention and gradient are torch's; bad state_dicts are InputErrors."""

import numpy as np
import pytest

torch = pytest.importorskip("torch", reason="needs torch: pip install '.[oracles]'")

from reference.oracles.torch_encoder import TorchEncoderClassifier, evaluate
from theory.errors import InputError
from theory.models.encoder import Encoder, forward
from theory.models.encoder_gradient import gradient
from theory.models.import_encoder import encoder_from_state_dict


@pytest.fixture(params=[("relu", False), ("gelu", True)], ids=["relu-post", "gelu-pre"])
def module(request):
    torch.manual_seed(0)
    activation, norm_first = request.param
    m = TorchEncoderClassifier(11, 6, 3, 5, 2, activation, norm_first, True, 7, n_classes=3).eval()
    with torch.no_grad():  # non-trivial norms and biases
        for name, p in m.named_parameters():
            if "norm" in name or "bias" in name:
                p.add_(0.3 * torch.randn_like(p))
    return m, activation, norm_first


def test_import_matches_torch(module):
    m, activation, norm_first = module
    arrays = encoder_from_state_dict(
        m.state_dict(),
        heads=3,
        cls_id=0,
        unk_id=1,
        max_len=7,
        klass=2,
        pe=True,
        activation=activation,
        norm_first=norm_first,
    )
    model = Encoder.from_arrays(arrays)
    docs = np.array([[0, 2, 3, 4, 1, 1, 1], [0, 5, 6, 5, 7, 8, 9]])
    logits = m(torch.as_tensor(docs)).detach().numpy()
    assert np.allclose(forward(model, docs).f, logits[:, 2], rtol=0, atol=1e-12)
    # the explained row as a one-output module: f, attention and ∇ against torch autograd
    single = TorchEncoderClassifier(11, 6, 3, 5, 2, activation, norm_first, True, 7).eval()
    state = m.state_dict()
    state["classifier.weight"], state["classifier.bias"] = state["classifier.weight"][2:], state["classifier.bias"][2:]
    single.load_state_dict(state)
    f, attention, grad = evaluate(single, docs)
    fw = forward(model, docs)
    assert np.allclose(fw.f, f, rtol=0, atol=1e-12) and np.allclose(fw.attention, attention, rtol=0, atol=1e-13)
    assert np.allclose(gradient(model, docs).grad, grad, rtol=0, atol=1e-12)


@pytest.mark.parametrize(
    "edit, message",
    [
        (lambda s: s.pop("embedding.weight"), "lacks embedding.weight"),
        (lambda s: s.pop("encoder.layers.1.norm2.bias"), "lacks encoder.layers.1.norm2.bias"),
        (lambda s: s.__setitem__("encoder.layers.1.linear1.bias", torch.zeros(4)), "expected \\(5,\\)"),
        (lambda s: s.__setitem__("encoder.layers.3.linear1.bias", torch.zeros(5)), "expected encoder.layers.0"),
        (lambda s: s.__setitem__("encoder.layers.0.norm1.weight", torch.full((6,), float("nan"))), "NaN or inf"),
    ],
)
def test_bad_state_dicts(module, edit, message):
    state = dict(module[0].state_dict())
    edit(state)
    with pytest.raises(InputError, match=message):
        encoder_from_state_dict(state, heads=3, cls_id=0, unk_id=1, max_len=7, klass=0)


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"heads": 4}, "positive divisor of d = 6"),
        ({"klass": 3}, "has 3 classes"),
        ({"cls_id": 11}, "not a row of E"),
        ({"activation": "tanh"}, "relu or gelu"),
    ],
)
def test_bad_options(module, kwargs, message):
    options = {"heads": 3, "cls_id": 0, "unk_id": 1, "max_len": 7, "klass": 0, **kwargs}
    with pytest.raises(InputError, match=message):
        encoder_from_state_dict(module[0].state_dict(), **options)


def test_import_command_writes_the_encoder(module, tmp_path):
    """``attnverify import --arch encoder`` (the command line around ``encoder_from_state_dict``): the written
    ``.npz`` loads as an encoder whose f is torch's; missing ``--heads`` is refused with nothing written."""
    from theory.cli.main import main
    from theory.models import load

    m, activation, norm_first = module
    torch.save(m.state_dict(), tmp_path / "m.pt")
    out = tmp_path / "m.npz"
    common = [
        str(tmp_path / "m.pt"),
        "--out",
        str(out),
        "--arch",
        "encoder",
        "--class",
        "1",
        "--cls-id",
        "0",
        "--unk-id",
        "1",
        "--max-len",
        "7",
        "--activation",
        activation,
    ] + (["--norm-first"] if norm_first else [])
    assert main(["import", *common]) == 2 and not out.exists()  # no --heads
    assert main(["import", *common, "--heads", "3"]) == 0
    docs = np.array([[0, 2, 3, 4, 1, 1, 1]])
    logits = m(torch.as_tensor(docs)).detach().numpy()
    assert np.allclose(forward(load(out), docs).f, logits[:, 1], rtol=0, atol=1e-12)
