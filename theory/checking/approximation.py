"""The error of an approximation of LIME's ``β^∞`` (paper §5 Eq. (19), the large-d limit of docs/theory.md §8–§9),
shared by the approximation claims (``lime.eq19``, ``lime.large_d_limit``, ``encoder.eq19_last_layer``) and the
regime map (:mod:`theory.studies.regimes`).

The relative error is ``e = ‖β_a − β^∞‖ / ‖β^∞‖`` over the word coefficients, debiased for the Monte Carlo
noise of a sampled ``β^∞`` (``E‖β̂ − β_a‖² = ‖β^∞ − β_a‖² + ‖SE‖²``); when ``‖β^∞‖`` is below
:data:`DEGENERATE` times the spread of the value scores, ``f`` does not depend on the words beyond rounding,
and that floor is the denominator (the instance is *degenerate*)."""

from __future__ import annotations

import math

import numpy as np

THRESHOLD = 0.10  # relative error up to which an approximation holds (the regime map's verdict rule)
DEGENERATE = 1e-9  # ‖β^∞‖ below this share of the value scores' spread: f does not depend on the words


def relative_error(approx, beta, stderr=None, floor: float = 0.0) -> tuple[float, float, bool]:
    """The relative error of ``approx`` against ``beta``, debiased for the Monte Carlo errors of ``beta``.

    ``e² = max(‖β̂ − β_a‖² − ‖SE‖², 0) / max(‖β̂‖² − ‖SE‖², ‖β̂‖²/4)``, with its Monte Carlo standard error
    ``√(Σ_j Δ_j² SE_j²) / (‖Δ‖ ‖β‖)`` (delta method).

    Args:
        approx: the approximation ``β_a`` of the word coefficients.
        beta: ``β^∞`` (exact, or a Monte Carlo estimate).
        stderr: the standard errors of a Monte Carlo ``beta``; ``None`` when it is exact.
        floor: the smallest denominator (the degenerate floor); 0 for none.

    Returns:
        ``(e, SE(e), degenerate)``; ``degenerate`` when ``‖β‖ ≤ floor`` (then ``e`` is ``‖approx − β‖/floor``).
    """
    approx, beta = np.asarray(approx, float), np.asarray(beta, float)
    se = np.zeros_like(beta) if stderr is None else np.asarray(stderr, float)
    delta = approx - beta
    var = float(np.sum(se**2))
    num2 = max(float(delta @ delta) - var, 0.0)
    den2 = float(beta @ beta) - var
    den = math.sqrt(max(den2, 0.25 * float(beta @ beta)))
    degenerate = den <= floor
    den = max(den, floor) if floor > 0 else den
    if den == 0.0:
        return (0.0 if num2 == 0.0 else math.inf), 0.0, True
    norm = math.sqrt(float(delta @ delta))
    mc = math.sqrt(float(np.sum(delta**2 * se**2))) / (norm * den) if norm > 0 else 0.0
    return math.sqrt(num2) / den, mc, degenerate
