"""The suite's explainers on the real pretrained model (docs/theory.md §13.8: all-MiniLM-L6-v2 with the committed
mean-pooling probe, ``f`` = the log-odds of positive) against the packages a Hugging Face user runs on
``transformers``, side by side in one pytest-benchmark run, on the same held-out documents:

* **LIME** — the suite's (``explain(model, text, "lime", semantics="delete", samples=n, seed=s)``) vs lime 0.2.0.1's
  ``LimeTextExplainer(random_state=s)`` with ``n`` samples, its classifier tokenizing each perturbed string and
  evaluating ``transformers`` (:func:`reference.oracles.bert_packages.run_lime_text`, the adapter of claim
  ``bert.lime_matches_lime_package``): the same samples, so the same coefficients (their largest difference relative
  to the largest coefficient is ``rel_diff``);
* **exact Shapley** — the suite's enumeration of the ``2^d`` coalitions of words (``semantics="mask"``) vs shap's
  exact explainer with its ``Text`` masker (:func:`reference.oracles.bert_packages.run_shap_exact_text`, the adapter
  of claim ``bert.shapley_matches_shap``: one player per piece, a masked piece written ``[MASK]``);
* **sampled Shapley at equal standard error** — the suite's antithetic permutations
  (:func:`theory.explainers.shapley.shapley_mc`, :data:`PAIRS` pairs) vs shap's ``PermutationExplainer`` with the
  same masker at ``max_evals = PAIRS·(2d + 1)``, i.e. :data:`PAIRS` permutations each evaluated forwards and
  backwards — the same antithetic estimator of the same game, so at the same number of pairs both have the same
  standard error (the suite's estimate of it, and both estimates' errors against the exact values, are recorded);
* **Integrated Gradients at equal completeness gap** — the suite's (``explain(…, "ig", baseline="mask:<pad id>")``:
  Gauss–Legendre, nodes doubled until the gap is below its tolerance) vs captum's ``LayerIntegratedGradients`` on the
  word embeddings (:func:`reference.oracles.bert_packages.run_captum_ig`, claim ``bert.ig_matches_captum``) with
  ``n_steps`` = the suite's final number of nodes: both evaluate the same Gauss–Legendre rule, so they reach the same
  gap (both recorded); captum is given the number of steps, found outside its timing;
* **the gradient** ``∇_t = ∂f/∂E[ξ_t]`` — the suite's forward pass and hand-written backpropagation
  (:func:`theory.models.bert.gradient`) vs ``transformers`` with autograd on ``inputs_embeds``.

The documents are the first :data:`N_DOCS` held-out texts whose first :data:`N_WORDS` words are distinct and one
WordPiece each (there shap's players, the pieces, are the suite's, the distinct words; and lime's ``\\W+`` words
are the BERT pre-tokenizer's), cut to those words.  ``transformers`` is the same model: the fixture's weights
through :func:`theory.models.huggingface.to_state_dict` into :func:`reference.oracles.transformers_bert.build`
(a bare ``BertModel``), its default ``sdpa`` attention, in float64 and float32, mean pooling and the probe applied
as a sentence-transformers user does (:func:`_anchor_f`).  torch's threads are set to the machine's cores.  Each
benchmark explains every document once per round.

Every benchmark takes seconds, so they all run only when timed (``long_benchmark``); without the ``pretrained``
extra the module is skipped, naming it.
"""

from __future__ import annotations

import copy
import os
import re
from dataclasses import dataclass
from functools import cache

import numpy as np
import pytest

from theory.models.bert import Bert
from theory.optional import needs
from theory.sentiment import pretrained

pytestmark = pytest.mark.skipif(not pretrained.available(), reason=needs([pretrained.PACKAGE]))

N_DOCS = 2  # held-out documents
N_WORDS = 8  # words per document: 2^8 coalitions for exact Shapley
LIME_SAMPLES = 300  # lime's samples, the original included (claim bert.lime_matches_lime_package's N_LIME)
LIME_SEED = 0
PAIRS = 8  # antithetic pairs of orders of sampled Shapley (both estimators)
ROUNDS = 3  # the median of three rounds: a first round's one-time costs (imports, torch's first calls) do not count
DTYPES = ("float64", "float32")
#: largest difference from the suite's float64 result relative to its largest value: float64 anchors reproduce it
#: (the claims check the identities at their own scales), float32 ones are recorded against a loose bound
TOLERANCE = {"float64": 1e-8, "float32": 1e-2}
#: captum's IG: its Gauss–Legendre weights are cast to float32 (2^-24 of themselves, theory.claims.bert.CAPTUM_WEIGHTS),
#: so it agrees with the suite's float64 IG to about 1e-8 of the largest score (the claim checks it at its scales)
CAPTUM_TOLERANCE = 1e-6
GROUP = f"pretrained MiniLM: {N_DOCS} held-out documents of {N_WORDS} words"


@dataclass(frozen=True)
class Setup:
    """The fixture's model, the chosen texts and their Documents, and the ``transformers`` model per dtype."""

    model: Bert  # with the probe as its readout
    texts: tuple[str, ...]
    docs: tuple  # theory.models.protocol.Document per text
    torch_models: dict  # dtype name -> transformers BertModel
    probe: dict  # dtype name -> (w (d,), b ()) torch tensors


def _torch():
    torch = pytest.importorskip("torch", reason="transformers oracle: pip install '.[oracles]'")
    pytest.importorskip("transformers", reason="transformers oracle: pip install '.[oracles]'")
    torch.set_num_threads(os.cpu_count() or 1)
    return torch


@cache
def _setup() -> Setup:
    torch = _torch()
    from reference.oracles.transformers_bert import build
    from theory.checking.strategies.bert import reference_weights
    from theory.models.huggingface import to_state_dict

    fixture = pretrained.load_pretrained()
    model = fixture.model
    texts = []
    for text in fixture.texts:
        words = text.split()[:N_WORDS]
        cut = " ".join(words)
        if len(set(words)) == N_WORDS and re.fullmatch(r"[a-z ]+", cut) and len(model.document(cut).ids) == N_WORDS + 2:
            texts.append(cut)
        if len(texts) == N_DOCS:
            break
    hf, weights, probe = to_state_dict(model)
    assert probe is not None  # the fixture's readout is the mean-pooling probe
    float64 = build(reference_weights(weights, probe, "bert"), {**hf, "readout": "mean"})
    float64.set_attn_implementation("sdpa")  # transformers' default (build asks for eager, to see attention)
    models = {"float64": float64, "float32": copy.deepcopy(float64).to(torch.float32)}
    w, b = np.asarray(probe["w"]).reshape(-1), float(np.asarray(probe["b"]).reshape(-1)[0])
    probes = {
        dtype: (torch.tensor(w, dtype=getattr(torch, dtype)), torch.tensor(b, dtype=getattr(torch, dtype)))
        for dtype in DTYPES
    }
    return Setup(model, tuple(texts), tuple(model.document(t) for t in texts), models, probes)


def _anchor_f(setup: Setup, dtype: str):
    """``f(ids, mask)`` by ``transformers`` in ``dtype``: the last hidden states mean-pooled over the mask
    (sentence-transformers' pooling), then the probe ``⟨w, z⟩ + b``."""
    module, (w, b) = setup.torch_models[dtype], setup.probe[dtype]

    def f(ids, mask, inputs_embeds=None):
        mask = mask.to(w.dtype)
        if inputs_embeds is None:
            h = module(input_ids=ids, attention_mask=mask).last_hidden_state
        else:
            h = module(inputs_embeds=inputs_embeds, attention_mask=mask).last_hidden_state
        return ((h * mask[..., None]).sum(1) / mask.sum(1, keepdim=True)) @ w + b

    return f


def _strings_f(setup: Setup, dtype: str, calls: list):
    """``f`` of a list of strings (lime's and shap's classifier): tokenized by the model's tokenizer
    (:func:`reference.oracles.bert_packages.encode_batch`), one ``transformers`` call under ``no_grad``; the number
    of strings is added to ``calls``."""
    import torch

    from reference.oracles.bert_packages import encode_batch

    tokenizer, f = setup.model.tokenizer, _anchor_f(setup, dtype)

    def run(strings):
        ids, mask = encode_batch(tokenizer.tokenizer, list(strings), tokenizer.pad_id)
        calls.append(len(ids))
        with torch.no_grad():
            return f(torch.as_tensor(ids), torch.as_tensor(mask)).double().numpy()

    return run


def _rel_diff(got, want) -> float:
    got, want = np.asarray(got, dtype=np.float64), np.asarray(want, dtype=np.float64)
    return float(np.abs(got - want).max() / np.abs(want).max())


def _run(benchmark, fn):
    return benchmark.pedantic(fn, rounds=ROUNDS, iterations=1, warmup_rounds=0)


def _torch_info(torch) -> dict:
    return {"torch_threads": torch.get_num_threads(), "attn_implementation": "sdpa"}


# --- LIME -------------------------------------------------------------------------------------------------------

LIME_GROUP = f"{GROUP}: LIME, {LIME_SAMPLES} samples, delete"


def _suite_lime(setup: Setup) -> list:
    from theory.explainers.registry import explain

    return [
        explain(setup.model, t, "lime", semantics="delete", samples=LIME_SAMPLES, seed=LIME_SEED) for t in setup.texts
    ]


def test_bench_lime_suite(long_benchmark):
    benchmark = long_benchmark
    setup = _setup()
    benchmark.group = LIME_GROUP
    benchmark.extra_info.update(method="suite: explain(…, 'lime', semantics='delete'), numpy float64")
    out = _run(benchmark, lambda: _suite_lime(setup))
    assert all(np.isfinite(e.scores).all() for e in out)


@pytest.mark.parametrize("dtype", DTYPES)
def test_bench_lime_package(long_benchmark, dtype):
    benchmark = long_benchmark
    torch = _torch()
    from reference.oracles.bert_packages import run_lime_text

    setup = _setup()
    calls: list = []
    f = _strings_f(setup, dtype, calls)
    benchmark.group = LIME_GROUP
    benchmark.extra_info.update(
        method=f"lime 0.2.0.1 LimeTextExplainer driving transformers {dtype}", **_torch_info(torch)
    )
    out = _run(benchmark, lambda: [run_lime_text(f, t, LIME_SAMPLES, LIME_SEED) for t in setup.texts])
    ours = _suite_lime(setup)
    diff = max(_rel_diff(coef, e.scores) for (coef, _, _), e in zip(out, ours))
    benchmark.extra_info.update(strings_per_round=sum(calls) // ROUNDS, rel_diff=diff)
    assert all(words == e.extras["word_strings"] for (_, _, words), e in zip(out, ours))
    assert diff <= TOLERANCE[dtype]


# --- exact Shapley ----------------------------------------------------------------------------------------------

EXACT_GROUP = f"{GROUP}: exact Shapley (2^{N_WORDS} coalitions), mask"


def _suite_exact(setup: Setup) -> list:
    from theory.explainers.registry import explain

    return [explain(setup.model, t, "shapley", semantics="mask") for t in setup.texts]


def test_bench_exact_shapley_suite(long_benchmark):
    benchmark = long_benchmark
    setup = _setup()
    benchmark.group = EXACT_GROUP
    benchmark.extra_info.update(method="suite: explain(…, 'shapley', semantics='mask'), exact, numpy float64")
    out = _run(benchmark, lambda: _suite_exact(setup))
    assert all(e.extras["exact"] for e in out)


def _shap_tokenizer(setup: Setup):
    from reference.oracles.bert_packages import fast_tokenizer
    from theory.claims.bert import SPECIAL_NAMES

    names = dict(zip(("cls", "sep", "pad", "unk", "mask"), SPECIAL_NAMES["bert"]))
    return fast_tokenizer(setup.model.tokenizer.tokenizer, names)


@pytest.mark.parametrize("dtype", DTYPES)
def test_bench_exact_shapley_shap(long_benchmark, dtype):
    benchmark = long_benchmark
    torch = _torch()
    import shap

    from reference.oracles.bert_packages import run_shap_exact_text

    setup = _setup()
    hf_tokenizer = _shap_tokenizer(setup)
    calls: list = []
    f = _strings_f(setup, dtype, calls)
    benchmark.group = EXACT_GROUP
    benchmark.extra_info.update(
        method=f"shap {shap.__version__} Exact with the Text masker driving transformers {dtype}", **_torch_info(torch)
    )
    out = _run(benchmark, lambda: [run_shap_exact_text(f, hf_tokenizer, t) for t in setup.texts])
    ours = _suite_exact(setup)
    diff = max(_rel_diff(values[1:-1], e.scores) for (values, _, _), e in zip(out, ours))
    benchmark.extra_info.update(strings_per_round=sum(calls) // ROUNDS, rel_diff=diff)
    assert diff <= TOLERANCE[dtype]


# --- sampled Shapley --------------------------------------------------------------------------------------------

SAMPLED_GROUP = f"{GROUP}: sampled Shapley, {PAIRS} antithetic pairs (equal SE), mask"


@cache
def _exact_values() -> list:
    """The exact Shapley values of the documents (the sampled estimates' target), computed once."""
    return [np.asarray(e.scores) for e in _suite_exact(_setup())]


def _error(estimates, exact) -> float:
    """The largest ``‖φ̂ − φ‖₂ / ‖φ‖₂`` over the documents."""
    return max(float(np.linalg.norm(np.subtract(e, x)) / np.linalg.norm(x)) for e, x in zip(estimates, exact))


def test_bench_sampled_shapley_suite(long_benchmark):
    benchmark = long_benchmark
    from theory.explainers.shapley import shapley_mc

    setup = _setup()
    benchmark.group = SAMPLED_GROUP
    benchmark.extra_info.update(method="suite: shapley_mc (antithetic permutations), numpy float64")
    out = _run(
        benchmark,
        lambda: [
            shapley_mc(setup.model, doc, doc.length, semantics="mask", samples=PAIRS, seed=0) for doc in setup.docs
        ],
    )
    benchmark.extra_info.update(
        pairs=PAIRS,
        evaluations_per_round=sum(e.evaluations for e in out),
        relative_se=max(e.relative_se for e in out),
        relative_error=_error([e.phi for e in out], _exact_values()),
    )
    assert all(e.pairs == PAIRS for e in out)


@pytest.mark.parametrize("dtype", DTYPES)
def test_bench_sampled_shapley_shap(long_benchmark, dtype):
    benchmark = long_benchmark
    torch = _torch()
    import shap

    setup = _setup()
    hf_tokenizer = _shap_tokenizer(setup)
    calls: list = []
    f = _strings_f(setup, dtype, calls)

    def explain_one(text):
        masker = shap.maskers.Text(hf_tokenizer, collapse_mask_token=False)
        masker.clustering = None  # plain permutations of the pieces (as run_shap_exact_text: no partition tree)
        d = masker.mask_shapes(text)[0][0] - 2  # the pieces, [CLS]/[SEP] kept
        evals = PAIRS * (2 * d + 1)
        explainer = shap.explainers.Permutation(f, masker, seed=0)
        return explainer([text], max_evals=evals, batch_size=evals, silent=True).values[0][1:-1]

    benchmark.group = SAMPLED_GROUP
    benchmark.extra_info.update(
        method=f"shap {shap.__version__} Permutation with the Text masker driving transformers {dtype}",
        **_torch_info(torch),
    )
    out = _run(benchmark, lambda: [explain_one(t) for t in setup.texts])
    benchmark.extra_info.update(
        pairs=PAIRS,
        strings_per_round=sum(calls) // ROUNDS,
        relative_error=_error(out, _exact_values()),
    )
    assert all(np.isfinite(values).all() and values.shape == (N_WORDS,) for values in out)


# --- Integrated Gradients ---------------------------------------------------------------------------------------

IG_GROUP = f"{GROUP}: IG, [PAD] baseline, equal completeness gap"


def _suite_ig(setup: Setup) -> list:
    from theory.explainers.registry import explain

    pad = setup.model.config.pad_token_id
    return [explain(setup.model, t, "ig", baseline=f"mask:{pad}") for t in setup.texts]


def test_bench_ig_suite(long_benchmark):
    benchmark = long_benchmark
    setup = _setup()
    benchmark.group = IG_GROUP
    benchmark.extra_info.update(method="suite: explain(…, 'ig'), Gauss–Legendre, nodes doubled to the gap")
    out = _run(benchmark, lambda: _suite_ig(setup))
    benchmark.extra_info.update(
        nodes=[int(e.extras["nodes"]) for e in out],
        gap=max(abs(float(e.extras["completeness_gap"])) for e in out),
    )


def test_bench_ig_captum(long_benchmark):
    benchmark = long_benchmark
    torch = _torch()
    from reference.oracles.bert_packages import run_captum_ig

    setup = _setup()
    pad = setup.model.config.pad_token_id
    ours = _suite_ig(setup)  # the nodes captum is given (outside its timing)
    f = _anchor_f(setup, "float64")
    cases = []
    for doc, e in zip(setup.docs, ours):
        ids = np.asarray(doc.ids)
        T = len(ids)
        baseline = np.where((np.arange(T) == 0) | (np.arange(T) == T - 1), ids, pad)
        cases.append((ids, np.ones(T), baseline, int(e.extras["nodes"])))
    module = setup.torch_models["float64"]
    benchmark.group = IG_GROUP
    benchmark.extra_info.update(
        method="captum 0.9 LayerIntegratedGradients (gausslegendre, n_steps = the suite's nodes), transformers float64",
        **_torch_info(torch),
    )
    out = _run(benchmark, lambda: [run_captum_ig(module, f, *case) for case in cases])
    benchmark.extra_info.update(n_steps=[case[-1] for case in cases], gap=max(abs(delta) for _, delta in out))
    diff = max(_rel_diff(ig[1:-1], e.scores) for (ig, _), e in zip(out, ours))
    benchmark.extra_info["rel_diff"] = diff
    assert diff <= CAPTUM_TOLERANCE


# --- the gradient -----------------------------------------------------------------------------------------------

GRADIENT_GROUP = f"{GROUP}: the gradient ∂f/∂E[ξ_t], one document at a time"


def test_bench_gradient_suite(long_benchmark):
    benchmark = long_benchmark
    from theory.models.bert import gradient

    setup = _setup()
    benchmark.group = GRADIENT_GROUP
    benchmark.extra_info.update(method="suite: numpy float64 forward + backpropagation")
    out = _run(benchmark, lambda: [gradient(setup.model, np.asarray(doc.ids)[None]).grad[0] for doc in setup.docs])
    assert all(np.isfinite(g).all() for g in out)


@pytest.mark.parametrize("dtype", DTYPES)
def test_bench_gradient_transformers(long_benchmark, dtype):
    benchmark = long_benchmark
    torch = _torch()
    from theory.models.bert import gradient

    setup = _setup()
    module, f = setup.torch_models[dtype], _anchor_f(setup, dtype)
    ids = [torch.as_tensor(np.asarray(doc.ids)[None]) for doc in setup.docs]

    def one(ids_t):
        embeds = module.embeddings.word_embeddings(ids_t).detach().requires_grad_(True)
        f(ids_t, torch.ones(ids_t.shape), inputs_embeds=embeds).sum().backward()
        return embeds.grad[0]

    benchmark.group = GRADIENT_GROUP
    benchmark.extra_info.update(method=f"transformers {dtype} forward + autograd", **_torch_info(torch))
    out = _run(benchmark, lambda: [one(i) for i in ids])
    want = [gradient(setup.model, np.asarray(doc.ids)[None]).grad[0] for doc in setup.docs]
    diff = max(_rel_diff(g.double().numpy(), w) for g, w in zip(out, want))
    benchmark.extra_info["rel_diff"] = diff
    assert diff <= TOLERANCE[dtype]
