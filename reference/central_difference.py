"""The one central-difference routine of every reference gradient (both engines, every model family):

    ∇_{t,j} ≈ D_h f = (f(X + h·1_{tj}) − f(X − h·1_{tj})) / (2h),

for ``X`` the embedded input (``T`` rows, ``e_t = E[ξ_t] + p_t``), ``1_{tj}`` the entry ``j`` of row ``t``.  No formula
for the gradient is used, only the model's forward pass on moved inputs — brute force, slow, obviously right.
The truncation error ``D_h f − ∇_{t,j} f = h²/6 · g'''(ξ)`` (``g(δ) = f(X + δ·1_{tj})``) and the rounding error of
the two forward passes, ``10^{-dps}·F/h``, are the caller's to bound: each gradient module states its step and
precision rule (:mod:`reference.engines.mpmath` for the §2 model, :mod:`reference.explainers.encoder_gradient`
for the encoder, :mod:`reference.engines.arb` on Arb balls, which certify the rounding).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from typing import Any

#: ``moved(t, δ, coordinates) -> [f(X + δ·1_{tj}) for j in coordinates]``
Moved = Callable[[int, Any, Sequence[int]], list]


def central_differences(moved: Moved, positions: Iterable[int], coordinates: Sequence[int], h) -> list[list]:
    """``[[D_h f at (t, j) for j in coordinates] for t in positions]`` from the forward passes of moved inputs.

    The arithmetic is the numbers' own (mpf or Arb balls) at the caller's working precision: call it inside
    ``mpmath.workdps`` or the Arb engine's ``workprec``.

    Args:
        moved: ``moved(t, δ, coordinates)`` returns ``f`` of the input with entry ``(t, j)`` moved by ``δ``, for
            every ``j`` in ``coordinates`` (one forward pass each, or cheaper when the engine can share work);
            see :func:`moved_rows` for the plain one.
        positions: the rows ``t`` of the gradient.
        coordinates: the coordinates ``j`` of each row.
        h: the step (an mpf or an exact ball).

    Returns:
        The central differences, one list per position, one entry per coordinate.
    """
    return [
        [(up - down) / (2 * h) for up, down in zip(moved(t, h, coordinates), moved(t, -h, coordinates))]
        for t in positions
    ]


def moved_rows(f: Callable[[list[list]], Any], X: Sequence[Sequence]) -> Moved:
    """The :data:`Moved` of a forward pass on lists of rows: a fresh copy of ``X`` per moved entry.

    Args:
        f: ``f(rows)``, the model's output on embedded input rows (lists of mpf).
        X: the embedded input, ``T`` rows.

    Returns:
        ``moved(t, δ, coordinates) -> [f(X with X[t][j] + δ) for j in coordinates]``.
    """

    def moved(t: int, delta, coordinates: Sequence[int]) -> list:
        values = []
        for j in coordinates:
            rows = [list(x) for x in X]
            rows[t][j] += delta
            values.append(f(rows))
        return values

    return moved
