"""§6 benchmarks at the authors' size (``theory.checking.strategies.models.authors_size_document``: T = 256, K = 6,
d_e = 128, d_att = d_out = 64, 200 words, d = 150 distinct), side by side in one run.

Shapley values to 1% relative standard error (``‖SE‖/‖φ̂‖``): ours = antithetic permutations through the fast
evaluator (:func:`theory.explainers.shapley.shapley_mc`, replace semantics); shap's PermutationExplainer is the
same estimator (each of its permutations is evaluated forwards and backwards, i.e. an antithetic pair), driving
the same numpy model (:func:`theory.models.one_layer.forward_embedded`) through a masker that builds each
perturbed document (:func:`reference.explainers.perturb.perturbed_document`), so at the same number of pairs
both have the same precision.  shap needs minutes per hundred pairs here, so it is timed at
:data:`SHAP_PAIRS` pairs and its time for the pairs ours needed for 1% is extrapolated linearly (its cost is
linear in the pairs); both figures are in ``extra_info``, next to ours at :data:`SHAP_PAIRS` pairs.

Integrated Gradients at equal completeness gap (``≤ GAP × scale``, scale = the largest value score): ours =
Gauss–Legendre of the closed-form gradient, nodes doubled to the tolerance; captum's IntegratedGradients on the
torch module with the smallest power-of-two ``n_steps`` (its default Gauss–Legendre) that reaches the same gap
(found outside the timing).

The default ``pytest`` run (``--benchmark-disable``) runs each benchmark once as a plain test; the three that take
seconds there (ours to 1%, shap, captum's step search) are skipped unless ``--benchmark-enable``.
"""

from __future__ import annotations

import time
from functools import lru_cache

import numpy as np
import pytest

from theory.checking.strategies.models import authors_size_document
from theory.explainers.ig import integrated_gradients
from theory.explainers.shapley import shapley_mc
from theory.models.one_layer import embed, forward_embedded, positional_encoding
from theory.models.perturb import distinct_words
from theory.models.removal import baseline_embeddings

TARGET = 0.01
SHAP_PAIRS = 4
GAP = 1e-8
_MODEL, _DOC = authors_size_document(0)
LENGTH = 200


@lru_cache(maxsize=1)
def pairs_needed() -> int:
    """Antithetic pairs our estimator needs for the 1% target (seed 0)."""
    return shapley_mc(_MODEL, _DOC, LENGTH, semantics="replace", samples=16, seed=0, target=TARGET).pairs


def test_bench_shapley_ours_to_one_percent(long_benchmark):
    benchmark = long_benchmark
    benchmark.group = "shapley: authors' size, d = 150, 1% relative SE"
    est = benchmark.pedantic(
        shapley_mc,
        args=(_MODEL, _DOC, LENGTH),
        kwargs={"semantics": "replace", "samples": 16, "seed": 0, "target": TARGET},
        rounds=3,
        iterations=1,
    )
    benchmark.extra_info.update(
        method="ours: antithetic permutations, fast evaluator",
        pairs=est.pairs,
        evaluations=est.evaluations,
        relative_se=est.relative_se,
    )
    assert est.relative_se <= TARGET and est.pairs == pairs_needed()


def test_bench_shapley_ours_few_pairs(benchmark):
    benchmark.group = "shapley: authors' size, d = 150, 1% relative SE"
    est = benchmark(shapley_mc, _MODEL, _DOC, LENGTH, semantics="replace", samples=SHAP_PAIRS, seed=0)
    benchmark.extra_info.update(method=f"ours at {SHAP_PAIRS} pairs", pairs=est.pairs)


def test_bench_shapley_shap_permutation(long_benchmark):
    benchmark = long_benchmark
    shap = pytest.importorskip("shap", reason="shap oracle: pip install '.[oracles]'")
    from reference.explainers.perturb import perturbed_document

    model, doc = _MODEL, _DOC
    words = distinct_words(doc, LENGTH)
    P = positional_encoding(model.T, model.d_e)

    def masker(mask, x):
        tokens = perturbed_document(doc, LENGTH, [int(b) for b in mask], "replace", model.unk_id)
        return (model.E[np.asarray(tokens)] + P).reshape(1, -1)

    def f(X):
        return forward_embedded(model, np.asarray(X).reshape(-1, model.T, model.d_e)).f

    explainer = shap.explainers.Permutation(f, masker, seed=0)
    d = words.size
    benchmark.group = "shapley: authors' size, d = 150, 1% relative SE"
    started = time.perf_counter()
    values = benchmark.pedantic(
        lambda: explainer(words[None], max_evals=SHAP_PAIRS * (2 * d + 1)).values[0], rounds=1, iterations=1
    )
    seconds = time.perf_counter() - started
    benchmark.extra_info.update(
        method=f"shap {shap.__version__} PermutationExplainer at {SHAP_PAIRS} pairs",
        seconds_per_pair=seconds / SHAP_PAIRS,
        extrapolated_seconds_to_one_percent=seconds / SHAP_PAIRS * pairs_needed(),
        pairs_for_one_percent=pairs_needed(),
    )
    assert values.shape == (d,)


def _captum_steps(captum_ig, X, X0, scale, f_gap):
    for steps in (2**k for k in range(1, 12)):
        _, delta = captum_ig.attribute(X, X0, n_steps=steps, return_convergence_delta=True)
        if abs(float(delta[0])) <= f_gap * scale:
            return steps
    pytest.fail(f"captum did not reach the completeness gap {f_gap} × scale with ≤ 2048 steps")


@pytest.mark.parametrize("baseline", ("replace", "zero"))
def test_bench_ig_ours(benchmark, baseline):
    benchmark.group = f"ig: authors' size, completeness gap ≤ {GAP:g} × scale, baseline {baseline}"
    result = benchmark(integrated_gradients, _MODEL, _DOC, LENGTH, baseline=baseline, rtol=GAP)
    benchmark.extra_info.update(method="ours: Gauss–Legendre, closed-form gradient", nodes=result.nodes, gap=result.gap)


@pytest.mark.parametrize("baseline", ("replace", "zero"))
def test_bench_ig_captum(long_benchmark, baseline):
    benchmark = long_benchmark
    torch = pytest.importorskip("torch", reason="captum oracle: pip install '.[oracles]'")
    captum_attr = pytest.importorskip("captum.attr", reason="captum oracle: pip install '.[oracles]'")
    from reference.oracles.torch_one_layer import AttentionClassifier

    module = AttentionClassifier.from_npz_arrays(_MODEL)
    X = torch.from_numpy(embed(_MODEL, _DOC[None]))
    X0 = torch.from_numpy(baseline_embeddings(_MODEL, _DOC, LENGTH, baseline)[None])
    ig = captum_attr.IntegratedGradients(lambda inputs: module.forward_embedded(inputs)[:, 0])
    scale = float(np.abs(forward_embedded(_MODEL, np.concatenate([X.numpy(), X0.numpy()])).c).max())
    steps = _captum_steps(ig, X, X0, scale, GAP)
    benchmark.group = f"ig: authors' size, completeness gap ≤ {GAP:g} × scale, baseline {baseline}"
    benchmark.extra_info.update(
        method=f"captum IntegratedGradients (gausslegendre, n_steps = {steps})",
        n_steps=steps,
        torch_threads=torch.get_num_threads(),
    )
    benchmark(ig.attribute, X, X0, n_steps=steps)
