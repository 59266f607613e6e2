"""The family ``attention.blind_to_values``: replacing every ``W_ℓ^(i)`` by ``−W_ℓ^(i)`` leaves every attention
weight unchanged and negates the model's output — so attention cannot tell the direction of a word's effect —
and with it every explanation that is linear in the output: the gradient (paper §4), LIME and its population
limit ``β^∞`` (§5), Shapley values (§6) (docs/theory.md §4).  One statement, one row per explainer; each row
checks the explanation of both models against its own reference (the modules of the explainers' claims say
which), and the float64 explanation of the negated model against the negated reference."""

from __future__ import annotations

import mpmath
import numpy as np

import reference.explainers.lime as ref_lime
import reference.explainers.lime_law as ref_law
import reference.explainers.shapley as ref_shap
import reference.models.one_layer as ref
from theory.checking.compare import Outcome, check_mp, combine, compare, engines
from theory.checking.engines import reference_engine, reference_forward
from theory.checking.population import checked_coordinates, given_cases
from theory.checking.strategies.explainers import removal_cases
from theory.checking.strategies.lime import lime_cases, semantics_cases
from theory.checking.strategies.models import cases, gradient_cases
from theory.checking.strategies.trained import trained_lime_cases, trained_semantics_cases
from theory.claims import Row, family
from theory.claims.gradient import (
    MP_RTOL,
    TRAINED_COORDINATES,
    checked_positions,
    reference_gradient,
    trained_gradient_cases,
)
from theory.claims.lime.empirical import N_SAMPLES, lime_scales
from theory.claims.lime.limit import beta_scale, f_magnitude, kernel_width, reference_tables
from theory.claims.model import f_magnitudes
from theory.claims.removal import game, magnitude
from theory.explainers import lime_inf
from theory.explainers.gradient import magnitudes
from theory.explainers.lime import lime
from theory.explainers.shapley import shapley_exact
from theory.models.one_layer import forward, term_magnitudes
from theory.models.one_layer_gradient import gradient
from theory.models.perturb import distinct_words


def check_f(case) -> Outcome:
    """The row ``attention.blind_to_values``: α unchanged and ``f`` negated by ``W_ℓ → −W_ℓ``, in mpmath and float64.

    Args:
        case: a §2 instance (model, document, tokens).

    Returns:
        The combined outcome of the mpmath identities and the float64 comparisons.
    """
    model = case.model
    negated = model.with_Wl(-model.Wl)
    fw, fw_neg = forward(model, case.doc), forward(negated, case.doc)
    mp_fw, mp_neg = reference_forward(case), reference_forward(case, model=negated)
    mag = term_magnitudes(model, case.doc)
    with mpmath.workdps(ref.DPS):
        alpha_change = max(abs(a - b) for ra, rb in zip(mp_fw.alpha, mp_neg.alpha) for a, b in zip(ra, rb))
        f_sum = mp_fw.f + mp_neg.f
    outcome = combine(
        check_mp("α(−W_ℓ) − α(W_ℓ) (mpmath)", alpha_change),
        check_mp("f(−W_ℓ) + f(W_ℓ) (mpmath)", f_sum, scale=mag.f[0].mean()),
        compare("α(−W_ℓ) (float64) vs α(W_ℓ) (mpmath)", fw_neg.alpha[0], mp_fw.alpha, mag.alpha_scale(fw.alpha[0])),
        compare("−f(−W_ℓ) (float64) vs f(W_ℓ) (mpmath)", -fw_neg.f[0], mp_fw.f, mag.f[0].mean()),
        compare("f(W_ℓ) (float64)", fw.f[0], mp_fw.f, mag.f[0].mean()),
    )
    outcome.engine = engines(outcome.engine, reference_engine(case))
    return outcome


def check_gradient(case) -> Outcome:
    """The row ``attention.blind_to_values.gradient``: ``∇_t(−W_ℓ) = −∇_t(W_ℓ)`` on the checked positions.

    Args:
        case: a gradient instance (model, document; optionally the positions and coordinates to check).

    Returns:
        The combined outcome: the mpmath identity, relative to the gradient's magnitudes, and the float64
        gradient of the negated model against the negated reference.
    """
    model, doc = case.model, case.doc
    positions, coordinates = checked_positions(case, range(model.T)), checked_coordinates(case)
    negated = model.with_Wl(-model.Wl)
    mp_grad, radii = reference_gradient(case, positions, coordinates=coordinates)
    mp_neg, _ = reference_gradient(case, positions, negated, coordinates=coordinates)
    mag = magnitudes(model, doc)[0, positions][:, coordinates]
    with mpmath.workdps(ref.DPS):
        total = max(
            abs(a + b) / float(m) for ra, rb, mr in zip(mp_grad, mp_neg, mag) for a, b, m in zip(ra, rb, mr) if m > 0
        )
        minus = [[-x for x in row] for row in mp_grad]
    return combine(
        check_mp("max |∇_t(W_ℓ) + ∇_t(−W_ℓ)| / magnitude (mpmath)", total, tol=MP_RTOL),
        compare(
            "∇_t(−W_ℓ) (float64) vs −∇_t(W_ℓ) (reference)",
            gradient(negated, doc).grad[0, positions][:, coordinates],
            minus,
            mag,
            radius=radii,
        ),
    )


def check_lime(lcase) -> Outcome:
    """The row ``attention.blind_to_values.lime``: the same samples' LIME coefficients and intercept negate.

    Args:
        lcase: a LIME instance (``case`` and the LIME ``seed``).

    Returns:
        The combined outcome over ``delete`` and ``replace``.
    """
    case = lcase.case
    model, doc, length = case.model, case.doc, len(case.tokens)
    negated = model.with_Wl(-model.Wl)
    outcomes = []
    for semantics in ("delete", "replace"):
        plus = ref_lime.lime_model(model, doc, length, N_SAMPLES, lcase.seed, semantics, engine=reference_engine(case))
        minus = ref_lime.lime_model(
            model, doc, length, N_SAMPLES, lcase.seed, semantics, Wl=negated.Wl, engine=reference_engine(case)
        )
        with mpmath.workdps(ref.DPS):
            gap = max(
                [abs(a + b) for a, b in zip(plus.coef[0], minus.coef[0])]
                + [abs(plus.intercept[0] + minus.intercept[0])]
            )
            scale = max(abs(c) for c in [*plus.coef[0], plus.intercept[0]])
        s0, s = lime_scales(plus.Z, f_magnitudes(case, plus.Z, semantics))
        fast = lime(negated, doc, length, semantics=semantics, samples=N_SAMPLES, seed=lcase.seed)
        outcomes += [
            check_mp(f"β(−W_ℓ) + β(W_ℓ) ({semantics}, mpmath)", gap, scale=scale),
            compare(f"−β(−W_ℓ) (float64) vs β(W_ℓ) (mpmath) ({semantics})", -fast.coef, plus.coef[0], s),
            compare(
                f"−intercept(−W_ℓ) (float64) vs intercept(W_ℓ) ({semantics})", -fast.intercept, plus.intercept[0], s0
            ),
        ]
    outcome = combine(*outcomes)
    outcome.engine = engines(outcome.engine, reference_engine(case))
    return outcome


def check_beta_inf(case) -> Outcome:
    """The row ``attention.blind_to_values.beta_inf``: α unchanged and ``β^∞`` negated by ``W_ℓ → −W_ℓ``.

    Args:
        case: a semantics instance (``case`` and the removal ``semantics``).

    Returns:
        The combined outcome of the mpmath identity and the float64 comparisons.
    """
    model, doc, length, sem = case.case.model, case.case.doc, len(case.case.tokens), case.semantics
    d = distinct_words(doc, length).size
    width = kernel_width(lime_inf.NU)
    engine = reference_engine(case)
    values = reference_tables(model, doc, length, sem, engine=engine)[0]
    beta = ref_law.beta_inf(values, d, width)
    beta_neg = ref_law.beta_inf(reference_tables(model, doc, length, sem, Wl=-model.Wl, engine=engine)[0], d, width)
    negated = model.with_Wl(-model.Wl)
    fast_neg = lime_inf.beta_inf_exact(negated, doc, length, semantics=sem)
    alpha, alpha_neg = forward(model, doc).alpha, forward(negated, doc).alpha
    f_mag = f_magnitude(model, doc)
    with mpmath.workdps(ref.DPS):
        total = max(abs(a + b) for a, b in zip(beta, beta_neg))
        minus = [-b for b in beta]
    outcome = combine(
        check_mp("mpmath β^∞(−W_ℓ) + β^∞(W_ℓ)", total, scale=f_mag),
        compare(
            "float64 β^∞(−W_ℓ) vs −β^∞(W_ℓ) (mpmath)",
            fast_neg,
            minus,
            beta_scale(np.abs(np.array(values, dtype=float)), d, lime_inf.NU),
        ),
        compare("α(−W_ℓ) − α(W_ℓ) (float64)", alpha_neg - alpha, np.zeros(alpha.shape).tolist(), 1.0),
    )
    outcome.engine = engines(outcome.engine, reference_engine(case))
    return outcome


def check_shapley(case) -> Outcome:
    """The row ``attention.blind_to_values.shapley``: α unchanged and every ``φ_j`` negated by ``W_ℓ → −W_ℓ``.

    Args:
        case: a removal instance (a small case and a removal semantics).

    Returns:
        The combined outcome, relative to :func:`theory.claims.removal.magnitude`.
    """
    model, doc, length, d, v = game(case)
    negated = model.with_Wl(-model.Wl)
    with mpmath.workdps(ref.DPS):
        phi = ref_shap.shapley(v, d)
        phi_neg = ref_shap.shapley(ref_shap.values(model, doc, length, case.semantics, Wl=-model.Wl), d)
        violation = max(abs(a + b) for a, b in zip(phi, phi_neg))
        fa, fb = ref.forward(model, doc), ref.forward(model, doc, Wl=-model.Wl)
        moved = max(abs(a - b) for ra, rb in zip(fa.alpha, fb.alpha) for a, b in zip(ra, rb))
    scale = magnitude(model, doc, case.semantics)
    return combine(
        check_mp("φ(−W_ℓ) + φ(W_ℓ)", violation, scale),
        check_mp("α(−W_ℓ) − α(W_ℓ)", moved, 1.0),
        compare(
            "φ(−W_ℓ) float64", shapley_exact(negated, doc, length, semantics=case.semantics), [-p for p in phi], scale
        ),
    )


family(
    [
        Row(
            "attention.blind_to_values",
            statement="replacing every W_ℓ^(i) by −W_ℓ^(i) leaves every α unchanged and negates f (attention "
            "cannot tell the direction of a token's effect); the gradient and LIME parts are checked "
            "with those claims",
            reference="mpmath forward of both models at 40 digits",
            strategy=cases,
            check=check_f,
            options=dict(trained=given_cases),
        ),
        Row(
            "attention.blind_to_values.gradient",
            statement="replacing every W_ℓ^(i) by −W_ℓ^(i) (which leaves every α unchanged, attention.blind_to_values) "
            "negates every ∇_t, t = 0..T−1",
            reference="reference gradients (central differences, mpmath) of both models; the float64 closed form of "
            "the negated model against the negated reference",
            strategy=gradient_cases,
            check=check_gradient,
            options=dict(
                budget=0.5,
                trained=lambda: trained_gradient_cases(cls=True, coordinates=TRAINED_COORDINATES),
                given_budget=0.5,
            ),
        ),
        Row(
            "attention.blind_to_values.lime",
            statement="replacing every W_ℓ^(i) by −W_ℓ^(i) (attention unchanged) negates every LIME coefficient and "
            "the intercept exactly, for the same LIME samples (both semantics)",
            reference=f"reference LIME of both models (mpmath, {N_SAMPLES} samples); the fast LIME of the negated "
            "model against it",
            strategy=lime_cases,
            check=check_lime,
            options=dict(trained=trained_lime_cases),
        ),
        Row(
            "attention.blind_to_values.beta_inf",
            statement="replacing every W_ℓ^(i) by −W_ℓ^(i) leaves every α unchanged and negates β^∞ (delete and "
            "replace): attention cannot tell the direction of a word's LIME effect",
            reference="mpmath weighted least squares over the enumeration of the full mpmath forward with W_ℓ and "
            "with −W_ℓ; float64 β^∞ of the negated model against −β^∞ (mpmath)",
            strategy=semantics_cases,
            check=check_beta_inf,
            options=dict(trained=trained_semantics_cases),
        ),
        Row(
            "attention.blind_to_values.shapley",
            statement="replacing every W_ℓ by −W_ℓ leaves every α unchanged and negates every Shapley value (attention "
            "cannot tell the direction of a word's effect that Shapley reports)",
            reference="mpmath forward (α) and the reference φ with −W_ℓ; float64 exact φ of the negated model",
            strategy=removal_cases,
            check=check_shapley,
            options=dict(section="§6", trained="holds for any model; checked on random models"),
        ),
    ],
    section="§3",
    source="consequence",
    kind="witness",
)
