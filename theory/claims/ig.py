"""Claims about Integrated Gradients (docs/theory.md §11.2, paper §6): completeness and every attribution against the
mpmath quadrature of the brute-force gradient (:mod:`reference.explainers.integrated`)."""

from __future__ import annotations

import reference.explainers.integrated as ref_int
from theory.checking.compare import check_mp, combine, compare
from theory.checking.strategies.explainers import (
    integrated_cases,
)
from theory.claims import claim
from theory.claims.removal import magnitude
from theory.explainers.ig import integrated_gradients

IG_RTOL = 1e-9  # the float64 quadrature stops at a completeness gap of 1e-10 × scale


@claim(
    "ig.completeness",
    section="§6",
    source="paper",
    kind="identity",
    statement="Σ_t Σ_k IG_{t,k} = f(e) − f(e') (Sundararajan et al. 2017) for the baselines replace, mask:ID and "
    "zero, and every IG_{t,k} equals the mpmath quadrature of the brute-force gradient",
    reference="mpmath forward at e and e'; Gauss–Legendre (24 nodes, doubled up to 384 until the estimate is "
    "below the tolerance; mpmath) of central differences of the mpmath forward at 60 digits, its error "
    "estimated against the rule with half the nodes",
    strategy=integrated_cases,
    budget=0.2,
    trained="the mpmath quadrature of the brute-force gradient needs tiny models",
)
def check_ig(case):
    model, doc, length = case.case.model, case.case.doc, len(case.case.tokens)
    result = integrated_gradients(model, doc, length, baseline=case.semantics)
    scale = magnitude(model, doc, case.semantics)
    want, error, f_diff = ref_int.integrated_gradients(
        model, doc, length, baseline=case.semantics, target=IG_RTOL / 100 * float(scale)
    )
    outcome = combine(
        compare("Σ IG vs f(e) − f(e')", result.attributions.sum(), f_diff, scale, rtol=IG_RTOL),
        compare("IG_{t,k} vs mpmath quadrature", result.attributions[1 : length + 1], want, scale, rtol=IG_RTOL),
        check_mp("reference quadrature error estimate (against half the nodes)", error, scale, tol=IG_RTOL / 100),
    )
    outcome.measures["Gauss–Legendre nodes (float64)"] = float(result.nodes)
    return outcome
