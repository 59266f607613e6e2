"""``∇_t = ∂f/∂e_t`` of an encoder (docs/theory.md §11.1) by hand-written backpropagation, numpy only.

The backward pass mirrors :mod:`theory.models.encoder` block by block, with the same names
(``_sa_block`` ↔ ``_sa_block_backward`` …), in reverse order, reading what the forward pass kept
(:class:`~theory.models.encoder.LayerTrace`).  With ``ḡ`` the gradient of ``f`` with respect to a quantity:

* readout ``f = ⟨w, h^(L)_0⟩ + b``: ``h̄^(L)_0 = w``, ``h̄^(L)_t = 0`` for ``t ≥ 1``;
* the final norm (when the model has one), ``h^(L) = LN_f(y)`` with ``y`` the last layer's output: the LayerNorm
  rule below, with ``(γ_f, β_f)``;
* residual ``y = x + block``: ``x̄ += ȳ``, ``block̄ = ȳ`` (without residual, ``x̄`` gets nothing);
* LayerNorm ``y = x̂γ + β``, ``x̂ = (x − μ)r``, ``r = 1/√(var + ε)``:
  ``x̄ = r (ĝ − mean ĝ − x̂ · mean(ĝ x̂))`` with ``ĝ = ȳ ⊙ γ``;
* feed-forward ``y = W_2 act(z) + b_2``, ``z = W_1 x + b_1``: ``z̄ = (W_2ᵀ ȳ) ⊙ act'(z)``, ``x̄ = W_1ᵀ z̄``, with
  ``ReLU'(z) = [z > 0]`` and ``GELU'(z) = Φ(z) + z φ(z)``;
* self-attention, per head, ``O = A V``, ``A = softmax(S)``, ``S = Q Kᵀ/√d_att``: from ``Ō`` (the rows of
  ``W_oᵀ ȳ`` of the head) ``Ā = Ō Vᵀ``, ``V̄ = Aᵀ Ō``, ``S̄ = A ⊙ (Ā − rowsum(Ā ⊙ A))``, ``Q̄ = S̄ K/√d_att``,
  ``K̄ = S̄ᵀ Q/√d_att`` and ``x̄ = Σ_i W_qᵀ Q̄ + W_kᵀ K̄ + W_vᵀ V̄``.

Every position is included, CLS too (its query path is the ``Q̄`` term of the CLS row).

Rounding errors (:func:`rounding_scale`) are measured relative to the adjoints the backward pass sums: the largest
entry of ``h̄^(l)`` at every layer boundary (``h̄^(L)`` is ``w`` at CLS; with a final norm, also ``ȳ``), times
LayerNorm's largest ``1/√(var + ε)``, the final norm's included (its backward pass multiplies by it before
cancelling), per document.  Not componentwise: the magnitude of the
terms of each entry (the same pass with every factor in absolute value) grows geometrically with depth — about
1e7 times the gradient at ``L = 3``, ``d = 6`` in our measurements — and would make a componentwise tolerance
meaningless; and not relative to the gradient itself, which LayerNorm can cancel to ~1e-9 of its adjoints (at
``d = 2`` every normalised vector is ``±(1, −1)``).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike
from scipy.special import erf

from theory.models.encoder import Encoder, EncoderForward, LayerTrace, NormTrace, filled, forward


@dataclass(frozen=True)
class EncoderGradient:
    grad: np.ndarray  # (B, T, d) ∇_t = ∂f/∂e_t at every position (CLS included)
    forward: EncoderForward


def _readout_backward(model: Encoder, fw: EncoderForward) -> np.ndarray:
    dh = np.zeros_like(fw.hidden[:, -1])
    dh[:, 0] = model.w
    return dh


def _add_backward(model: Encoder, dy):
    """``(x̄, block̄)`` of ``y = x + block`` (``y = block`` without residual)."""
    return (dy if model.residual else np.zeros_like(dy)), dy


def norm_backward(weight: np.ndarray, trace: NormTrace | None, dy: np.ndarray) -> np.ndarray:
    """``x̄`` of a LayerNorm ``y = x̂γ + β``: ``r (ĝ − mean ĝ − x̂ · mean(ĝ x̂))`` with ``ĝ = ȳ ⊙ γ`` (the encoder
    family and the BERT family).

    Args:
        weight: ``γ``, shape ``(d,)``.
        trace: the forward pass's :class:`~theory.models.encoder.NormTrace`; None: no norm (``norm = none``),
            the identity.
        dy: ``ȳ``, shape ``(..., d)``.

    Returns:
        ``x̄``, shape of ``dy``.
    """
    if trace is None:
        return dy
    g = dy * weight
    xhat = trace.xhat
    return trace.inv_std * (g - g.mean(axis=-1, keepdims=True) - xhat * (g * xhat).mean(axis=-1, keepdims=True))


def _heads_backward(dY, W):
    """``x̄ = Σ_i W^(i)ᵀ Ȳ^(i)`` of :func:`theory.models.encoder.heads_of` (``dY`` (B, K, T, width))."""
    B, K, T, width = dY.shape
    return dY.transpose(0, 2, 1, 3).reshape(B, T, K * width) @ W.reshape(K * width, -1)


def _sa_block_backward(model: Encoder, l: int, trace, dy):
    B, T, _ = dy.shape
    K, d_out, root = model.K, model.d_out, np.sqrt(model.d_att)
    A = trace.A
    dheads = (dy @ model.Wo[l]).reshape(B, T, K, d_out).transpose(0, 2, 1, 3)  # Ō, (B, K, T, d_out)
    dA = np.matmul(dheads, trace.Vmat.transpose(0, 1, 3, 2))
    dV = np.matmul(A.transpose(0, 1, 3, 2), dheads)
    dS = A * (dA - (dA * A).sum(axis=-1, keepdims=True)) / root
    dQ = np.matmul(dS, trace.Kmat)
    dK = np.matmul(dS.transpose(0, 1, 3, 2), trace.Q)
    return _heads_backward(dQ, model.Wq[l]) + _heads_backward(dK, model.Wk[l]) + _heads_backward(dV, model.Wv[l])


def activation_derivative(model: Encoder, z: np.ndarray) -> np.ndarray:
    """``ReLU'(z) = [z > 0]``; ``GELU'(z) = Φ(z) + z φ(z)`` (the model's ``activation``).

    Args:
        model: the encoder.
        z: the feed-forward's pre-activations ``W_1 x + b_1``, any shape.

    Returns:
        ``act'(z)``, the shape of ``z``.
    """
    if model.activation == "relu":
        return (z > 0).astype(np.float64)
    return 0.5 * (1.0 + erf(z / np.sqrt(2.0))) + z * np.exp(-0.5 * z * z) / np.sqrt(2.0 * np.pi)


def _ff_block_backward(model: Encoder, l: int, trace, dy):
    dz = (dy @ filled(model.W2)[l]) * activation_derivative(model, trace.z)
    return dz @ filled(model.W1)[l]


def _layer_backward(model: Encoder, l: int, trace: LayerTrace, dx: np.ndarray) -> np.ndarray:
    """The reverse of :func:`theory.models.encoder._layer`: ``h̄^(l)`` from ``h̄^(l+1)``."""
    norm1_weight, norm2_weight = filled(model.norm1_weight)[l], filled(model.norm2_weight)[l]
    if model.norm == "pre":
        if trace.ff is not None:
            dx, dff = _add_backward(model, dx)
            dx = dx + norm_backward(norm2_weight, trace.norm2, _ff_block_backward(model, l, trace.ff, dff))
        dx, dsa = _add_backward(model, dx)
        return dx + norm_backward(norm1_weight, trace.norm1, _sa_block_backward(model, l, trace.sa, dsa))
    if trace.ff is not None:
        dx, dff = _add_backward(model, norm_backward(norm2_weight, trace.norm2, dx))
        dx = dx + _ff_block_backward(model, l, trace.ff, dff)
    dx, dsa = _add_backward(model, norm_backward(norm1_weight, trace.norm1, dx))
    return dx + _sa_block_backward(model, l, trace.sa, dsa)


def backward(model: Encoder, fw: EncoderForward, boundaries: list[np.ndarray] | None = None) -> np.ndarray:
    """``∂f/∂h^(0)`` of the documents of ``fw`` (module docstring), block by block in reverse.

    Args:
        model: the encoder.
        fw: its forward pass on ``B`` documents, traces kept.
        boundaries: when given, receives ``h̄^(L)`` (and, with a final norm, the adjoint of the last layer's
            output), then ``h̄^(L−1), …, h̄^(1)``, each ``(B, T, d)``.

    Returns:
        ``∂f/∂h^(0)``, shape ``(B, T, d)``.
    """
    dx = _readout_backward(model, fw)
    if fw.final is not None:
        if boundaries is not None:
            boundaries.append(dx)
        dx = norm_backward(filled(model.final_norm_weight), fw.final, dx)
    for l in reversed(range(model.L)):
        if boundaries is not None:
            boundaries.append(dx)
        dx = _layer_backward(model, l, fw.layers[l], dx)
    return dx


def gradient(model: Encoder, docs: ArrayLike) -> EncoderGradient:
    """``∇_t = ∂f/∂e_t`` at every position of every document.

    Args:
        model: the encoder.
        docs: token ids, shape ``(T,)`` or ``(B, T)``.

    Returns:
        The :class:`EncoderGradient` (``grad`` of shape ``(B, T, d)``, CLS included, and the forward pass).
    """
    fw = forward(model, docs)
    return EncoderGradient(grad=backward(model, fw), forward=fw)


def rounding_scale(model: Encoder, fw: EncoderForward) -> np.ndarray:
    """The scale of the gradient's rounding errors per document (module docstring).

    Args:
        model: the encoder.
        fw: its forward pass on ``B`` documents, traces kept.

    Returns:
        The scale, shape ``(B,)`` (units of the gradient).
    """
    boundaries: list[np.ndarray] = []
    grad = backward(model, fw, boundaries)
    largest = np.max([np.abs(a).max(axis=(1, 2)) for a in [*boundaries, grad]], axis=0)
    traces = [n for tr in fw.layers for n in (tr.norm1, tr.norm2)] + [fw.final]
    norms = [n.inv_std.max(axis=(1, 2)) for n in traces if n is not None]
    return largest * (np.max(norms, axis=0) if norms else 1.0)
