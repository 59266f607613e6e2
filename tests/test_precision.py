"""Working precision follows the magnitudes a check divides by (issue 12): the ``thorough`` counterexample of
``attention.non_identifiable`` — peaked attention, admissible step ε ≈ 1e-33 — holds, and its difference
quotient is the exact ``Σ δ_t c_t`` rather than rounding divided by ε."""

from __future__ import annotations

import mpmath
import pytest

from theory.checking.compare import check_mp, compare, quotient_dps
from theory.checking.strategies.models import Case, ModelSpec
from theory.claims.attention import check_non_identifiable

PEAKED = Case(
    ModelSpec(K=1, d_e=3, d_att=1, d_out=3, V=3, T=3, pe=True, score_scale=1000.0, value_scale=1.0, seed=408946), (2,)
)


def test_non_identifiable_at_peaked_attention():
    """At 40 fixed digits this instance gave a quotient error 3.1e-9 (tolerance 1e-12); every part of the
    check must now hold, the quotient to the level of the float64 δ (Σ δ c ≈ 3e-17 · scale)."""
    outcome = check_non_identifiable(PEAKED)
    assert outcome.holds, outcome.detail
    assert outcome.error < 1e-15, outcome.detail


@pytest.mark.parametrize(
    "divisor, dps",
    [(1, 40), (0.5, 41), (mpmath.mpf("1e-30"), 70), (mpmath.mpf("3e-1000"), 1040), (-mpmath.mpf("1e-5"), 45)],
)
def test_quotient_dps(divisor, dps):
    assert quotient_dps(divisor, 40) == dps


def test_quotient_dps_rejects_zero():
    with pytest.raises(ValueError):
        quotient_dps(0)


def test_a_reference_value_of_thousands_of_digits_is_shown():
    """The gradient reference works at ≥ 60 digits plus those of the smallest attention weight (score scale 1000
    gave α ≈ 1e-2770 under thorough): such a value has more than Python's 4300-digit limit of integer-to-string
    conversion, and the comparison's diagnosis must still print it (it raised ValueError there)."""
    with mpmath.workdps(6000):
        want = mpmath.mpf(-1) / 3 * mpmath.mpf(10) ** -2770
    outcome = compare("tiny", [0.0], [want], [1e-295])
    assert outcome.holds and "-3.3333333333333333333e-2771" in outcome.detail
    assert "-3.33333333333333e-2771" in check_mp("tiny", want, 1.0).detail
