"""Empirical LIME for text (§5 of the paper), vectorized, drawing exactly lime 0.2.0.1's samples.

For ``n`` samples ``z_i ∈ {0,1}^d`` (``z_ij = 0``: the ``j``-th distinct word switched off) LIME fits

    (β̂_0, β̂) = argmin_{b, β} Σ_i π_i (f(ξ(z_i)) − b − ⟨β, z_i⟩)² + λ‖β‖²,   λ = 1,
    π_i = √exp(−D_i²/w²),   D_i = 100 (1 − √(|z_i|/d)),   w = 25,

which is scikit-learn's ``Ridge(alpha=1, fit_intercept=True)`` with ``sample_weight = π`` as lime 0.2.0.1's
``LimeTextExplainer`` calls it (docs/theory.md §6; Mardaoui & Garreau 2021 for the analysis).  The samples are
those of ``numpy.random.RandomState(seed)`` in lime's call order: row 0 is the original, then
``randint(1, d + 1, n − 1)`` draws how many words each row switches off and, row by row,
``choice(range(d), s, replace=False)`` draws which.  In numpy's legacy ``RandomState`` that call is
``permutation(d)[:s]``: a Fisher–Yates shuffle of ``0..d−1`` which, for ``i = d−1, …, 1``, swaps entries ``i``
and ``j``, with ``j`` drawn by masked rejection (``random_interval``: the next 32-bit MT19937 output ``v``
until ``j = v & mask ≤ i``, ``mask`` the smallest ``2^k − 1 ≥ i``).  :func:`sample` replays exactly that stream,
the MT19937 generator included, in one compiled loop that starts from the ``RandomState``'s state after the
``randint`` call (``tests/test_lime.py`` checks the samples against :func:`reference.explainers.lime.sample`, which
makes lime's own calls, and that against lime itself).

``f`` on the perturbed documents comes from :mod:`theory.models.perturb` under the chosen removal semantics
(``delete``: lime's actual behaviour with ``bow=True``, then UNK re-padding; ``replace``: UNK at the same
position, as Eq. (19) assumes).  Every result records its semantics.

``d = 1`` is allowed: the ridge problem is well posed (every perturbed sample is the empty text), exactly as
lime computes it.  ``d = 0`` (empty text) and ``n < 2`` are errors.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike

from theory.errors import InputError
from theory.memory import lime_bytes, require
from theory.models.jit import cached_njit
from theory.models.perturb import (
    check_semantics,
    distinct_words,
    evaluator,
    single_threaded_blas,
)
from theory.models.protocol import AttentionClassifier

KERNEL_WIDTH = 25.0
ALPHA = 1.0


def sample(d: int, n: int, seed: int) -> np.ndarray:
    """lime 0.2.0.1's 0/1 sample matrix for ``RandomState(seed)`` (module docstring).

    Args:
        d: the number of distinct words, at least 1.
        n: the number of samples, the original (row 0, all ones) included; at least 2.
        seed: the seed of lime's ``RandomState``, in ``0..2**32 − 1``.

    Returns:
        ``Z``, shape ``(n, d)``, float64; ``Z[i, j] = 0`` switches word ``j`` off in sample ``i``.

    Raises:
        InputError: ``d = 0``, ``n < 2``, a seed out of range, or ``Z`` would not fit in memory.
    """
    if d < 1:
        raise InputError("the text is empty (d = 0 distinct words): there is nothing to explain")
    if isinstance(n, bool) or int(n) != n or n < 2:
        raise InputError(f"--samples {n!r}: LIME needs at least 2 samples (the original and one perturbation)")
    n = int(n)
    require(lime_bytes(n, d), f"LIME with --samples {n} and d = {d} distinct words", "use fewer --samples")
    if isinstance(seed, bool) or int(seed) != seed or not 0 <= seed < 2**32:
        raise InputError(f"--seed {seed!r}: lime's RandomState takes an integer seed in 0..2**32 - 1")
    rs = np.random.RandomState(int(seed))
    sizes = rs.randint(1, d + 1, n - 1)
    state = rs.get_state(legacy=False)["state"]  # MT19937: 624 words and the position of the next one
    Z = np.ones((n, d))
    _shuffles(state["key"].astype(np.uint64), int(state["pos"]), sizes, Z)
    return Z


_UPPER, _LOWER, _MATRIX_A = np.uint64(0x80000000), np.uint64(0x7FFFFFFF), np.uint64(0x9908B0DF)
_TEMPER_B, _TEMPER_C = np.uint64(0x9D2C5680), np.uint64(0xEFC60000)


@cached_njit
def _twist(key):
    """MT19937's next 624 words, in place (Matsumoto & Nishimura 1998; numpy's ``mt19937_gen``)."""
    for i in range(623):
        y = (key[i] & _UPPER) | (key[i + 1] & _LOWER)
        key[i] = key[i + 397 if i < 227 else i - 227] ^ (y >> 1) ^ ((y & 1) * _MATRIX_A)
    y = (key[623] & _UPPER) | (key[0] & _LOWER)
    key[623] = key[396] ^ (y >> 1) ^ ((y & 1) * _MATRIX_A)


@cached_njit
def _shuffles(key, pos, sizes, Z):
    """Rows ``1..n−1`` of ``Z`` (all ones on entry): row ``r`` shuffles ``0..d−1`` as ``RandomState.shuffle``
    does and switches off the first ``sizes[r−1]`` entries.  ``key``, ``pos``: the MT19937 state."""
    d = Z.shape[1]
    masks = np.zeros(d, np.int64)  # masks[i]: the smallest 2^k − 1 ≥ i
    for i in range(1, d):
        masks[i] = masks[i - 1] if i <= masks[i - 1] else 2 * masks[i - 1] + 1
    perm = np.zeros(2 * d, np.int64)  # a rejected j ≤ mask < 2d is read, never moved
    for row in range(sizes.size):
        for q in range(d):
            perm[q] = q
        i = d - 1
        while i > 0:  # one raw draw per pass; the branch-free accept keeps the loop fast
            if pos == 624:
                _twist(key)
                pos = 0
            v = key[pos]
            pos += 1
            v ^= v >> 11
            v ^= (v << 7) & _TEMPER_B
            v ^= (v << 15) & _TEMPER_C
            v ^= v >> 18
            j = np.int64(v) & masks[i]
            accept = j <= i
            a, b = perm[i], perm[j]
            perm[j] = a if accept else b
            perm[i] = b if accept else a
            i -= accept
        for q in range(sizes[row]):
            Z[row + 1, perm[q]] = 0.0


def kernel_weights(Z: np.ndarray) -> np.ndarray:
    """``π = √exp(−D²/w²)`` with ``D = 100 (1 − √(|z|/d))``, ``w = 25``.

    Args:
        Z: the samples, shape ``(n, d)``.

    Returns:
        ``π``, shape ``(n,)``.
    """
    D = 100.0 * (1.0 - np.sqrt(Z.sum(axis=1) / Z.shape[1]))
    return np.sqrt(np.exp(-(D**2) / KERNEL_WIDTH**2))


def weighted_ridge(
    Z: np.ndarray, y: np.ndarray, pi: np.ndarray, alpha: float = ALPHA
) -> tuple[float | np.ndarray, np.ndarray]:
    """``(intercept, coef)`` of ``Ridge(alpha, fit_intercept=True).fit(Z, y, sample_weight=π)``.

    scikit-learn centres ``Z`` and ``y`` at their ``π``-weighted means ``z̄, ȳ``, solves
    ``(Z_cᵀ Π Z_c + αI) β = Z_cᵀ Π y_c`` and sets the intercept to ``ȳ − ⟨z̄, β⟩``.  The same system is formed
    here from weighted moments, without centred copies: ``Z_cᵀ Π Z_c = Zᵀ Π Z − (Σπ) z̄ z̄ᵀ`` and
    ``Z_cᵀ Π y_c = Zᵀ Π y − (Σπ) z̄ ȳ``, then solved by Cholesky.

    Args:
        Z: the design, shape ``(n, d)``.
        y: the responses, shape ``(n,)`` or ``(n, m)`` (``m`` fits at once).
        pi: the sample weights ``π``, shape ``(n,)``.
        alpha: the ridge penalty ``λ``.

    Returns:
        ``(intercept, coef)``: a float and ``(d,)`` for ``y`` of shape ``(n,)``; ``(m,)`` and ``(d, m)`` otherwise.
    """
    return _ridge(*_design_moments(Z, pi), *_response_moments(Z, y, pi), alpha)


def _design_moments(Z: np.ndarray, pi: np.ndarray) -> tuple[np.ndarray, np.ndarray, float]:
    """``(Zᵀ Π Z, Σπ z, Σπ)``, the part of the normal equations that does not involve ``y``.  ``Zᵀ Π Z`` is
    summed over blocks of rows as ``AᵀA``, ``A = √Π Z``, which numpy hands to BLAS's ``syrk`` (half the work of
    a general product; the blocks' temporaries stay in cache)."""
    gram = np.zeros((Z.shape[1], Z.shape[1]))
    for start in range(0, Z.shape[0], 1024):
        A = Z[start : start + 1024] * np.sqrt(pi[start : start + 1024])[:, None]
        gram += A.T @ A
    return gram, pi @ Z, pi.sum()


def _response_moments(Z: np.ndarray, y: np.ndarray, pi: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``(Zᵀ Π y, Σπ y)``."""
    return Z.T @ (pi * y.T).T, pi @ y


def _ridge(
    gram: np.ndarray, z_sum: np.ndarray, total: float, zy: np.ndarray, y_sum: np.ndarray, alpha: float = ALPHA
) -> tuple[float | np.ndarray, np.ndarray]:
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


def lime(
    model: AttentionClassifier,
    doc: ArrayLike,
    length: int,
    *,
    semantics: str = "delete",
    samples: int = 5000,
    seed: int = 0,
) -> LimeResult:
    """Empirical LIME (lime 0.2.0.1, ``LimeTextExplainer`` defaults) of ``f`` on ``doc`` (text at ``1..length``).

    Args:
        model: a model of any family.
        doc: the document's ids.
        length: its number of words.
        semantics: the removal semantics (default ``delete``, what lime does).
        samples: the number of samples ``n``, the original included.
        seed: the seed of lime's ``RandomState``.

    Returns:
        The fit, its samples and ``f`` on them.
    """
    check_semantics(semantics)
    if length < 1:
        raise InputError("the text is empty (d = 0 distinct words): there is nothing to explain")
    words = distinct_words(doc, length)
    Z = sample(words.size, samples, seed)
    with single_threaded_blas(), ThreadPoolExecutor(1) as pool:
        pi = kernel_weights(Z)
        # two independent halves of the work, one per core: ZᵀΠZ (BLAS) and f on the perturbed documents
        design = pool.submit(_design_moments, Z, pi)
        f = evaluator(model, doc, length, semantics)(Z)
        intercept, coef = _ridge(*design.result(), *_response_moments(Z, f, pi))
    return LimeResult(semantics, words, coef, float(intercept), int(samples), int(seed), Z, pi, f)
