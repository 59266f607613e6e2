"""Attention-based explanations (§3 of the paper, Figure 1) and the non-identifiability of attention.

``α-avg_t = (1/K) Σ_i α_t^(i)`` and ``α-max_t = max_i α_t^(i)`` are the two attention explanations the paper
compares; both depend on the scores only, never on the value path ``c_t = W_ℓ W_v e_t``.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import ArrayLike


def alpha_avg(alpha: np.ndarray) -> np.ndarray:
    """``α-avg_t = (1/K) Σ_i α_t^(i)``.

    Args:
        alpha: attention weights, shape ``(..., K, T)``.

    Returns:
        The mean over heads, shape ``(..., T)``.
    """
    return alpha.mean(axis=-2)


def alpha_max(alpha: np.ndarray) -> np.ndarray:
    """``α-max_t = max_i α_t^(i)``.

    Args:
        alpha: attention weights, shape ``(..., K, T)``.

    Returns:
        The maximum over heads, shape ``(..., T)``.
    """
    return alpha.max(axis=-2)


def null_direction(alpha: np.ndarray, c: np.ndarray) -> np.ndarray:
    """A direction ``δ ≠ 0`` with ``Σ_t δ_t = 0`` and ``Σ_t δ_t c_t = 0`` for one head (shape ``(T,)``, T ≥ 3).

    δ lives on the three most attended positions ``a, b, u``: it is the cross product
    ``(c_b − c_u, c_u − c_a, c_a − c_b)`` of ``(1,1,1)`` and ``(c_a, c_b, c_u)`` (or ``(1, −1, 0)`` when the three
    value scores are equal), scaled to ``max|δ_t| = 1``.  Moving attention along ±δ keeps ``Σ_t α_t c_t``.

    Args:
        alpha: one head's attention, shape ``(T,)``.
        c: its value scores ``c_t``, shape ``(T,)``.

    Returns:
        ``δ``, shape ``(T,)``, zero outside the three most attended positions.
    """
    a, b, u = np.argsort(alpha)[::-1][:3]
    d3 = np.array([c[b] - c[u], c[u] - c[a], c[a] - c[b]])
    if not np.any(d3):
        d3 = np.array([1.0, -1.0, 0.0])
    delta = np.zeros(len(alpha))
    delta[[a, b, u]] = d3 / np.abs(d3).max()
    return delta


def admissible_step(alpha: ArrayLike, delta: np.ndarray) -> Any:
    """The step ``ε = min_{δ_t < 0} α_t / (2|δ_t|)``: ``α + εδ ≥ α/2 > 0`` is again an attention vector.

    Works on float arrays and on object arrays of mpmath numbers (where α never underflows).

    Args:
        alpha: one head's attention, shape ``(T,)`` (floats or mpmath numbers).
        delta: a direction from :func:`null_direction`, shape ``(T,)``, with a negative entry.

    Returns:
        ``ε`` (a float, or an mpmath number for mpmath ``alpha``).
    """
    shrinking = delta < 0
    return np.min(np.asarray(alpha)[shrinking] / (2 * -delta[shrinking]))
