"""Self-checks of the brute-force gradient (``reference.explainers.gradient``, through the one routine
``reference.central_difference``): its step is small enough and its precision high enough.  Independent of the
closed forms: only the reference, a function whose derivative is known, and mpmath's own differentiation."""

from __future__ import annotations

import mpmath
import pytest

import reference.explainers.gradient as ref_grad
from reference.central_difference import central_differences, moved_rows
from reference.models.one_layer import embeddings, forward_embedded
from theory.checking.strategies.models import Case, ModelSpec


def _case(score_scale, seed=5):
    return Case(
        ModelSpec(K=2, d_e=4, d_att=3, d_out=3, V=8, T=5, pe=True, score_scale=score_scale, seed=seed), (2, 5, 2)
    )


@pytest.mark.parametrize("score_scale", [1.0, 1000.0])
def test_two_steps_agree(score_scale):
    """Steps 1e-20 and 1e-22 agree to far more than 20 digits of every entry's attention-weighted size, also with
    peaked attention (score scale 1000: attention weights down to ~1e-1000, precision raised accordingly)."""
    case = _case(score_scale)
    model, doc = case.model, case.doc
    a = ref_grad.gradient(model, doc)
    b = ref_grad.gradient(model, doc, step_exponent=ref_grad.STEP_EXPONENT - 2)
    fw = forward_embedded(model, embeddings(model, doc, 80), 80)
    for t in range(model.T):
        # every entry of ∇_t carries α_t (t ≥ 1) or the largest α (t = 0, the query path)
        weight = max(a_i[t] for a_i in fw.alpha) if t else mpmath.mpf(1)
        for x, y in zip(a[t], b[t]):
            assert abs(x - y) <= mpmath.mpf(10) ** -25 * weight, (t, x, y, weight)


def test_matches_mpmath_diff():
    """Two entries against ``mpmath.diff`` by a Cauchy contour integral (no finite step) on the same forward pass."""
    case = _case(3.0)
    model, doc = case.model, case.doc
    rows = ref_grad.gradient(model, doc, positions=[0, 2])
    with mpmath.workdps(60):
        X = embeddings(model, doc, 60)
        for row, t in zip(rows, (0, 2)):
            j = 1

            def f(h, t=t, j=j):
                moved = [list(x) for x in X]
                moved[t][j] += h
                return forward_embedded(model, moved, 60).f

            want = mpmath.diff(f, 0, method="quad", radius=0.01)  # Cauchy integral: another method
            assert abs(row[j] - want) <= mpmath.mpf(10) ** -25 * (1 + abs(want)), (t, row[j], want)
            assert abs(want) > 1e-6  # a non-trivial entry


def test_central_differences_of_a_known_function():
    """``f(X) = Σ_{t,j} x_tj·exp(x_tj)`` has ``∂f/∂x_tj = (1 + x_tj)·exp(x_tj)``: the routine returns it for the
    positions and coordinates asked, in their order, within the truncation ``h²/6·f'''`` (about 1e-40 at step
    1e-20)."""
    with mpmath.workdps(60):
        X = [[mpmath.mpf(1) / 3, mpmath.mpf(-2)], [mpmath.mpf(5) / 7, mpmath.mpf(1) / 10]]

        def f(rows):
            return mpmath.fsum(x * mpmath.exp(x) for row in rows for x in row)

        rows = central_differences(moved_rows(f, X), [1, 0], [1, 0], mpmath.mpf(10) ** -20)
        for row, t in zip(rows, [1, 0]):
            for value, j in zip(row, [1, 0]):
                assert abs(value - (1 + X[t][j]) * mpmath.exp(X[t][j])) < mpmath.mpf(10) ** -35, (t, j, value)
