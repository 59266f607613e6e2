"""``attnverify explain`` methods of docs/theory.md §11.2: ``shapley``, ``kernelshap``, ``occlusion`` (word methods, the
JSON shape of LIME's: ``words``, ``scores[j]`` of ``words[j]``, ``intercept`` = ``v(∅)`` — the value of the empty
text, shap's base value — ``semantics``, ``samples``, ``seed``) and ``ig``, ``smoothgrad``, ``clime`` (position
methods: ``scores[k]`` of ``positions[k]``, the sum over embedding coordinates).  Estimators add ``stderr``.

Every one is defined for both model families (THEORY.md §6: "on the §2 model and the encoder family"): the word
methods read ``f`` on perturbed documents through :func:`theory.models.perturb.evaluator` (the §2 model's
sufficient statistics, or an encoder's documents built and run), the position methods the exact gradient and
``f`` on embedded inputs (:mod:`theory.explainers.embedded`).

Defaults: Shapley and KernelSHAP are exact (enumeration of the ``2^d`` subsets of words) for ``d ≤``
:data:`EXACT_D`; beyond, Shapley is estimated by antithetic permutations (as many as needed for a 1% relative
standard error) and KernelSHAP by paired sampling (4096 patterns).  With ``--samples`` (Shapley: pairs of orders,
``2 + 2·pairs·(d − 1)`` evaluations of ``f``; KernelSHAP: ``samples + 2`` patterns) they sample, unless the exact
enumeration costs no more evaluations (``2^d`` of them): then they enumerate and record ``requested_samples``, so
``--samples 10**12`` on three words is an exact answer, not a refusal (:func:`_enumerate`).  IG takes ``--baseline replace | mask:ID | zero`` (default replace) and no samples (its quadrature is
deterministic, at most :data:`theory.explainers.ig.MAX_NODES` nodes); SmoothGrad and C-LIME take ``--sigma``
(default 0.1) and ``--samples`` antithetic pairs (default 256).

Refusals: a sampled method refuses, before it starts, a ``--samples`` whose work would take longer than
:data:`theory.memory.TIME_LIMIT` (:func:`theory.memory.require_time`, measured on one block of its own work) or
whose arrays would not fit in memory (:func:`theory.memory.require`), with the estimate — the mechanism LIME's
``--samples`` goes through.  Shapley without ``--samples`` beyond ``EXACT_D`` words is checked on its first 32
pairs (it then draws more, up to :data:`theory.explainers.shapley.MAX_PAIRS`, until the 1% target is met).
"""

from __future__ import annotations

import numpy as np

from theory.errors import InputError
from theory.models.perturb import distinct_words, evaluator, single_threaded_blas
from theory.memory import kernelshap_bytes, require, require_time

EXACT_D = 12
ENCODER_IG_RTOL = 1e-3
TARGET_RSE = 0.01
_BLOCK = 64  # evaluations timed to estimate a sampled method's run time
FEWER = "use fewer --samples"


def affordable_evaluations(model, doc, length: int, semantics: str, count: float, what: str,
                           nbytes: float = 0) -> None:
    """Refuse ``what`` when its arrays (``nbytes``) would not fit in memory (:func:`theory.memory.require`), or
    when ``count`` evaluations of ``f`` on perturbed documents would take too long
    (:func:`theory.memory.require_time`, timed on a block of :data:`_BLOCK` documents with every word kept)."""
    require(nbytes, what, FEWER)
    evaluate = evaluator(model, doc, length, semantics)
    block = np.ones((_BLOCK, distinct_words(doc, length).size))
    require_time(count, "evaluations of f", _BLOCK, lambda: evaluate(block), what, FEWER)


def _output(model, doc) -> float:
    return float(model.output(np.asarray(doc)[None])[0])


def _words(model, doc, length, semantics, scores, samples, seed, **extra) -> dict:
    return {"f": _output(model, doc), "scores": np.asarray(scores).tolist(),
            "words": distinct_words(doc, length).tolist(),
            "intercept": float(evaluator(model, doc, length, semantics)(np.zeros((1, len(scores))))[0]),
            "semantics": semantics, "samples": samples, "seed": seed, **extra}


def _enumerate(model, doc, length, semantics, samples, evaluations) -> bool:
    """Whether Shapley/KernelSHAP enumerate the ``2^d`` subsets of words exactly: by default for ``d ≤``
    :data:`EXACT_D`; with ``--samples``, whenever the enumeration costs no more evaluations of ``f`` than the
    sampling asked for (``2^d ≤ evaluations``, ``d ≤`` :data:`~theory.explainers.lime_inf.MAX_EXACT_D`), after the
    time and memory check of ``2^d`` evaluations beyond ``EXACT_D`` words."""
    from theory.explainers.lime_inf import MAX_EXACT_D

    d = distinct_words(doc, length).size
    if samples is None:
        return d <= EXACT_D
    if not (isinstance(samples, int) and d <= MAX_EXACT_D and 2 ** d <= evaluations):
        return False
    if d > EXACT_D:
        affordable_evaluations(model, doc, length, semantics, 2 ** d, f"exact enumeration of 2^{d} subsets of words",
                               2 ** d * d * 8)
    return True


def _exact(samples) -> dict:
    """The JSON of an exact enumeration: ``requested_samples`` when it replaced the sampling asked for."""
    return {"exact": True} if samples is None else {"exact": True, "requested_samples": samples}


def _shapley(model, doc, length, semantics="replace", samples=None, seed=0) -> dict:
    """Shapley values of the words (exact for small d, antithetic permutations otherwise)."""
    from theory.explainers.shapley import shapley_exact, shapley_mc

    d = distinct_words(doc, length).size
    pairs = samples or 32  # without --samples: 32 pairs, then more until the relative SE is 1%
    if _enumerate(model, doc, length, semantics, samples, 2 + 2 * pairs * (d - 1)):
        return _words(model, doc, length, semantics, shapley_exact(model, doc, length, semantics), 2 ** d, seed,
                      **_exact(samples))
    if isinstance(pairs, int) and pairs >= 2:
        affordable_evaluations(model, doc, length, semantics, 2 + 2 * pairs * (d - 1),
                               f"Shapley with {pairs} antithetic pairs of orders and d = {d} distinct words")
    est = shapley_mc(model, doc, length, semantics, pairs=pairs, seed=seed,
                     target=TARGET_RSE if samples is None else None)
    return _words(model, doc, length, semantics, est.phi, est.evaluations, seed, exact=False,
                  stderr=est.stderr.tolist(), pairs=est.pairs)


def _kernelshap(model, doc, length, semantics="replace", samples=None, seed=0) -> dict:
    """KernelSHAP: the population fit over the full enumeration for small d, paired sampling otherwise."""
    from theory.explainers.kernelshap import kernelshap_sampled, kernelshap_table
    from theory.explainers.lime_inf import table

    d = distinct_words(doc, length).size
    n = samples or 4096
    if _enumerate(model, doc, length, semantics, samples, n + 2):
        return _words(model, doc, length, semantics, kernelshap_table(table(model, doc, length, semantics), d),
                      2 ** d, seed, **_exact(samples))
    if isinstance(n, int) and n >= 2:
        affordable_evaluations(model, doc, length, semantics, n + 2,
                               f"KernelSHAP with --samples {n} and d = {d} distinct words", kernelshap_bytes(n, d))
    with single_threaded_blas():
        beta = kernelshap_sampled(evaluator(model, doc, length, semantics), d, n, seed)
    return _words(model, doc, length, semantics, beta, n, seed, exact=False)


def _occlusion(model, doc, length, semantics="replace") -> dict:
    """Leave-one-word-out occlusion."""
    from theory.explainers.occlusion import occlusion

    d = distinct_words(doc, length).size
    return _words(model, doc, length, semantics, occlusion(model, doc, length, semantics), d + 1, None)


def _ig(model, doc, length, baseline="replace") -> dict:
    """Integrated Gradients to a completeness gap of 1e-10 × the value scale (the §2 model, whose integrand is
    analytic along the path), or :data:`ENCODER_IG_RTOL` × the readout's scale for an encoder: with ReLU
    feed-forwards its integrand has kinks, Gauss–Legendre's gap falls slowly and unevenly (bundled encoder, 8 words:
    0.27, 0.17, 0.0084, 0.041, 0.017, 0.0036 at 8, 32, 64, 128, 256, 512 nodes; 6e-4 at 4096 nodes, about a
    minute), so a tighter target would only spend time.  The result carries the gap reached and the nodes."""
    from theory.explainers.ig import RTOL, integrated_gradients
    from theory.models.one_layer import Model

    r = integrated_gradients(model, doc, length, baseline, rtol=RTOL if isinstance(model, Model) else ENCODER_IG_RTOL)
    return {"f": r.f, "scores": r.scores[: length + 1].tolist(), "baseline": r.baseline,
            "f_baseline": r.f_baseline, "completeness_gap": r.gap, "nodes": r.nodes}


def _noise(estimator, name: str, unit: str, work):
    """A noise method (``estimator`` of :mod:`theory.explainers.smoothgrad`/``clime``); ``work(model, X)`` is the
    unit of its cost on a batch of embedded documents (a gradient, resp. an evaluation of ``f``)."""
    def method(model, doc, length, sigma=0.1, samples=256, seed=0) -> dict:
        from theory.models.one_layer import embed

        if isinstance(samples, int) and samples >= 2:
            X = np.repeat(embed(model, np.asarray(doc)[None]), _BLOCK, axis=0)
            require_time(2 * samples, unit, _BLOCK, lambda: work(model, X),
                         f"{name} with --samples {samples} antithetic pairs of noise draws", FEWER)
        try:
            r = estimator(model, doc, sigma, samples, seed)
            finite = np.all(np.isfinite(r.scores)) and np.all(np.isfinite(r.scores_stderr))
        except OverflowError:  # C-LIME's σ² as a Python float
            finite = False
        if not finite:  # the document's own forward pass is finite (theory.explainers.finite checks it first): σ did it
            X = embed(model, np.asarray(doc)[None])
            raise InputError(f"--sigma {sigma:g} takes {name} outside float64's range: its noise σ·N(0, 1) is added "
                             f"to embeddings whose entries are at most {np.abs(X).max():.3g} in size"
                             + (" (and it divides by σ²)" if name == "C-LIME" else "")
                             + "; choose --sigma on that scale (default 0.1)")
        return {"f": _output(model, doc), "scores": r.scores[: length + 1].tolist(),
                "stderr": r.scores_stderr[: length + 1].tolist(), "sigma": r.sigma, "samples": r.pairs,
                "seed": r.seed}
    return method


def _smoothgrad(model, doc, length, **options):
    """SmoothGrad (Σ_k of the noise-averaged gradient), antithetic Monte Carlo."""
    from theory.explainers.embedded import gradient_embedded
    from theory.explainers.smoothgrad import smoothgrad

    return _noise(smoothgrad, "SmoothGrad", "gradients", gradient_embedded)(model, doc, length, **options)


def _clime(model, doc, length, **options):
    """Continuous LIME (Agarwal et al. 2021), antithetic Monte Carlo."""
    from theory.explainers.clime import clime
    from theory.explainers.embedded import output_embedded

    return _noise(clime, "C-LIME", "evaluations of f", output_embedded)(model, doc, length, **options)


METHODS = {"shapley": _shapley, "kernelshap": _kernelshap, "occlusion": _occlusion, "ig": _ig,
           "smoothgrad": _smoothgrad, "clime": _clime}
OPTIONS = {"shapley": ("semantics", "samples", "seed"), "kernelshap": ("semantics", "samples", "seed"),
           "occlusion": ("semantics",), "ig": ("baseline",), "smoothgrad": ("sigma", "samples", "seed"),
           "clime": ("sigma", "samples", "seed")}
