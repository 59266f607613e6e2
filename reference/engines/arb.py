"""The Arb engine: the §2 model on Arb balls (:mod:`reference.models.one_layer_arb`, python-flint), behind the
interface of :mod:`reference.engines`.  Every result is a ball that certainly contains the exact value for the
float64 weights; :func:`midpoints` and :func:`radii` split it into an exact mpf and a certified radius.

**The gradient** is the central differences of :mod:`reference.explainers.gradient` (no formula, only the forward
pass of §1 on embedded inputs whose entry ``X[t][j]`` moves by ``±h``),

    D_h f = (f(X + h·1_{tj}) − f(X − h·1_{tj})) / (2h),

with the same step (the mpmath step ``10^{-20}`` at the working precision, a dyadic number taken exactly) and the
same precision rule (``60 + ⌈−log10 min α⌉`` digits, here in bits).  What Arb adds: each result is a ball that
certainly contains the exact ``D_h f`` of the float64 model, so its radius bounds every rounding error of the two
forward passes and of the quotient.  What it does not certify: the truncation ``D_h f − ∇_{t,j} f = h²/6 ·
g'''(ξ)``, bounded analytically in :mod:`reference.explainers.gradient` (``≲ 10^{-34}·α_t·F``) — the same for both
engines, since both form the same quotient at the same step.

Cost: two ball forward passes per entry, each recomputing (by the same definitions) only what the moved entry
enters, the ``d_e`` entries of a position at once (:meth:`reference.models.one_layer_arb.Document.moved`); so the
authors' widths (T = 256, d_e = 128) are within reach for a few positions per document.
"""

from __future__ import annotations

import mpmath

import reference.models.one_layer_arb as arb_ref
from reference.central_difference import central_differences
from reference.explainers.gradient import BASE_DPS, STEP_EXPONENT, step
from reference.explainers.perturb import perturbed_document
from reference.models.one_layer import DPS
from reference.models.one_layer_arb import Document, dps_to_prec, embeddings, exact, forward_embedded, workprec

CERTIFIED = True  # every result is a ball whose radius bounds its rounding error

#: an exact mpf of a ball's midpoint, a float radius rounded up, and both for a whole forward record (and
#: :func:`exact`, imported above: an mpf as an exact ball)
midpoint, radius, midpoints, radii = arb_ref.to_mpf, arb_ref.radius, arb_ref.midpoints, arb_ref.radii


def forward(model, doc, dps: int = DPS, Wl=None) -> arb_ref.Forward:
    """The forward pass of §2 in balls.

    Args:
        model: the §2 model (the public ``.npz`` attributes).
        doc: the token ids, CLS first, padded to T.
        dps: the precision in decimal digits (the balls work at as many bits).
        Wl: overrides the model's ``W_ℓ``.

    Returns:
        The forward record (``f``, ``f^(i)``, ``α``, scores, ``c``, ``q``) in ``flint.arb`` balls.
    """
    return arb_ref.forward(model, doc, dps_to_prec(dps), Wl)


def forward_perturbed(model, doc, length: int, z, semantics: str, dps: int = DPS, Wl=None) -> arb_ref.Forward:
    """The forward pass of §2 in balls on a perturbed token document.

    Args:
        model: the §2 model.
        doc: the token document (the text at positions ``1..length``).
        length: the number of words.
        z: 0/1 per distinct word (0: switched off).
        semantics: ``delete``, ``replace`` or ``mask:ID`` (``zero`` leaves a position without a token: the mpmath
            engine evaluates it).
        dps: the precision in decimal digits.
        Wl: overrides the model's ``W_ℓ``.

    Returns:
        The forward record in balls.
    """
    document = perturbed_document(doc, length, z, semantics, int(model.unk_id))
    if None in document:
        raise ValueError("the Arb engine evaluates token documents; use the mpmath engine for 'zero'")
    return forward(model, document, dps, Wl)


def working_dps(model, doc, Wl=None, base: int = BASE_DPS) -> int:
    """The rule of :func:`reference.explainers.gradient.working_dps`, with α from the ball forward pass.

    Args:
        model: the §2 model.
        doc: the token document.
        Wl: overrides the model's ``W_ℓ``.
        base: the digits kept above the smallest attention weight.

    Returns:
        ``base`` digits plus the decimal digits of the smallest attention weight.
    """
    prec = dps_to_prec(base)
    fw = forward_embedded(model, embeddings(model, doc, prec), prec, Wl)
    with mpmath.workdps(base):
        smallest = min(midpoint(a) for alpha in fw.alpha for a in alpha)
        return base + max(0, int(mpmath.ceil(-mpmath.log10(smallest))))


def gradient(
    model, doc, positions=None, Wl=None, dps: int | None = None, step_exponent: int = STEP_EXPONENT, coordinates=None
) -> list[list]:
    """The central differences of the ball forward pass.

    Args:
        model: the §2 model.
        doc: the token ids, CLS first, padded to T.
        positions: the rows ``t`` (default all of ``0..T-1``).
        Wl: overrides the model's ``W_ℓ``.
        dps: the working precision (default :func:`working_dps`): the balls' precision (as many bits) and the step
            :func:`reference.explainers.gradient.step` at ``dps``, taken exactly.
        step_exponent: the step ``h = 10^{step_exponent}``.
        coordinates: the coordinates ``j`` (default all of ``0..d_e-1``).

    Returns:
        ``[[D_h f at (t, j) for j in coordinates] for t in positions]`` as balls.
    """
    dps = working_dps(model, doc, Wl) if dps is None else dps
    prec = dps_to_prec(dps)
    positions = range(len(doc)) if positions is None else positions
    coordinates = range(model.E.shape[1]) if coordinates is None else coordinates
    h = exact(step(dps, step_exponent))
    with workprec(prec):
        document = Document(model, embeddings(model, doc, prec), prec, Wl)
        return central_differences(document.moved, positions, coordinates, h)
