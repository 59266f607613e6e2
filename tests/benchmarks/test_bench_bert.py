"""BERT-family benchmarks (docs/theory.md §8), one pytest-benchmark run, the numpy float64 model of
:mod:`theory.models.bert` side by side with Hugging Face ``transformers`` on the same weights and documents:

* ``f`` (the class-0 logit) forward: numpy :func:`~theory.models.bert.evaluate` vs ``BertForSequenceClassification``
  under ``no_grad`` on the token ids, in float64 and float32;
* ``f`` and ``∇_t = ∂f/∂E[ξ_t]``: numpy :func:`~theory.models.bert.gradient` (forward + hand-written
  backpropagation) vs autograd on ``inputs_embeds`` (a leaf tensor of ``E[ξ]``; forward + backward), in float64
  and float32;
* ``f`` on perturbed documents (LIME's 500 samples of one 30-word document, removal by attention mask 0, so that
  no position moves): numpy's batched ``evaluate`` vs a loop of one ``transformers`` call per document and vs one
  batched ``transformers`` call, float64 and float32.

Shapes, BERT classifiers (pooler + classifier readout, ``gelu``, ``d_ff = 4d``, ``V = 30522``, 12 heads):
MiniLM's (``L = 6``, ``d = 384``; documents of ``T = 32`` tokens, ``[CLS]`` 30 words ``[SEP]``, batches of 16)
and BERT-base's layer stack (``L = 12``, ``d = 768``; ``T = 128``, batches of 4: the same 512 tokens per batch).
Random weights at the scales of :mod:`theory.checking.strategies.bert` (attention neither flat nor one-hot; 512
learned positions), drawn once and loaded into every model outside the timing; the same documents (seeded) for
every row.  ``transformers`` runs its default attention (``sdpa``) in eval mode; torch's threads are set to the
machine's cores (``torch_threads``), numpy's BLAS keeps its own (``blas_threads``).  Each ``transformers`` row
records its largest difference from numpy's float64 result relative to the largest value (``rel_diff``).

Under the default ``pytest`` (benchmarks disabled) the MiniLM bodies run once, as checks; the BERT-base and
perturbed-document comparisons take seconds per call and run only when timed.
"""

from __future__ import annotations

import copy
import os
from dataclasses import dataclass
from functools import cache

import numpy as np
import pytest

from theory.checking.strategies.bert import SPECIAL, BertSpec
from theory.explainers.lime import sample
from theory.models.bert import evaluate, gradient
from theory.models.huggingface import from_state_dict

CLS, SEP = SPECIAL["bert"][:2]
WORDS_FROM = 5  # ids below are special tokens (theory.checking.strategies.bert)
POSITIONS = 512  # BERT's max_position_embeddings
PERTURBED = 500  # LIME's samples of the perturbed-document benchmarks
TOLERANCE = {"float64": 1e-10, "float32": 1e-2}  # largest rel_diff from numpy's float64 result


@dataclass(frozen=True)
class Shape:
    """A benchmarked model shape: layers, width, tokens per document, documents per batch."""

    name: str
    layers: int
    d: int
    T: int
    batch: int
    slow: bool  # seconds per call: timed runs only

    def group(self, what: str) -> str:
        """A benchmark group of this shape.

        Args:
            what: what the group times (``one document``, ``batch of 16`` …).

        Returns:
            The group's name, the shape's sizes in it.
        """
        return f"bert: {self.name} (L={self.layers}, K=12, d={self.d}, T={self.T}), {what}"


SHAPES = {
    "minilm": Shape("MiniLM shape", layers=6, d=384, T=32, batch=16, slow=False),
    "bert-base": Shape("BERT-base layer stack", layers=12, d=768, T=128, batch=4, slow=True),
}
CASES = [(shape, batch) for shape in SHAPES for batch in (1, SHAPES[shape].batch)]


@dataclass(frozen=True)
class Setup:
    """One shape's models (built once) and documents, with numpy's float64 ``f`` and ``∇`` of the batch."""

    model: object  # theory.models.bert.Bert
    torch_models: dict  # dtype name -> transformers model
    ids: np.ndarray  # (batch, T)
    f: np.ndarray  # (batch,)
    grad: np.ndarray  # (batch, T, d)


def _torch():
    torch = pytest.importorskip("torch", reason="transformers oracle: pip install '.[oracles]'")
    pytest.importorskip("transformers", reason="transformers oracle: pip install '.[oracles]'")
    torch.set_num_threads(os.cpu_count() or 1)
    return torch


@cache
def _setup(key: str, with_torch: bool) -> Setup:
    shape = SHAPES[key]
    spec = BertSpec(architecture="bert", layers=shape.layers, heads=12, d=shape.d, ffn=4 * shape.d, V=30522, seed=0)
    weights, _ = spec.arrays
    # the spec's position table covers its own short documents: BERT's 512 learned positions, same scale
    weights = {
        **weights,
        "bert.embeddings.position_embeddings.weight": np.random.default_rng(1).standard_normal((POSITIONS, shape.d)),
    }
    config = {**spec.hf_config(), "max_position_embeddings": POSITIONS}
    model = from_state_dict(config, weights)
    words = np.random.default_rng(0).integers(WORDS_FROM, spec.V, size=(shape.batch, shape.T - 2))
    ids = np.column_stack([np.full(shape.batch, CLS), words, np.full(shape.batch, SEP)])
    reference = gradient(model, ids)
    torch_models = {}
    if with_torch:
        torch = _torch()
        from reference.oracles.transformers_bert import build

        float64 = build(weights, config)
        float64.set_attn_implementation("sdpa")  # transformers' default (build asks for eager, to see attention)
        torch_models = {"float64": float64, "float32": copy.deepcopy(float64).to(torch.float32)}
    return Setup(model, torch_models, ids, reference.forward.f, reference.grad)


def _blas_threads() -> int | None:
    try:
        from threadpoolctl import threadpool_info
    except ImportError:
        return None
    return max((pool["num_threads"] for pool in threadpool_info() if pool["user_api"] == "blas"), default=None)


def _timer(request, shape: Shape):
    """``benchmark``, or ``long_benchmark`` (skipped unless timed) for the slow shapes."""
    return request.getfixturevalue("long_benchmark" if shape.slow else "benchmark")


def _run(benchmark, shape: Shape, fn):
    if shape.slow:
        return benchmark.pedantic(fn, rounds=3, iterations=1, warmup_rounds=1)
    return benchmark(fn)


def _rel_diff(got: np.ndarray, want: np.ndarray) -> float:
    return float(np.abs(got - want).max() / np.abs(want).max())


@pytest.mark.parametrize("backward", [False, True], ids=["forward", "forward+backward"])
@pytest.mark.parametrize(("key", "batch"), CASES)
def test_bench_numpy(request, key, batch, backward):
    shape = SHAPES[key]
    benchmark = _timer(request, shape)
    setup = _setup(key, with_torch=False)
    ids = setup.ids[:batch]
    benchmark.group = shape.group("one document" if batch == 1 else f"batch of {batch}")
    benchmark.extra_info.update(
        method=f"numpy float64 {'forward+backward' if backward else 'forward'}", blas_threads=_blas_threads()
    )
    if backward:
        out = _run(benchmark, shape, lambda: gradient(setup.model, ids))
        diff = max(_rel_diff(out.forward.f, setup.f[:batch]), _rel_diff(out.grad, setup.grad[:batch]))
    else:
        diff = _rel_diff(_run(benchmark, shape, lambda: evaluate(setup.model, ids)), setup.f[:batch])
    assert diff <= TOLERANCE["float64"]  # a batch of one vs the batch, evaluate vs gradient's forward pass


@pytest.mark.parametrize("backward", [False, True], ids=["forward", "forward+backward"])
@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize(("key", "batch"), CASES)
def test_bench_transformers(request, key, batch, dtype, backward):
    shape = SHAPES[key]
    benchmark = _timer(request, shape)
    torch = _torch()
    setup = _setup(key, with_torch=True)
    module = setup.torch_models[dtype]
    ids = torch.as_tensor(setup.ids[:batch])

    def forward():
        with torch.no_grad():
            return module(input_ids=ids).logits[:, 0]

    def forward_backward():
        embeds = module.bert.embeddings.word_embeddings(ids).detach().requires_grad_(True)
        f = module(inputs_embeds=embeds).logits[:, 0]
        f.sum().backward()
        return f.detach(), embeds.grad

    benchmark.group = shape.group("one document" if batch == 1 else f"batch of {batch}")
    benchmark.extra_info.update(
        method=f"transformers {dtype} {'forward+backward (autograd)' if backward else 'forward (no_grad)'}",
        torch_threads=torch.get_num_threads(),
        attn_implementation=module.config._attn_implementation,
    )
    if backward:
        f, grad = _run(benchmark, shape, forward_backward)
        diff = max(_rel_diff(f.double().numpy(), setup.f[:batch]), _rel_diff(grad.double().numpy(), setup.grad[:batch]))
    else:
        diff = _rel_diff(_run(benchmark, shape, forward).double().numpy(), setup.f[:batch])
    benchmark.extra_info["rel_diff"] = diff
    assert diff <= TOLERANCE[dtype]


# --- perturbed documents ----------------------------------------------------------------------------------------

PERTURBED_GROUP = SHAPES["minilm"].group(
    f"{PERTURBED} perturbed documents (batched evaluate vs a loop of transformers calls)"
)


@cache
def _perturbed() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """LIME's samples of the first MiniLM document, removal by attention mask 0 (``[CLS]``, ``[SEP]`` kept): the
    ids ``(n, T)``, the masks ``(n, T)`` and numpy's float64 ``f``."""
    setup = _setup("minilm", with_torch=False)
    Z = sample(SHAPES["minilm"].T - 2, PERTURBED, 0)
    mask = np.column_stack([np.ones(PERTURBED), Z, np.ones(PERTURBED)])
    ids = np.repeat(setup.ids[:1], PERTURBED, axis=0)
    return ids, mask, evaluate(setup.model, ids, mask)


def test_bench_perturbed_numpy(long_benchmark):
    benchmark = long_benchmark
    model = _setup("minilm", with_torch=False).model
    ids, mask, want = _perturbed()
    benchmark.group = PERTURBED_GROUP
    benchmark.extra_info.update(method="numpy float64 batched evaluate", blas_threads=_blas_threads())
    f = benchmark.pedantic(evaluate, (model, ids, mask), rounds=3, iterations=1, warmup_rounds=1)
    assert np.array_equal(f, want)


@pytest.mark.parametrize("batched", [False, True], ids=["loop", "batched"])
@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_bench_perturbed_transformers(long_benchmark, dtype, batched):
    benchmark = long_benchmark
    torch = _torch()
    module = _setup("minilm", with_torch=True).torch_models[dtype]
    ids, mask, want = _perturbed()
    ids_t, mask_t = torch.as_tensor(ids), torch.as_tensor(mask, dtype=getattr(torch, dtype))

    def run():
        with torch.no_grad():
            if batched:
                return module(input_ids=ids_t, attention_mask=mask_t).logits[:, 0]
            return torch.cat(
                [
                    module(input_ids=ids_t[i : i + 1], attention_mask=mask_t[i : i + 1]).logits[:, 0]
                    for i in range(len(ids_t))
                ]
            )

    benchmark.group = PERTURBED_GROUP
    benchmark.extra_info.update(
        method=f"transformers {dtype} {'one batched call' if batched else 'a loop of one call per document'}",
        torch_threads=torch.get_num_threads(),
        attn_implementation=module.config._attn_implementation,
    )
    f = benchmark.pedantic(run, rounds=3, iterations=1, warmup_rounds=1)
    benchmark.extra_info["rel_diff"] = diff = _rel_diff(f.double().numpy(), want)
    assert diff <= TOLERANCE[dtype]
