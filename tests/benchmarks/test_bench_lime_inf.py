"""β^∞ at the authors' size (T = 256, K = 6, d_e = 128, d_att = d_out = 64, a document of 200 words with 150
distinct): the stratified Monte Carlo of :func:`theory.explainers.lime_inf.beta_inf_mc` (target: ≤ 1% relative standard
error in ≤ 2 s), under both removal semantics, and the exact enumeration at d = 10.  Measured on the
2-core machine: replace 0.9% at 20 000 samples (~0.04 s); delete 2.7% at 50 000 (~0.12 s), 0.93% at 400 000
(~0.9 s).

The relative standard error is ``‖SE(β_{1..d})‖₂ / ‖β_{1..d}‖₂``.  Each test checks what it computed (the
precision reached; the exact β^∞ against the closed-form-free normal equations).  With benchmarks disabled
(the default ``pytest`` run) each body runs once.
"""

import numpy as np
import pytest

from theory.checking.strategies.models import authors_size_document
from theory.explainers.lime_inf import beta_inf_exact, beta_inf_mc, law, patterns, psi
from theory.models.one_layer import document
from theory.models.perturb import distinct_words, evaluator, f_perturbed

T, K, D_E, D_ATT, D_OUT, V = 256, 6, 128, 64, 64, 2000
WORDS, DISTINCT = 200, 150
# (semantics, samples, target relative SE).  delete with positional encoding is far from affine in z (a removal
# shifts every later word), so it needs ~20× the samples of replace for the same precision.
RUNS = {
    "replace": ("replace", 20_000, 0.01),
    "delete": ("delete", 50_000, 0.04),
    "delete to 1%": ("delete", 400_000, 0.01),
}


@pytest.fixture(scope="module")
def setting():
    model, doc = authors_size_document(2024, V, WORDS, DISTINCT)
    assert len(distinct_words(doc, WORDS)) == DISTINCT
    return model, doc


@pytest.mark.parametrize("run", RUNS)
def test_bench_stratified_monte_carlo(benchmark, setting, run):
    model, doc = setting
    semantics, n, target = RUNS[run]
    benchmark.group = f"lime-inf: β^∞ stratified Monte Carlo, T={T} K={K} d={DISTINCT}, {semantics}"
    result = benchmark.pedantic(
        beta_inf_mc,
        args=(evaluator(model, doc, WORDS, semantics), DISTINCT, n),
        kwargs={"seed": 0},
        rounds=3,
        iterations=1,
    )
    benchmark.extra_info.update(
        semantics=semantics,
        samples=result.samples,
        relative_stderr=result.relative_stderr,
        exact_strata=result.exact_strata,
    )
    assert result.relative_stderr <= target


def test_bench_exact_d10(benchmark, setting):
    model, doc = setting
    tokens = doc[1 : WORDS + 1]
    length = next(L for L in range(1, WORDS + 1) if len(set(tokens[:L].tolist())) == 10)
    doc10 = document(model, tokens[:length])
    benchmark.group = f"lime-inf: exact β^∞ by enumeration, T={T} K={K} d=10"
    beta = benchmark(beta_inf_exact, model, doc10, length, semantics="replace")
    # against the weighted normal equations solved directly (no closed form)
    Z = patterns(10)
    X = np.concatenate([np.ones((Z.shape[0], 1)), Z], axis=1)
    w = law(10) * psi((10 - Z.sum(axis=1)) / 10)
    f = f_perturbed(model, doc10, length, Z, "replace")
    direct = np.linalg.solve((X * w[:, None]).T @ X, X.T @ (w * f))
    assert np.allclose(beta, direct, rtol=1e-8, atol=1e-10 * np.abs(f).max())
