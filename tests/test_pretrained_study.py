"""The answers on the pretrained MiniLM (theory.studies.pretrained*, theory.explainers.encoder_eq19.eq19_readout):
each measure computed on a tiny random mean-pooling BERT (theory/checking/strategies/bert.py, with the oracle
claims' tokenizer — not the fixture) against an independent computation, and every extra skipped without the
``pretrained`` extra."""

from __future__ import annotations

import json
from itertools import combinations, permutations
from math import factorial

import numpy as np
import pytest

pytest.importorskip("tokenizers")

from theory.checking.strategies.bert import BertCase, BertSpec  # noqa: E402
from theory.claims.bert import oracle_tokenizer  # noqa: E402
from theory.errors import InputError  # noqa: E402
from theory.explainers.encoder_eq19 import eq19_readout, value_scores  # noqa: E402
from theory.explainers.registry import explain, methods_of  # noqa: E402
from theory.models import bert  # noqa: E402
from theory.studies import pretrained, pretrained_answers, pretrained_scores  # noqa: E402
from theory.studies.pretrained_scores import Scores  # noqa: E402

TEXT = "the movie unbelievable bad"  # 4 distinct words over 6 pieces (unbelievable: three)
SEMANTICS = ("unk", "mask", "pad", "delete", "zero")


def _model(readout: str = "mean", seed: int = 3):
    spec = BertSpec(readout=readout, layers=2, heads=2, d=8, ffn=8, V=12, score_scale=3.0, seed=seed)
    return BertCase(spec, (), 0, 0).model.replace(tokenizer=oracle_tokenizer("bert"))


@pytest.fixture(scope="module")
def model():
    return _model()


@pytest.fixture(scope="module")
def doc(model):
    return model.document(TEXT)


@pytest.mark.parametrize("semantics", SEMANTICS)
def test_scores_match_the_registry(model, doc, semantics):
    s = pretrained_scores.document_scores(model, doc, semantics)
    assert s.words == ("the", "movie", "unbelievable", "bad")
    for name, method, options in (
        ("shapley", "shapley", {"semantics": semantics}),
        ("β^∞", "lime-inf", {"semantics": semantics}),
        ("occlusion", "occlusion", {"semantics": semantics}),
        ("ig", "ig", {"baseline": pretrained_scores.ig_baseline(model, semantics)}),
        ("grad×input", "grad-x-input", {}),
        ("pooled attention", "attention-avg", {}),
        ("rollout (CLS row)", "rollout", {}),
    ):
        np.testing.assert_allclose(s.scores[name], explain(model, doc, method, **options).scores, rtol=1e-9, atol=1e-12)
    assert ("eq19" in s.scores) == (semantics in ("unk", "mask", "zero"))


def test_attention_variants_by_plain_loops(model, doc):
    s = pretrained_scores.document_scores(model, doc, "unk")
    A = bert.forward(model, doc.ids[None]).attention[0]  # (L, K, T, T)
    T, K, d = doc.ids.size, model.K, doc.words.size
    pooled = np.zeros((K, d))
    cls = np.zeros(d)
    for t in range(1, T - 1):
        j = doc.word_of[t - 1]
        for i in range(K):
            pooled[i, j] += sum(A[-1, i, q, t] for q in range(T)) / T
            cls[j] += A[-1, i, 0, t] / K
    R = np.eye(T)
    for layer in range(model.L):
        R = (0.5 * A[layer].mean(axis=0) + 0.5 * np.eye(T)) @ R
    rolled = np.zeros(d)
    for t in range(1, T - 1):
        rolled[doc.word_of[t - 1]] += R[:, t].mean()
    np.testing.assert_allclose(s.attention_min, pooled.min(axis=0), rtol=1e-12)
    np.testing.assert_allclose(s.scores["pooled attention"], pooled.mean(axis=0), rtol=1e-12)
    np.testing.assert_allclose(s.scores["CLS-row attention"], cls, rtol=1e-12)
    np.testing.assert_allclose(s.scores["rollout (pooled)"], rolled, rtol=1e-12)


def test_game_scores_against_the_definitions():
    rng = np.random.default_rng(0)
    d = 4
    values = rng.normal(size=2**d)

    def v(kept):
        return values[sum(1 << j for j in kept)]

    phi = np.zeros(d)
    for order in permutations(range(d)):  # Shapley: the mean marginal contribution over the d! orders
        for k, j in enumerate(order):
            phi[j] += (v(order[: k + 1]) - v(order[:k])) / factorial(d)
    out = pretrained_scores.game_scores(values, d)
    np.testing.assert_allclose(out["shapley"], phi, rtol=1e-12)
    full = set(range(d))
    np.testing.assert_allclose(out["occlusion"], [v(full) - v(full - {j}) for j in range(d)], rtol=1e-12)


def test_value_scores_reproduce_the_pooled_attention_output(model, doc):
    """(1/K) Σ_i Σ_u ᾱ^(i)_u c^(i)_u = ⟨w, mean_t (SA_t − b_o)⟩, SA recomputed from the last layer's A, V, W_o."""
    fw = bert.forward(model, doc.ids[None])
    sa = fw.layers[-1].sa
    concat = np.concatenate([sa.A[0, i] @ sa.Vmat[0, i] for i in range(model.K)], axis=1)  # (T, d)
    output = concat @ model.attention_output_weight[-1].T
    w = model.u @ model.classifier_weight
    left = (bert.readout_attention(model, fw) * value_scores(model, fw)).mean(axis=1)[0].sum()
    assert left == pytest.approx(float(w @ output.mean(axis=0)), rel=1e-12)


@pytest.mark.parametrize("semantics", ("unk", "mask"))
def test_eq19_readout_against_the_removed_ids(model, doc, semantics):
    token = model.unk_id if semantics == "unk" else model.mask_id
    removed = doc.ids.copy()
    removed[1:-1] = token
    fw = bert.forward(model, np.stack([doc.ids, removed]))
    w = model.u @ model.classifier_weight
    Wo = model.attention_output_weight[-1].reshape(model.d, model.K, -1)
    term = np.zeros((2, doc.ids.size))
    for b in range(2):
        for i in range(model.K):
            c = model.K * (fw.layers[-1].sa.Vmat[b, i] @ (w @ Wo[:, i, :]))
            term[b] += bert.readout_attention(model, fw)[b, i] * c / model.K
    expected = np.zeros(doc.words.size)
    np.add.at(expected, doc.word_of, 1.5 * (term[0] - term[1])[1:-1])
    np.testing.assert_allclose(eq19_readout(model, doc, semantics), expected, rtol=1e-10, atol=1e-13)


def test_eq19_refuses_a_cls_readout():
    model = _model("native")
    with pytest.raises(InputError, match="pooler"):
        eq19_readout(model, model.document(TEXT))


def _scores(attention, values) -> Scores:
    d = len(attention)
    scores = {"pooled attention": np.asarray(attention, float)}
    scores |= {m: np.asarray(values, float) for m in pretrained_answers.ZERO_METHODS}
    return Scores(tuple(f"w{j}" for j in range(d)), scores, np.asarray(attention, float), "unk", 0.0, 0.0)


def test_zero_attention_decile_and_verdict():
    # ten documents of two words: the low-attention word (0.01) gets r = 1 in document 7, r = 0.05 elsewhere
    rows = [(k, _scores([0.01 + 0.001 * k, 0.5], [1.0 if k == 7 else 0.05, 1.0])) for k in range(10)]
    za = pretrained_answers.zero_attention(rows)["pooled"]
    assert za["words"] == 2 and za["of"] == 20  # the 10% quantile of 20 values keeps the two lowest
    e = za["methods"]["shapley"]
    assert e["verdict"] == "holds" and e["decile"]["max"] == pytest.approx(0.05)
    rows = [(k, _scores([0.01 - 0.001 * k, 0.5], [1.0 if k == 9 else 0.05, 1.0])) for k in range(10)]
    e = pretrained_answers.zero_attention(rows)["pooled"]["methods"]["occlusion"]
    assert e["verdict"] == "falsified"
    assert (e["worst"]["document"], e["worst"]["word"], e["worst"]["r"]["occlusion"]) == (9, "w0", 1.0)


def test_agreement_against_counted_pairs():
    x, y = np.array([0.1, 0.4, 0.2, 0.3, 0.0]), np.array([1.0, -3.0, 2.0, 0.5, -0.2])
    pairs = list(combinations(range(5), 2))
    concordant = sum(np.sign(x[a] - x[b]) == np.sign(y[a] - y[b]) for a, b in pairs)
    out = pretrained_answers.agreement(x, y)
    assert out["kendall"] == pytest.approx((2 * concordant - len(pairs)) / len(pairs))
    ranks = np.argsort(np.argsort(x)), np.argsort(np.argsort(np.abs(y)))
    assert out["spearman_abs"] == pytest.approx(np.corrcoef(*ranks)[0, 1])


def test_mean_ci_is_the_t_interval():
    ci = pretrained_answers.mean_ci([1.0, 2.0, 3.0, float("nan")])
    assert ci["n"] == 3 and ci["mean"] == 2.0
    assert ci["high"] - 2.0 == pytest.approx(4.302652729911275 / np.sqrt(3))  # t_{0.975, 2} · sd / √n, sd = 1


def test_prefix():
    assert pretrained_answers.prefix("a b a c b d", 3) == "a b a c"
    assert pretrained_answers.prefix("a b a", 3) is None


def test_measure_on_the_tiny_model(model):
    docs = [(0, model.document(TEXT)), (1, model.document("bad movie the great"))]
    out = pretrained_answers.measure(model, docs, ("unk", "pad"), seed=0)
    assert set(out["zero_attention"]) == {"unk", "pad"} and set(out["eq19"]) == {"unk"}
    assert set(out["semantics_change"]) == {"pad"}
    assert out["agreement"]["unk"]["β^∞ vs shapley"]["spearman"]["n"] == 2
    json.dumps(out)  # the extra's data goes to summary.json as it is
    assert pretrained.markdown(out)[0].startswith("#### `bert.zero_attention`")


def test_figure1_rows_on_the_tiny_model(model):
    words, rows, how = pretrained.figure1_scores(model, TEXT, seed=0)
    assert words == TEXT.split() and all(len(v) == len(words) for v in rows.values())
    # one row per method the model has (word methods labelled by their semantics), and Eq. (19)
    assert {label.split(" ")[0] for label in rows} == set(methods_of(model)) | {"eq19,"}
    assert all(value == 0.0 for value in rows["grad-avg = 0 exactly (LN_emb)"])
    json.dumps(how)


@pytest.mark.parametrize("run", ("fixture_extra", "answers_extra", "figure1_extra"))
def test_skipped_without_the_extra(monkeypatch, run):
    monkeypatch.setattr(pretrained.pretrained, "available", lambda: False)
    result = getattr(pretrained, run)("ci", 0)
    assert result.skipped and all(".[pretrained]" in line for line in result.skipped)
    assert ".[pretrained]" in result.markdown and not result.files
