"""Claims about KernelSHAP (docs/theory.md §11.2, paper §6): its constrained least squares over the full enumeration is
the Shapley value, and the sampled estimator converges to it.  Reference: :mod:`reference.explainers.shapley`
(the KKT system solved in mpmath)."""

from __future__ import annotations

import mpmath
import numpy as np

import reference.explainers.shapley as ref_shap
import reference.models.one_layer as ref
from theory.checking.compare import Outcome, check_mp, combine, compare
from theory.checking.strategies.explainers import (
    removal_cases,
)
from theory.claims import claim
from theory.claims.removal import game, magnitude, pattern_order
from theory.explainers.kernelshap import kernelshap_sampled, kernelshap_table
from theory.models.perturb import evaluator

KERNEL_SAMPLES = (256, 4096)
KERNEL_SEEDS = 16
ROUNDING = 1e-9  # below this share of the scale the sampled error is least-squares rounding, not sampling
KERNEL_RATE = 0.5  # RMS error ratio for 16× the samples must fall below this (n^{-1/2} predicts 0.25)


@claim(
    "kernelshap.is_shapley",
    section="§6",
    source="paper",
    kind="identity",
    statement="KernelSHAP's constrained Shapley-kernel least squares over the full enumeration equals φ "
    "(Lundberg & Lee 2017, Thm 2); the sampled estimator converges to it (16× the samples cut the RMS "
    f"error by more than {1 / KERNEL_RATE:g}×; n^(-1/2) predicts 4×)",
    reference="the reference φ (formula, mpmath) and the reference KernelSHAP solved in mpmath (KKT system); "
    f"sampled KernelSHAP at n = {KERNEL_SAMPLES} with {KERNEL_SEEDS} seeds each",
    strategy=lambda: removal_cases().filter(lambda c: len(set(c.case.tokens)) >= 2),
    trained="holds for any value function; checked on random models",
)
def check_kernelshap(case):
    model, doc, length, d, v = game(case)
    phi = ref_shap.shapley(v, d)
    scale = magnitude(model, doc, case.semantics)
    with mpmath.workdps(ref.DPS):
        violation = max(abs(a - b) for a, b in zip(ref_shap.kernelshap(v, d), phi))
    outcome = combine(
        check_mp("reference KernelSHAP − φ (mpmath)", violation, scale),
        compare("KernelSHAP population (float64)", kernelshap_table(pattern_order(v, d), d), phi, scale),
    )
    if d >= 3:  # d = 2: every sampled pattern is a one-word set, the sampled fit is exact
        exact = np.array([float(p) for p in phi])
        evaluate = evaluator(model, doc, length, case.semantics)
        rms = [
            float(
                np.sqrt(
                    np.mean([np.sum((kernelshap_sampled(evaluate, d, n, s) - exact) ** 2) for s in range(KERNEL_SEEDS)])
                )
            )
            for n in KERNEL_SAMPLES
        ]
        ratio = rms[1] / rms[0] if rms[0] > ROUNDING * scale else 0.0  # nearly additive game: exact already
        outcome = combine(
            outcome,
            Outcome(
                holds=ratio <= KERNEL_RATE,
                error=ratio,
                tolerance=KERNEL_RATE,
                detail=f"sampled KernelSHAP RMS error {rms[0]:.3e} "
                f"(n = {KERNEL_SAMPLES[0]}) → {rms[1]:.3e} (n = "
                f"{KERNEL_SAMPLES[1]}), ratio {ratio:.3f}",
            ),
        )
        outcome.measures["sampled KernelSHAP error ratio (16× samples)"] = ratio
    return outcome
