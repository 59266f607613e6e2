"""An import you can check (issue 21): ``attnverify import … --expect FILE`` and what the import refuses.

The user's side is played by torch: a MultiHead model (:class:`reference.oracles.torch_multihead.MultiHead`) and a
classifier written here as a user would write it (an ``nn.Embedding``, torch's own ``nn.TransformerEncoder`` with a
final ``nn.LayerNorm`` and an ``nn.Linear``), ``torch.save``d; their own outputs on some documents are the expect
file.  Checked: the imported model's ``f`` equals torch's to 1e-12 of the magnitude of f's terms (float64 models),
a float32 model passes the default tolerance, a wrong ``--heads`` or a padding mask is refused with nothing
written, unknown keys are refused by name, an unwritable ``--out`` is exit 2, and the file's mode is a normal
file's.  The figures are printed.
"""

from __future__ import annotations

import os
import re
import stat
import tempfile

import numpy as np
import pytest

torch = pytest.importorskip("torch", reason="the importer needs torch: pip install '.[import]'")
from torch import nn  # noqa: E402

from reference.oracles.torch_multihead import MultiHead  # noqa: E402
from reference.oracles.torch_positional import positional_encoding  # noqa: E402
from theory.cli.main import main  # noqa: E402
from theory.models import load  # noqa: E402
from theory.models.encoder import Encoder, forward  # noqa: E402
from theory.models.import_check import TOLERANCE  # noqa: E402

V, d, K, T, N_CLASSES = 23, 8, 2, 10, 3
FIGURES: dict[str, float] = {}


@pytest.fixture(scope="module", autouse=True)
def print_figures(request):
    yield
    capture = request.config.pluginmanager.getplugin("capturemanager")
    with capture.global_and_fixture_disabled():
        print("\n[import --expect] " + ", ".join(f"{key} {value:.4g}" for key, value in FIGURES.items()))


class UserEncoder(nn.Module):
    """A user's encoder classifier: torch's modules, a final norm, sinusoidal positions added to the embedding."""

    def __init__(self, heads=K, final_norm=True, dtype=torch.float64, norm_first=False):
        super().__init__()
        self.embedding = nn.Embedding(V, d, dtype=dtype)
        layer = nn.TransformerEncoderLayer(
            d, heads, 16, dropout=0.1, batch_first=True, norm_first=norm_first, dtype=dtype
        )
        self.encoder = nn.TransformerEncoder(
            layer, 2, norm=nn.LayerNorm(d, dtype=dtype) if final_norm else None, enable_nested_tensor=False
        )
        self.classifier = nn.Linear(d, N_CLASSES, dtype=dtype)
        self.register_buffer("P", positional_encoding(T, d).to(dtype), persistent=False)

    def forward(self, docs, mask=None):
        return self.classifier(self.encoder(self.embedding(docs) + self.P, src_key_padding_mask=mask)[:, 0])


def user_encoder(seed=0, **kwargs) -> UserEncoder:
    torch.manual_seed(seed)
    module = UserEncoder(**kwargs).eval()  # eval: no dropout
    with torch.no_grad():  # non-trivial norms (torch initialises γ = 1, β = 0)
        for name, p in module.named_parameters():
            if "norm" in name:
                p.add_(0.3 * torch.randn_like(p))
    return module


def documents(seed=1, n=6) -> np.ndarray:
    """Padded documents: CLS = 0, words 2..V−1, UNK = 1 up to T; one of them full."""
    rng = np.random.default_rng(seed)
    docs = np.ones((n, T), dtype=np.int64)
    docs[:, 0] = 0
    for b in range(n):
        length = T - 1 if b == 0 else int(rng.integers(1, T))
        docs[b, 1 : 1 + length] = rng.integers(2, V, length)
    return docs


def write_expect(path, outputs, docs, padding=False):
    """The documented format: ``F ID ID …`` per line, the ids as the model saw them, CLS first; without
    ``padding`` the trailing UNKs are left out (the import pads to T)."""
    with open(path, "w") as out:
        for value, doc in zip(outputs, docs):
            ids = doc.tolist() if padding else doc[: int(np.flatnonzero(doc != 1).max()) + 1].tolist()
            print(repr(float(value)), *ids, file=out)


def run_import(tmp_path, capsys, *extra, source="m.pt", out="m.npz"):
    code = main(
        [
            "import",
            str(tmp_path / source),
            "--out",
            str(tmp_path / out),
            "--cls-id",
            "0",
            "--unk-id",
            "1",
            "--max-len",
            str(T),
            *extra,
        ]
    )
    return code, capsys.readouterr().err


def save_state_dict(path, arch: str) -> list[str]:
    """A small user's state_dict of ``arch`` ("encoder" or "one-layer") saved at ``path``; the import options it
    needs beyond the ids and T."""
    if arch == "encoder":
        torch.save(user_encoder().state_dict(), path)
        return ["--arch", "encoder", "--heads", str(K), "--class", "0"]
    torch.save(MultiHead(V=V, d_e=6, K=2, d_att=3, d_out=4, n_classes=1, max_len=T).state_dict(), path)
    return []


def encoder_magnitude(model: Encoder, docs) -> np.ndarray:
    fw = forward(model, docs)
    return np.abs(fw.hidden[:, -1, 0]) @ np.abs(model.w) + abs(model.b)


def test_encoder_with_a_final_norm_imports_to_torch_f(tmp_path, capsys):
    module = user_encoder()
    torch.save(module.state_dict(), tmp_path / "m.pt")
    docs = documents()
    with torch.no_grad():
        logits = module(torch.as_tensor(docs)).numpy()
    write_expect(tmp_path / "expect.txt", logits[:, 2], docs)
    code, err = run_import(
        tmp_path,
        capsys,
        "--arch",
        "encoder",
        "--heads",
        str(K),
        "--class",
        "2",
        "--expect",
        str(tmp_path / "expect.txt"),
    )
    assert code == 0, err
    assert "a final norm" in err and "agrees with your 6 outputs" in err and "padding mask" in err
    model = load(tmp_path / "m.npz")
    assert model.final_norm
    f = forward(model, docs).f
    error = float(np.max(np.abs(f - logits[:, 2]) / encoder_magnitude(model, docs)))
    FIGURES["encoder+final norm: |f − torch| / magnitude"] = error
    assert error <= 1e-12
    # what dropping the norm gave (the defect): another f
    plain = Encoder(**{**{k: v for k, v in model.arrays().items() if not k.startswith(("final", "arch"))}})
    dropped = forward(plain, docs[:1]).f[0]
    FIGURES["f torch"], FIGURES["f with the final norm dropped"] = float(logits[0, 2]), float(dropped)
    assert abs(dropped - logits[0, 2]) > 1e-2


def test_multihead_imports_to_torch_f_with_expect_by_ids_and_by_texts(tmp_path, capsys):
    torch.manual_seed(3)
    module = MultiHead(V=V, d_e=6, K=3, d_att=4, d_out=5, n_classes=N_CLASSES, max_len=T)
    with torch.no_grad():
        for head in module.heads:
            head.query.weight.mul_(3.0)
    torch.save(module.state_dict(), tmp_path / "m.pt")
    docs = documents(seed=4)
    with torch.no_grad():
        logits = module(torch.as_tensor(docs)).numpy()
    contrast = logits[:, 1] - logits[:, 0]
    write_expect(tmp_path / "expect.txt", contrast, docs, padding=True)
    code, err = run_import(tmp_path, capsys, "--contrast", "1,0", "--expect", str(tmp_path / "expect.txt"))
    assert code == 0, err
    from theory.models.one_layer import term_magnitudes

    model = load(tmp_path / "m.npz")
    error = float(np.max(np.abs(model.output(docs) - contrast) / term_magnitudes(model, docs).f.max(axis=1)))
    FIGURES["MultiHead: |f − torch| / magnitude"] = error
    assert error <= 1e-12
    # the same outputs next to a texts file (words w2 … w22 of a vocabulary file)
    vocab = ["[cls]", "<unk>", *(f"w{i}" for i in range(2, V))]
    (tmp_path / "vocab.txt").write_text("\n".join(vocab) + "\n")
    (tmp_path / "texts.txt").write_text("".join(" ".join(vocab[i] for i in doc[1:] if i != 1) + "\n" for doc in docs))
    (tmp_path / "values.txt").write_text("".join(f"{float(x)!r}\n" for x in contrast))
    code, err = run_import(
        tmp_path,
        capsys,
        "--contrast",
        "1,0",
        "--expect",
        str(tmp_path / "values.txt"),
        "--texts",
        str(tmp_path / "texts.txt"),
        "--vocab",
        str(tmp_path / "vocab.txt"),
        out="t.npz",
    )
    assert code == 0 and "agrees with your 6 outputs" in err, err
    # a wrong class is caught too, and the right one named
    (tmp_path / "values.txt").write_text("".join(f"{float(x)!r}\n" for x in logits[:, 2]))
    code, err = run_import(
        tmp_path,
        capsys,
        "--class",
        "0",
        "--expect",
        str(tmp_path / "values.txt"),
        "--texts",
        str(tmp_path / "texts.txt"),
        "--vocab",
        str(tmp_path / "vocab.txt"),
        out="c.npz",
    )
    assert code == 2 and "With --class 2 the imported model agrees" in err, err
    assert not (tmp_path / "c.npz").exists()


def test_wrong_heads_is_caught_by_expect(tmp_path, capsys):
    module = user_encoder(seed=5)
    torch.save(module.state_dict(), tmp_path / "m.pt")
    docs = documents(seed=6)
    with torch.no_grad():
        logits = module(torch.as_tensor(docs)).numpy()
    write_expect(tmp_path / "expect.txt", logits[:, 1], docs)
    before = sorted(p.name for p in tmp_path.iterdir())
    code, err = run_import(
        tmp_path, capsys, "--arch", "encoder", "--heads", "4", "--class", "1", "--expect", str(tmp_path / "expect.txt")
    )
    assert code == 2, err
    assert sorted(p.name for p in tmp_path.iterdir()) == before  # nothing written, no temporary left
    (line,) = err.strip().splitlines()
    assert "disagrees with your model's outputs" in line and "the largest at line" in line
    assert "With --heads 2 the imported model agrees" in line
    # the largest difference it names, recomputed: the --heads 4 model against torch
    from theory.models.import_encoder import encoder_from_state_dict

    state = {k: v.numpy() for k, v in module.state_dict().items()}
    wrong = Encoder.from_arrays(encoder_from_state_dict(state, heads=4, cls_id=0, unk_id=1, max_len=T, klass=1))
    relative = np.abs(forward(wrong, docs).f - logits[:, 1]) / np.maximum(
        encoder_magnitude(wrong, docs), np.abs(logits[:, 1])
    )
    i = int(np.argmax(relative))
    FIGURES["--heads 4: largest |f − torch| / magnitude"] = float(relative[i])
    FIGURES["--heads 4: f"], FIGURES["torch f"] = float(forward(wrong, docs).f[i]), float(logits[i, 1])
    assert f"line {i + 1}: yours {float(logits[i, 1])!r}" in line and relative[i] > 100 * TOLERANCE
    # without --expect it imports (the state_dict cannot tell), printing f on one document and how to compare
    code, err = run_import(tmp_path, capsys, "--arch", "encoder", "--heads", "4", "--class", "1")
    assert code == 0 and "f = " in err and "--expect FILE" in err and "padding mask" in err


def test_a_padding_mask_is_refused_with_the_reason(tmp_path, capsys):
    """Outputs of a model run with src_key_padding_mask cannot be matched by any option: the refusal says why."""
    module = user_encoder(seed=7)
    torch.save(module.state_dict(), tmp_path / "m.pt")
    docs = documents(seed=8)
    with torch.no_grad():
        masked = module(torch.as_tensor(docs), mask=torch.as_tensor(docs == 1)).numpy()
    write_expect(tmp_path / "expect.txt", masked[:, 0], docs)
    code, err = run_import(
        tmp_path,
        capsys,
        "--arch",
        "encoder",
        "--heads",
        str(K),
        "--class",
        "0",
        "--expect",
        str(tmp_path / "expect.txt"),
    )
    assert code == 2 and "No other choice" in err and "padding mask" in err, err
    assert not (tmp_path / "m.npz").exists()


def test_a_float32_model_passes_the_default_tolerance(tmp_path, capsys):
    module = user_encoder(seed=9, dtype=torch.float32, norm_first=True)
    torch.save(module.state_dict(), tmp_path / "m.pt")
    docs = documents(seed=10, n=20)
    with torch.no_grad():
        logits = module(torch.as_tensor(docs)).numpy()
    write_expect(tmp_path / "expect.txt", logits[:, 0], docs)
    code, err = run_import(
        tmp_path,
        capsys,
        "--arch",
        "encoder",
        "--heads",
        str(K),
        "--class",
        "0",
        "--norm-first",
        "--expect",
        str(tmp_path / "expect.txt"),
    )
    assert code == 0, err
    model = load(tmp_path / "m.npz")
    relative = np.abs(forward(model, docs).f - logits[:, 0]) / encoder_magnitude(model, docs)
    FIGURES["float32 model: largest |f − torch| / magnitude"] = float(relative.max())
    assert relative.max() <= TOLERANCE / 100  # float32 rounding, far below the tolerance


@pytest.mark.parametrize("key", ["pos_embedding.weight", "encoder.layers.1.self_attn.bias_k", "head.1.weight"])
def test_unknown_keys_are_refused_by_name(tmp_path, capsys, key):
    state = user_encoder().state_dict()
    state[key] = torch.zeros(3, d, dtype=torch.float64)
    torch.save(state, tmp_path / "m.pt")
    code, err = run_import(tmp_path, capsys, "--arch", "encoder", "--heads", str(K), "--class", "0")
    assert code == 2 and "keys the encoder format cannot hold" in err and key in err, err
    assert not (tmp_path / "m.npz").exists()


def test_half_a_final_norm_is_refused(tmp_path, capsys):
    state = user_encoder().state_dict()
    del state["encoder.norm.bias"]
    torch.save(state, tmp_path / "m.pt")
    code, err = run_import(tmp_path, capsys, "--arch", "encoder", "--heads", str(K), "--class", "0")
    assert code == 2 and "lacks encoder.norm.bias" in err


def test_an_encoder_state_dict_without_arch_suggests_it(tmp_path, capsys):
    torch.save(user_encoder().state_dict(), tmp_path / "m.pt")
    code, err = run_import(tmp_path, capsys, "--class", "0")
    assert code == 2 and "--arch encoder --heads K" in err and "divides d = 8: 1, 2, 4, 8" in err, err
    assert len(err) < 400 and "linear1" not in err  # a hint, not the key list


@pytest.mark.parametrize(
    "content, message",
    [
        ("", "is empty"),
        ("-1.5 0 3 4\n\n2.0 0 5\n", "line 2 is empty"),
        ("abc 0 3 4\n", "'abc' is not a number"),
        ("nan 0 3 4\n", "is not finite"),
        ("-1.5\n", "has no token ids"),
        ("-1.5 3 4\n", "starts with id 3, not the CLS id 0"),
        ("-1.5 0 3 x\n", "token ids must be integers"),
        ("-1.5 0 3 99\n", "token id 99 is out of range"),
        ("-1.5 " + " ".join(["0"] + ["3"] * T) + "\n", f"has {T + 1} token ids; the model's T (--max-len) is {T}"),
    ],
)
def test_bad_expect_files(tmp_path, capsys, content, message):
    torch.save(user_encoder().state_dict(), tmp_path / "m.pt")
    (tmp_path / "expect.txt").write_text(content)
    code, err = run_import(
        tmp_path,
        capsys,
        "--arch",
        "encoder",
        "--heads",
        str(K),
        "--class",
        "0",
        "--expect",
        str(tmp_path / "expect.txt"),
    )
    assert code == 2 and message in err and len(err.strip().splitlines()) == 1, err
    assert not (tmp_path / "m.npz").exists()


@pytest.mark.parametrize(
    "extra, message",
    [
        (["--tolerance", "1e-3"], "--tolerance: only with --expect"),
        (["--texts", "t.txt"], "--texts: only with --expect"),
        (["--expect", "e.txt", "--vocab", "v.txt"], "--vocab: only with --texts"),
        (["--expect", "e.txt", "--tolerance", "2"], "--tolerance must be a number between 0 and 1"),
        (["--expect", "e.txt", "--texts", "t.txt"], "--texts needs --vocab"),
    ],
)
def test_expect_options_are_checked(tmp_path, capsys, extra, message):
    torch.save(user_encoder().state_dict(), tmp_path / "m.pt")
    (tmp_path / "e.txt").write_text("1.0\n")
    (tmp_path / "t.txt").write_text("w2 w3\n")
    code, err = run_import(
        tmp_path,
        capsys,
        "--arch",
        "encoder",
        "--heads",
        str(K),
        "--class",
        "0",
        *[str(tmp_path / a) if a.endswith(".txt") else a for a in extra],
    )
    assert code == 2 and message in err, err
    assert not (tmp_path / "m.npz").exists()


def test_expect_lines_must_match_the_texts(tmp_path, capsys):
    torch.save(user_encoder().state_dict(), tmp_path / "m.pt")
    (tmp_path / "v.txt").write_text("\n".join(["[cls]", "<unk>", *(f"w{i}" for i in range(2, V))]) + "\n")
    (tmp_path / "t.txt").write_text("w2 w3\nw4\n")
    (tmp_path / "e.txt").write_text("1.0\n")
    code, err = run_import(
        tmp_path,
        capsys,
        "--arch",
        "encoder",
        "--heads",
        str(K),
        "--class",
        "0",
        "--expect",
        str(tmp_path / "e.txt"),
        "--texts",
        str(tmp_path / "t.txt"),
        "--vocab",
        str(tmp_path / "v.txt"),
    )
    assert code == 2 and "has 1 lines but --texts" in err and "has 2" in err, err


# --- where the file goes -----------------------------------------------------------------------------------------


def _unwritable_folder(tmp_path):
    """A folder this process cannot create files in: a read-only folder when not root (root ignores the mode),
    else /sys when the kernel refuses it; None when neither exists here."""
    if os.geteuid() != 0:
        folder = tmp_path / "ro"
        folder.mkdir()
        folder.chmod(0o555)
        return folder
    try:
        fd, name = tempfile.mkstemp(dir="/sys")
    except OSError:
        return "/sys"
    os.close(fd)
    os.unlink(name)
    return None


@pytest.mark.parametrize("arch", ["one-layer", "encoder"])
def test_unwritable_out_is_exit_2_and_one_line(tmp_path, capsys, arch):
    folder = _unwritable_folder(tmp_path)
    if folder is None:
        pytest.skip("no folder this process cannot write to")
    extra = save_state_dict(tmp_path / "m.pt", arch)
    before = set(os.listdir(folder))
    code = main(
        [
            "import",
            str(tmp_path / "m.pt"),
            "--out",
            f"{folder}/m.npz",
            "--cls-id",
            "0",
            "--unk-id",
            "1",
            "--max-len",
            str(T),
            *extra,
        ]
    )
    err = capsys.readouterr().err
    assert code == 2 and err.startswith("attnverify: error: cannot write --out") and "Traceback" not in err, err
    assert "nothing was written" in err and len(err.strip().splitlines()) == 1
    assert set(os.listdir(folder)) == before


def test_a_failed_rename_leaves_nothing(tmp_path, capsys, monkeypatch):
    """The other place the write can fail (the rename onto --out): exit 2, no temporary file left."""
    torch.save(user_encoder().state_dict(), tmp_path / "m.pt")

    def refuse(*args):
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr("theory.atomic.os.replace", refuse)
    code, err = run_import(tmp_path, capsys, "--arch", "encoder", "--heads", str(K), "--class", "0")
    assert code == 2 and "cannot write --out" in err and "Permission denied" in err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.pt"]


@pytest.mark.parametrize("arch", ["one-layer", "encoder"])
def test_imported_files_have_a_normal_files_mode(tmp_path, capsys, arch):
    extra = save_state_dict(tmp_path / "m.pt", arch)
    assert run_import(tmp_path, capsys, *extra)[0] == 0
    with open(tmp_path / "normal", "w"):
        pass
    mode = stat.S_IMODE((tmp_path / "m.npz").stat().st_mode)
    assert mode == stat.S_IMODE((tmp_path / "normal").stat().st_mode), oct(mode)
    umask = os.umask(0)
    os.umask(umask)
    assert mode == 0o666 & ~umask  # 0644 under the usual umask 022, not mkstemp's 0600


def test_the_help_states_the_tolerance(capsys):
    with pytest.raises(SystemExit):
        main(["import", "--help"])
    stated = re.search(
        r"relative to the magnitude of f's terms \(default (\S+),", " ".join(capsys.readouterr().out.split())
    )
    assert stated and float(stated.group(1)) == TOLERANCE
