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
from theory.checking.strategies.lime import equal_scores_cases
from theory.claims import claim
from theory.claims.removal import TRAINED, game, magnitude, versus_reference
from theory.explainers.lime_approx import unk_document
from theory.explainers.lime_inf import beta_inf_exact
from theory.explainers.occlusion import occlusion
from theory.explainers.perturb import distinct_words
from theory.explainers.shapley import shapley_exact, shapley_mc


@claim("shapley.exact", section="§6", source="ours", kind="identity",
       statement="exact Shapley values by enumeration through the fast evaluators (any removal semantics) equal the "
                 "Shapley formula over every subset",
       reference="Σ_{S ∌ j} |S|!(d−|S|−1)!/d! [v(S∪{j}) − v(S)] in mpmath, v by the mpmath forward on every subset",
       strategy=removal_cases, trained=TRAINED)
def check_shapley_exact(case):
    return versus_reference(case, "φ", shapley_exact, ref_shap.shapley)


@claim("shapley.efficiency", section="§6", source="paper", kind="identity",
       statement="Σ_j φ_j = v([d]) − v(∅) (Shapley 1953), for the exact values and for the antithetic permutation "
                 "estimator (each order's marginal contributions telescope)",
       reference="mpmath: the reference φ's sum against v([d]) − v(∅); float64 exact and sampled sums against it",
       strategy=removal_cases, trained="holds for any value function; checked on random models")
def check_efficiency(case):
    model, doc, length, d, v = game(case)
    scale = magnitude(model, doc, case.semantics)
    with mpmath.workdps(ref.DPS):
        phi = ref_shap.shapley(v, d)
        gain = v[(1,) * d] - v[(0,) * d]
        violation = mpmath.fsum(phi) - gain
    sampled = shapley_mc(model, doc, length, case.semantics, pairs=8, seed=0).phi
    return combine(check_mp("Σφ − (v([d]) − v(∅)) (mpmath)", violation, scale),
                   compare("Σφ exact (float64)", shapley_exact(model, doc, length, case.semantics).sum(), gain, scale),
                   compare("Σφ̂ antithetic permutations (float64)", sampled.sum(), gain, scale))


@claim("shapley.linear_in_model", section="§6", source="consequence", kind="identity",
       statement="the Shapley values of the head mean are the mean of the heads' Shapley values (φ is linear in the "
                 "game and v is the mean of the heads' games, all sharing the CLS query of their head)",
       reference="reference φ (mpmath) of the model against the mean of the reference φ of each one-head model; the "
                 "float64 exact φ against both",
       strategy=removal_cases, trained="holds for any model; checked on random models")
def check_shapley_linear(case):
    model, doc, length, d, v = game(case)
    with mpmath.workdps(ref.DPS):
        phi = ref_shap.shapley(v, d)
        heads = [ref_shap.shapley(ref_shap.values(head, doc, length, case.semantics), d) for head in map(model.head, range(model.K))]
        violation = max(abs(phi[j] - mpmath.fsum(h[j] for h in heads) / model.K) for j in range(d))
    scale = magnitude(model, doc, case.semantics)
    return combine(check_mp("φ(mean of heads) − mean of φ(head)", violation, scale),
                   compare("φ float64", shapley_exact(model, doc, length, case.semantics), phi, scale))


@claim("shapley.equal_scores_exact", section="§6", source="ours", kind="identity",
       statement="if UNK is scored like every word (s̃_t = s_t), under replace f is affine in z, so "
                 "φ_j = o_j = β^∞_j = (1/K) Σ_i Σ_{t: ξ_t = w_j} α_t (c_t − c̃_t)",
       reference="the formula in mpmath (α, c from the mpmath forward of the document, c̃ from the all-UNK document); "
                 "float64 exact Shapley, occlusion and exact β^∞ against it",
       strategy=equal_scores_cases, trained="the premise (UNK scored like every word) is a construction")
def check_equal_scores(case):
    model, doc, length = case.model, case.doc, len(case.tokens)
    words = distinct_words(doc, length)
    fw, fu = ref.forward(model, doc), ref.forward(model, unk_document(model))
    with mpmath.workdps(ref.DPS):
        formula = [mpmath.fsum(fw.alpha[i][t] * (fw.c[i][t] - fu.c[i][t]) for i in range(model.K)
                               for t in range(1, length + 1) if doc[t] == w) / model.K for w in words]
    scale = magnitude(model, doc)
    return combine(compare("φ", shapley_exact(model, doc, length, "replace"), formula, scale),
                   compare("o", occlusion(model, doc, length, "replace"), formula, scale),
                   compare("β^∞", beta_inf_exact(model, doc, length, "replace")[1:], formula, 1e3 * scale))
