"""Attention rollout (Abnar & Zuidema 2020; docs/theory.md §11.1): attention explanations of a multi-layer encoder.

Each layer's attention, averaged over heads and mixed half-and-half with the identity for the residual
connection, ``Â^(l) = ½·mean_i a^(i,l) + ½·I``, is a row-stochastic matrix; their product
``R = Â^(L) ⋯ Â^(1)`` propagates attention from the last layer down to the input tokens, and the explanation
of the CLS readout is the row ``R_{0,·}`` (a probability vector over positions).  The other attention
explanation at depth is the last layer's CLS attention, ``α-avg``/``α-max`` of
``EncoderForward.alpha`` (:mod:`theory.explainers.attention`).
"""

from __future__ import annotations

import numpy as np


def rollout_matrix(attention: np.ndarray) -> np.ndarray:
    """``R = Â^(L) ⋯ Â^(1)`` from every layer's attention.

    Args:
        attention: every layer's attention, shape ``(B, L, K, T, T)``.

    Returns:
        ``R``, shape ``(B, T, T)``, row-stochastic.
    """
    T = attention.shape[-1]
    mixed = 0.5 * attention.mean(axis=2) + 0.5 * np.eye(T)  # (B, L, T, T)
    R = np.broadcast_to(np.eye(T), mixed[:, 0].shape).copy()
    for l in range(attention.shape[1]):
        R = np.matmul(mixed[:, l], R)
    return R


def rollout(attention: np.ndarray) -> np.ndarray:
    """The CLS row ``R_{0,·}`` of :func:`rollout_matrix`.

    Args:
        attention: every layer's attention, shape ``(B, L, K, T, T)``.

    Returns:
        The CLS row, shape ``(B, T)``, a probability vector over positions per document.
    """
    return rollout_matrix(attention)[:, 0]
