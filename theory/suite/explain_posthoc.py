"""``attnverify explain`` methods of docs/theory.md §11.2: ``shapley``, ``kernelshap``, ``occlusion`` (word methods, the
JSON shape of LIME's: ``words``, ``scores[j]`` of ``words[j]``, ``intercept`` = ``v(∅)`` — the value of the empty
text, shap's base value — ``semantics``, ``samples``, ``seed``) and ``ig``, ``smoothgrad``, ``clime`` (position
methods: ``scores[k]`` of ``positions[k]``, the sum over embedding coordinates).  Estimators add ``stderr``.

Defaults: Shapley and KernelSHAP are exact (enumeration) for ``d ≤`` :data:`EXACT_D`; beyond, or when
``--samples`` is given, Shapley is estimated by antithetic permutations (``--samples`` pairs, or as many as
needed for a 1% relative standard error) and KernelSHAP by paired sampling (``--samples`` patterns, default
4096).  IG takes ``--baseline replace | mask:ID | zero`` (default replace); SmoothGrad and C-LIME take
``--sigma`` (default 0.1) and ``--samples`` antithetic pairs (default 256).
"""

from __future__ import annotations

import numpy as np

from theory.explainers.perturb import distinct_words, evaluator, single_threaded_blas

EXACT_D = 12
TARGET_RSE = 0.01


def _empty_value(model, doc, length, semantics) -> float:
    d = distinct_words(doc, length).size
    return float(evaluator(model, doc, length, semantics)(np.zeros((1, d)))[0])


def _words(model, doc, length, semantics, scores, samples, seed, **extra) -> dict:
    from theory.models.one_layer import forward

    return {"f": float(forward(model, doc).f[0]), "scores": np.asarray(scores).tolist(),
            "words": distinct_words(doc, length).tolist(), "intercept": _empty_value(model, doc, length, semantics),
            "semantics": semantics, "samples": samples, "seed": seed, **extra}


def _shapley(model, doc, length, semantics="replace", samples=None, seed=0) -> dict:
    """Shapley values of the words (exact for small d, antithetic permutations otherwise)."""
    from theory.explainers.shapley import shapley_exact, shapley_mc

    d = distinct_words(doc, length).size
    if samples is None and d <= EXACT_D:
        return _words(model, doc, length, semantics, shapley_exact(model, doc, length, semantics), 2 ** d, seed,
                      exact=True)
    est = shapley_mc(model, doc, length, semantics, pairs=samples or 32, seed=seed,
                     target=TARGET_RSE if samples is None else None)
    return _words(model, doc, length, semantics, est.phi, est.evaluations, seed, exact=False,
                  stderr=est.stderr.tolist(), pairs=est.pairs)


def _kernelshap(model, doc, length, semantics="replace", samples=None, seed=0) -> dict:
    """KernelSHAP: the population fit over the full enumeration for small d, paired sampling otherwise."""
    from theory.explainers.kernelshap import kernelshap_sampled, kernelshap_table
    from theory.explainers.lime_inf import table

    d = distinct_words(doc, length).size
    if samples is None and d <= EXACT_D:
        return _words(model, doc, length, semantics, kernelshap_table(table(model, doc, length, semantics), d),
                      2 ** d, seed, exact=True)
    n = samples or 4096
    with single_threaded_blas():
        beta = kernelshap_sampled(evaluator(model, doc, length, semantics), d, n, seed)
    return _words(model, doc, length, semantics, beta, n, seed, exact=False)


def _occlusion(model, doc, length, semantics="replace") -> dict:
    """Leave-one-word-out occlusion."""
    from theory.explainers.occlusion import occlusion

    d = distinct_words(doc, length).size
    return _words(model, doc, length, semantics, occlusion(model, doc, length, semantics), d + 1, None)


def _ig(model, doc, length, baseline="replace") -> dict:
    """Integrated Gradients to a completeness gap of 1e-10 × the value scale."""
    from theory.explainers.ig import integrated_gradients

    r = integrated_gradients(model, doc, length, baseline)
    return {"f": r.f, "scores": r.scores[: length + 1].tolist(), "baseline": r.baseline,
            "f_baseline": r.f_baseline, "completeness_gap": r.gap, "nodes": r.nodes}


def _noise(estimator):
    def method(model, doc, length, sigma=0.1, samples=256, seed=0) -> dict:
        from theory.models.one_layer import forward

        r = estimator(model, doc, sigma, samples, seed)
        return {"f": float(forward(model, doc).f[0]), "scores": r.scores[: length + 1].tolist(),
                "stderr": r.scores_stderr[: length + 1].tolist(), "sigma": r.sigma, "samples": r.pairs,
                "seed": r.seed}
    return method


def _smoothgrad(model, doc, length, **options):
    """SmoothGrad (Σ_k of the noise-averaged gradient), antithetic Monte Carlo."""
    from theory.explainers.smoothgrad import smoothgrad

    return _noise(smoothgrad)(model, doc, length, **options)


def _clime(model, doc, length, **options):
    """Continuous LIME (Agarwal et al. 2021), antithetic Monte Carlo."""
    from theory.explainers.clime import clime

    return _noise(clime)(model, doc, length, **options)


METHODS = {"shapley": _shapley, "kernelshap": _kernelshap, "occlusion": _occlusion, "ig": _ig,
           "smoothgrad": _smoothgrad, "clime": _clime}
OPTIONS = {"shapley": ("semantics", "samples", "seed"), "kernelshap": ("semantics", "samples", "seed"),
           "occlusion": ("semantics",), "ig": ("baseline",), "smoothgrad": ("sigma", "samples", "seed"),
           "clime": ("sigma", "samples", "seed")}
