"""Gradient-based explanations (§4 of the paper, Figure 1 and Figure 5): closed forms of ``∇_t f``.

``∇_t := ∇_{e_t} f(ξ) ∈ R^{d_e}`` is the gradient of the model output with respect to the *embedded* token
``e_t = E[ξ_t] + p_t`` (positional encoding included; equivalently with respect to the row ``E[ξ_t]`` when
that token occurs once).  Per head (superscript ``(i)`` dropped), with ``u = W_kᵀ q`` and ``w_c = W_vᵀ W_ℓᵀ``:

* word positions ``t ≥ 1`` (paper §4; docs/theory.md §5.2): ``e_t`` enters ``f^(i)`` only
  through its key ``k_t`` and its value score ``c_t``, so

      ∇_t = (1/K) Σ_i α_t [ w_c + (c_t − f^(i)) u / √d_att ];

  (here and below ``1/√d_att`` is :attr:`~theory.models.one_layer.Model.score_factor`: 1 when ``scale`` is off);

* the CLS position ``t = 0`` (ours; docs/theory.md §5.3): ``e_0`` is also the input of the
  query ``q = W_q e_0``, which moves *every* score ``s_u = ⟨q, W_k e_u⟩/√d_att``; this adds the query path

      (1/K) Σ_i W_qᵀ W_k Σ_u α_u (c_u − f^(i)) e_u / √d_att.

  The authors' code applies the ``t ≥ 1`` formula at ``t = 0`` too (:func:`authors_gradient`); the
  difference is exactly the query path.

Padding positions ``L+1..T-1`` are positions of the model like any other (the CLS query attends to them and
their UNK embedding plus ``p_t`` enters ``f``), so they have gradients, given by the ``t ≥ 1`` formula.
Every function here returns all ``T`` positions and the claims check all of them; ``attnverify explain``
reports positions ``0..L`` only, as for the other methods.

Per-token aggregates (docs/theory.md §5.1): ``G-avg_t = mean_k ∇_{t,k}``, ``G-l1_t = ‖∇_t‖_1``, ``G-l2_t = ‖∇_t‖_2``,
``G×I_t = ⟨∇_t, e_t⟩``.  Since ``⟨u, e_t⟩/√d_att = s_t`` and ``⟨w_c, e_t⟩ = c_t``, gradient × input has the
closed form (consequence; the ``t = 0`` term is ours)

    G×I_t = (1/K) Σ_i α_t [c_t + (c_t − f^(i)) s_t]           (+ (1/K) Σ_i Σ_u α_u (c_u − f^(i)) s_u at t = 0),

i.e. the query path contributes the attention-weighted covariance of value scores and scores.

Everything is batched over documents and positions (no per-token Python loop); the cost is
``O(B·K·T·d_e)`` on top of the forward pass.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from theory.models.one_layer import (
    Forward,
    Model,
    embed,
    forward,
    forward_embedded,
    head_vectors,
    term_magnitudes,
)

#: the smallest normal float64: below it an attention weight is subnormal and carries only absolute accuracy
_TINY = np.finfo(np.float64).tiny


@dataclass(frozen=True)
class Gradient:
    """Closed-form gradients of a batch of ``B`` documents."""

    grad: np.ndarray  # (B, T, d_e) exact ∇_t at every position (query path included at t = 0)
    word_formula: np.ndarray  # (B, T, d_e) the t ≥ 1 formula at every t (the authors' code at t = 0)
    query_path: np.ndarray  # (B, d_e) the CLS query-path term, grad[:, 0] − word_formula[:, 0]
    forward: Forward


def key_direction(model: Model, fw: Forward) -> np.ndarray:
    """``u = W_kᵀ q`` per document and head, shape ``(B, K, d_e)``: ``s_t = ⟨u, e_t⟩ / √d_att``."""
    return np.einsum("kad,bka->bkd", model.Wk, fw.q)


def closed_form(model: Model, fw: Forward) -> np.ndarray:
    """The word-position formula (paper §4) evaluated at every position, shape ``(B, T, d_e)``:
    ``(1/K) Σ_i α_t [w_c + (c_t − f^(i)) u / √d_att]``.  Exact for ``t ≥ 1``; at ``t = 0`` it lacks the query
    path (:func:`cls_query_path`)."""
    K, factor = model.K, model.score_factor
    r = fw.alpha * (fw.c - fw.f_heads[..., None])  # (B, K, T): α_t (c_t − f^(i)) = ∂f^(i)/∂s_t
    value_part = np.matmul(fw.alpha.transpose(0, 2, 1), head_vectors(model)[1])  # (B, T, d_e): α_t w_c
    key_part = np.matmul(r.transpose(0, 2, 1), key_direction(model, fw))  # (B, T, d_e)
    return (value_part + key_part * factor) / K


def cls_query_path(model: Model, fw: Forward) -> np.ndarray:
    """The query-path term of ``∇_0`` (ours), shape ``(B, d_e)``:
    ``(1/K) Σ_i W_qᵀ W_k Σ_u α_u (c_u − f^(i)) e_u / √d_att``."""
    r = fw.alpha * (fw.c - fw.f_heads[..., None])  # (B, K, T)
    y = np.matmul(r, fw.X)  # (B, K, d_e): Σ_u α_u (c_u − f) e_u per head
    z = np.einsum("kad,bkd->bka", model.Wk, y)
    return np.einsum("kad,bka->bd", model.Wq, z) * (model.score_factor / model.K)


def gradient(model: Model, docs) -> Gradient:
    """Exact ``∇_t`` at every position of every document (``docs`` of shape ``(T,)`` or ``(B, T)``)."""
    return _gradient(model, forward(model, docs))


def gradient_embedded(model: Model, X) -> Gradient:
    """Exact ``∇_t f`` at embedded inputs ``X`` of shape ``(B, T, d_e)`` (not necessarily embeddings of tokens)."""
    return _gradient(model, forward_embedded(model, X))


def _gradient(model: Model, fw: Forward) -> Gradient:
    word = closed_form(model, fw)
    path = cls_query_path(model, fw)
    grad = word.copy()
    grad[:, 0] += path
    return Gradient(grad=grad, word_formula=word, query_path=path, forward=fw)


def authors_gradient(model: Model, docs) -> np.ndarray:
    """What the authors' code computes: the ``t ≥ 1`` formula at every position, CLS included (no query
    path).  Shape ``(B, T, d_e)``; differs from the exact gradient at ``t = 0`` only."""
    return closed_form(model, forward(model, docs))


# --- aggregates (docs/theory.md §5.1) --------------------------------------------------------------------------

def g_avg(grad: np.ndarray) -> np.ndarray:
    """``G-avg_t = mean_k ∇_{t,k}`` (over embedding coordinates)."""
    return grad.mean(axis=-1)


def g_l1(grad: np.ndarray) -> np.ndarray:
    """``G-l1_t = ‖∇_t‖_1``."""
    return np.abs(grad).sum(axis=-1)


def g_l2(grad: np.ndarray) -> np.ndarray:
    """``G-l2_t = ‖∇_t‖_2``, formed as ``m·‖∇_t / m‖_2`` with ``m = max_j |∇_{t,j}|``: squared as they are,
    entries below ~1e-154 (a position with α_t ~ 1e-160) fall into the subnormal range and lose their digits
    (the thorough profile found ``G-l2`` off by 0.3% at α_t = 2.5e-163)."""
    scale = np.max(np.abs(grad), axis=-1, keepdims=True)
    unit = grad / np.where(scale > 0, scale, 1.0)
    return scale[..., 0] * np.sqrt(np.einsum("...d,...d->...", unit, unit))


def g_x_input(grad: np.ndarray, X: np.ndarray) -> np.ndarray:
    """``G×I_t = ⟨∇_t, e_t⟩`` from a gradient and the embedded tokens."""
    return np.einsum("...d,...d->...", grad, X)


def g_x_input_closed_form(fw: Forward) -> np.ndarray:
    """``G×I_t`` without forming any gradient, shape ``(B, T)`` (consequence; ``t = 0`` term ours):
    ``(1/K) Σ_i α_t [c_t + (c_t − f^(i)) s_t]``, plus ``(1/K) Σ_i Σ_u α_u (c_u − f^(i)) s_u`` at ``t = 0``."""
    dev = fw.c - fw.f_heads[..., None]
    out = (fw.alpha * (fw.c + dev * fw.scores)).mean(axis=1)
    out[:, 0] += (fw.alpha * dev * fw.scores).sum(axis=-1).mean(axis=1)
    return out


# --- the bound (docs/theory.md §5.5) --------------------------------------------------------------

def attention_bound(model: Model, fw: Forward) -> np.ndarray:
    """``(1/K) Σ_i α_t [‖w_c‖_2 + |c_t − f^(i)| ‖u‖_2 / √d_att] ≥ ‖∇_t‖_2`` for ``t ≥ 1`` (triangle inequality
    on :func:`closed_form`), shape ``(B, T)`` (column 0 is the same expression, not a bound on ``∇_0``)."""
    wc_norm = np.linalg.norm(head_vectors(model)[1], axis=-1)  # (K,)
    u_norm = np.linalg.norm(key_direction(model, fw), axis=-1)  # (B, K)
    dev = np.abs(fw.c - fw.f_heads[..., None])
    per_head = fw.alpha * (wc_norm[None, :, None] + dev * u_norm[..., None] * model.score_factor)
    return per_head.mean(axis=1)


# --- magnitudes of the terms (scales of the rounding-error tolerances) -----------------------------------

def magnitudes(model: Model, docs) -> np.ndarray:
    """Magnitude of the terms summed into each entry of ``∇_t``, shape ``(B, T, d_e)``.

    Every quantity is replaced by the magnitude of its own terms (absolute values of the weights and
    embeddings, :func:`theory.models.one_layer.term_magnitudes`); an attention weight carries a relative error of about
    ``ε·(1 + max_t|s|)`` (``Magnitudes.alpha``), and below the smallest normal float64 only an absolute one,
    hence ``α_t + tiny``:

        (1/K) Σ_i (α_t + tiny) A_i [ |W_v|ᵀ|W_ℓ|ᵀ + (|c|_t + |f|_i) |W_k|ᵀ|W_q||e_0| / √d_att ]
        + [t = 0] (1/K) Σ_i A_i |W_q|ᵀ|W_k| Σ_u (α_u + tiny)(|c|_u + |f|_i) |e_u| / √d_att.
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
