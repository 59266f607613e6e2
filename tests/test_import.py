"""``attnverify import`` (docs/theory.md §11.3): the authors' MultiHead ``state_dict`` → public ``.npz``.

Oracle: the torch module :class:`reference.oracles.torch_multihead.MultiHead` (torch's own ``nn.Embedding`` /
``nn.Linear`` layers, the authors' parameter names) with random float64 weights is ``torch.save``d, imported
through the command line, and its own forward pass and autograd are compared with the imported model's
float64 closed forms: ``f`` (one logit, or a logit difference with ``--contrast``), the CLS attention ``α`` and
``∇_{e_t} f`` at every position, each relative to the magnitude of its terms (``term_magnitudes``,
``gradient.magnitudes``), for scale on/off × positional encoding on/off.  The worst figure is printed.
"""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch", reason="the importer needs torch: pip install '.[import]'")

from reference.oracles.torch_multihead import MultiHead  # noqa: E402
from theory.checking.compare import RTOL  # noqa: E402
from theory.cli.main import main  # noqa: E402
from theory.explainers.gradient import magnitudes  # noqa: E402
from theory.models import load  # noqa: E402
from theory.models.one_layer import term_magnitudes  # noqa: E402
from theory.models.one_layer_gradient import gradient  # noqa: E402

WORST = {"f": 0.0, "alpha": 0.0, "grad": 0.0}
SIZES = {"V": 14, "d_e": 6, "K": 3, "d_att": 4, "d_out": 5, "n_classes": 3, "max_len": 9}


@pytest.fixture(scope="module", autouse=True)
def print_worst(request):
    yield
    line = "[import oracle] worst error / magnitude of the terms: " + ", ".join(
        f"{key} {value:.3e}" for key, value in WORST.items()
    )
    capture = request.config.pluginmanager.getplugin("capturemanager")
    with capture.global_and_fixture_disabled():
        print("\n" + line)


def saved_multihead(path, seed, pe, scale, sizes=SIZES):
    torch.manual_seed(seed)
    module = MultiHead(**sizes, pe=pe, scale=scale)
    with torch.no_grad():  # larger than torch's default init, so that attention is not flat
        for head in module.heads:
            head.query.weight.mul_(3.0)
            head.key.weight.mul_(3.0)
    torch.save(module.state_dict(), path)
    return module


def documents(rng, T, V, n=4):
    """Token-id documents with CLS = 0 first, words from 2..V−1, UNK = 1 padding (some fully used)."""
    docs = np.ones((n, T), dtype=np.int64)
    docs[:, 0] = 0
    for b in range(n):
        length = T - 1 if b == 0 else int(rng.integers(1, T))
        docs[b, 1 : 1 + length] = rng.integers(2, V, length)
    return docs


def relative(got, want, scale) -> float:
    return float((np.abs(got - want) / np.where(scale > 0, scale, 1.0)).max())


@pytest.mark.parametrize("pe", [True, False])
@pytest.mark.parametrize("scale", [True, False])
@pytest.mark.parametrize("explained", [("--class", "2"), ("--contrast", "1,0")])
def test_import_matches_the_torch_module(tmp_path, pe, scale, explained):
    seed = 11 * pe + 3 * scale + len(explained[1])
    module = saved_multihead(tmp_path / "m.pt", seed, pe, scale)
    out = tmp_path / "m.npz"
    flags = ["--pe" if pe else "--no-pe", "--scale" if scale else "--no-scale"]
    assert (
        main(
            [
                "import",
                str(tmp_path / "m.pt"),
                "--out",
                str(out),
                *explained,
                "--cls-id",
                "0",
                "--unk-id",
                "1",
                "--max-len",
                str(SIZES["max_len"]),
                *flags,
            ]
        )
        == 0
    )
    model = load(out)
    assert (model.pe, model.scale, model.K, model.d_att) == (pe, scale, SIZES["K"], SIZES["d_att"])
    docs = documents(np.random.default_rng(seed), SIZES["max_len"], SIZES["V"])

    X = module.embed(torch.as_tensor(docs)).detach().requires_grad_(True)
    logits, alpha = module.forward_embedded(X)
    target = logits[:, 2] if explained[0] == "--class" else logits[:, 1] - logits[:, 0]
    target.sum().backward()  # documents are independent: the sum's gradient is each document's gradient

    g = gradient(model, docs)
    mag = term_magnitudes(model, docs)
    errors = {
        "f": relative(g.forward.f, target.detach().numpy(), mag.f.max(axis=1)),
        "alpha": relative(g.forward.alpha, alpha.detach().numpy(), mag.alpha_scale(g.forward.alpha)),
        "grad": relative(g.grad, X.grad.numpy(), magnitudes(model, docs)),
    }
    for key, error in errors.items():
        WORST[key] = max(WORST[key], error)
        assert error <= RTOL, f"{key}: imported model vs torch module, error {error:.3e} (tolerance {RTOL:.0e})"
    # not vacuous: the two scale settings give different attention on the same weights
    other = gradient(model.replace(scale=not scale), docs).forward.alpha
    assert relative(other, g.forward.alpha, mag.alpha_scale(g.forward.alpha)) > 1e-3


def _import(tmp_path, source, *extra):
    out = tmp_path / "out.npz"
    code = main(["import", str(source), "--out", str(out), "--cls-id", "0", "--unk-id", "1", "--max-len", "9", *extra])
    return code, out


def _edited(tmp_path, edit):
    module = saved_multihead(tmp_path / "m.pt", 0, True, True)
    state = module.state_dict()
    edit(state)
    torch.save(state, tmp_path / "edited.pt")
    return tmp_path / "edited.pt"


@pytest.mark.parametrize(
    "edit, message",
    [
        (lambda s: s.pop("heads.1.key.weight"), "missing heads.1.key.weight"),
        (
            lambda s: s.__setitem__("heads.0.query.bias", torch.zeros(4, dtype=torch.float64)),
            "unexpected heads.0.query.bias",
        ),
        (
            lambda s: s.__setitem__("heads.2.value.weight", torch.zeros(5, 7, dtype=torch.float64)),
            "disagree on d_e: 7 in heads.2.value.weight; 6 in embedding.weight, heads.0.query.weight",
        ),
        (
            lambda s: s.__setitem__("heads.0.query.weight", torch.zeros(4, dtype=torch.float64)),
            "heads.0.query.weight has shape (4,); expected 2 dimensions (d_att, d_e)",
        ),
        (
            lambda s: s.__setitem__("heads.0.query.weight", torch.zeros(5, 6, dtype=torch.float64)),
            "disagree on d_att: 5 in heads.0.query.weight; 4 in heads.0.key.weight, heads.1.query.weight",
        ),
        (
            lambda s: s.__setitem__("heads.1.classifier.weight", torch.zeros(2, 5, dtype=torch.float64)),
            "disagree on n_classes: 2 in heads.1.classifier.weight; 3 in heads.0.classifier.weight",
        ),
        (lambda s: s.pop("embedding.weight"), "missing embedding.weight"),
        (
            lambda s: s.__setitem__("heads.0.key.weight", s["heads.0.key.weight"].to_sparse()),
            "is a torch.sparse_coo tensor; save dense weights (tensor.to_dense())",
        ),
    ],
)
def test_bad_state_dicts_are_one_line_errors(tmp_path, capsys, edit, message):
    code, out = _import(tmp_path, _edited(tmp_path, edit), "--class", "0")
    error = capsys.readouterr().err.strip()
    assert code == 2 and message in error and len(error.splitlines()) == 1, error
    assert "None" not in error
    assert not out.exists() and [p.name for p in tmp_path.iterdir()] == ["m.pt", "edited.pt"]


@pytest.mark.parametrize(
    "extra, message",
    [
        (("--class", "3"), "class 3 is out of range: the classifier has 3 classes (0..2)"),
        (("--contrast", "1,7"), "class 7 is out of range"),
        (("--contrast", "1,1"), "the two classes must differ"),
        ((), "the classifier has 3 classes; choose the explained logit with --class"),
    ],
)
def test_class_choice_is_checked(tmp_path, capsys, extra, message):
    saved_multihead(tmp_path / "m.pt", 0, True, True)
    code, out = _import(tmp_path, tmp_path / "m.pt", *extra)
    error = capsys.readouterr().err.strip()
    assert code == 2 and message in error and len(error.splitlines()) == 1, error
    assert not out.exists()


def test_whole_pickled_model_is_refused(tmp_path, capsys):
    """weights_only=True: a pickled nn.Module is not unpickled."""
    module = saved_multihead(tmp_path / "m.pt", 0, True, True)
    torch.save(module, tmp_path / "whole.pt")
    code, out = _import(tmp_path, tmp_path / "whole.pt", "--class", "0")
    error = capsys.readouterr().err.strip()
    assert code == 2 and "weights_only=True" in error and "state_dict" in error and len(error.splitlines()) == 1
    assert not out.exists()
    assert "pickles a reference.oracles.torch_multihead.MultiHead object" in error
    assert "weights_only=False" not in error


@pytest.mark.parametrize(
    "content, message",
    [
        (b"not a torch file", "is not a torch.save'd state_dict of tensors (not a complete torch.save file"),
        (None, "is not a torch.save'd state_dict of tensors (it pickles a"),
    ],
)
def test_unreadable_files_never_advise_unsafe_loading(tmp_path, capsys, content, message):
    if content is None:
        module = saved_multihead(tmp_path / "m.pt", 0, True, True)
        torch.save(module, tmp_path / "bad.pt")
    else:
        (tmp_path / "bad.pt").write_bytes(content)
    code, out = _import(tmp_path, tmp_path / "bad.pt", "--class", "0")
    error = capsys.readouterr().err.strip()
    assert code == 2 and message in error and len(error.splitlines()) == 1, error
    assert "weights_only=False" not in error and "False" not in error
    assert not out.exists()


def test_wrapped_and_checkpointed_state_dicts_name_the_fix(tmp_path, capsys):
    state = saved_multihead(tmp_path / "m.pt", 0, True, True).state_dict()
    torch.save({f"module.{k}": v for k, v in state.items()}, tmp_path / "dp.pt")
    torch.save({"model": state, "epoch": 3}, tmp_path / "ckpt.pt")
    assert _import(tmp_path, tmp_path / "dp.pt", "--class", "0")[0] == 2
    error = capsys.readouterr().err
    assert "start with 'module.'" in error and "k.removeprefix('module.')" in error
    assert _import(tmp_path, tmp_path / "ckpt.pt", "--class", "0")[0] == 2
    assert "its state_dict is under key 'model'" in capsys.readouterr().err


def test_a_non_finite_weight_is_refused_even_in_a_class_not_explained(tmp_path, capsys):
    def edit(state):
        state["heads.0.classifier.weight"][2, 1] = float("nan")  # --class 0 does not use row 2

    code, out = _import(tmp_path, _edited(tmp_path, edit), "--class", "0")
    error = capsys.readouterr().err
    assert code == 2 and "heads.0.classifier.weight" in error and "NaN or inf (first at index [2, 1])" in error
    assert not out.exists()


def test_a_folder_is_named_as_a_folder(tmp_path, capsys):
    (tmp_path / "m.pt").mkdir()
    assert _import(tmp_path, tmp_path / "m.pt", "--class", "0")[0] == 2
    assert "is a folder; pass the path of a torch.save'd state_dict" in capsys.readouterr().err
