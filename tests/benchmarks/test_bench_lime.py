"""LIME at the authors' size (T = 256, K = 6, d_e = 128, d_att = d_out = 64, n = 5000 samples, a document of
200 words with 150 distinct): the fast path against lime 0.2.0.1 driving the numpy forward pass, and the fast
perturbed-document evaluators against the full numpy forward on the same 5000 documents.

Each test also checks that the two sides of its group compute the same thing.  With benchmarks disabled
(the default ``pytest`` run) each body runs once.
"""

import numpy as np
import pytest

from reference.explainers.perturb import perturbed_document
from reference.oracles.lime_package import run_lime_package
from theory.checking.strategies.models import authors_size_document
from theory.explainers.lime import lime
from theory.models.one_layer import forward
from theory.models.perturb import distinct_words, f_perturbed

T, K, D_E, D_ATT, D_OUT, V = 256, 6, 128, 64, 64, 2000
N, WORDS, DISTINCT, SEED = 5000, 200, 150, 0
BATCH = 250  # documents per batch of the full forward (bounded memory: BATCH × T × d_e floats)
LIME_GROUP = f"lime: LIME T={T} K={K} n={N} d={DISTINCT}"


@pytest.fixture(scope="module")
def setting():
    model, doc = authors_size_document(2024, V, WORDS, DISTINCT)
    assert len(distinct_words(doc, WORDS)) == DISTINCT
    return model, doc


def full_forward(model, docs):
    return np.concatenate([forward(model, docs[i : i + BATCH]).f for i in range(0, len(docs), BATCH)])


@pytest.fixture(scope="module")
def lime_package(setting):
    model, doc = setting

    def run():
        return run_lime_package(
            lambda docs: full_forward(model, docs), doc, WORDS, N, SEED, "delete", model.cls_id, model.unk_id, T
        )

    return run


def test_bench_lime_package(benchmark, lime_package, setting):
    pytest.importorskip("lime")
    benchmark.group = LIME_GROUP
    coef, intercept, words = benchmark.pedantic(lime_package, rounds=3, iterations=1)
    model, doc = setting
    fast = lime(model, doc, WORDS, semantics="delete", samples=N, seed=SEED)
    assert words == fast.words.tolist()
    scale = np.abs(fast.coef).max()
    worst = max(np.abs(coef - fast.coef).max(), abs(intercept - fast.intercept)) / scale
    benchmark.extra_info.update(fast_lime_difference_over_largest_coefficient=float(worst))
    assert worst <= 1e-10


@pytest.mark.parametrize("semantics", ["delete", "replace"])
def test_bench_fast_lime(benchmark, setting, semantics):
    model, doc = setting
    benchmark.group = LIME_GROUP
    result = benchmark(lambda: lime(model, doc, WORDS, semantics=semantics, samples=N, seed=SEED))
    assert result.semantics == semantics and result.coef.shape == (DISTINCT,)


@pytest.fixture(scope="module")
def perturbed(setting):
    model, doc = setting
    from theory.explainers.lime import sample

    Z = sample(DISTINCT, N, SEED)
    docs = {
        semantics: np.array([perturbed_document(doc, WORDS, z, semantics, model.unk_id) for z in Z.astype(int)])
        for semantics in ("delete", "replace")
    }
    return Z, docs


@pytest.mark.parametrize("semantics", ["delete", "replace"])
def test_bench_full_forward(benchmark, setting, perturbed, semantics):
    model, doc = setting
    Z, docs = perturbed
    benchmark.group = f"lime: f on {N} perturbed documents ({semantics}) T={T} K={K}"
    f = benchmark.pedantic(lambda: full_forward(model, docs[semantics]), rounds=3, iterations=1)
    fast = f_perturbed(model, doc, WORDS, Z, semantics)
    assert np.abs(f - fast).max() <= 1e-12 * max(1.0, np.abs(f).max())


@pytest.mark.parametrize("semantics", ["delete", "replace"])
def test_bench_fast_evaluator(benchmark, setting, perturbed, semantics):
    model, doc = setting
    Z, _ = perturbed
    benchmark.group = f"lime: f on {N} perturbed documents ({semantics}) T={T} K={K}"
    f = benchmark(lambda: f_perturbed(model, doc, WORDS, Z, semantics))
    assert f.shape == (N,) and np.all(np.isfinite(f))
