"""KernelSHAP (Lundberg & Lee 2017, Theorem 2; docs/theory.md §11.2): Shapley values as a constrained weighted
least-squares fit of the value function ``v(z)`` (``z ∈ {0,1}^d`` the kept words, :mod:`theory.explainers.shapley`).

With the Shapley kernel ``π(z) = (d − 1) / (C(d, |z|)·|z|·(d − |z|))`` for ``0 < |z| < d`` (infinite at
``|z| ∈ {0, d}``, i.e. the constraints ``β_0 = v(∅)`` and ``Σ_j β_j = v([d]) − v(∅)``),

    β = argmin Σ_z π(z) (v(z) − v(∅) − ⟨β, z⟩)²   subject to   Σ_j β_j = v([d]) − v(∅),

and Lundberg & Lee's Theorem 2 says ``β = φ``.  The constraint is eliminated as ``shap``'s KernelExplainer
does: ``β_d = Δ − Σ_{j<d} β_j`` with ``Δ = v([d]) − v(∅)`` turns the problem into an unconstrained weighted
least squares in ``β_1..β_{d−1}`` with response ``v(z) − v(∅) − z_d Δ`` and regressors ``z_j − z_d``.

- :func:`kernelshap_table` — the population problem over the full enumeration of the ``2^d`` patterns;
- :func:`kernelshap_sampled` — the sampled estimator: sizes ``|z| = s`` drawn with probability
  ``∝ π(s)·C(d, s) = (d − 1)/(s(d − s))``, then a uniform subset of that size, each draw paired with its
  complement ``1 − z`` (``shap``'s paired sampling); every draw then has weight 1.  Converges to the
  population solution at rate ``n^{-1/2}``.  Seeded by ``numpy.random.default_rng(seed)``.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike
from scipy.special import gammaln

from theory.errors import InputError
from theory.explainers.lime_inf import patterns
from theory.models.perturb import Evaluate


def kernel(d: int, sizes: ArrayLike) -> np.ndarray:
    """The Shapley kernel ``π = (d − 1)/(C(d, s)·s·(d − s))`` of patterns with ``s = |z|`` kept words, ``0 < s < d``.

    Args:
        d: the number of players (distinct words).
        sizes: the patterns' sizes ``s``, any shape, each in ``1..d−1``.

    Returns:
        ``π``, the shape of ``sizes``.
    """
    s = np.asarray(sizes, dtype=np.float64)
    logc = gammaln(d + 1) - gammaln(s + 1) - gammaln(d - s + 1)
    return (d - 1) / (np.exp(logc) * s * (d - s))


def constrained_fit(Z: np.ndarray, y: np.ndarray, w: np.ndarray, v_empty: float, v_full: float) -> np.ndarray:
    """``β`` minimising ``Σ w (y − v(∅) − Zβ)²`` subject to ``Σ β = v([d]) − v(∅)`` (elimination of ``β_d``).

    Args:
        Z: the patterns, shape ``(n, d)``.
        y: their values ``v(z)``, shape ``(n,)``.
        w: their weights, shape ``(n,)``.
        v_empty: ``v(∅)``.
        v_full: ``v([d])``.

    Returns:
        ``β``, shape ``(d,)``, summing to ``v([d]) − v(∅)``.
    """
    d = Z.shape[1]
    delta = v_full - v_empty
    if d == 1:
        return np.array([delta])
    root = np.sqrt(w)[:, None]
    A = (Z[:, :-1] - Z[:, -1:]) * root
    b = (y - v_empty - Z[:, -1] * delta) * root[:, 0]
    head = np.linalg.lstsq(A, b, rcond=None)[0]
    return np.append(head, delta - head.sum())


def _check(d: int) -> None:
    if d < 2:
        raise InputError(f"d = {d}: KernelSHAP needs at least 2 distinct words (with one word, φ = v([1]) − v(∅))")


def kernelshap_table(values: ArrayLike, d: int) -> np.ndarray:
    """Population KernelSHAP over the full enumeration.

    Args:
        values: ``values[k] = v(pattern k)`` for the ``2^d`` patterns of :func:`~theory.explainers.lime_inf.patterns`.
        d: the number of players, ``2 ≤ d ≤ 16``.

    Returns:
        ``β`` (equal to the Shapley values ``φ``), shape ``(d,)``.

    Raises:
        InputError: ``d < 2``.
    """
    _check(d)
    values = np.asarray(values, dtype=np.float64)
    Z = patterns(d)
    size = Z.sum(axis=1)
    inner = (size > 0) & (size < d)
    return constrained_fit(Z[inner], values[inner], kernel(d, size[inner]), values[0], values[-1])


def sample(d: int, n: int, seed: int) -> np.ndarray:
    """``n`` patterns (``n`` even: ``n/2`` draws and their complements) from the Shapley kernel's size law.

    Args:
        d: the number of players, at least 2.
        n: the number of patterns (an odd ``n`` gives ``n − 1``), at least 2.
        seed: the seed of ``numpy.random.default_rng``.

    Returns:
        The 0/1 patterns, shape ``(n, d)``: the draws, then their complements.

    Raises:
        InputError: ``d < 2`` or ``n`` is not an integer ≥ 2.
    """
    _check(d)
    if isinstance(n, bool) or int(n) != n or n < 2:
        raise InputError(f"samples={n!r}: sampled KernelSHAP needs at least 2 samples (a draw and its complement)")
    rng = np.random.default_rng(seed)
    half = int(n) // 2
    s = np.arange(1, d)
    sizes = rng.choice(s, size=half, p=(1 / (s * (d - s))) / np.sum(1 / (s * (d - s))))
    keys = rng.random((half, d))
    Z = (np.argsort(np.argsort(keys, axis=1), axis=1) < sizes[:, None]).astype(np.float64)
    return np.concatenate([Z, 1.0 - Z])


def kernelshap_sampled(evaluate: Evaluate, d: int, n: int = 2048, seed: int = 0) -> np.ndarray:
    """Sampled KernelSHAP of the value function ``evaluate(Z) -> v`` (``n`` paired samples, unit weights).

    Args:
        evaluate: the value function: 0/1 patterns ``(m, d)`` to ``v`` ``(m,)``.
        d: the number of players, at least 2.
        n: the number of samples (:func:`sample`).
        seed: the seed of the samples.

    Returns:
        The estimate of ``φ``, shape ``(d,)``, summing to ``v([d]) − v(∅)``.
    """
    Z = sample(d, n, seed)
    ends = evaluate(np.stack([np.zeros(d), np.ones(d)]))
    return constrained_fit(Z, evaluate(Z), np.ones(Z.shape[0]), ends[0], ends[1])
