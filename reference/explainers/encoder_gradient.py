"""``∇_t = ∂f/∂e_t`` of an encoder by brute force: central differences of the mpmath forward pass
(:mod:`reference.models.encoder`) by :func:`reference.central_difference.central_differences`.

Independent of ``theory``: no derivative is written down, only the forward pass on embedded inputs ``X`` whose
entry ``X[t][j]`` moves by ``±h``: ``∇_{t,j} ≈ (f(X + h·1_{tj}) − f(X − h·1_{tj})) / (2h)``.

Step and precision (as in :mod:`reference.explainers.gradient`).  ``g(h) = f(X + h·1_{tj})`` is analytic in ``h``
(softmax, LayerNorm with ``ε > 0``, erf) except at a ReLU kink, which a step ``h = 10⁻²⁰`` crosses only if a
pre-activation lies within 10⁻²⁰ of 0 (probability ~10⁻²⁰ for the suite's random weights).  The truncation error
``h²/6·g'''`` is then ~10⁻⁴⁰ times the derivatives' scale; the rounding error of the two forward passes is
``10^{-dps}·F/h``, so the working precision is ``60 + ⌈−log10 min a⌉`` digits with ``min a`` the smallest attention
weight of any layer and head (small weights carry the gradient of their positions), leaving ≥ 30 correct digits.
Each entry costs two forward passes: keep instances small (T ≤ 6, d ≤ 6, L ≤ 3) or pass a few ``positions``.
"""

from __future__ import annotations

import mpmath
from mpmath import mpf

from reference.central_difference import central_differences, moved_rows
from reference.models.encoder import forward_embedded
from reference.models.one_layer import embeddings

BASE_DPS = 60
STEP_EXPONENT = -20


def working_dps(model, doc, base: int = BASE_DPS) -> int:
    """The working precision of the central differences (see the module docstring).

    Args:
        model: the encoder (the public encoder arrays as attributes).
        doc: the token document.
        base: the digits kept above the smallest attention weight.

    Returns:
        ``base`` digits plus the decimal digits of the smallest attention weight of any layer and head.
    """
    fw = forward_embedded(model, embeddings(model, doc, base), base)
    with mpmath.workdps(base):
        smallest = min(a for layer in fw.attention for head in layer for row in head for a in row)
        return base + max(0, int(mpmath.ceil(-mpmath.log10(smallest))))


def gradient(
    model,
    doc,
    positions=None,
    w=None,
    b=None,
    dps: int | None = None,
    step_exponent: int = STEP_EXPONENT,
    coordinates=None,
) -> list[list]:
    """The central differences of the mpmath encoder on a token document.

    Args:
        model: the encoder.
        doc: the token ids, CLS first, padded to T.
        positions: the rows ``t`` (default all).
        w, b: override the readout.
        dps: the working precision (default :func:`working_dps`).
        step_exponent: the step ``h = 10^{step_exponent}``.
        coordinates: the coordinates ``j`` (default all).

    Returns:
        ``[[∇_{t,j} for j in coordinates] for t in positions]`` as mpf.
    """
    dps = working_dps(model, doc) if dps is None else dps
    positions = range(len(doc)) if positions is None else positions
    with mpmath.workdps(dps):
        X = embeddings(model, doc, dps)
        coordinates = range(len(X[0])) if coordinates is None else coordinates
        return central_differences(
            moved_rows(lambda rows: forward_embedded(model, rows, dps, w, b).f, X),
            positions,
            coordinates,
            mpf(10) ** step_exponent,
        )
