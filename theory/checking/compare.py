"""Measured agreement between a float64 computation and an mpmath reference (after scipy.special's
``assert_mpmath_equal``): every identity claim reports its error through :func:`compare`.

The error of an entry is ``|got − want| / scale`` where ``scale`` is the magnitude of the terms that were
summed to produce it (not the magnitude of the result, which may cancel).  The difference is taken in
mpmath, so the reference's extra digits are not rounded away before the comparison.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import mpmath
import numpy as np
from numpy.typing import ArrayLike

RTOL = 1e-12  # float64 identities: 12 digits relative to the magnitude of the terms (≈ 4500 ulp)
MP_TOL = 1e-30  # statements checked inside mpmath itself (working precision 40 digits)
SHOWN = 5  # bad entries listed in a diagnosis


@dataclass
class Outcome:
    """What one check of a claim on one instance measured.

    ``error`` and ``tolerance`` are in the claim's own units (usually relative to the magnitude of the terms);
    ``detail`` is the diagnosis printed for a failure; ``measures`` holds extra numbers for the report;
    ``engine`` names the reference engine(s) that checked it (``mpmath``, ``arb``), and ``radius`` is, for Arb,
    the largest certified radius of the reference values in the units of ``error`` (already part of ``error``).
    """

    holds: bool
    error: float
    tolerance: float
    detail: str = ""
    measures: dict = field(default_factory=dict)
    engine: str = "mpmath"
    radius: float | None = None


def nstr(x: mpmath.mpf | float, digits: int) -> str:
    """``x`` to ``digits`` significant digits, rounded first: a reference value can carry thousands of digits (the
    gradient reference works at ≥ 60 digits plus those of the smallest attention weight), and formatting it
    whole meets Python's 4300-digit limit on integer-to-string conversion.

    Args:
        x: a number (mpf, float or int) of any precision.
        digits: the significant digits to show.

    Returns:
        ``x`` in mpmath's ``nstr`` notation, rounded to ``digits`` digits.
    """
    with mpmath.workdps(digits + 5):
        return mpmath.nstr(+mpmath.mpf(x), digits)


def compare(
    label: str, got: ArrayLike, want: object, scale: ArrayLike, rtol: float = RTOL, radius: ArrayLike | None = None
) -> Outcome:
    """Compare float64 ``got`` with mpmath ``want`` (nested lists of mpf of the same shape).  With ``radius``
    (the certified radii of Arb balls whose midpoints are ``want``), the error of an entry is
    ``(|got − mid| + radius) / scale``: a certified bound of the distance to the exact value.

    Args:
        label: the name of the compared quantity in the diagnosis (e.g. ``"beta"``).
        got: the float64 values, any shape.
        want: the reference values (mpf, or Arb midpoints), nested lists reshaped to ``got``'s shape.
        scale: the magnitude of the terms summed into each entry, broadcast to ``got``'s shape; an entry of
            scale 0 is measured in absolute terms.
        rtol: the largest error that holds, relative to ``scale``.
        radius: the certified radii of the Arb reference, broadcast to ``got``'s shape; ``None`` for mpmath.

    Returns:
        Whether every entry is within ``rtol``, the largest error, and a diagnosis listing the worst entries
        (up to :data:`SHOWN` when it fails) with both values; with ``radius``, engine ``arb`` and the largest
        certified radius relative to ``scale``.
    """
    got = np.asarray(got, dtype=np.float64)
    want = np.asarray(want, dtype=object).reshape(got.shape)
    scale = np.broadcast_to(np.asarray(scale, dtype=np.float64), got.shape)
    diff = np.array([float(abs(mpmath.mpf(float(g)) - w)) for g, w in zip(got.ravel(), want.ravel())])
    safe = np.where(scale.ravel() > 0, scale.ravel(), 1.0)
    rad = None if radius is None else np.broadcast_to(np.asarray(radius, dtype=np.float64), got.shape).ravel()
    if rad is not None:
        diff = diff + rad
    err = (diff / safe).reshape(got.shape)
    worst = float(err.max()) if err.size else 0.0
    holds = worst <= rtol
    order = np.argsort(err.ravel())[::-1][:SHOWN]
    lines = [f"{label}: max error {worst:.3e} (tolerance {rtol:.1e}, relative to the magnitude of the terms)"]
    for flat in order:
        if holds and flat != order[0]:
            break
        index = np.unravel_index(flat, got.shape)
        lines.append(
            f"  {label}{list(map(int, index))}: float64 {float(got[index])!r}  mpmath "
            f"{nstr(want[index], 20)}  |diff| {diff[flat]:.3e}  scale {scale[index]:.3e}  "
            f"error {err[index]:.3e}"
        )
    if rad is None:
        return Outcome(holds=holds, error=worst, tolerance=rtol, detail="\n".join(lines))
    certified = float((rad / safe).max()) if rad.size else 0.0
    lines[0] += f"; Arb reference, certified radius ≤ {certified:.1e} (included)"
    return Outcome(holds=holds, error=worst, tolerance=rtol, detail="\n".join(lines), engine="arb", radius=certified)


def check_mp(
    label: str, violation: mpmath.mpf | float, scale: mpmath.mpf | float = 1.0, tol: float = MP_TOL
) -> Outcome:
    """A statement checked inside mpmath: ``violation`` (≥ 0, an mpf) must vanish up to ``tol · scale``.

    Args:
        label: the name of the statement in the diagnosis.
        violation: how far the statement is from holding (≥ 0), computed in mpmath.
        scale: the magnitude of the terms of the statement (0 is read as 1).
        tol: the largest ``violation / scale`` that holds.

    Returns:
        Whether it holds, the error ``violation / scale``, and a one-line diagnosis.
    """
    error = float(abs(violation)) / (float(scale) or 1.0)
    return Outcome(
        holds=error <= tol,
        error=error,
        tolerance=tol,
        detail=f"{label}: violation {nstr(violation, 15)} (scale {float(scale):.3e}, "
        f"error {error:.3e}, tolerance {tol:.1e})",
    )


def quotient_dps(divisor: mpmath.mpf | float, base: int = 40) -> int:
    """Working digits for a difference of computed values divided by ``divisor``: ``base`` plus the decimal
    digits of ``1/|divisor|`` when ``|divisor| < 1``.  Two values of magnitude ``F`` rounded at ``dps`` digits
    differ by rounding ``~10^-dps·F``, which the division turns into ``10^-dps·F/|divisor|``; at this precision
    that stays ``~10^-base·F`` however small the divisor (a step ``ε`` as small as an attention weight, 1e-30 or
    1e-1000 at peaked attention).  The same rule as ``reference.explainers.gradient.working_dps``.

    Args:
        divisor: the nonzero number the difference is divided by (an mpf can be far below float64's range).
        base: the digits wanted in the quotient, relative to the magnitude of the values.

    Returns:
        ``base + max(0, ⌈−log10 |divisor|⌉)``, the mpmath ``dps`` to compute the values at.

    Raises:
        ValueError: ``divisor`` is zero.
    """
    divisor = abs(mpmath.mpf(divisor))
    if divisor == 0:
        raise ValueError("quotient_dps: division by zero")
    return base + max(0, int(mpmath.ceil(-mpmath.log10(divisor))))


def combine(*outcomes: Outcome) -> Outcome:
    """All of several checks: holds if each holds; reports the check closest to (or furthest past) its
    tolerance, and the diagnoses of the failing ones (or of all, when everything holds).

    Args:
        *outcomes: the checks of one instance (at least one).

    Returns:
        One outcome: the error and tolerance of the worst check (largest ``error / tolerance``), every check's
        ``measures`` merged, the engines of all, and the largest certified radius among them.
    """
    worst = max(outcomes, key=lambda o: o.error / o.tolerance if o.tolerance else o.error)
    failing = [o for o in outcomes if not o.holds]
    measures = {}
    for o in outcomes:
        measures.update(o.measures)
    radii = [o.radius for o in outcomes if o.radius is not None]
    return Outcome(
        holds=not failing,
        error=worst.error,
        tolerance=worst.tolerance,
        detail="\n".join(o.detail for o in (failing or outcomes)),
        measures=measures,
        engine=engines(*(o.engine for o in outcomes)),
        radius=max(radii) if radii else None,
    )


def engines(*names: str) -> str:
    """The engines of several checks, e.g. ``"arb+mpmath"`` (sorted, each once).

    Args:
        *names: engine names of checks, each possibly already combined (``"arb+mpmath"``) or empty.

    Returns:
        The distinct engines joined by ``+`` in alphabetical order.
    """
    return "+".join(sorted({part for name in names if name for part in name.split("+")}))
