"""Gradient benchmarks (§4): the closed form (``theory.explainers.gradient.gradient``, forward pass included) vs torch
autograd (forward + backward with respect to the embedded input, module built once outside the timing) vs
the mpmath central-difference reference.

Sizes: the authors' (T = 256, K = 6, d_e = 128, d_att = d_out = 64, 100 words) and a small one (T = 8, K = 2,
d_e = 6, d_att = d_out = 4).  The reference is benchmarked at the small size only: it needs two mpmath
forward passes per gradient entry, i.e. 2·T·d_e = 65 536 passes of ~10⁷ mpmath operations each at the
authors' size (hours).  Target: the closed form at least as fast as autograd at the authors' size.
"""

from __future__ import annotations

import numpy as np
import pytest

from theory.checking.strategies.models import Case, ModelSpec
from theory.models.one_layer_gradient import gradient

SIZES = {
    "authors' size": (ModelSpec(K=6, d_e=128, d_att=64, d_out=64, V=1000, T=256, pe=True, seed=0), 100),
    "small": (ModelSpec(K=2, d_e=6, d_att=4, d_out=4, V=12, T=8, pe=True, seed=0), 5),
}


def _case(size):
    spec, length = SIZES[size]
    return Case(spec, tuple(np.random.default_rng(0).integers(2, spec.V, size=length).tolist()))


@pytest.mark.parametrize("size", SIZES)
def test_bench_closed_form(benchmark, size):
    case = _case(size)
    benchmark.group = f"gradient: {size}"
    benchmark.extra_info.update(method="closed form (numpy)", T=case.spec.T, K=case.spec.K, d_e=case.spec.d_e)
    grad = benchmark(gradient, case.model, case.doc).grad
    assert grad.shape == (1, case.spec.T, case.spec.d_e)


@pytest.mark.parametrize("size", SIZES)
def test_bench_autograd(benchmark, size):
    torch = pytest.importorskip("torch", reason="torch oracle: pip install '.[oracles]'")
    from reference.oracles.torch_one_layer import AttentionClassifier

    case = _case(size)
    module = AttentionClassifier.from_npz_arrays(case.model)
    docs = torch.as_tensor(np.atleast_2d(case.doc))

    def autograd():
        X = module.embed(docs).detach().requires_grad_(True)
        module.forward_embedded(X)[0, 0].backward()
        return X.grad

    benchmark.group = f"gradient: {size}"
    benchmark.extra_info.update(
        method="torch autograd", T=case.spec.T, K=case.spec.K, d_e=case.spec.d_e, torch_threads=torch.get_num_threads()
    )
    grad = benchmark(autograd)
    assert tuple(grad.shape) == (1, case.spec.T, case.spec.d_e)


def test_bench_reference(benchmark):
    import reference.explainers.gradient as ref_grad

    case = _case("small")
    benchmark.group = "gradient: small"
    benchmark.extra_info.update(
        method="mpmath central differences (reference)",
        T=case.spec.T,
        K=case.spec.K,
        d_e=case.spec.d_e,
        note="not run at the authors' size (hours)",
    )
    rows = benchmark.pedantic(ref_grad.gradient, args=(case.model, case.doc), rounds=3, iterations=1)
    assert len(rows) == case.spec.T and len(rows[0]) == case.spec.d_e
