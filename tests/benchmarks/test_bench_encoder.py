"""Encoder benchmarks (docs/theory.md §11.1), one pytest-benchmark run, ratios side by side:

* ``∇`` of a 6-layer × 6-head encoder on one document: hand-written backpropagation (numpy, forward included) vs
  torch autograd (forward + backward w.r.t. the embedded input, module built once outside the timing);
* ``f`` on LIME's 5000 perturbed documents (delete, lime's samples): the generic path (documents built, numpy
  batched forward) vs torch's batched forward on the same documents (under ``no_grad``, where torch may take its
  fused fast path).

Size: the trained fixture's (L = 6, K = 6, d = 12, d_ff = 24, T = 64, 40 words) with random weights, so the benchmark
does not depend on the fixture file.  The 5000-document benchmarks take seconds per call: 3 rounds each.
"""

from __future__ import annotations

import numpy as np
import pytest

from theory.checking.strategies.encoder import EncoderSpec
from theory.explainers.lime import sample
from theory.models.encoder_gradient import gradient
from theory.models.one_layer import document
from theory.models.perturb import distinct_words, f_perturbed, perturbed_documents

SPEC = EncoderSpec(
    L=6,
    K=6,
    d=12,
    d_att=2,
    d_out=2,
    d_ff=24,
    V=500,
    T=64,
    pe=True,
    residual=True,
    norm="post",
    activation="relu",
    biases=True,
    seed=0,
)
WORDS = 40


def _setup():
    model = SPEC.build()
    doc = document(model, np.random.default_rng(0).integers(2, SPEC.V, size=WORDS).tolist())
    return model, doc


def _torch_module(model):
    torch = pytest.importorskip("torch", reason="torch oracle: pip install '.[oracles]'")
    from reference.oracles.torch_encoder import build

    return torch, build(model.arrays())


def test_bench_backprop(benchmark):
    model, doc = _setup()
    benchmark.group = "encoder gradient: L=6, K=6, d=12, T=64"
    benchmark.extra_info.update(method="backpropagation (numpy)")
    grad = benchmark(gradient, model, doc).grad
    assert grad.shape == (1, SPEC.T, SPEC.d)


def test_bench_autograd(benchmark):
    model, doc = _setup()
    torch, module = _torch_module(model)
    docs = torch.as_tensor(doc[None])

    def autograd():
        X = (module.embedding(docs) + module.P[: docs.shape[1]]).detach().requires_grad_(True)
        module.forward_embedded(X)[0].backward()
        return X.grad

    benchmark.group = "encoder gradient: L=6, K=6, d=12, T=64"
    benchmark.extra_info.update(method="torch autograd", torch_threads=torch.get_num_threads())
    grad = benchmark(autograd)
    assert np.allclose(grad.numpy(), gradient(model, doc).grad, rtol=0, atol=1e-12)


def test_bench_lime_documents_numpy(long_benchmark):
    benchmark = long_benchmark
    model, doc = _setup()
    Z = sample(distinct_words(doc, WORDS).size, 5000, 0)
    benchmark.group = "encoder f on LIME's 5000 perturbed documents"
    benchmark.extra_info.update(method="generic path (numpy batched forward)")
    f = benchmark.pedantic(f_perturbed, (model, doc, WORDS, Z, "delete"), rounds=3, iterations=1)
    assert f.shape == (5000,)


def test_bench_lime_documents_torch(long_benchmark):
    benchmark = long_benchmark
    model, doc = _setup()
    torch, module = _torch_module(model)
    Z = sample(distinct_words(doc, WORDS).size, 5000, 0)

    def batched():
        docs = torch.as_tensor(perturbed_documents(doc, WORDS, Z, "delete", model.unk_id))
        with torch.no_grad():
            return torch.cat(
                [
                    module.forward_embedded(module.embedding(docs[i : i + 1000]) + module.P)
                    for i in range(0, len(docs), 1000)
                ]
            )

    benchmark.group = "encoder f on LIME's 5000 perturbed documents"
    benchmark.extra_info.update(method="torch batched forward (no_grad)", torch_threads=torch.get_num_threads())
    f = benchmark.pedantic(batched, rounds=3, iterations=1)
    assert np.allclose(f.numpy(), f_perturbed(model, doc, WORDS, Z, "delete"), rtol=0, atol=1e-10)
