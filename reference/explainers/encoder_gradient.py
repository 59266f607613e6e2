"""``∇_t = ∂f/∂e_t`` of an encoder by brute force: central differences of the mpmath forward pass
(:mod:`reference.models.encoder`), the pattern of :mod:`reference.explainers.gradient`.

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

from reference.models.encoder import forward_embedded
from reference.models.one_layer import embeddings

BASE_DPS = 60
STEP_EXPONENT = -20


def working_dps(model, doc, base: int = BASE_DPS) -> int:
    """``base`` digits plus the decimal digits of the smallest attention weight of any layer and head."""
    fw = forward_embedded(model, embeddings(model, doc, base), base)
    with mpmath.workdps(base):
        smallest = min(a for layer in fw.attention for head in layer for row in head for a in row)
        return base + max(0, int(mpmath.ceil(-mpmath.log10(smallest))))


def gradient(model, doc, positions=None, w=None, b=None, dps: int | None = None,
             step_exponent: int = STEP_EXPONENT, coordinates=None):
    """``[[∇_{t,j} for j in coordinates] for t in positions]`` as mpf (all positions and coordinates by
    default); ``w``, ``b`` override the readout."""
    dps = working_dps(model, doc) if dps is None else dps
    positions = range(len(doc)) if positions is None else positions
    with mpmath.workdps(dps):
        X = embeddings(model, doc, dps)
        h = mpf(10) ** step_exponent
        rows = []
        for t in positions:
            row = []
            for j in (range(len(X[t])) if coordinates is None else coordinates):
                plus = [list(x) for x in X]
                minus = [list(x) for x in X]
                plus[t][j] += h
                minus[t][j] -= h
                f_plus = forward_embedded(model, plus, dps, w, b).f
                f_minus = forward_embedded(model, minus, dps, w, b).f
                row.append((f_plus - f_minus) / (2 * h))
            rows.append(row)
        return rows
