"""``∇_{e_t} f`` by brute force on Arb balls: the central differences of :mod:`reference.explainers.gradient`
evaluated with the ball forward pass of :mod:`reference.models.one_layer_arb`.

The same computation as the mpmath reference — no formula for the gradient, only the forward pass of §1 on
embedded inputs whose entry ``X[t][j]`` moves by ``±h``,

    D_h f = (f(X + h·1_{tj}) − f(X − h·1_{tj})) / (2h),

with the same step (the mpmath step ``10^{-20}`` at the working precision, a dyadic number taken exactly)
and the same precision rule (``60 + ⌈−log10 min α⌉`` digits, here in bits).  What Arb adds: each result is a
ball that certainly contains the exact ``D_h f`` of the float64 model, so its radius bounds every rounding
error of the two forward passes and of the quotient.  What it does not certify: the truncation
``D_h f − ∇_{t,j} f = h²/6 · g'''(ξ)``, bounded analytically in :mod:`reference.explainers.gradient`
(``≲ 10^{-34}·α_t·F``) — the same for both engines, since both form the same quotient at the same step.

Cost: two ball forward passes per entry, each recomputing (by the same definitions) only what the moved
entry enters, the ``d_e`` entries of a position at once (:meth:`reference.models.one_layer_arb.Document.moved`);
so the authors' widths (T = 256, d_e = 128) are within reach for a few positions per document.
"""

from __future__ import annotations

import mpmath

from reference.explainers.gradient import BASE_DPS, STEP_EXPONENT, step
from reference.models.one_layer_arb import (
    Document,
    dps_to_prec,
    embeddings,
    exact,
    forward_embedded,
    to_mpf,
    workprec,
)


def working_dps(model, doc, Wl=None, base: int = BASE_DPS) -> int:
    """``base`` digits plus the decimal digits of the smallest attention weight: the rule of
    :func:`reference.explainers.gradient.working_dps`, with α from the ball forward pass."""
    prec = dps_to_prec(base)
    fw = forward_embedded(model, embeddings(model, doc, prec), prec, Wl)
    with mpmath.workdps(base):
        smallest = min(to_mpf(a) for alpha in fw.alpha for a in alpha)
        return base + max(0, int(mpmath.ceil(-mpmath.log10(smallest))))


def gradient(model, doc, positions=None, Wl=None, dps: int | None = None, step_exponent: int = STEP_EXPONENT,
             coordinates=None):
    """``[[D_h f at (t, j) for j in coordinates] for t in positions]`` as balls (``positions`` defaults to all
    of ``0..T-1``, ``coordinates`` to all of ``0..d_e-1``); ``Wl`` overrides the model's ``W_ℓ``; ``dps``
    defaults to :func:`working_dps` and sets both the balls' precision (in bits) and the step:
    :func:`reference.explainers.gradient.step` at ``dps``, exactly."""
    dps = working_dps(model, doc, Wl) if dps is None else dps
    prec = dps_to_prec(dps)
    positions = range(len(doc)) if positions is None else positions
    h = exact(step(dps, step_exponent))
    with workprec(prec):
        document = Document(model, embeddings(model, doc, prec), prec, Wl)
        return [[(up - down) / (2 * h) for up, down in zip(document.moved(t, h, coordinates),
                                                           document.moved(t, -h, coordinates))]
                for t in positions]
