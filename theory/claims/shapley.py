"""Claims about exact and sampled Shapley values (docs/theory.md §11.2, paper §6): the enumeration through the fast
evaluators, efficiency, linearity in the model and the closed form when UNK is scored like every word.  Reference:
:mod:`reference.explainers.shapley` (the Shapley formula over every subset, in mpmath)."""

from __future__ import annotations

import mpmath

import reference.explainers.shapley as ref_shap
import reference.models.one_layer as ref
from theory.checking.compare import check_mp, combine, compare
from theory.checking.strategies.explainers import (
    removal_cases,
)
from theory.claims import claim
from theory.claims.removal import TRAINED, game, magnitude, versus_reference
from theory.explainers.shapley import shapley_exact, shapley_mc


@claim(
    "shapley.exact",
    section="§6",
    source="ours",
    kind="identity",
    statement="exact Shapley values by enumeration through the fast evaluators (any removal semantics) equal the "
    "Shapley formula over every subset",
    reference="Σ_{S ∌ j} |S|!(d−|S|−1)!/d! [v(S∪{j}) − v(S)] in mpmath, v by the mpmath forward on every subset",
    strategy=removal_cases,
    trained=TRAINED,
)
def check_shapley_exact(case):
    return versus_reference(case, "φ", shapley_exact, ref_shap.shapley)


@claim(
    "shapley.efficiency",
    section="§6",
    source="paper",
    kind="identity",
    statement="Σ_j φ_j = v([d]) − v(∅) (Shapley 1953), for the exact values and for the antithetic permutation "
    "estimator (each order's marginal contributions telescope)",
    reference="mpmath: the reference φ's sum against v([d]) − v(∅); float64 exact and sampled sums against it",
    strategy=removal_cases,
    trained="holds for any value function; checked on random models",
)
def check_efficiency(case):
    model, doc, length, d, v = game(case)
    scale = magnitude(model, doc, case.semantics)
    with mpmath.workdps(ref.DPS):
        phi = ref_shap.shapley(v, d)
        gain = v[(1,) * d] - v[(0,) * d]
        violation = mpmath.fsum(phi) - gain
    sampled = shapley_mc(model, doc, length, semantics=case.semantics, samples=8, seed=0).phi
    return combine(
        check_mp("Σφ − (v([d]) − v(∅)) (mpmath)", violation, scale),
        compare("Σφ exact (float64)", shapley_exact(model, doc, length, semantics=case.semantics).sum(), gain, scale),
        compare("Σφ̂ antithetic permutations (float64)", sampled.sum(), gain, scale),
    )
