"""The exact gradient ``∇_t = ∂f/∂e_t`` of the §2 model in closed form (§4 of the paper, Figure 1 and Figure 5): the
:meth:`~theory.models.one_layer.Model.gradient` of the model protocol; the explanations built on it (the per-token
aggregates, the attention bound) are :mod:`theory.explainers.gradient`.

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

Everything is batched over documents and positions (no per-token Python loop); the cost is
``O(B·K·T·d_e)`` on top of the forward pass.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike

from theory.models.one_layer import Forward, Model, forward, forward_embedded, head_vectors


@dataclass(frozen=True)
class Gradient:
    """Closed-form gradients of a batch of ``B`` documents."""

    grad: np.ndarray  # (B, T, d_e) exact ∇_t at every position (query path included at t = 0)
    word_formula: np.ndarray  # (B, T, d_e) the t ≥ 1 formula at every t (the authors' code at t = 0)
    query_path: np.ndarray  # (B, d_e) the CLS query-path term, grad[:, 0] − word_formula[:, 0]
    forward: Forward


def key_direction(model: Model, fw: Forward) -> np.ndarray:
    """``u = W_kᵀ q`` per document and head: ``s_t = ⟨u, e_t⟩ / √d_att``.

    Args:
        model: the model.
        fw: its forward pass on ``B`` documents (the CLS queries ``q``).

    Returns:
        ``u``, shape ``(B, K, d_e)``.
    """
    return np.einsum("kad,bka->bkd", model.Wk, fw.q)


def closed_form(model: Model, fw: Forward) -> np.ndarray:
    """The word-position formula (paper §4) evaluated at every position:
    ``(1/K) Σ_i α_t [w_c + (c_t − f^(i)) u / √d_att]``.  Exact for ``t ≥ 1``; at ``t = 0`` it lacks the query
    path (:func:`cls_query_path`).

    Args:
        model: the model.
        fw: its forward pass on ``B`` documents.

    Returns:
        The formula at every position, shape ``(B, T, d_e)``.
    """
    K, factor = model.K, model.score_factor
    r = fw.alpha * (fw.c - fw.f_heads[..., None])  # (B, K, T): α_t (c_t − f^(i)) = ∂f^(i)/∂s_t
    value_part = np.matmul(fw.alpha.transpose(0, 2, 1), head_vectors(model)[1])  # (B, T, d_e): α_t w_c
    key_part = np.matmul(r.transpose(0, 2, 1), key_direction(model, fw))  # (B, T, d_e)
    return (value_part + key_part * factor) / K


def cls_query_path(model: Model, fw: Forward) -> np.ndarray:
    """The query-path term of ``∇_0`` (ours): ``(1/K) Σ_i W_qᵀ W_k Σ_u α_u (c_u − f^(i)) e_u / √d_att``.

    Args:
        model: the model.
        fw: its forward pass on ``B`` documents.

    Returns:
        The term, shape ``(B, d_e)``.
    """
    r = fw.alpha * (fw.c - fw.f_heads[..., None])  # (B, K, T)
    y = np.matmul(r, fw.X)  # (B, K, d_e): Σ_u α_u (c_u − f) e_u per head
    z = np.einsum("kad,bkd->bka", model.Wk, y)
    return np.einsum("kad,bka->bd", model.Wq, z) * (model.score_factor / model.K)


def gradient(model: Model, docs: ArrayLike) -> Gradient:
    """Exact ``∇_t`` at every position of every document.

    Args:
        model: the model.
        docs: token ids, shape ``(T,)`` or ``(B, T)``.

    Returns:
        The :class:`Gradient` of the ``B`` documents (``grad`` of shape ``(B, T, d_e)``).
    """
    return _gradient(model, forward(model, docs))


def gradient_embedded(model: Model, X: np.ndarray) -> Gradient:
    """Exact ``∇_t f`` at embedded inputs (not necessarily embeddings of tokens).

    Args:
        model: the model.
        X: embedded inputs, shape ``(B, T, d_e)``.

    Returns:
        The :class:`Gradient` at ``X`` (``grad`` of shape ``(B, T, d_e)``).
    """
    return _gradient(model, forward_embedded(model, X))


def _gradient(model: Model, fw: Forward) -> Gradient:
    word = closed_form(model, fw)
    path = cls_query_path(model, fw)
    grad = word.copy()
    grad[:, 0] += path
    return Gradient(grad=grad, word_formula=word, query_path=path, forward=fw)


def authors_gradient(model: Model, docs: ArrayLike) -> np.ndarray:
    """What the authors' code computes: the ``t ≥ 1`` formula at every position, CLS included (no query
    path); differs from the exact gradient at ``t = 0`` only.

    Args:
        model: the model.
        docs: token ids, shape ``(T,)`` or ``(B, T)``.

    Returns:
        The authors' gradient, shape ``(B, T, d_e)``.
    """
    return closed_form(model, forward(model, docs))
