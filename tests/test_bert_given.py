"""The bert.* claims on a given BERT-family model (``attnverify run --model DIR --texts FILE``, the ``BERT`` table of
theory/running/given.py): a small ``BertForSequenceClassification`` and a bare ``BertModel`` with a probe, built with
``transformers`` and saved with ``save_pretrained`` next to a tokenizer tests/test_bert_cli.py writes, hold every wired
claim on their documents, each record carrying the folder's SHA-256 and its scope; a model too large for the mpmath
reference gets n/a with the estimate; a broken float64 forward pass makes bert.forward fail on the given model; and
:func:`theory.models.huggingface.to_state_dict` gives back the names and arrays transformers saved."""

from __future__ import annotations

import json

import numpy as np
import pytest

torch = pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")
pytest.importorskip("safetensors")
pytest.importorskip("tokenizers")

from safetensors.numpy import load_file  # noqa: E402
from test_bert_cli import CORPUS, _tokenizer  # noqa: E402

import theory.claims.bert  # noqa: E402, F401  (registers the bert.* claims)
from theory.checking.population import Population  # noqa: E402
from theory.claims import REGISTRY  # noqa: E402
from theory.cli.main import main  # noqa: E402
from theory.models import bert as model_module  # noqa: E402
from theory.models.huggingface import from_state_dict, read_folder, to_state_dict  # noqa: E402
from theory.running.given import SECONDS_PER_INSTANCE  # noqa: E402
from theory.running.runner import run_claim  # noqa: E402

WIRED = (
    "bert.forward",
    "bert.gradient",
    "bert.padding_invariance",
    "bert.blind_to_values",
    "bert.matches_transformers",
)
N_CLASSES = 3


def _save(kind: str, tmp, d: int = 4, layers: int = 1, ffn: int = 4, seed: int = 0):
    """A random ``kind`` (``classifier``: BertForSequenceClassification; ``probe``: BertModel and a probe.npz) of
    the given sizes saved in ``tmp/model``; returns the folder and the CLI's model options."""
    folder = tmp / "model"
    folder.mkdir()
    _tokenizer("bert", folder, tmp)
    V = transformers.AutoTokenizer.from_pretrained(folder).backend_tokenizer.get_vocab_size()
    config = transformers.BertConfig(
        vocab_size=V,
        max_position_embeddings=40,
        num_labels=N_CLASSES,
        hidden_size=d,
        num_hidden_layers=layers,
        num_attention_heads=2,
        intermediate_size=ffn,
        attn_implementation="eager",
    )
    model = (transformers.BertModel if kind == "probe" else transformers.BertForSequenceClassification)(config)
    model = model.double().eval()
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, p in model.named_parameters():
            p.copy_(
                torch.randn(p.shape, generator=generator, dtype=torch.float64) * 0.5
                + (1.0 if "LayerNorm.weight" in name else 0.0)
            )
    model.save_pretrained(folder)
    if kind != "probe":
        return folder, []
    rng = np.random.default_rng(seed)
    np.savez(tmp / "probe.npz", w=rng.standard_normal((N_CLASSES, d)), b=rng.standard_normal(N_CLASSES))
    return folder, ["--probe", str(tmp / "probe.npz")]


@pytest.fixture(scope="module")
def folders(tmp_path_factory):
    """kind -> (folder, model options, texts file)."""
    out = {}
    for kind in ("classifier", "probe"):
        tmp = tmp_path_factory.mktemp(kind)
        folder, options = _save(kind, tmp)
        texts = tmp / "texts.txt"
        texts.write_text("\n".join(CORPUS) + "\n", encoding="utf-8")
        out[kind] = (folder, options, texts)
    return out


@pytest.mark.parametrize("kind", ["classifier", "probe"])
def test_every_wired_claim_holds_on_the_given_model(folders, kind, tmp_path, capsys):
    folder, options, texts = folders[kind]
    out = tmp_path / "report"
    argv = ["run", "--model", str(folder), "--texts", str(texts), "--only", *WIRED, "--out", str(out), *options]
    code = main(argv)
    assert code == 0, capsys.readouterr().err
    summary = json.loads((out / "summary.json").read_text(encoding="utf-8"))
    records = {r["id"]: r for r in summary["claims"]}
    assert set(records) == set(WIRED)
    for claim, r in records.items():
        assert r["verdict"] == "holds", (claim, r["diagnosis"])
        assert r["examples"] > 0 and r["model_sha256"] == summary["model_sha256"] and r["model_sha256"], claim
        assert r["scope"], claim
    for claim in ("bert.gradient", "bert.padding_invariance", "bert.blind_to_values"):
        assert "2 of the T = 40 positions checked" in records[claim]["scope"], records[claim]["scope"]
    assert "pad tokens (attention mask 0) appended" in records["bert.padding_invariance"]["scope"]


def test_constructions_stay_random_only(folders):
    folder, _, _ = folders["classifier"]
    population = Population("model:model", read_folder(folder).model, ((5, 6),))
    for claim in ("bert.tokenize", "bert.attention_bound"):
        record = run_claim(REGISTRY[claim], "ci", 0, population)
        assert record.verdict == "n/a" and "construction" in record.diagnosis, record.diagnosis


def test_too_large_a_model_is_not_applicable_with_the_estimate(tmp_path):
    folder, _ = _save("classifier", tmp_path, d=128, layers=4, ffn=512)
    population = Population("model:big", read_folder(folder).model, ((5, 6, 7),))
    record = run_claim(REGISTRY["bert.forward"], "ci", 0, population)
    assert record.verdict == "n/a" and record.examples == 0, record.diagnosis
    assert "one mpmath forward pass" in record.diagnosis and "of 5 tokens" in record.diagnosis, record.diagnosis
    estimate = float(record.diagnosis.split("~")[1].split(" s ")[0])
    assert estimate > SECONDS_PER_INSTANCE, record.diagnosis


def test_forward_fails_on_a_broken_given_model(folders, monkeypatch):
    """LayerNorm with ε = 1e-5 instead of the config's 1e-12 in the float64 forward pass only: the mpmath reference
    of the given weights tells."""
    folder, _, _ = folders["classifier"]
    population = Population("model:model", read_folder(folder).model, ((5, 6, 7), (8, 9)))
    layer_norm = model_module.layer_norm
    monkeypatch.setattr(model_module, "layer_norm", lambda weight, bias, x, eps: layer_norm(weight, bias, x, 1e-5))
    record = run_claim(REGISTRY["bert.forward"], "ci", 0, population)
    assert record.verdict == "fails", record.diagnosis


@pytest.mark.parametrize("kind", ["classifier", "probe"])
def test_to_state_dict_gives_back_what_transformers_saved(folders, kind):
    folder, options, _ = folders[kind]
    model = read_folder(folder, options[1] if options else None).model
    hf, weights, probe = to_state_dict(model)
    saved = load_file(str(folder / "model.safetensors"))
    if kind == "probe":  # the bare BertModel's pooler is not part of the mean readout
        saved = {k: v for k, v in saved.items() if not k.startswith("pooler.")}
        with np.load(options[1]) as arrays:
            assert np.array_equal(probe["w"], arrays["w"]) and np.array_equal(probe["b"], arrays["b"])
    else:
        assert probe is None
    assert set(weights) == set(saved)
    assert all(np.array_equal(weights[k], saved[k]) for k in saved)
    written = json.loads((folder / "config.json").read_text(encoding="utf-8"))
    assert {k: written[k] for k in hf if k != "num_labels"} == {k: v for k, v in hf.items() if k != "num_labels"}
    again = from_state_dict(hf, weights, probe)
    assert again.config == model.config
    assert all(np.array_equal(value, again.weights()[name]) for name, value in model.weights().items())
