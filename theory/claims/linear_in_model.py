"""The family ``*.linear_in_model``: LIME, its population limit ``β^∞`` and Shapley values are linear in the
model's output, so the multi-head model's explanation is the mean of its heads' explanations (paper §5, §6;
docs/theory.md §6–§7, §11.2).  One statement, one row per explainer, each against its own mpmath reference."""

from __future__ import annotations

import mpmath
import numpy as np

import reference.explainers.lime as ref_lime
import reference.explainers.lime_law as ref_law
import reference.explainers.shapley as ref_shap
import reference.models.one_layer as ref
from theory.checking.compare import Outcome, check_mp, combine, compare, engines
from theory.checking.engines import reference_engine
from theory.checking.strategies.explainers import (
    removal_cases,
)
from theory.checking.strategies.lime import (
    lime_cases,
    semantics_cases,
)
from theory.checking.strategies.trained import (
    trained_lime_cases,
    trained_semantics_cases,
)
from theory.claims import Row, family
from theory.claims.lime.empirical import N_SAMPLES, lime_scales
from theory.claims.lime.limit import beta_scale, f_magnitude, kernel_width, mp_max_abs, reference_tables
from theory.claims.model import f_magnitudes
from theory.claims.removal import game, magnitude
from theory.explainers import lime_inf
from theory.explainers.lime import lime, weighted_ridge
from theory.explainers.shapley import shapley_exact
from theory.models.perturb import distinct_words


def check_lime(lcase) -> Outcome:
    """The row ``lime.linear_in_model``: for the same samples, LIME of the head mean is the mean of the heads' LIME.

    Args:
        lcase: a LIME instance (``case`` and the LIME ``seed``).

    Returns:
        The combined outcome over ``delete`` and ``replace``.
    """
    case = lcase.case
    model, doc, length = case.model, case.doc, len(case.tokens)
    lam = mpmath.mpf(-2.5)
    outcomes = []
    for semantics in ("delete", "replace"):
        reference = ref_lime.lime_model(
            model, doc, length, N_SAMPLES, lcase.seed, semantics, engine=reference_engine(case)
        )
        with mpmath.workdps(ref.DPS):
            # outputs: f, heads f^(i), λ f, f + f^(1)
            Y = [[y[0], *y[1:], lam * y[0], y[0] + y[1]] for y in reference.Y]
        fit = ref_lime.weighted_ridge(reference.Z, Y)
        K, d = model.K, len(reference.words)
        scale = float(max(max(abs(c) for c in row) for row in fit.coef) + max(abs(b) for b in fit.intercept))
        with mpmath.workdps(ref.DPS):

            def both(k, fit=fit):
                return [fit.intercept[k], *fit.coef[k]]

            f, heads, scaled, summed = both(0), [both(1 + i) for i in range(K)], both(1 + K), both(2 + K)
            mean_gap = max(abs(f[j] - mpmath.fsum(h[j] for h in heads) / K) for j in range(d + 1))
            scale_gap = max(abs(scaled[j] - lam * f[j]) for j in range(d + 1))
            sum_gap = max(abs(summed[j] - f[j] - heads[0][j]) for j in range(d + 1))
        s0, s = lime_scales(reference.Z, f_magnitudes(case, reference.Z, semantics))
        fast = lime(model, doc, length, semantics=semantics, samples=N_SAMPLES, seed=lcase.seed)
        outcomes += [
            check_mp(f"β(f) − mean_i β(f^(i)) ({semantics})", mean_gap, scale=scale),
            check_mp(f"β(λf) − λβ(f) ({semantics})", scale_gap, scale=scale),
            check_mp(f"β(f + f^(1)) − β(f) − β(f^(1)) ({semantics})", sum_gap, scale=scale),
            compare(f"fast β ({semantics})", fast.coef, fit.coef[0], s),
            compare(f"fast intercept ({semantics})", fast.intercept, fit.intercept[0], s0),
        ]
        # the same linearity through the float64 weighted ridge
        Yf = np.column_stack([fast.f, -2.5 * fast.f])  # not a power of 2: the scaling itself rounds
        b, beta = weighted_ridge(fast.Z, Yf, fast.weights)
        outcomes.append(compare(f"fast β(−2.5 f) / (−2.5) ({semantics})", beta[:, 1] / -2.5, fit.coef[0], s))
    outcome = combine(*outcomes)
    outcome.engine = engines(outcome.engine, reference_engine(case))
    return outcome


def check_beta_inf(case) -> Outcome:
    """The row ``lime.linear_in_model.beta_inf``: ``β^∞`` of the head mean is the mean of the heads' ``β^∞``.

    Args:
        case: a semantics instance (``case`` and the removal ``semantics``).

    Returns:
        The combined outcome of the mpmath identity and the float64 comparisons.
    """
    model, doc, length, sem = case.case.model, case.case.doc, len(case.case.tokens), case.semantics
    d = distinct_words(doc, length).size
    width = kernel_width(lime_inf.NU)
    values, heads = reference_tables(model, doc, length, sem, engine=reference_engine(case))
    beta_f = ref_law.beta_inf(values, d, width)
    beta_heads = [ref_law.beta_inf(h, d, width) for h in heads]
    with mpmath.workdps(ref.DPS):
        lam = mpmath.mpf(-2.5)
        beta_scaled = ref_law.beta_inf([lam * v for v in values], d, width)
    with mpmath.workdps(ref.DPS):
        mean_heads = [mpmath.fsum(column) / model.K for column in zip(*beta_heads)]
        scaled_gap = max(abs(a - lam * b) for a, b in zip(beta_scaled, beta_f))
    f_mag = f_magnitude(model, doc)
    fast_heads = np.mean(
        [lime_inf.beta_inf_exact(model.head(i), doc, length, semantics=sem) for i in range(model.K)], axis=0
    )
    fast = lime_inf.beta_inf_exact(model, doc, length, semantics=sem)
    scale = beta_scale(np.abs(np.array(values, dtype=float)), d, lime_inf.NU)
    outcome = combine(
        check_mp("mpmath β^∞(f) − mean_i β^∞(f^(i))", mp_max_abs(beta_f, mean_heads), scale=f_mag),
        check_mp("mpmath β^∞(λf) − λβ^∞(f)", scaled_gap, scale=f_mag),
        compare("float64 β^∞(f)", fast, beta_f, scale),
        compare("float64 mean_i β^∞(f^(i)) vs mpmath β^∞(f)", fast_heads, beta_f, scale),
    )
    outcome.engine = engines(outcome.engine, reference_engine(case))
    return outcome


def check_shapley(case) -> Outcome:
    """The row ``shapley.linear_in_model``: ``φ`` of the head mean is the mean of the heads' ``φ``.

    Args:
        case: a removal instance (a small case and a removal semantics).

    Returns:
        The combined outcome, relative to :func:`theory.claims.removal.magnitude`.
    """
    model, doc, length, d, v = game(case)
    with mpmath.workdps(ref.DPS):
        phi = ref_shap.shapley(v, d)
        heads = [
            ref_shap.shapley(ref_shap.values(head, doc, length, case.semantics), d)
            for head in map(model.head, range(model.K))
        ]
        violation = max(abs(phi[j] - mpmath.fsum(h[j] for h in heads) / model.K) for j in range(d))
    scale = magnitude(model, doc, case.semantics)
    return combine(
        check_mp("φ(mean of heads) − mean of φ(head)", violation, scale),
        compare("φ float64", shapley_exact(model, doc, length, semantics=case.semantics), phi, scale),
    )


family(
    [
        Row(
            "lime.linear_in_model",
            statement="for the same samples β(f+g) = β(f) + β(g) and β(λf) = λβ(f); hence the multi-head model's "
            "LIME is the mean of its heads' LIME (both semantics)",
            reference=f"reference LIME (mpmath weighted ridge on the mpmath forward of every perturbed document, "
            f"{N_SAMPLES} samples); the fast float64 LIME against it",
            strategy=lime_cases,
            check=check_lime,
            options=dict(section="§5", source="paper", trained=trained_lime_cases),
        ),
        Row(
            "lime.linear_in_model.beta_inf",
            statement="β^∞ is linear in f: β^∞(f + g) = β^∞(f) + β^∞(g), β^∞(λf) = λβ^∞(f); hence the multi-head "
            "model's β^∞ is the mean of its heads' β^∞ (delete and replace)",
            reference="mpmath weighted least squares over the enumeration of the full mpmath forward (f and each "
            "head f^(i) on every perturbed document); float64 β^∞ of the model and of each single-head "
            "model against it",
            strategy=semantics_cases,
            check=check_beta_inf,
            options=dict(section="§5", source="paper", trained=trained_semantics_cases),
        ),
        Row(
            "shapley.linear_in_model",
            statement="the Shapley values of the head mean are the mean of the heads' Shapley values (φ is "
            "linear in the "
            "game and v is the mean of the heads' games, all sharing the CLS query of their head)",
            reference="reference φ (mpmath) of the model against the mean of the reference φ of each one-head "
            "model; the "
            "float64 exact φ against both",
            strategy=removal_cases,
            check=check_shapley,
            options=dict(section="§6", source="consequence", trained="holds for any model; checked on random models"),
        ),
    ],
    kind="identity",
)
