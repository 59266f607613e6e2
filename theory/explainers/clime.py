"""Continuous LIME (C-LIME; Agarwal et al. 2021, "Towards the unification and robustness of perturbation and
gradient explanations"; docs/theory.md §11.2): the population least-squares slope, with intercept and unit weights,
of ``f(e + ε)`` on the Gaussian noise ``ε ~ N(0, σ² I)`` added to every embedded token.

The design covariance is known exactly (``Cov ε = σ² I``, ``E ε = 0``), so the population slope is

    β = Cov(ε, f(e + ε)) / σ² = E[ε (f(e + ε) − f(e))] / σ²,

and by Stein's lemma (``E[ε g(ε)] = σ² E[∇g(ε)]``) it equals SmoothGrad for every ``σ > 0``
(Agarwal et al. 2021; claim ``clime.equals_smoothgrad``).  Per-token score: ``Σ_k β_{t,k}``.

Estimator: the same antithetic pairs as :mod:`theory.explainers.smoothgrad` (same seed, same noise), each pair
contributing ``ε (f(e + ε) − f(e − ε)) / (2σ²)`` — unbiased (the centring constant ``f(e)`` and every even part of
``f`` cancel), with standard errors from the pairs' spread.  (The empirical OLS slope with an estimated
design covariance converges to the same ``β``; with ``T·d_e`` regressors it needs more samples than
coordinates, which the known-covariance form does not.)
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike

from theory.explainers.smoothgrad import NoiseEstimate, antithetic_mean
from theory.models.protocol import AttentionClassifier


def clime(
    model: AttentionClassifier, doc: ArrayLike, *, sigma: float = 0.1, samples: int = 256, seed: int = 0
) -> NoiseEstimate:
    """C-LIME slope of every embedding coordinate (see the module docstring).

    Args:
        model: a model of any family.
        doc: the document's ids, shape ``(T,)``.
        sigma: the noise's standard deviation ``σ`` (units of the embeddings).
        samples: the number of noise draws (antithetic pairs count two; see
            :func:`~theory.explainers.smoothgrad.antithetic_mean`).
        seed: the seed of the noise.

    Returns:
        The :class:`~theory.explainers.smoothgrad.NoiseEstimate`: ``β`` of shape ``(T, d_e)``, its per-token scores
        and standard errors.
    """

    def draw(X: np.ndarray, eps: np.ndarray) -> np.ndarray:
        f = model.output_embedded(np.concatenate([X + eps, X - eps]))
        return eps * ((f[: len(eps)] - f[len(eps) :]) / (2 * sigma**2))[:, None, None]

    return antithetic_mean(model, doc, sigma, samples, seed, draw)
