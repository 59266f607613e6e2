"""Gradient-based explanations (§4 of the paper, Figure 1 and Figure 5), built on the exact gradient ``∇_t`` of the
model protocol (:meth:`~theory.models.protocol.AttentionClassifier.gradient`: the closed form of
:mod:`theory.models.one_layer_gradient` for the §2 model, backpropagation for an encoder).

Per-token aggregates (docs/theory.md §5.1): ``G-avg_t = mean_k ∇_{t,k}``, ``G-l1_t = ‖∇_t‖_1``, ``G-l2_t = ‖∇_t‖_2``,
``G×I_t = ⟨∇_t, e_t⟩``.  Since ``⟨u, e_t⟩/√d_att = s_t`` and ``⟨w_c, e_t⟩ = c_t``, gradient × input has the
closed form (consequence; the ``t = 0`` term is ours)

    G×I_t = (1/K) Σ_i α_t [c_t + (c_t − f^(i)) s_t]           (+ (1/K) Σ_i Σ_u α_u (c_u − f^(i)) s_u at t = 0),

i.e. the query path contributes the attention-weighted covariance of value scores and scores.

Everything is batched over documents and positions (no per-token Python loop); the cost is
``O(B·K·T·d_e)`` on top of the forward pass.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike

from theory.models.one_layer import Forward, Model, embed, forward, head_vectors, term_magnitudes
from theory.models.one_layer_gradient import key_direction

#: the smallest normal float64: below it an attention weight is subnormal and carries only absolute accuracy
_TINY = np.finfo(np.float64).tiny


# --- aggregates (docs/theory.md §5.1) --------------------------------------------------------------------------


def g_avg(grad: np.ndarray) -> np.ndarray:
    """``G-avg_t = mean_k ∇_{t,k}`` (over embedding coordinates).

    Args:
        grad: gradients, shape ``(..., T, d_e)``.

    Returns:
        The per-token means, shape ``(..., T)``.
    """
    return grad.mean(axis=-1)


def g_l1(grad: np.ndarray) -> np.ndarray:
    """``G-l1_t = ‖∇_t‖_1``.

    Args:
        grad: gradients, shape ``(..., T, d_e)``.

    Returns:
        The per-token 1-norms, shape ``(..., T)``.
    """
    return np.abs(grad).sum(axis=-1)


def g_l2(grad: np.ndarray) -> np.ndarray:
    """``G-l2_t = ‖∇_t‖_2``, formed as ``m·‖∇_t / m‖_2`` with ``m = max_j |∇_{t,j}|``: squared as they are,
    entries below ~1e-154 (a position with α_t ~ 1e-160) fall into the subnormal range and lose their digits
    (the thorough profile found ``G-l2`` off by 0.3% at α_t = 2.5e-163).

    Args:
        grad: gradients, shape ``(..., T, d_e)``.

    Returns:
        The per-token 2-norms, shape ``(..., T)``.
    """
    scale = np.max(np.abs(grad), axis=-1, keepdims=True)
    unit = grad / np.where(scale > 0, scale, 1.0)
    return scale[..., 0] * np.sqrt(np.einsum("...d,...d->...", unit, unit))


def g_x_input(grad: np.ndarray, X: np.ndarray) -> np.ndarray:
    """``G×I_t = ⟨∇_t, e_t⟩`` from a gradient and the embedded tokens.

    Args:
        grad: gradients, shape ``(..., T, d_e)``.
        X: the embedded tokens, the same shape.

    Returns:
        The per-token inner products, shape ``(..., T)``.
    """
    return np.einsum("...d,...d->...", grad, X)


def g_x_input_closed_form(fw: Forward) -> np.ndarray:
    """``G×I_t`` without forming any gradient (consequence; ``t = 0`` term ours):
    ``(1/K) Σ_i α_t [c_t + (c_t − f^(i)) s_t]``, plus ``(1/K) Σ_i Σ_u α_u (c_u − f^(i)) s_u`` at ``t = 0``.

    Args:
        fw: the §2 model's forward pass on ``B`` documents.

    Returns:
        ``G×I``, shape ``(B, T)``.
    """
    dev = fw.c - fw.f_heads[..., None]
    out = (fw.alpha * (fw.c + dev * fw.scores)).mean(axis=1)
    out[:, 0] += (fw.alpha * dev * fw.scores).sum(axis=-1).mean(axis=1)
    return out


# --- the bound (docs/theory.md §5.5) --------------------------------------------------------------


def attention_bound(model: Model, fw: Forward) -> np.ndarray:
    """``(1/K) Σ_i α_t [‖w_c‖_2 + |c_t − f^(i)| ‖u‖_2 / √d_att] ≥ ‖∇_t‖_2`` for ``t ≥ 1`` (triangle inequality
    on :func:`closed_form`) (column 0 is the same expression, not a bound on ``∇_0``).

    Args:
        model: the §2 model.
        fw: its forward pass on ``B`` documents.

    Returns:
        The bound, shape ``(B, T)``.
    """
    wc_norm = np.linalg.norm(head_vectors(model)[1], axis=-1)  # (K,)
    u_norm = np.linalg.norm(key_direction(model, fw), axis=-1)  # (B, K)
    dev = np.abs(fw.c - fw.f_heads[..., None])
    per_head = fw.alpha * (wc_norm[None, :, None] + dev * u_norm[..., None] * model.score_factor)
    return per_head.mean(axis=1)


# --- magnitudes of the terms (scales of the rounding-error tolerances) -----------------------------------


def magnitudes(model: Model, docs: ArrayLike) -> np.ndarray:
    """Magnitude of the terms summed into each entry of ``∇_t``, shape ``(B, T, d_e)``.

    Every quantity is replaced by the magnitude of its own terms (absolute values of the weights and
    embeddings, :func:`theory.models.one_layer.term_magnitudes`); an attention weight carries a relative error of about
    ``ε·(1 + max_t|s|)`` (``Magnitudes.alpha``), and below the smallest normal float64 only an absolute one,
    hence ``α_t + tiny``:

        (1/K) Σ_i (α_t + tiny) A_i [ |W_v|ᵀ|W_ℓ|ᵀ + (|c|_t + |f|_i) |W_k|ᵀ|W_q||e_0| / √d_att ]
        + [t = 0] (1/K) Σ_i A_i |W_q|ᵀ|W_k| Σ_u (α_u + tiny)(|c|_u + |f|_i) |e_u| / √d_att.

    Args:
        model: the §2 model.
        docs: token ids, shape ``(T,)`` or ``(B, T)``.

    Returns:
        The magnitudes, shape ``(B, T, d_e)``.
    """
    docs = np.atleast_2d(np.asarray(docs))
    fw = forward(model, docs)
    mag = term_magnitudes(model, docs)
    absX = np.abs(embed(model, docs))
    factor, K = model.score_factor, model.K
    alpha = (fw.alpha + _TINY) * mag.alpha[..., None]  # (B, K, T)
    dev = mag.c + mag.f[..., None]  # (B, K, T)
    wc = np.einsum("ko,kod->kd", np.abs(model.Wl), np.abs(model.Wv))  # (K, d_e)
    u = np.einsum("kad,kae,be->bkd", np.abs(model.Wk), np.abs(model.Wq), absX[:, 0])  # (B, K, d_e)
    word = (np.matmul(alpha.transpose(0, 2, 1), wc) + np.matmul((alpha * dev).transpose(0, 2, 1), u) * factor) / K
    y = np.matmul(alpha * dev, absX)  # (B, K, d_e)
    path = np.einsum("kad,kae,bke->bd", np.abs(model.Wq), np.abs(model.Wk), y) * (factor / K)
    word[:, 0] += path
    return word
