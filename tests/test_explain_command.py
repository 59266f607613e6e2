"""``attnverify explain`` as a newcomer uses it (issue 20/21): the bundled models by default, several methods or
``all``, the table of words × methods, ``--json`` with the words, ``--plot``/``--html``, both model families
through ``--text`` for every method defined for them, the refusals (time, memory, undefined methods, torch files)."""

from __future__ import annotations

import json
import sys

import numpy as np
import pytest

from theory.explainers.perturb import evaluator, perturbed_documents
from theory.models.encoder import embed, forward_embedded, load_model
from theory.models.one_layer import document, positional_encoding
from theory.models.vocabulary import load_vocabulary
from theory.sentiment.fixture import DATA, load_fixture
from theory.suite.cli import main
from theory.suite.explain import ENCODER_METHODS, METHODS, NOT_DEFINED, WORD_METHODS
from theory.suite.strategies.encoder import EncoderSpec

SENTENCE = "a brilliant film, but the ending was boring"
WORDS = ["a", "brilliant", "film", "but", "the", "ending", "was", "boring"]  # the bundled tokenizer: no comma
TOKENS = ["[cls]", "<unk>", "good", "bad", "film", ".", "not", "dull", "fun", "a"]
SPEC = EncoderSpec(L=2, K=2, d=4, d_att=2, d_out=3, d_ff=3, V=len(TOKENS), T=9, pe=True, residual=True, norm="pre",
                   activation="gelu", biases=True, seed=3)


@pytest.fixture
def encoder_files(tmp_path):
    model = SPEC.build()
    model.save(tmp_path / "enc.npz")
    (tmp_path / "v.txt").write_text("\n".join(TOKENS), encoding="utf-8")
    return model, tmp_path


def _run(capsys, *argv):
    code = main(["explain", *argv])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


# --- the bundled models ---------------------------------------------------------------------------------------------

def test_bundled_vocabulary_is_the_public_format_for_both_models():
    fx = load_fixture()
    for name in ("sentiment_model.npz", "sentiment_encoder.npz"):
        vocab = load_vocabulary(DATA / "vocab.txt", load_model(DATA / name), cls_token="[CLS]", unk_token="[UNK]")
        assert vocab.tokens == fx.words
    ratings = (DATA / "ratings.tsv").read_text(encoding="utf-8").splitlines()
    assert len(ratings) == len(fx.ratings) > 1000
    assert all(fx.words[i] in {line.split("\t")[0] for line in ratings} for i in fx.ratings)


def test_default_is_the_bundled_model_and_a_table_of_words(capsys):
    code, out, err = _run(capsys, "--text", SENTENCE, "--method", "grad-l2,lime-inf")
    assert code == 0 and err == ""
    lines = out.splitlines()
    assert "bundled one-layer model's positive-class logit" in lines[0]
    header = next(line for line in lines if line.startswith("pos"))
    assert header.split() == ["pos", "word", "grad-l2", "lime-inf"]
    rows = [line.split() for line in lines if line[:5].strip().isdigit()]
    assert [row[1] for row in rows] == ["[CLS]", *WORDS]
    assert rows[0][3] == "·" and all(row[2].startswith(("+", "-")) for row in rows)
    assert "(word): a score per distinct word" in out


def test_bundled_by_path_is_the_bundled_model(capsys):
    by_name = _run(capsys, "--text", SENTENCE, "--method", "grad-l2", "--json")
    by_path = _run(capsys, str(DATA / "sentiment_model.npz"), "--text", SENTENCE, "--method", "grad-l2", "--json")
    assert by_name[0] == by_path[0] == 0 and json.loads(by_name[1]) == json.loads(by_path[1])


def test_repeated_and_comma_separated_methods_and_all(capsys):
    code, out, _ = _run(capsys, "--text", "a brilliant film", "--method", "grad-l2,lime", "--method", "eq19,grad-l2",
                        "--json")
    assert code == 0 and [r["method"] for r in json.loads(out)] == ["grad-l2", "lime", "eq19"]
    code, out, _ = _run(capsys, "--text", "a brilliant film", "--method", "all", "--json", "--samples", "64")
    results = json.loads(out)
    assert code == 0 and [r["method"] for r in results] == list(METHODS)
    assert {r["method"] for r in results if "words" in r} == set(WORD_METHODS)


def test_json_carries_the_words(capsys):
    code, out, _ = _run(capsys, "--text", "boring film, brilliant film", "--method", "lime-inf,grad-l2", "--json")
    lime_inf, grad = json.loads(out)
    words = load_fixture().words
    assert code == 0 and lime_inf["text"] == "boring film, brilliant film"
    assert lime_inf["token_strings"] == ["[CLS]", "boring", "film", "brilliant", "film"] == grad["token_strings"]
    assert lime_inf["word_strings"] == ["boring", "film", "brilliant"] == [words[i] for i in lime_inf["words"]]
    assert "word_strings" not in grad


def test_a_word_score_is_shown_at_each_occurrence(capsys):
    code, out, _ = _run(capsys, "--text", "boring film, brilliant film", "--method", "lime-inf")
    rows = {line.split()[0]: line.split()[1:] for line in out.splitlines() if line[:5].strip().isdigit()}
    assert code == 0 and rows["2"][0] == rows["4"][0] == "film" and rows["2"][1] == rows["4"][1]


def test_tokens_on_the_bundled_model_are_named(capsys):
    fx = load_fixture()
    ids = [fx.ids["brilliant"], fx.ids["film"]]
    code, out, _ = _run(capsys, "--tokens", ",".join(map(str, ids)), "--method", "grad-l2", "--json")
    assert code == 0 and json.loads(out)["token_strings"] == ["[CLS]", "brilliant", "film"]


# --- pictures -------------------------------------------------------------------------------------------------------

def test_plot_is_a_png(tmp_path, capsys):
    pytest.importorskip("matplotlib")
    import matplotlib.image

    target = tmp_path / "e.png"
    code, _, _ = _run(capsys, "--text", SENTENCE, "--method", "grad-l2,lime-inf,shapley", "--plot", str(target))
    assert code == 0 and target.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    image = matplotlib.image.imread(target)
    assert image.ndim == 3 and image.shape[0] > 100 and image.shape[1] > 400
    assert np.ptp(image[..., :3]) > 0.5  # not a blank page


def test_plot_without_matplotlib_names_the_extra(tmp_path, capsys, monkeypatch):
    monkeypatch.setitem(sys.modules, "matplotlib", None)  # `import matplotlib` raises ImportError
    code, out, err = _run(capsys, "--text", SENTENCE, "--method", "grad-l2", "--plot", str(tmp_path / "e.png"))
    assert code == 2 and out == "" and "pip install '.[report]'" in err and len(err.splitlines()) == 1
    assert not (tmp_path / "e.png").exists()


def test_html_holds_every_word_and_method(tmp_path, capsys):
    target = tmp_path / "e.html"
    code, _, _ = _run(capsys, "--text", SENTENCE + " <b>", "--method", "grad-l2,shapley", "--html", str(target),
                      "--oov", "drop")
    page = target.read_text(encoding="utf-8")
    assert code == 0 and all(f">{word}</span>" in page for word in WORDS)
    assert "grad-l2 (per position" in page and "shapley (per word" in page and "<b>" not in page.split("<body>")[1]


# --- the encoder family ---------------------------------------------------------------------------------------------

@pytest.mark.parametrize("method", list(ENCODER_METHODS))
def test_every_encoder_method_through_text(encoder_files, capsys, method):
    model, d = encoder_files
    code, out, err = _run(capsys, str(d / "enc.npz"), "--text", "good film. not dull a good film", "--vocab",
                          str(d / "v.txt"), "--method", method, "--json")
    assert code == 0, err
    result = json.loads(out)
    ids = [TOKENS.index(w) for w in ["good", "film", ".", "not", "dull", "a", "good", "film"]]
    doc = document(model, ids)
    assert result["tokens"] == doc[:9].tolist() and result["token_strings"][1:] == [TOKENS[i] for i in ids]
    assert np.isclose(result["f"], model.output(doc[None])[0], rtol=1e-14)
    assert np.all(np.isfinite(result["scores"]))
    if method in ("shapley", "kernelshap"):  # efficiency, against f and the empty text's f computed here
        empty = perturbed_documents(doc, 8, np.zeros((1, 6)), "replace", model.unk_id)
        assert np.isclose(sum(result["scores"]), result["f"] - model.output(empty)[0], rtol=1e-9, atol=1e-12)
    if method == "occlusion":  # leave one word out, by hand
        for j, word in enumerate(result["words"]):
            dropped = np.where(doc == word, model.unk_id, doc)  # the word's occurrences (never CLS, UNK)
            assert np.isclose(result["scores"][j], result["f"] - model.output(dropped[None])[0], rtol=1e-12)
    if method == "ig":  # completeness within the gap the result reports
        assert abs(sum(result["scores"]) - (result["f"] - result["f_baseline"])) <= result["completeness_gap"] + 1e-12


@pytest.mark.parametrize("method", ["eq19", "lime-large-d"])
def test_methods_not_defined_for_an_encoder_say_why(encoder_files, capsys, method):
    _, d = encoder_files
    code, out, err = _run(capsys, str(d / "enc.npz"), "--tokens", "2,3", "--method", method)
    assert code == 2 and out == "" and len(err.splitlines()) == 1
    assert f"method '{method}' is not defined for an encoder: {NOT_DEFINED[method]}" in err


def test_rollout_is_not_defined_for_the_one_layer_model(capsys):
    code, _, err = _run(capsys, "--text", "a brilliant film", "--method", "grad-l2,rollout")
    assert code == 2 and "is not defined for the one-layer model" in err and "use attention-avg" in err


def test_bundled_encoder_reads_text(capsys):
    code, out, _ = _run(capsys, "bundled-encoder", "--text", SENTENCE, "--method", "occlusion", "--json")
    result = json.loads(out)
    assert code == 0 and result["word_strings"] == WORDS and len(result["scores"]) == 8


@pytest.mark.parametrize("semantics", ["mask:9", "zero"])
def test_encoder_substitutions_build_the_right_documents(encoder_files, semantics):
    model, _ = encoder_files
    doc = document(model, [2, 4, 2, 3])
    Z = np.array([[1.0, 1, 1], [0, 1, 0], [0, 0, 0]])
    got = evaluator(model, doc, 4, semantics)(Z)
    if semantics == "mask:9":
        want = model.output(perturbed_documents(doc, 4, Z, "replace", 9))
    else:  # every occurrence of a removed word at p_t: the embedding rows built here
        X = np.repeat(embed(model, doc[None]), 3, axis=0)
        P = positional_encoding(model.T, model.d)
        for r, z in enumerate(Z):
            for t, w in enumerate(doc[1:5], 1):
                if z[[2, 4, 3].index(w)] == 0:
                    X[r, t] = P[t]
        want = forward_embedded(model, X, keep=False).f
    np.testing.assert_allclose(got, want, rtol=1e-13, atol=1e-15)


# --- refusals and bad input -----------------------------------------------------------------------------------------

@pytest.mark.parametrize("method, samples, message", [
    ("shapley", 10**12, "Shapley with 1000000000000 antithetic pairs of orders and d = 3 distinct words would take "
                        "about"),
    ("kernelshap", 10**12, "KernelSHAP with --samples 1000000000000 and d = 3 distinct words would need about"),
    ("kernelshap", 10**9, "KernelSHAP with --samples 1000000000 and d = 3 distinct words would"),
    ("smoothgrad", 10**12, "SmoothGrad with --samples 1000000000000 antithetic pairs of noise draws would take about"),
    ("clime", 10**12, "C-LIME with --samples 1000000000000 antithetic pairs of noise draws would take about"),
    ("lime", 10**9, "LIME with --samples 1000000000 and d = 3 distinct words would"),
])
def test_sampled_methods_refuse_unreasonable_samples(capsys, method, samples, message):
    code, out, err = _run(capsys, "--text", "a brilliant film", "--method", method, "--samples", str(samples))
    assert code == 2 and out == "" and len(err.splitlines()) == 1 and message in err
    assert "would take about" not in err or "more than the 10.0 min limit; use fewer --samples" in err


@pytest.mark.parametrize("argv, message", [
    (["--text", "a film", "--method", ""], "--method needs method names"),
    (["--text", "a film", "--method", "grad-l2,,lime"], "--method needs method names"),
    (["--text", "a film", "--method", "nope"], "unknown method 'nope'"),
    (["--text", "a film", "--method", "grad-l2,lime", "--sigma", "0.2"], "--sigma applies to none of the chosen"),
    (["--text", "a film", "--method", "grad-l2", "--plot", "x.jpg"], "--plot 'x.jpg' must end in .png"),
    (["--text", "a film", "--method", "grad-l2", "--html", "x.png"], "--html 'x.png' must end in .html"),
    (["--texts", "t.txt", "--method", "grad-l2", "--html", "x.html"], "--plot and --html draw one document"),
    (["--text", "a wonderful film", "--method", "grad-l2"], "out-of-vocabulary words 'wonderful'"),
    (["no-such.npz", "--tokens", "2", "--method", "grad-l2"], "does not exist"),
    ([], "give the document: --tokens IDS, --text TEXT or --texts FILE"),
])
def test_bad_input_is_one_line_and_exit_2(tmp_path, capsys, monkeypatch, argv, message):
    monkeypatch.chdir(tmp_path)
    code, out, err = _run(capsys, *argv)
    assert code == 2 and out == "" and len(err.splitlines()) == 1 and message in err
    assert not list(tmp_path.iterdir())


def test_a_torch_file_is_sent_to_import(tmp_path, capsys):
    torch = pytest.importorskip("torch")
    torch.save({"embedding.weight": torch.zeros(3, 2)}, tmp_path / "mh.pt")
    code, _, err = _run(capsys, str(tmp_path / "mh.pt"), "--tokens", "1", "--method", "grad-l2")
    assert code == 2 and "is a PyTorch file (torch.save)" in err and "run `attnverify import` first" in err
    assert "lacks" not in err
