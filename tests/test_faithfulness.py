"""The extra ``bert.faithfulness`` (theory/studies/faithfulness.py): ERASER comprehensiveness / sufficiency AOPC and
the deletion area against closed forms computed by hand on a model linear in the words, the seeded random row, the
normal 95% interval by an independent computation, the tabulating proxy against the model itself, and the extra's
skip of the MiniLM part without the ``pretrained`` extra."""

import math
import statistics

import numpy as np
import pytest

from theory.checking.strategies.bert import SPECIAL, BertCase, BertSpec
from theory.explainers.registry import explain
from theory.models import removal
from theory.models.protocol import Document
from theory.sentiment import pretrained
from theory.sentiment.fixture import load_fixture
from theory.studies import faithfulness as module
from theory.studies.faithfulness import Tabulated, document_rows, faithfulness, interval

# f(z) = b + w·z: removing word j moves f by exactly w_j whatever else is removed
B = 0.25
W = np.array([3.0, -1.0, 2.0, 0.5])


def _linear(Z: np.ndarray) -> np.ndarray:
    return B + np.asarray(Z, dtype=float) @ W


def test_linear_model_closed_form_by_hand():
    # ranking by decreasing score: word 1 (0.9), word 3 (0.5), word 0 (0.1), word 2 (-0.3), so the top-k weights
    # are -1, 0.5, 3, 2 with partial sums S_k = -1, -0.5, 2.5, 4.5 (k = 1..4) and f(ξ) = 0.25 + 4.5 = 4.75.
    # comprehensiveness_k = S_k: mean 5.5 / 4; sufficiency_k = 4.5 − S_k = 5.5, 5, 2, 0: mean 12.5 / 4;
    # deletion curve f(ξ) − S_k, k = 0..4: 4.75, 5.75, 5.25, 2.25, 0.25: mean 18.25 / 5.
    got = faithfulness(_linear, [0.1, 0.9, -0.3, 0.5])
    assert got["comprehensiveness"] == pytest.approx(1.375, abs=1e-15)
    assert got["sufficiency"] == pytest.approx(3.125, abs=1e-15)
    assert got["deletion"] == pytest.approx(3.65, abs=1e-15)


def test_ties_rank_by_first_appearance():
    # scores (1, 1, 0, 0): order 0, 1, 2, 3 (stable); top-k weights 3, -1, 2, 0.5, S_k = 3, 2, 4, 4.5
    got = faithfulness(_linear, [1.0, 1.0, 0.0, 0.0])
    assert got["comprehensiveness"] == pytest.approx(13.5 / 4, abs=1e-15)
    assert got["sufficiency"] == pytest.approx((1.5 + 2.5 + 0.5 + 0.0) / 4, abs=1e-15)


def test_interval_is_the_normal_95_percent_interval():
    values = [0.3, -1.2, 2.5, 0.0, 0.7]
    mean = statistics.fmean(values)
    half = 1.96 * statistics.stdev(values) / math.sqrt(len(values))
    got = interval(values)
    assert got["n"] == 5
    assert got["mean"] == pytest.approx(mean, rel=1e-14)
    assert got["half"] == pytest.approx(half, rel=1e-14)


def _one_layer_doc():
    fixture = load_fixture()
    words = next(d[:5] for d in fixture.docs if len(set(d[:5])) >= 4)
    return fixture.model, fixture.model.document(words)


def test_random_row_is_seeded_and_reproducible():
    model, doc = _one_layer_doc()
    semantics = ("replace",)
    first = document_rows(model, doc, semantics, pairs=2, seed=7, ig=False)
    again = document_rows(model, doc, semantics, pairs=2, seed=7, ig=False)
    assert first["replace"]["random"] == again["replace"]["random"]
    # independently: the seed's first permutation, evaluated by the model's own evaluator
    ranking = np.random.default_rng(7).permutation(doc.words.size).astype(float)
    evaluate = model.evaluator(doc.ids, doc.length, removal.parse("replace", model))
    expected = faithfulness(evaluate, ranking)
    for metric, value in expected.items():
        assert first["replace"]["random"][metric] == pytest.approx(value, abs=1e-12)


def _small_bert():
    spec = BertSpec("bert", "mean", layers=2, heads=2, d=6, ffn=5, V=10, score_scale=3.0, seed=3)
    cls, sep = SPECIAL["bert"][:2]
    # words a b a c over the pieces 5 6 5 7: word 0 occurs twice
    ids = np.array([cls, 5, 6, 5, 7, sep], dtype=np.int64)
    word_of = np.array([0, 1, 0, 2], dtype=np.int64)
    doc = Document(ids, 4, np.arange(3), word_of, "a b a c", ("a", "b", "c"), word_of.copy())
    return BertCase(spec, tuple(int(i) for i in ids), 0, klass=1).model, doc


@pytest.mark.parametrize("semantics", ["delete", "pad", "zero"])
def test_tabulated_serves_the_models_values(semantics):
    model, doc = _small_bert()
    tab = Tabulated(model, doc, [semantics])
    how = removal.parse(semantics, model)
    Z = np.array([[(k >> j) & 1 for j in range(doc.words.size)] for k in range(2**doc.words.size)], dtype=float)
    np.testing.assert_allclose(tab.evaluator(doc, doc.length, how)(Z), model.evaluator(doc, doc.length, how)(Z), 0, 0)
    for method in ("shapley", "occlusion", "lime-inf"):
        through = explain(tab, doc, method, semantics=semantics).scores
        direct = explain(model, doc, method, semantics=semantics).scores
        np.testing.assert_allclose(through, direct, rtol=0, atol=1e-12, err_msg=method)


def test_without_pretrained_minilm_is_skipped_and_one_layer_runs(monkeypatch):
    monkeypatch.setattr(pretrained, "missing", lambda *names: [n for n in names if n == pretrained.PACKAGE])
    monkeypatch.setitem(module.PLAN, "ci", {"minilm": (2, 4, 1), "one_layer": (3, 4, None), "pairs": 2})
    result = module.faithfulness_extra("ci", 0)
    assert len(result.skipped) >= 1 and "'.[pretrained]'" in result.skipped[0] and "MiniLM" in result.skipped[0]
    assert "minilm" not in result.data
    one = result.data["one_layer"]
    assert one["documents"] and set(one["semantics"]) == {"delete", "replace", "zero"}
    rows = one["semantics"]["replace"]
    assert "random" in rows and all(np.isfinite(v["mean"]) for row in rows.values() for v in row.values())


def test_versus_random_is_paired_on_the_first_documents():
    rows = {
        "random": {"comprehensiveness": [0.5, -1.0, 2.0], "sufficiency": [1.0, 0.0, 3.0]},
        "a": {"comprehensiveness": [1.5, 0.0, 2.5], "sufficiency": [0.0, -2.0, 1.0]},
        "ig": {"comprehensiveness": [2.5, 1.0], "sufficiency": [0.5, 1.0]},  # the first two documents only
    }
    got = module.versus_random(rows)
    assert set(got) == {"a", "ig"}
    # a − random: 1, 1, 0.5; random − a (sufficiency): 1, 2, 2; ig − random: 2, 2; random − ig: 0.5, −1
    assert got["a"]["comprehensiveness"]["mean"] == pytest.approx(2.5 / 3, abs=1e-15)
    assert got["a"]["comprehensiveness"]["half"] == pytest.approx(1.96 * statistics.stdev([1, 1, 0.5]) / math.sqrt(3))
    assert got["a"]["sufficiency"]["mean"] == pytest.approx(5 / 3, abs=1e-15)
    assert got["ig"]["comprehensiveness"] == {"mean": 2.0, "half": 0.0, "n": 2}
    assert got["ig"]["sufficiency"]["mean"] == pytest.approx(-0.25, abs=1e-15)
