"""``attnverify explain`` as a newcomer uses it (issue 20/21): the bundled models by default, several methods or
``all``, the table of words × methods, ``--json`` with the words, ``--plot``/``--html``, both model families
through ``--text`` for every method defined for them, the refusals (time, memory, undefined methods, torch files)."""

from __future__ import annotations

import json
import sys
from dataclasses import replace

import mpmath
import numpy as np
import pytest

import reference.explainers.lime_law as lime_law
import reference.models.encoder as ref_encoder
from reference.explainers.encoder_gradient import gradient as ref_gradient
from reference.explainers.integrated import baseline_rows
from reference.explainers.perturb import distinct_words as ref_distinct_words
from reference.explainers.perturb import perturbed_document as ref_perturbed_document
from reference.models.one_layer import embeddings as ref_embeddings
from theory.checking.compare import RTOL
from theory.checking.strategies.encoder import EncoderSpec
from theory.cli.main import main
from theory.explainers.registry import METHODS
from theory.models import load
from theory.models.encoder import embed, forward_embedded, output_embedded
from theory.models.encoder import forward as encoder_forward
from theory.models.encoder_gradient import rounding_scale
from theory.models.one_layer import document, positional_encoding
from theory.models.perturb import evaluator, perturbed_documents
from theory.models.vocabulary import load_vocabulary
from theory.sentiment.fixture import DATA, load_fixture

#: the methods of the one-layer model and of an encoder, in ``--method all``'s order, and the word methods
ONE_LAYER_METHODS = [
    "attention-avg",
    "attention-max",
    "grad-avg",
    "grad-l1",
    "grad-l2",
    "grad-x-input",
    "lime",
    "lime-inf",
    "eq19",
    "lime-large-d",
    "shapley",
    "kernelshap",
    "occlusion",
    "ig",
    "smoothgrad",
    "clime",
]
ENCODER_METHODS = [m for m in ONE_LAYER_METHODS if m not in ("eq19", "lime-large-d")] + ["rollout"]
WORD_METHODS = {"lime", "lime-inf", "eq19", "lime-large-d", "shapley", "kernelshap", "occlusion"}

SENTENCE = "a brilliant film, but the ending was boring"
WORDS = ["a", "brilliant", "film", "but", "the", "ending", "was", "boring"]  # the bundled tokenizer: no comma
TOKENS = ["[cls]", "<unk>", "good", "bad", "film", ".", "not", "dull", "fun", "a"]
SPEC = EncoderSpec(
    L=2,
    K=2,
    d=4,
    d_att=2,
    d_out=3,
    d_ff=3,
    V=len(TOKENS),
    T=9,
    pe=True,
    residual=True,
    norm="pre",
    activation="gelu",
    biases=True,
    seed=3,
)


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
        vocab = load_vocabulary(DATA / "vocab.txt", load(DATA / name), cls_token="[CLS]", unk_token="[UNK]")
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
    code, out, _ = _run(
        capsys, "--text", "a brilliant film", "--method", "grad-l2,lime", "--method", "eq19,grad-l2", "--json"
    )
    assert code == 0 and [r["method"] for r in json.loads(out)] == ["grad-l2", "lime", "eq19"]
    code, out, _ = _run(capsys, "--text", "a brilliant film", "--method", "all", "--json", "--samples", "64")
    results = json.loads(out)
    assert code == 0 and [r["method"] for r in results] == ONE_LAYER_METHODS
    assert {r["method"] for r in results if "words" in r} == WORD_METHODS
    for result in results:
        _assert_self_consistent(result)


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
    code, _, _ = _run(
        capsys, "--text", SENTENCE + " <b>", "--method", "grad-l2,shapley", "--html", str(target), "--oov", "drop"
    )
    page = target.read_text(encoding="utf-8")
    assert code == 0 and all(f">{word}</span>" in page for word in WORDS)
    assert "grad-l2 (per position" in page and "shapley (per word" in page and "<b>" not in page.split("<body>")[1]


# --- the encoder family ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("method", ENCODER_METHODS)
def test_every_encoder_method_through_text(encoder_files, capsys, method):
    model, d = encoder_files
    code, out, err = _run(
        capsys,
        str(d / "enc.npz"),
        "--text",
        "good film. not dull a good film",
        "--vocab",
        str(d / "v.txt"),
        "--method",
        method,
        "--json",
    )
    assert code == 0, err
    result = json.loads(out)
    ids = [TOKENS.index(w) for w in ["good", "film", ".", "not", "dull", "a", "good", "film"]]
    doc = document(model, ids)
    assert result["tokens"] == doc[:9].tolist() and result["token_strings"][1:] == [TOKENS[i] for i in ids]
    assert np.isclose(result["f"], model.output(doc[None])[0], rtol=1e-14)
    _assert_self_consistent(result)
    if method in ("shapley", "kernelshap"):  # efficiency, against f and the empty text's f computed here
        empty = perturbed_documents(doc, 8, np.zeros((1, 6)), "replace", model.unk_id)
        assert np.isclose(sum(result["scores"]), result["f"] - model.output(empty)[0], rtol=1e-9, atol=1e-12)
    if method == "occlusion":  # leave one word out, by hand
        for j, word in enumerate(result["words"]):
            dropped = np.where(doc == word, model.unk_id, doc)  # the word's occurrences (never CLS, UNK)
            assert np.isclose(result["scores"][j], result["f"] - model.output(dropped[None])[0], rtol=1e-12)


def _assert_self_consistent(result):
    """Each score array indexes what ``scores_of`` names, with as many entries (issue: 9 positions, 8 scores)."""
    index = result[result["scores_of"]]
    assert result["scores_of"] == ("words" if result["method"] in WORD_METHODS else "positions")
    assert len(result["positions"]) == len(result["tokens"]) == len(result.get("token_strings", result["tokens"]))
    assert len(result["scores"]) == len(index) == len(result.get("stderr", index))
    assert len(result.get("word_strings", result.get("words", ()))) == len(result.get("words", ()))


# --- the encoder methods against independent references (mpmath, reference/) ---------------------------------------
# A short text keeps the mpmath work small: L = 5 words, d = 4 distinct ones; T = 9, width 4.

SHORT = ["good", "film", ".", "not", "good"]
DPS = 60
STEP = mpmath.mpf(10) ** -20  # central differences at 60 digits: truncation ~1e-40, rounding ~1e-40 of the scale


def _encoder(norm="pre", residual=True):
    return replace(SPEC, norm=norm, residual=residual).build()


def _short_doc(model):
    return document(model, [TOKENS.index(w) for w in SHORT])


def _explained(tmp_path, capsys, model, *argv):
    model.save(tmp_path / "m.npz")
    code, out, err = _run(
        capsys, str(tmp_path / "m.npz"), "--tokens", ",".join(str(TOKENS.index(w)) for w in SHORT), "--json", *argv
    )
    assert code == 0, err
    results = json.loads(out)
    return {r["method"]: r for r in (results if isinstance(results, list) else [results])}


def _slope(model, P, t, direction):
    """``d/dh f(P + h·direction at position t)`` at ``h = 0`` by a central difference of the mpmath encoder."""
    with mpmath.workdps(DPS):
        plus, minus = [list(row) for row in P], [list(row) for row in P]
        plus[t] = [p + STEP * v for p, v in zip(P[t], direction)]
        minus[t] = [p - STEP * v for p, v in zip(P[t], direction)]
        f_plus, f_minus = (ref_encoder.forward_embedded(model, Q, DPS).f for Q in (plus, minus))
        return (f_plus - f_minus) / (2 * STEP)


def _readout_terms(model, P) -> float:
    """``|b| + Σ_k |w_k h^(L)_{0,k}|`` of the mpmath forward pass at the embedded document ``P``: the size of the
    terms ``f`` sums, the scale of its float64 rounding (docs/theory.md §11.1)."""
    h = ref_encoder.forward_embedded(model, P, DPS).hidden[-1][0]
    return float(abs(model.b) + sum(abs(float(w) * h_k) for w, h_k in zip(model.w, h)))


@pytest.mark.parametrize(
    "norm, residual, zeros",
    [("pre", True, [1, 2, 3, 4, 5]), ("pre", False, [0, 1, 2, 3, 4, 5]), ("post", True, []), ("none", True, [])],
)
def test_encoder_gradients_against_central_differences(tmp_path, capsys, norm, residual, zeros):
    """grad-* against central differences of the mpmath encoder (reference/explainers/encoder_gradient.py), every
    coordinate of positions 0..L, to 1e-12 of the adjoints' scale (:func:`rounding_scale`, the magnitude of the
    terms backpropagation sums) times the size of the aggregate's own sum; and the positions that LayerNorm makes
    exactly 0 for grad-avg: the reference's coordinate sums vanish there (to 1e-25 of Σ_k |∇_{t,k}|: the difference
    quotient's error) and nowhere else (above 1e-8), and the JSON flags exactly those."""
    model = _encoder(norm, residual)
    doc = _short_doc(model)
    results = _explained(tmp_path, capsys, model, "--method", "grad-avg,grad-l1,grad-l2,grad-x-input")
    exact = ref_gradient(model, doc.tolist(), positions=range(len(SHORT) + 1))
    grad = [[float(g) for g in row] for row in exact]
    X = embed(model, doc[None])[0]
    scale = RTOL * float(rounding_scale(model, encoder_forward(model, doc))[0])
    d = model.d
    want = {
        "grad-avg": [np.mean(g) for g in grad],
        "grad-l1": [np.abs(g).sum() for g in grad],
        "grad-l2": [np.linalg.norm(g) for g in grad],
        "grad-x-input": [np.dot(g, X[t]) for t, g in enumerate(grad)],
    }
    size = {
        "grad-avg": [1.0] * len(grad),
        "grad-l1": [d] * len(grad),
        "grad-l2": [np.sqrt(d)] * len(grad),
        "grad-x-input": [np.abs(X[t]).sum() for t in range(len(grad))],
    }
    for method, values in want.items():
        np.testing.assert_allclose(
            results[method]["scores"], values, rtol=0, atol=scale * max(size[method]), err_msg=method
        )
    sums = [abs(mpmath.fsum(row)) / mpmath.fsum(abs(g) for g in row) for row in exact]
    assert [t for t, s in enumerate(sums) if s < 1e-25] == zeros
    assert all(s > 1e-8 for t, s in enumerate(sums) if t not in zeros)
    assert results["grad-avg"].get("exactly_zero", {}).get("positions", []) == zeros
    assert all("exactly_zero" not in results[m] for m in ("grad-l1", "grad-l2", "grad-x-input"))


def test_layer_norm_zeros_in_the_table_json_and_picture(tmp_path, capsys):
    """The table prints a LayerNorm zero as ``0 (LN)`` (not float64's ±1e-17), says why in one line, and the
    picture's line for it is white with the same reason; C-LIME's estimates there are called sampling noise."""
    model = _encoder("pre")
    model.save(tmp_path / "m.npz")
    tokens = ",".join(str(TOKENS.index(w)) for w in SHORT)
    code, out, _ = _run(
        capsys,
        str(tmp_path / "m.npz"),
        "--tokens",
        tokens,
        "--method",
        "grad-avg,grad-l2,smoothgrad,clime",
        "--samples",
        "8",
    )
    assert code == 0
    rows = [line.split("  ") for line in out.splitlines() if line[:5].strip().isdigit()]
    cells = [[c.strip() for c in row if c.strip()] for row in rows]
    assert all(row[2] == row[4] == "0 (LN)" for row in cells[1:]) and cells[0][2] != "0 (LN)"
    assert "e-1" not in out.split("\n\n")[1]  # no rounding noise printed as a score
    assert "0 (LN): grad-avg, smoothgrad at positions 1–5 are 0 exactly — pre-norm encoder" in out
    assert "clime: its population value at positions 1–5 is 0" in out
    from theory.cli.explain_view import _lines

    results = list(
        _explained(tmp_path, capsys, model, "--method", "grad-avg,smoothgrad,clime", "--samples", "8").values()
    )
    _, lines = _lines(results)
    assert [label for label, _, _ in lines[:2]] == [
        "grad-avg (per position, every word exactly 0 by LayerNorm)",
        "smoothgrad (per position, every word exactly 0 by LayerNorm)",
    ]
    assert lines[2][0].endswith("population value 0 at the words: sampling noise)") and lines[2][1] > 0
    assert results[2]["population_zero"]["positions"] == [1, 2, 3, 4, 5]


def test_bundled_encoder_sentence_has_no_rounding_noise_as_a_score(capsys):
    code, out, _ = _run(
        capsys, "bundled-encoder", "--text", SENTENCE, "--method", "grad-avg,smoothgrad", "--samples", "4"
    )
    rows = [line.split() for line in out.splitlines() if line[:5].strip().isdigit()]
    assert code == 0 and all(row[2:] == ["0", "(LN)", "0", "(LN)"] for row in rows[1:])
    # CLS: the readout's direct path, Σ_k ∇_{0,k} = Σ_k w_k exactly (every other path crosses a LayerNorm)
    w = load(DATA / "sentiment_encoder.npz").w
    assert rows[0][2:] == [f"{np.mean(w):+.3g}", f"{np.sum(w):+.3g}"]


@pytest.mark.parametrize("semantics", ["delete", "replace"])
def test_encoder_lime_inf_against_enumeration(tmp_path, capsys, semantics):
    """β^∞ against the brute force: all 2^d perturbed documents (reference/explainers/perturb.py) through the mpmath
    encoder, LIME's law and kernel and the weighted normal equations in mpmath (reference/explainers/lime_law.py).
    β^∞ is linear in the 2^d values, β_j = Σ_z c_{z,j} f(z); tolerance 1e-12 of the terms, Σ_z |c_{z,j}| F(z), with
    F(z) the readout terms of f(z)."""
    model = _encoder("post")
    doc = _short_doc(model).tolist()
    result = _explained(tmp_path, capsys, model, "--method", "lime-inf", "--semantics", semantics)["lime-inf"]
    words = ref_distinct_words(doc, len(SHORT))
    d = len(words)
    values, terms = [], []
    for k in range(2**d):
        perturbed = ref_perturbed_document(doc, len(SHORT), lime_law.pattern(k, d), semantics, int(model.unk_id))
        P = ref_embeddings(model, perturbed, DPS)
        values.append(ref_encoder.forward_embedded(model, P, DPS).f)
        terms.append(_readout_terms(model, P))
    beta = [float(b) for b in lime_law.beta_inf(values, d)]
    unit = [lime_law.beta_inf([mpmath.mpf(int(i == k)) for i in range(2**d)], d) for k in range(2**d)]
    tolerance = [RTOL * sum(abs(float(unit[k][j])) * terms[k] for k in range(2**d)) for j in range(d + 1)]
    assert result["words"] == words and result["exact"] is True
    assert abs(result["intercept"] - beta[0]) <= tolerance[0]
    assert np.all(np.abs(np.array(result["scores"]) - beta[1:]) <= tolerance[1:])


def test_encoder_ig_against_gauss_legendre_of_the_reference(tmp_path, capsys):
    """IG_t = ∫_0^1 (d/dh) f(e' + a(e − e') + h·(e_t − e'_t)) da: the directional derivative by a central difference
    of the mpmath encoder, the integral by Gauss–Legendre in mpmath at 24 nodes (its error bounded by the change from
    12 nodes: the integrand is analytic — GELU, softmax, LayerNorm — so the rule converges geometrically).
    Tolerance: a fixed 1e-3 of the
    readout terms at the document, the accuracy the encoder's IG is documented to stop at (docs/command-line.md)."""
    model = _encoder("post")
    doc = _short_doc(model).tolist()
    L = len(SHORT)
    result = _explained(tmp_path, capsys, model, "--method", "ig")["ig"]
    with mpmath.workdps(DPS):
        X, X0 = baseline_rows(model, doc, L, "replace", DPS)

        def integral(degree):
            out = [mpmath.mpf(0)] * (L + 1)
            for x, weight in mpmath.calculus.quadrature.GaussLegendre(mpmath.mp).calc_nodes(degree, mpmath.mp.prec):
                a = (x + 1) / 2
                P = [[x0 + a * (x1 - x0) for x0, x1 in zip(r0, r1)] for r0, r1 in zip(X0, X)]
                for t in range(1, L + 1):
                    out[t] += weight / 2 * _slope(model, P, t, [x1 - x0 for x0, x1 in zip(X0[t], X[t])])
            return out

        coarse, fine = integral(3), integral(4)
        f_diff = ref_encoder.forward_embedded(model, X, DPS).f - ref_encoder.forward_embedded(model, X0, DPS).f
    scale = _readout_terms(model, X)
    # the reference's error, at most its change from 12 to 24 nodes (geometric convergence), is a tenth of the tolerance
    assert max(abs(float(a - b)) for a, b in zip(coarse, fine)) < 1e-4 * scale
    assert abs(float(mpmath.fsum(fine) - f_diff)) < 1e-4 * scale  # and it is complete
    assert result["scores"][0] == 0.0  # CLS is its own baseline
    np.testing.assert_allclose(result["scores"], [float(v) for v in fine], rtol=0, atol=1e-3 * scale)


def _noise(model, doc, sigma, pairs, seed):
    """SmoothGrad's and C-LIME's noise draws, as their modules document them: ``σ·default_rng(seed)
    .standard_normal`` of shape ``(pairs, T, d)`` (one block: pairs ≤ 64), each used as ``±ε``."""
    return sigma * np.random.default_rng(seed).standard_normal((pairs,) + embed(model, doc[None])[0].shape)


def test_encoder_smoothgrad_and_clime_from_their_definitions(tmp_path, capsys):
    """The same seeded noise draws ε_n, every f and gradient recomputed with the mpmath encoder:
    SmoothGrad_t = mean_n ½ Σ_± Σ_k ∂_{t,k} f(e ± ε_n)  (Σ_k ∂_{t,k} f = d/dh f(· + h·1 at t), a central difference),
    C-LIME_t = mean_n Σ_k ε_{n,t,k} (f(e + ε_n) − f(e − ε_n)) / (2σ²).
    Tolerances: 1e-12 of the terms — for SmoothGrad d × the backpropagation's rounding scale at the noisy points, for
    C-LIME mean_n Σ_k |ε_{n,t,k}| F_n/σ² with F_n the readout terms at e ± ε_n."""
    model = _encoder("post")
    doc = _short_doc(model)
    sigma, pairs, seed = 0.3, 4, 11
    results = _explained(
        tmp_path,
        capsys,
        model,
        "--method",
        "smoothgrad,clime",
        "--sigma",
        str(sigma),
        "--samples",
        str(pairs),
        "--seed",
        str(seed),
    )
    eps = _noise(model, doc, sigma, pairs, seed)
    X = ref_embeddings(model, doc.tolist(), DPS)
    positions = range(len(SHORT) + 1)
    ones = [mpmath.mpf(1)] * model.d
    smooth, clime, clime_terms = np.zeros(len(positions)), np.zeros(len(positions)), np.zeros(len(positions))
    grad_scale = 0.0
    for n in range(pairs):
        with mpmath.workdps(DPS):
            points = [
                [[x + s * mpmath.mpf(e) for x, e in zip(row, noise)] for row, noise in zip(X, eps[n])] for s in (1, -1)
            ]
            f = [ref_encoder.forward_embedded(model, P, DPS).f for P in points]
        F = max(_readout_terms(model, P) for P in points)
        for t in positions:
            smooth[t] += float(sum(_slope(model, P, t, ones) for P in points)) / 2 / pairs
            clime[t] += float(mpmath.fsum(eps[n, t]) * (f[0] - f[1])) / (2 * sigma**2) / pairs
            clime_terms[t] += np.abs(eps[n, t]).sum() * F / sigma**2 / pairs
        noisy = embed(model, doc[None]) + np.stack([eps[n], -eps[n]])
        grad_scale = max(grad_scale, float(rounding_scale(model, forward_embedded(model, noisy)).max()))
    np.testing.assert_allclose(results["smoothgrad"]["scores"], smooth, rtol=0, atol=RTOL * model.d * grad_scale)
    assert np.all(np.abs(np.array(results["clime"]["scores"]) - clime) <= RTOL * clime_terms)
    assert np.abs(smooth[1:]).max() > 1e3 * RTOL * model.d * grad_scale  # not a comparison of zeros


@pytest.mark.parametrize("method", ["eq19", "lime-large-d"])
def test_methods_not_defined_for_an_encoder_say_why(encoder_files, capsys, method):
    _, d = encoder_files
    code, out, err = _run(capsys, str(d / "enc.npz"), "--tokens", "2,3", "--method", method)
    assert code == 2 and out == "" and len(err.splitlines()) == 1
    assert f"method '{method}' is not defined for an encoder: {METHODS[method].not_defined}" in err


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
        want = output_embedded(model, X)
    np.testing.assert_allclose(got, want, rtol=1e-13, atol=1e-15)


# --- refusals and bad input -----------------------------------------------------------------------------------------

# 17 distinct words: beyond exact enumeration (2^16 subsets at most)
LONG = "the a an of to in on at for with by from as is are was were"


@pytest.mark.parametrize(
    "text, method, samples, message",
    [
        (
            LONG,
            "shapley",
            10**12,
            "Shapley with 1000000000000 antithetic pairs of orders and d = 17 distinct words would take about",
        ),
        (
            LONG,
            "kernelshap",
            10**12,
            "KernelSHAP with --samples 1000000000000 and d = 17 distinct words would need about",
        ),
        (LONG, "kernelshap", 10**9, "KernelSHAP with --samples 1000000000 and d = 17 distinct words would"),
        (
            "a brilliant film",
            "smoothgrad",
            10**12,
            "SmoothGrad with --samples 1000000000000 antithetic pairs of noise draws would take about",
        ),
        (
            "a brilliant film",
            "clime",
            10**12,
            "C-LIME with --samples 1000000000000 antithetic pairs of noise draws would take about",
        ),
        ("a brilliant film", "lime", 10**9, "LIME with --samples 1000000000 and d = 3 distinct words would"),
    ],
)
def test_sampled_methods_refuse_unreasonable_samples(capsys, text, method, samples, message):
    code, out, err = _run(capsys, "--text", text, "--method", method, "--samples", str(samples))
    assert code == 2 and out == "" and len(err.splitlines()) == 1 and message in err
    assert "would take about" not in err or "more than the 10.0 min limit; use fewer --samples" in err


@pytest.mark.parametrize(
    "method, samples, evaluations",
    [
        ("shapley", 10**12, 2 + 2 * 10**12 * 2),
        ("shapley", 2, 2 + 2 * 2 * 2),
        ("kernelshap", 10**12, 10**12 + 2),
        ("kernelshap", 6, 6 + 2),
    ],
)
def test_exact_enumeration_replaces_costlier_sampling(capsys, method, samples, evaluations):
    """d = 3 words: 2^3 = 8 subsets, no more than the evaluations the sampling asked for — so the exact values (those
    of the default run), said in the method line, not a refusal."""
    assert 2**3 <= evaluations
    exact = json.loads(_run(capsys, "--text", "a brilliant film", "--method", method, "--json")[1])
    code, out, err = _run(capsys, "--text", "a brilliant film", "--method", method, "--samples", str(samples), "--json")
    result = json.loads(out)
    assert code == 0 and err == "" and result["exact"] is True and result["requested_samples"] == samples
    assert result["scores"] == exact["scores"] and result["samples"] == 8
    table = _run(capsys, "--text", "a brilliant film", "--method", method, "--samples", str(samples))[1]
    assert (
        f"{method}: removal replace, exact, 2^3 = 8 subsets of words (cheaper than the --samples {samples} asked "
        "for)" in table
    )


@pytest.mark.parametrize(
    "text, method, samples", [("a brilliant film but", "shapley", 2), ("a brilliant film", "kernelshap", 5)]
)
def test_cheaper_sampling_is_kept(capsys, text, method, samples):
    """Fewer evaluations than the 2^d subsets (Shapley, d = 4: 2 + 2·2·3 = 14 < 16; KernelSHAP, d = 3: 5 + 2 = 7 < 8):
    the sampling asked for."""
    code, out, err = _run(capsys, "--text", text, "--method", method, "--samples", str(samples), "--json")
    result = json.loads(out)
    assert code == 0, err
    assert result["exact"] is False and "requested_samples" not in result


@pytest.mark.parametrize(
    "argv, message",
    [
        (["--text", "a film", "--method", ""], "--method needs method names"),
        (["--text", "a film", "--method", "grad-l2,,lime"], "--method needs method names"),
        (["--text", "a film", "--method", "nope"], "unknown method 'nope'"),
        (["--text", "a film", "--method", "grad-l2,lime", "--sigma", "0.2"], "--sigma applies to none of the chosen"),
        (["--text", "a film", "--method", "grad-l2", "--plot", "x.jpg"], "--plot 'x.jpg' must end in .png"),
        (["--text", "a film", "--method", "grad-l2", "--html", "x.png"], "--html 'x.png' must end in .html"),
        (["--texts", "t.txt", "--method", "grad-l2", "--html", "x.html"], "--plot and --html draw one document"),
        (
            ["--text", "a wonderful film", "--method", "grad-l2"],
            "out-of-vocabulary words 'wonderful' (close: "
            "'wonderfulness'); pass --oov drop (leave them out) or "
            "--oov unk",
        ),
        (
            ["--text", "good", "--method", "grad-l2"],
            "out-of-vocabulary words 'good' (no close spelling); pass --oov drop",
        ),
        (
            ["--text", "a film", "--method", "smoothgrad", "--sigma", "1e308"],
            "--sigma 1e+308 takes SmoothGrad outside float64's range",
        ),
        (
            ["bundled-encoder", "--text", "a film", "--method", "clime", "--sigma", "1e-300", "--samples", "2"],
            "--sigma 1e-300 takes C-LIME outside float64's range",
        ),
        (["no-such.npz", "--tokens", "2", "--method", "grad-l2"], "does not exist"),
        ([], "give the document: --tokens IDS, --text TEXT or --texts FILE"),
    ],
)
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
