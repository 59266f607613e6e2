"""LIME machinery: lime's sample stream, lime's feature order, the fallback paths of the fast evaluators,
bad input.  The numerical claims themselves are in ``theory/claims/lime/``."""

import numpy as np
import pytest

import reference.explainers.lime as ref_lime
import reference.oracles.lime_package as lime_package
import theory.models.perturb as perturb
from theory.checking.strategies.models import ModelSpec
from theory.errors import InputError
from theory.explainers.lime import lime, sample
from theory.models.one_layer import document


@pytest.mark.parametrize(
    "d, n, seed", [(1, 5, 0), (2, 50, 1), (7, 300, 2), (63, 300, 4), (64, 300, 5), (65, 300, 2**32 - 1), (150, 400, 3)]
)
def test_fast_sampler_draws_lime_samples(d, n, seed):
    """The compiled replay of the MT19937 stream equals lime's ``choice(range(d), s, replace=False)`` calls
    (d around a power of 2: the rejection masks change there; hundreds of rows: many MT19937 twists)."""
    assert np.array_equal(sample(d, n, seed), ref_lime.sample(d, n, seed))


def test_reference_sampler_is_lime_sampler():
    """reference.explainers.lime.sample follows lime_text's ``__data_labels_distances`` call by call."""
    lime_text = pytest.importorskip("lime.lime_text")
    indexed = lime_text.IndexedString("w5 w9 w12 w9 w3 w5")
    seen = []

    def classifier(strings):
        seen.extend(strings)
        return np.zeros((len(strings), 2))

    explainer = lime_text.LimeTextExplainer(random_state=11)
    explainer.explain_instance(indexed.raw_string(), classifier, num_features=10, num_samples=40)
    Z = ref_lime.sample(indexed.num_words(), 40, 11)
    expected = [indexed.inverse_removing(np.flatnonzero(z == 0)) for z in Z]
    assert seen == expected
    # feature order: first appearance, as distinct_words
    doc = [0, 5, 9, 12, 9, 3, 5, 1]
    assert [int(indexed.word(j)[1:]) for j in range(indexed.num_words())] == perturb.distinct_words(doc, 6).tolist()


def test_replace_mapping_keeps_slots():
    assert lime_package.tokens_of(" w5  w9", "replace", 1) == [1, 5, 1, 9]
    assert lime_package.tokens_of(" w5  w9", "delete", 1) == [5, 9]


@pytest.mark.parametrize("semantics", ["delete", "replace"])
@pytest.mark.parametrize("score_scale", [1.0, 1000.0])
def test_fallback_matches_fast_path(monkeypatch, semantics, score_scale):
    """The per-sample softmax used for extreme score spreads agrees with the shared-shift path."""
    model = ModelSpec(K=3, d_e=8, d_att=4, d_out=3, V=20, T=16, pe=True, score_scale=score_scale, seed=3).build()
    tokens = [4, 7, 4, 9, 11, 7, 12, 15, 4]
    doc = document(model, tokens)
    Z = sample(len(perturb.distinct_words(doc, len(tokens))), 200, 5)
    fast = perturb.f_perturbed(model, doc, len(tokens), Z, semantics)
    monkeypatch.setattr(perturb, "_SPREAD", -1.0)
    slow = perturb.f_perturbed(model, doc, len(tokens), Z, semantics)
    assert np.allclose(fast, slow, rtol=0, atol=1e-12 * np.abs(slow).max())


def test_bad_input():
    model = ModelSpec(K=1, d_e=4, d_att=2, d_out=2, V=10, T=8, seed=0).build()
    doc = document(model, [3, 4, 3])
    with pytest.raises(InputError, match="semantics"):
        lime(model, doc, 3, semantics="mask", samples=10, seed=0)
    with pytest.raises(InputError, match="at least 2 samples"):
        lime(model, doc, 3, samples=1, seed=0)
    with pytest.raises(InputError, match="empty"):
        lime(model, doc, 0, samples=10, seed=0)
    with pytest.raises(InputError, match="seed"):
        lime(model, doc, 3, samples=10, seed=-1)
    with pytest.raises(InputError, match="only 0"):
        perturb.f_perturbed(model, doc, 3, [[0.5, 1]], "replace")


def test_single_word_is_lime_special_case():
    """d = 1 is well posed for the ridge: every perturbed sample is the empty text (documented)."""
    model = ModelSpec(K=2, d_e=4, d_att=2, d_out=2, V=10, T=8, pe=True, seed=1).build()
    doc = document(model, [3, 3])
    result = lime(model, doc, 2, samples=20, seed=0)
    assert result.coef.shape == (1,) and np.all(result.Z[1:] == 0)
