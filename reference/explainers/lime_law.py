"""LIME's exact sampling law for text and its population limit ``β^∞``, by brute-force enumeration.

Independent of ``theory`` (docs/theory.md §1.5): every number comes from ``fractions`` (the law) or mpmath (the
weights and the least squares); numpy only does bookkeeping.

**The law** (lime 0.2.0.1, ``LimeTextExplainer`` defaults; Mardaoui & Garreau 2021).  A perturbed sample of
a text with ``d`` distinct words is ``z ∈ {0,1}^d`` (``z_j = 0``: word ``j`` switched off).  lime draws
``s ~ Uniform{1, …, d}`` and then a uniformly random set of ``s`` words to switch off, so

    P(z) = 1 / (d · C(d, s))   for a pattern with s = d − |z| ≥ 1 words off,   P(1) = 0.

lime's sample 0 is the original document (``z = 1``).  It is one sample out of ``n``: its share of the
least-squares objective vanishes as ``n → ∞``, so the population limit is taken over the law above alone
(``z = 1`` has probability 0).  Likewise the ridge penalty ``λ = 1`` is fixed while the objective grows
like ``n``, so it vanishes in the limit.

**The weights**: lime computes the cosine distance between ``z`` and the original ``1`` (times 100),
``D(z) = 100 · (1 − ⟨z, 1⟩ / (‖z‖ ‖1‖))`` (0 for ``z = 0``, as scikit-learn treats a zero vector), and the
exponential kernel ``π(z) = √exp(−D² / w²)`` with kernel width ``w = 25``.

**The population limit** ``β^∞ = argmin_{(β_0, β)} E[π(z) (f(z) − β_0 − ⟨β, z⟩)²]``: the weighted normal
equations summed over all ``2^d − 1`` patterns, solved in mpmath.

Patterns are indexed by the integer ``k ∈ [0, 2^d)`` with ``z_j = (k >> j) & 1`` (bit ``j`` is word ``j``);
``k = 2^d − 1`` is the original document.
"""

from __future__ import annotations

from fractions import Fraction
from math import comb

import mpmath
import numpy as np

DPS = 40
KERNEL_WIDTH = 25
MAX_D = 12  # enumeration of 2^d patterns in mpmath: beyond this it is too slow to be a reference


def _check_d(d: int) -> None:
    if not isinstance(d, (int, np.integer)) or d < 1:
        raise ValueError(f"d must be a positive integer (the number of distinct words), got {d!r}")
    if d > MAX_D:
        raise ValueError(f"d = {d}: exact enumeration of 2^d patterns is limited to d <= {MAX_D}")


def pattern(k: int, d: int) -> list[int]:
    """The pattern ``z`` of index ``k``: ``z_j = (k >> j) & 1``.

    Args:
        k: the pattern's index in ``[0, 2^d)``.
        d: the number of distinct words.

    Returns:
        ``z`` as a list of ``d`` zeros and ones.
    """
    return [(k >> j) & 1 for j in range(d)]


def patterns(d: int) -> list[list[int]]:
    """All ``2^d`` patterns, in index order.

    Args:
        d: the number of distinct words (1 to ``MAX_D``).

    Returns:
        The ``2^d`` patterns (lists of ``d`` zeros and ones), pattern ``k`` at index ``k``.
    """
    _check_d(d)
    return [pattern(k, d) for k in range(2**d)]


def probability(z) -> Fraction:
    """``P(z) = 1/(d·C(d, s))`` with ``s`` the number of words off; 0 for the original ``z = 1``.

    Args:
        z: a 0/1 pattern of length ``d``.

    Returns:
        ``P(z)`` as an exact fraction.
    """
    d, s = len(z), len(z) - sum(z)
    if s == 0:
        return Fraction(0)
    return Fraction(1, d * comb(d, s))


def law(d: int) -> list[Fraction]:
    """``P(z)`` for every pattern, in index order (exact fractions).

    Args:
        d: the number of distinct words (1 to ``MAX_D``).

    Returns:
        The ``2^d`` probabilities, pattern ``k`` at index ``k``; they sum to 1.
    """
    return [probability(z) for z in patterns(d)]


def moments(d: int) -> tuple[Fraction, Fraction, Fraction]:
    """``(Σ_z P(z), E z_0, E z_0 z_1)`` by exact enumeration (``E z_0 z_1`` is 0 for ``d = 1``).

    Args:
        d: the number of distinct words (1 to ``MAX_D``).

    Returns:
        ``(Σ_z P(z), E z_0, E z_0 z_1)`` as exact fractions.
    """
    total = first = second = Fraction(0)
    for z, p in zip(patterns(d), law(d)):
        total += p
        first += p * z[0]
        if d >= 2:
            second += p * z[0] * z[1]
    return total, first, second


def kernel_weight(z, kernel_width=KERNEL_WIDTH, dps: int = DPS):
    """``π(z) = √exp(−D(z)²/w²)``, ``D(z) = 100 · cosine distance(z, 1)``, computed as lime does (mpmath).

    Args:
        z: a 0/1 pattern of length ``d``.
        kernel_width: the kernel width ``w`` (lime's default 25).
        dps: the precision in decimal digits.

    Returns:
        ``π(z)`` (mpf).
    """
    with mpmath.workdps(dps):
        d = len(z)
        dot = mpmath.mpf(sum(z))  # ⟨z, 1⟩
        norm_z = mpmath.sqrt(sum(mpmath.mpf(v) ** 2 for v in z))
        if norm_z == 0:
            cosine = mpmath.mpf(0)
        else:
            cosine = dot / (norm_z * mpmath.sqrt(d))
        distance = 100 * (1 - cosine)
        return mpmath.sqrt(mpmath.exp(-(distance**2) / mpmath.mpf(kernel_width) ** 2))


def weighted_moment(d: int, p: int, kernel_width=KERNEL_WIDTH, dps: int = DPS):
    """``α_p = E[π(z) z_0 ⋯ z_{p-1}]`` by enumeration of the law (mpmath).

    Args:
        d: the number of distinct words (1 to ``MAX_D``).
        p: how many leading coordinates enter the product (0 gives ``E[π(z)]``).
        kernel_width: the kernel width ``w``.
        dps: the precision in decimal digits.

    Returns:
        ``α_p`` (mpf).
    """
    with mpmath.workdps(dps):
        total = mpmath.mpf(0)
        for z, prob in zip(patterns(d), law(d)):
            if prob and all(z[:p]):
                total += mpmath.mpf(prob.numerator) / prob.denominator * kernel_weight(z, kernel_width, dps)
        return total


def beta_inf(values, d: int, kernel_width=KERNEL_WIDTH, dps: int = DPS):
    """``β^∞ = (β_0, β_1, …, β_d)`` of the function with ``values[k] = f(pattern(k))`` (mpmath list).

    Weighted least squares over the full enumeration: the normal equations
    ``Σ_z P(z)π(z) x xᵀ · β = Σ_z P(z)π(z) f(z) x`` with ``x = (1, z)``, solved by LU in mpmath.
    ``values[2^d − 1]`` (the original document) has probability 0 and is not used.

    Args:
        values: the ``2^d`` values ``f(pattern(k))`` (mpf or numbers), in index order.
        d: the number of distinct words (2 to ``MAX_D``).
        kernel_width: the kernel width ``w``.
        dps: the precision in decimal digits.

    Returns:
        ``[β_0, β_1, …, β_d]`` (``d + 1`` mpf; ``β_0`` is the intercept).

    Raises:
        ValueError: when ``d`` is out of range or ``values`` has the wrong length.
    """
    _check_d(d)
    if d < 2:
        raise ValueError("d = 1: the law only produces z = 0, so β^∞ is not identified")
    if len(values) != 2**d:
        raise ValueError(f"values must have 2^d = {2**d} entries, got {len(values)}")
    with mpmath.workdps(dps):
        A = mpmath.zeros(d + 1, d + 1)
        b = mpmath.zeros(d + 1, 1)
        for k, (z, prob) in enumerate(zip(patterns(d), law(d))):
            if not prob:
                continue
            weight = mpmath.mpf(prob.numerator) / prob.denominator * kernel_weight(z, kernel_width, dps)
            x = [1] + z
            fz = values[k] if isinstance(values[k], mpmath.mpf) else mpmath.mpf(values[k])
            for r in range(d + 1):
                if not x[r]:
                    continue
                b[r] += weight * fz
                for c in range(d + 1):
                    if x[c]:
                        A[r, c] += weight
        solution = mpmath.lu_solve(A, b)
        return [solution[r] for r in range(d + 1)]
