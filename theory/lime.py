"""Empirical LIME for text (§5 of the paper), vectorized, drawing exactly lime 0.2.0.1's samples.

For ``n`` samples ``z_i ∈ {0,1}^d`` (``z_ij = 0``: the ``j``-th distinct word switched off) LIME fits

    (β̂_0, β̂) = argmin_{b, β} Σ_i π_i (f(ξ(z_i)) − b − ⟨β, z_i⟩)² + λ‖β‖²,   λ = 1,
    π_i = √exp(−D_i²/w²),   D_i = 100 (1 − √(|z_i|/d)),   w = 25,

which is scikit-learn's ``Ridge(alpha=1, fit_intercept=True)`` with ``sample_weight = π`` as lime 0.2.0.1's
``LimeTextExplainer`` calls it (THEORY.md §2; Mardaoui & Garreau 2021 for the analysis).  The samples are
those of ``numpy.random.RandomState(seed)`` in lime's call order: row 0 is the original, then
``randint(1, d + 1, n − 1)`` draws how many words each row switches off and, row by row,
``choice(range(d), s, replace=False)`` draws which.  In numpy's legacy ``RandomState`` that call is
``permutation(d)[:s]``, i.e. ``shuffle(arange(d))[:s]``, used here directly (the same stream without the
per-call overhead; ``tests/test_lime.py`` checks the samples against lime's call).

``f`` on the perturbed documents comes from :mod:`theory.perturb` under the chosen removal semantics
(``delete``: lime's actual behaviour with ``bow=True``, then UNK re-padding; ``replace``: UNK at the same
position, as Eq. (19) assumes).  Every result records its semantics.

``d = 1`` is allowed: the ridge problem is well posed (every perturbed sample is the empty text), exactly as
lime computes it.  ``d = 0`` (empty text) and ``n < 2`` are errors.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from theory.model import InputError, Model
from theory.perturb import check_semantics, distinct_words, evaluator, single_threaded_blas

KERNEL_WIDTH = 25.0
ALPHA = 1.0


def sample(d: int, n: int, seed: int) -> np.ndarray:
    """lime 0.2.0.1's ``(n, d)`` 0/1 sample matrix (float64) for ``RandomState(seed)``."""
    if d < 1:
        raise InputError("the text is empty (d = 0 distinct words): there is nothing to explain")
    if isinstance(n, bool) or int(n) != n or n < 2:
        raise InputError(f"--samples {n!r}: LIME needs at least 2 samples (the original and one perturbation)")
    n = int(n)
    if isinstance(seed, bool) or int(seed) != seed or not 0 <= seed < 2**32:
        raise InputError(f"--seed {seed!r}: lime's RandomState takes an integer seed in 0..2**32 - 1")
    rs = np.random.RandomState(int(seed))
    sizes = rs.randint(1, d + 1, n - 1)
    perms = np.empty((n - 1, d), dtype=np.int64)
    perms[:] = np.arange(d)
    shuffle = rs.shuffle
    for row in perms:  # one draw per sample: the RandomState stream is sequential
        shuffle(row)  # = permutation(d), without allocating
    off = np.zeros((n, d), dtype=bool)
    first = np.arange(d) < sizes[:, None]  # the first s entries of each permutation are switched off
    off[np.repeat(np.arange(1, n), sizes), perms[first]] = True
    return (~off).astype(np.float64)


def kernel_weights(Z: np.ndarray) -> np.ndarray:
    """``π = √exp(−D²/w²)`` with ``D = 100 (1 − √(|z|/d))``, ``w = 25``."""
    D = 100.0 * (1.0 - np.sqrt(Z.sum(axis=1) / Z.shape[1]))
    return np.sqrt(np.exp(-D ** 2 / KERNEL_WIDTH ** 2))


def weighted_ridge(Z: np.ndarray, y: np.ndarray, pi: np.ndarray, alpha: float = ALPHA):
    """``(intercept, coef)`` of ``Ridge(alpha, fit_intercept=True).fit(Z, y, sample_weight=π)``.

    scikit-learn centres ``Z`` and ``y`` at their ``π``-weighted means ``z̄, ȳ``, solves
    ``(Z_cᵀ Π Z_c + αI) β = Z_cᵀ Π y_c`` and sets the intercept to ``ȳ − ⟨z̄, β⟩``.  The same system is formed
    here from weighted moments, without centred copies: ``Z_cᵀ Π Z_c = Zᵀ Π Z − (Σπ) z̄ z̄ᵀ`` and
    ``Z_cᵀ Π y_c = Zᵀ Π y − (Σπ) z̄ ȳ``, then solved by Cholesky.  ``y`` may be ``(n,)`` or ``(n, m)``.
    """
    return _ridge(*_moments(Z, y, pi), alpha)


def _moments(Z, y, pi):
    """``(Zᵀ Π Z, Zᵀ Π y, Σπ z, Σπ y, Σπ)`` of a block of samples (they add up over blocks)."""
    Zp = Z * pi[:, None]
    return Z.T @ Zp, Zp.T @ y, Zp.sum(axis=0), pi @ y, pi.sum()


def _ridge(gram, zy, z_sum, y_sum, total, alpha=ALPHA):
    A = gram - np.outer(z_sum, z_sum) / total
    A[np.diag_indices_from(A)] += alpha
    rhs = zy - (np.outer(z_sum, y_sum) if np.ndim(y_sum) else z_sum * y_sum) / total
    L = np.linalg.cholesky(A)
    coef = np.linalg.solve(L.T, np.linalg.solve(L, rhs))
    return (y_sum - z_sum @ coef) / total, coef


@dataclass
class LimeResult:
    """Empirical LIME of one document: ``coef[j]`` belongs to ``words[j]`` (lime's feature order)."""

    semantics: str
    words: np.ndarray  # (d,) distinct word ids, order of first appearance
    coef: np.ndarray  # (d,)
    intercept: float
    n_samples: int
    seed: int
    Z: np.ndarray  # (n, d) samples
    weights: np.ndarray  # (n,) π
    f: np.ndarray  # (n,) model output on the perturbed documents


def lime(model: Model, doc, length: int, n_samples: int = 5000, seed: int = 0,
         semantics: str = "delete") -> LimeResult:
    """Empirical LIME (lime 0.2.0.1, ``LimeTextExplainer`` defaults) of ``f`` on ``doc`` (text at ``1..length``)."""
    check_semantics(semantics)
    if length < 1:
        raise InputError("the text is empty (d = 0 distinct words): there is nothing to explain")
    words = distinct_words(doc, length)
    Z = sample(words.size, n_samples, seed)
    with single_threaded_blas():
        f = evaluator(model, doc, length, semantics)(Z)
        pi = kernel_weights(Z)
        intercept, coef = weighted_ridge(Z, f, pi)
    return LimeResult(semantics, words, coef, float(intercept), int(n_samples), int(seed), Z, pi, f)
