"""SmoothGrad (Smilkov et al. 2017; docs/theory.md §11.2): the gradient averaged over Gaussian noise on every embedded
token (CLS and padding included),

    SG_t = E_ε[∇_t f(e + ε)],   ε ~ N(0, σ² I),     score_t = Σ_k SG_{t,k},

estimated by seeded Monte Carlo over *antithetic pairs* ``(ε, −ε)`` (each pair's mean is one i.i.d. draw,
unbiased for ``SG``; the standard errors are the pairs' sample SD / √pairs).  Gradients are exact:
the model's ``gradient_embedded`` (the §2 closed forms, or an encoder's backpropagation).
The noise comes from
``numpy.random.default_rng(seed).standard_normal`` in blocks of :data:`BLOCK` pairs.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike

from theory.errors import InputError
from theory.models.protocol import AttentionClassifier

BLOCK = 64


@dataclass(frozen=True)
class NoiseEstimate:
    """A Monte Carlo estimate per embedding coordinate (``mean``, ``stderr``: ``(T, d_e)``) and per token
    (``scores``, ``scores_stderr``: sums over coordinates, ``(T,)``)."""

    mean: np.ndarray
    stderr: np.ndarray
    scores: np.ndarray
    scores_stderr: np.ndarray
    pairs: int
    seed: int
    sigma: float


def check(sigma: float, pairs: int) -> None:
    """Refuse a noise level or a number of pairs the estimate cannot use.

    Args:
        sigma: the noise's standard deviation ``σ``; must be a finite positive number.
        pairs: the number of antithetic pairs; must be an integer ≥ 2 (the standard error needs two).

    Raises:
        InputError: either is out of range.
    """
    if not (np.isfinite(sigma) and sigma > 0):
        raise InputError(f"sigma={sigma!r}: the noise level must be a positive number")
    if isinstance(pairs, bool) or int(pairs) != pairs or pairs < 2:
        raise InputError(f"pairs={pairs!r}: the standard error needs at least 2 antithetic pairs of noise draws")


def antithetic_mean(
    model: AttentionClassifier,
    doc: ArrayLike,
    sigma: float,
    pairs: int,
    seed: int,
    draw: Callable[[np.ndarray, np.ndarray], np.ndarray],
) -> NoiseEstimate:
    """Mean over ``pairs`` antithetic pairs of ``draw(X, ε) -> (m, T, d_e)``, the pair means of one block of
    ``m`` noise draws ``ε`` around the embedded document ``X``.

    Args:
        model: a model of any family (its ``embed``).
        doc: the document's ids, shape ``(T,)``.
        sigma: the noise's standard deviation ``σ`` (units of the embeddings).
        pairs: the number of antithetic pairs ``(ε, −ε)``.
        seed: the seed of ``numpy.random.default_rng`` that draws the noise, in blocks of :data:`BLOCK` pairs.
        draw: ``draw(X, ε)``: for the embedded document ``X`` ``(T, d_e)`` and a block of noise ``ε``
            ``(m, T, d_e)``, each pair's mean ``(m, T, d_e)``.

    Returns:
        The :class:`NoiseEstimate` (means and standard errors per coordinate and per token).

    Raises:
        InputError: ``sigma`` or ``pairs`` is refused by :func:`check`.
    """
    check(sigma, pairs)
    X = model.embed(np.asarray(doc)[None])[0]
    rng = np.random.default_rng(seed)
    total, squares = np.zeros_like(X), np.zeros_like(X)
    token_total, token_squares = np.zeros(X.shape[0]), np.zeros(X.shape[0])
    for start in range(0, int(pairs), BLOCK):
        eps = sigma * rng.standard_normal((min(BLOCK, int(pairs) - start),) + X.shape)
        unit = draw(X, eps)
        total += unit.sum(axis=0)
        squares += (unit**2).sum(axis=0)
        per_token = unit.sum(axis=2)
        token_total += per_token.sum(axis=0)
        token_squares += (per_token**2).sum(axis=0)
    n = int(pairs)

    def se(t: np.ndarray, q: np.ndarray) -> np.ndarray:
        return np.sqrt(np.maximum(q / n - (t / n) ** 2, 0.0) / (n - 1))

    return NoiseEstimate(
        total / n, se(total, squares), token_total / n, se(token_total, token_squares), n, int(seed), float(sigma)
    )


def smoothgrad(
    model: AttentionClassifier, doc: ArrayLike, *, sigma: float = 0.1, samples: int = 256, seed: int = 0
) -> NoiseEstimate:
    """SmoothGrad of every position (see the module docstring).

    Args:
        model: a model of any family.
        doc: the document's ids, shape ``(T,)``.
        sigma: the noise's standard deviation ``σ`` (units of the embeddings).
        samples: the number of antithetic pairs of noise draws.
        seed: the seed of the noise.

    Returns:
        The :class:`NoiseEstimate`: ``SG`` of shape ``(T, d_e)``, its per-token scores and standard errors.
    """

    def draw(X: np.ndarray, eps: np.ndarray) -> np.ndarray:
        grad = model.gradient_embedded(np.concatenate([X + eps, X - eps]))
        return 0.5 * (grad[: len(eps)] + grad[len(eps) :])

    return antithetic_mean(model, doc, sigma, samples, seed, draw)
