"""The Arb reference engine (``reference.engines.arb`` over ``reference.models.one_layer_arb``): its balls are
exact conversions, its precision is restored, the two engines answer the same interface, and the engine
comparison can fail."""

from __future__ import annotations

import flint
import mpmath
import pytest

import reference.engines.arb as arb
import reference.engines.mpmath as mp_engine
import reference.explainers.gradient as ref_grad
import reference.models.one_layer as ref
import reference.models.one_layer_arb as arb_ref
from reference.engines import ENGINES, engine
from theory.checking.strategies.models import Case, ModelSpec
from theory.claims.reference import agree

CASE = Case(ModelSpec(K=2, d_e=4, d_att=3, d_out=3, V=8, T=5, pe=True, score_scale=1.0, seed=5), (2, 5, 2))


def test_exact_conversions_round_trip():
    with mpmath.workdps(70):
        third = -mpmath.mpf(1) / 3
    ball = arb_ref.exact(third)
    assert ball.is_exact() and arb_ref.to_mpf(ball) == third
    assert arb_ref.to_mpf(arb_ref.exact(0.1)) == mpmath.mpf(0.1)


def test_precision_restored():
    before = flint.ctx.prec
    arb_ref.forward(CASE.model, CASE.doc, 300)
    arb.gradient(CASE.model, CASE.doc, positions=[1])
    assert flint.ctx.prec == before


def test_forward_ball_contains_high_precision_mpmath():
    balls = arb_ref.forward(CASE.model, CASE.doc, arb_ref.dps_to_prec(40))
    mp_fw = ref.forward(CASE.model, CASE.doc, 100)
    assert balls.f.contains(arb_ref.exact(mp_fw.f))
    assert all(b.contains(arb_ref.exact(v)) for bs, vs in zip(balls.alpha, mp_fw.alpha) for b, v in zip(bs, vs))
    assert 0 < arb_ref.radius(balls.f) < 1e-35


def test_gradient_balls_contain_the_same_quotient():
    dps = arb.working_dps(CASE.model, CASE.doc)
    balls = arb.gradient(CASE.model, CASE.doc, positions=[0, 2], dps=dps)
    values = ref_grad.gradient(CASE.model, CASE.doc, positions=[0, 2], dps=dps + 20, h=ref_grad.step(dps))
    assert all(b.contains(arb_ref.exact(v)) for bs, vs in zip(balls, values) for b, v in zip(bs, vs))


def test_agree_detects_a_value_outside_its_ball():
    """A value moved by 1e-35 (relative) leaves a 40-digit ball: the comparison fails."""
    balls = arb_ref.forward(CASE.model, CASE.doc, arb_ref.dps_to_prec(40))
    with mpmath.workdps(80):
        value = ref.forward(CASE.model, CASE.doc, 80).f
        moved = value * (1 + mpmath.mpf(10) ** -35)
    assert agree("f", [balls.f], [value], 1.0).holds
    outcome = agree("f", [balls.f], [moved], 1.0)
    assert not outcome.holds and "1 of 1 mpmath values outside" in outcome.detail


def test_one_engine_per_name():
    assert [engine(name) for name in ENGINES] == [mp_engine, arb]
    with pytest.raises(ValueError, match="unknown reference engine 'float64'"):
        engine("float64")


@pytest.mark.parametrize("semantics", ["delete", "replace", "mask:3"])
def test_engines_answer_the_same_perturbed_document(semantics):
    """The one interface: each engine's ``forward_perturbed`` on the first word switched off; the Arb ball
    contains the mpmath value computed with 30 more digits, and ``midpoints`` gives mpf in both."""
    z = [0, 1]  # CASE has the two distinct words 2 and 5
    balls = arb.forward_perturbed(CASE.model, CASE.doc, 3, z, semantics)
    value = mp_engine.forward_perturbed(CASE.model, CASE.doc, 3, z, semantics, ref.DPS + 30)
    assert balls.f.contains(arb.exact(value.f))
    assert mp_engine.midpoints(value) is value and isinstance(arb.midpoints(balls).f, mpmath.mpf)
    assert not mp_engine.CERTIFIED and arb.CERTIFIED and arb.radius(balls.f) > 0


def test_arb_refuses_a_document_without_a_token():
    with pytest.raises(ValueError, match="token documents"):
        arb.forward_perturbed(CASE.model, CASE.doc, 3, [0, 1], "zero")
