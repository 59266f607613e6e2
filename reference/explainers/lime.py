"""LIME for text exactly as lime 0.2.0.1 computes it (``LimeTextExplainer`` defaults), brute force.

Independent of ``theory`` (docs/theory.md §1.5).  numpy is used for the random draws only (lime's own
``numpy.random.RandomState``) and for bookkeeping; every number of the fit is computed in mpmath.

What lime 0.2.0.1 does (``lime_text.py``, ``lime_base.py``), step by step:

1. Features: the ``d`` distinct words of the text, numbered in order of first appearance
   (``IndexedString`` with ``bow=True``).
2. Samples, ``n`` of them, from ``RandomState(random_state)``: row 0 is the original (all ones); then one
   call ``randint(1, d + 1, n − 1)`` draws the number ``s`` of words to switch off for rows ``1..n−1``, and
   for each row in order ``choice(range(d), s, replace=False)`` draws which.
3. Distance ``D = 100 · cosine distance(z, 1) = 100 · (1 − √(|z|/d))`` (sklearn's cosine distance of the
   binary rows; a row of zeros is at distance 1), weight ``π = √exp(−D²/w²)`` with kernel width ``w = 25``.
4. Feature selection ``'auto'``: with ``num_features > 6`` this is ``'highest_weights'``, which, when
   ``num_features ≥ d``, keeps every feature (only their order changes; ``local_exp`` lists ``(feature id,
   coefficient)`` pairs sorted by decreasing ``|coefficient|``).  With ``num_features ≤ 6`` it is
   ``'forward_selection'``, which also keeps every feature when ``num_features ≥ d``.
5. Surrogate: ``Ridge(alpha=1, fit_intercept=True)`` with ``sample_weight = π``, i.e. the minimiser of
   ``Σ_i π_i (y_i − b − ⟨β, z_i⟩)² + ‖β‖²`` (the intercept is not penalised).  Here it is solved from its
   normal equations in mpmath.

The driver of the real lime package is :mod:`reference.oracles.lime_package`.
"""

from __future__ import annotations

from dataclasses import dataclass

import mpmath
import numpy as np
from mpmath import mpf

import reference.models.one_layer as ref
from reference.explainers.perturb import distinct_words, forward_perturbed, parse

KERNEL_WIDTH = 25
ALPHA = 1


def sample(d: int, n: int, random_state) -> np.ndarray:
    """The ``(n, d)`` 0/1 matrix of lime 0.2.0.1's samples for ``RandomState(random_state)`` (same calls).

    Args:
        d: the number of distinct words (features).
        n: the number of samples, the original (row 0) included.
        random_state: a seed or a ``numpy.random.RandomState`` (used as given, so its state advances).

    Returns:
        The ``(n, d)`` int64 matrix: row 0 all ones, then one row per perturbation (0: word switched off).

    Raises:
        ValueError: when ``d < 1`` or ``n < 2``.
    """
    if d < 1:
        raise ValueError("the text has no words (d = 0): there is nothing to explain")
    if n < 2:
        raise ValueError(f"n = {n} samples: LIME needs at least 2 (the original and one perturbation)")
    rs = random_state if isinstance(random_state, np.random.RandomState) else np.random.RandomState(random_state)
    sizes = rs.randint(1, d + 1, n - 1)
    Z = np.ones((n, d), dtype=np.int64)
    for i, size in enumerate(sizes, start=1):
        Z[i, rs.choice(range(d), size, replace=False)] = 0
    return Z


def kernel_weight(kept: int, d: int, dps: int = ref.DPS):
    """``π = √exp(−D²/w²)`` with ``D = 100 (1 − √(kept/d))`` (cosine distance × 100 of a 0/1 row to 1).

    Args:
        kept: ``|z|``, the number of words kept.
        d: the number of distinct words.
        dps: the precision in decimal digits.

    Returns:
        The weight ``π`` (mpf).
    """
    with mpmath.workdps(dps):
        D = 100 * (1 - mpmath.sqrt(mpf(kept) / d))
        return mpmath.sqrt(mpmath.exp(-(D**2) / mpf(KERNEL_WIDTH) ** 2))


@dataclass
class Fit:
    """Weighted ridge fit: ``intercept[m]`` and ``coef[m][j]`` for each of the ``m`` outputs (mpf)."""

    intercept: list
    coef: list


def weighted_ridge(Z, Y, dps: int = ref.DPS, alpha=ALPHA) -> Fit:
    """sklearn's ``Ridge(alpha, fit_intercept=True).fit(Z, y, sample_weight=π)`` for every column ``y`` of ``Y``.

    ``Z`` is the 0/1 sample matrix (n, d) and ``Y`` a list of ``n`` rows of ``m`` outputs (mpf).  Solves the
    normal equations ``[[Σπ, Σπzᵀ], [Σπz, Σπzzᵀ + αI]] [b; β] = [Σπy; Σπzy]`` at ``dps`` digits; identical
    rows are merged first (same ``z``, hence same weight and same output).

    Args:
        Z: the 0/1 sample matrix ``(n, d)``.
        Y: ``n`` rows of ``m`` outputs (mpf), one row per sample.
        dps: the precision in decimal digits.
        alpha: the ridge penalty on ``β`` (lime's ``Ridge(alpha=1)``).

    Returns:
        The :class:`Fit` of each of the ``m`` outputs.
    """
    Z = np.asarray(Z, dtype=np.int64)
    n, d = Z.shape
    with mpmath.workdps(dps):
        merged: dict[tuple, list] = {}
        for z, y in zip(map(tuple, Z.tolist()), Y):
            entry = merged.setdefault(z, [0, y])
            entry[0] += 1
        rows = list(merged)
        m = len(Y[0])
        # sums accumulated in lists of mpf (the same additions as in an mpmath matrix, without its slow
        # indexing), then solved as mpmath matrices
        A = [[mpmath.mpf(0)] * (d + 1) for _ in range(d + 1)]
        B = [[mpmath.mpf(0)] * (d + 1) for _ in range(m)]
        for z in rows:
            count, y = merged[z]
            w = count * kernel_weight(sum(z), d, dps)
            cols = [0] + [j + 1 for j, on in enumerate(z) if on]  # column 0: intercept; word j: column j + 1
            for a in cols:
                for b in cols:
                    A[a][b] += w
                for k in range(m):
                    B[k][a] += w * y[k]
        for j in range(1, d + 1):
            A[j][j] += alpha
        A = mpmath.matrix(A)
        solutions = [mpmath.lu_solve(A, mpmath.matrix(rhs)) for rhs in B]
        return Fit(intercept=[x[0] for x in solutions], coef=[[x[j] for j in range(1, d + 1)] for x in solutions])


@dataclass
class Lime:
    """Empirical LIME of one output function: coefficients in feature order, intercept, and the samples."""

    semantics: str
    words: list  # the distinct word ids (feature order)
    coef: list  # [output][j] mpf
    intercept: list  # [output] mpf
    Z: np.ndarray
    Y: list  # [sample][output] mpf


def lime(outputs, d: int, n: int, random_state, dps: int = ref.DPS, semantics: str = "", words=()) -> Lime:
    """LIME of ``outputs(z) -> list of mpf`` (one or several functions of the 0/1 vector ``z``).

    ``outputs`` is called once per distinct sample.

    Args:
        outputs: ``z -> list of mpf`` for a 0/1 tuple ``z`` of length ``d``.
        d: the number of features (distinct words).
        n: the number of samples, the original included.
        random_state: a seed or a ``numpy.random.RandomState`` (see :func:`sample`).
        dps: the precision in decimal digits.
        semantics: the removal semantics, recorded in the result.
        words: the distinct word ids (feature order), recorded in the result.

    Returns:
        The :class:`Lime` fit: ``coef[output][j]``, ``intercept[output]``, the samples and their outputs.
    """
    Z = sample(d, n, random_state)
    cache: dict[tuple, list] = {}
    Y = []
    for z in map(tuple, Z.tolist()):
        if z not in cache:
            cache[z] = list(outputs(z))
        Y.append(cache[z])
    fit = weighted_ridge(Z, Y, dps)
    return Lime(semantics, list(words), fit.coef, fit.intercept, Z, Y)


def lime_model(
    model, doc, length: int, n: int, random_state, semantics: str, dps: int = ref.DPS, Wl=None, engine: str = "mpmath"
) -> Lime:
    """LIME of the model on ``doc``: output 0 is ``f``, outputs ``1..K`` are the heads ``f^(i)``; every
    perturbed document goes through the full forward pass of ``engine`` (mpmath, or the Arb balls'
    midpoints: ``reference.explainers.perturb.forward_perturbed``).

    Args:
        model: the §2 model (the public ``.npz`` attributes).
        doc: the token document of length ``T`` (CLS at 0, the words at ``1..length``, UNK padding after).
        length: the number of words.
        n: the number of samples, the original included.
        random_state: a seed or a ``numpy.random.RandomState`` (see :func:`sample`).
        semantics: ``delete``, ``replace``, ``mask:ID`` or ``zero``.
        dps: the precision in decimal digits.
        Wl: overrides the model's ``W_ℓ`` (shape ``(K, d_out)``).
        engine: ``"mpmath"`` or ``"arb"``.

    Returns:
        The :class:`Lime` fit with ``1 + K`` outputs (``f``, then each head's ``f^(i)``).
    """
    parse(semantics)
    words = distinct_words(doc, length)

    def outputs(z):
        fw = forward_perturbed(model, doc, length, z, semantics, dps, Wl, engine)
        return [fw.f, *fw.f_heads]

    return lime(outputs, len(words), n, random_state, dps, semantics, words)
