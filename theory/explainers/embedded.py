"""A model of either family on *embedded* inputs ``X`` (``(B, T, d_e)``, ``e_t = E[ξ_t] + p_t`` and anything in
between): what the continuous explainers (Integrated Gradients, SmoothGrad, C-LIME; docs/theory.md §11.2) and the
``zero`` removal semantics need, in one place, so that those explainers never ask which family they were given.

- the §2 model (:class:`~theory.models.one_layer.Model`): ``f`` by :func:`theory.models.one_layer.forward_embedded`,
  ``∇_X f`` by the closed forms of :func:`theory.explainers.gradient.gradient_embedded` (paper §4 and the CLS query
  path);
- the encoder family (:class:`~theory.models.encoder.Encoder`, docs/theory.md §11.1): ``f`` by its layer stack and
  ``∇_X f`` by the hand-written backpropagation of :mod:`theory.explainers.encoder_gradient`.

:func:`output_scale` is the size of the terms ``f`` is a sum of, the scale of its rounding and of a quadrature's
tolerance: for the §2 model ``max_t |c_t|`` over heads and positions (``|f| ≤ max |c_t|``, §2.5); for an encoder
the readout's terms, ``|b| + Σ_k |w_k h^(L)_{0,k}|`` (``f = ⟨w, h^(L)_0⟩ + b``).
"""

from __future__ import annotations

import numpy as np

from theory.models.one_layer import Model

_ELEMENTS = 1 << 22  # numbers held by the traces of one block of an encoder's documents


def output_embedded(model, X: np.ndarray) -> np.ndarray:
    """``f`` of the embedded documents ``X`` (B, T, d_e), shape ``(B,)``."""
    if isinstance(model, Model):
        from theory.models.one_layer import forward_embedded

        return forward_embedded(model, X).f
    from theory.models.encoder import forward_embedded

    return forward_embedded(model, X, keep=False).f


def gradient_embedded(model, X: np.ndarray) -> np.ndarray:
    """``∇_X f`` (B, T, d_e) at the embedded documents ``X``, CLS included."""
    if isinstance(model, Model):
        from theory.explainers.gradient import gradient_embedded as closed_form

        return closed_form(model, X).grad
    from theory.explainers.encoder_gradient import backward
    from theory.models.encoder import forward_embedded

    # the traces backpropagation needs hold every layer's attention (L·K·T² numbers per document): in blocks
    rows = max(1, _ELEMENTS // (model.L * (model.K * model.T + model.d + model.d_ff) * model.T))
    return np.concatenate([backward(model, forward_embedded(model, X[start: start + rows]))
                           for start in range(0, len(X), rows)])


def output_scale(model, X: np.ndarray) -> float:
    """The largest term of ``f`` over the embedded documents ``X`` (module docstring); 1.0 when every term is 0."""
    if isinstance(model, Model):
        from theory.models.one_layer import forward_embedded

        return float(np.abs(forward_embedded(model, X).c).max()) or 1.0
    from theory.models.encoder import forward_embedded

    h = forward_embedded(model, X).hidden[:, -1, 0]  # (B, d): h^(L)_0
    return float((abs(model.b) + np.abs(h * model.w).sum(axis=1)).max()) or 1.0
