"""``∇_{e_t} f`` by brute force: central differences of the mpmath forward pass (``reference.models.one_layer``).

Independent of ``theory`` (docs/theory.md §1.5): no formula for the gradient is used, only the forward pass of
§1 evaluated on embedded inputs ``X`` whose entry ``X[t][j]`` is moved by ``±h``:

    ∇_{t,j} ≈ (f(X + h·1_{tj}) − f(X − h·1_{tj})) / (2h).

Step and precision.  ``g(h) = f(X + h·1_{tj})`` is analytic in ``h``, and the central difference errs by
``h²/6 · g⁽³⁾(ξ)`` (truncation) plus ``10^{-dps}·F/h`` (the rounding of the two forward passes, ``F`` the
magnitude of the terms of ``f``).  For ``t ≥ 1``, ``h`` moves only ``s_t`` (by ``h·a``, ``a = (W_kᵀq)_j/√d_att``)
and ``c_t`` (by ``h·(W_vᵀW_ℓᵀ)_j``), so ``g`` is a ratio ``(P + w(h)·g_t·e^{ah}) / (Q + g_t·e^{ah})`` whose
``n``-th derivative is ``α_t`` times terms of size at most ``n!·(1 + |a|)^n·F``; at ``t = 0`` every score moves
(through the query too), with the same kind of bound without the ``α_0`` factor — and the gradient entries
themselves carry the same factors.  For the instances drawn by the suite ``|a| ≲ 10²``, so with
``h = 10^{-20}`` the truncation error is ``≲ 10^{-40}·10^{6}·α_t·F = 10^{-34}·α_t·F``.  The rounding error must
also be small *relative to α_t*, which may be astronomically small when attention is peaked; so the working
precision is raised by the number of decimal digits of the smallest attention weight of the instance
(computed by the forward pass itself):

    dps = 60 + ⌈−log10 min_{i,t} α_t^(i)⌉,   rounding error ≲ 10^{-60}·α_min·F / 10^{-20} = 10^{-40}·α_min·F.

So every entry has about 34 correct digits relative to ``α_t·F`` (the size of the terms of ``∇_t``), past the
20 asked for.  ``tests/test_reference_gradient.py`` checks it: steps ``10^{-20}`` and ``10^{-22}`` agree to
``10^{-25}·α_t`` (also at score scale 1000), and two entries agree with ``mpmath.diff`` by a Cauchy contour
integral (no finite step) to ``10^{-25}``.  Each entry costs two full forward passes: brute force, slow,
obviously right; keep instances small (``T ≤ 8``, ``d_e ≤ 6``).
"""

from __future__ import annotations

import mpmath
from mpmath import mpf

from reference.central_difference import central_differences, moved_rows
from reference.models.one_layer import embeddings, forward_embedded

BASE_DPS = 60
STEP_EXPONENT = -20


def working_dps(model, doc, Wl=None, base: int = BASE_DPS) -> int:
    """The working precision of the central differences (see the module docstring).

    Args:
        model: the §2 model.
        doc: the token document.
        Wl: overrides the model's ``W_ℓ``.
        base: the digits kept above the smallest attention weight.

    Returns:
        ``base`` digits plus the decimal digits of the smallest attention weight of any head.
    """
    fw = forward_embedded(model, embeddings(model, doc, base), base, Wl)
    with mpmath.workdps(base):
        smallest = min(min(alpha) for alpha in fw.alpha)
        return base + max(0, int(mpmath.ceil(-mpmath.log10(smallest))))


def step(dps: int, step_exponent: int = STEP_EXPONENT):
    """The step of the central differences.

    Args:
        dps: the working precision.
        step_exponent: ``h = 10^{step_exponent}``.

    Returns:
        ``h`` as mpmath rounds it at ``dps`` digits (an exact dyadic mpf).
    """
    with mpmath.workdps(dps):
        return mpf(10) ** step_exponent


def gradient(
    model,
    doc,
    positions=None,
    Wl=None,
    dps: int | None = None,
    step_exponent: int = STEP_EXPONENT,
    h=None,
    coordinates=None,
) -> list[list]:
    """The central differences of the mpmath forward pass on a token document.

    Args:
        model: the §2 model (the public ``.npz`` attributes).
        doc: the token ids, CLS first, padded to T.
        positions: the rows ``t`` (default all of ``0..T-1``).
        Wl: overrides the model's ``W_ℓ``.
        dps: the working precision (default :func:`working_dps`).
        step_exponent: the step ``h = 10^{step_exponent}`` (:func:`step`).
        h: an mpf step overriding :func:`step` ``(dps, step_exponent)`` (to form another engine's exact quotient).
        coordinates: the coordinates ``j`` (default all of ``0..d_e-1``).

    Returns:
        ``[[∇_{t,j} for j in coordinates] for t in positions]`` as mpf.
    """
    dps = working_dps(model, doc, Wl) if dps is None else dps
    return gradient_embedded(model, embeddings(model, doc, dps), positions, Wl, dps, step_exponent, h, coordinates)


def gradient_embedded(
    model, X, positions=None, Wl=None, dps: int = BASE_DPS, step_exponent: int = STEP_EXPONENT, h=None, coordinates=None
) -> list[list]:
    """The same central differences at embedded inputs ``X`` (any point: a path of Integrated Gradients, a noisy
    input of SmoothGrad); the caller chooses ``dps``.

    Args:
        model: the §2 model.
        X: T rows of d_e mpf.
        positions, Wl, step_exponent, h, coordinates: as in :func:`gradient`.
        dps: the working precision.

    Returns:
        ``[[∇_{t,j} for j in coordinates] for t in positions]`` as mpf.
    """
    positions = range(len(X)) if positions is None else positions
    coordinates = range(len(X[0])) if coordinates is None else coordinates
    h = step(dps, step_exponent) if h is None else h
    with mpmath.workdps(dps):
        return central_differences(
            moved_rows(lambda rows: forward_embedded(model, rows, dps, Wl).f, X), positions, coordinates, h
        )
