"""Claims about LIME's perturbed documents and empirical LIME (docs/theory.md §3 and §6; paper §2, §3, §5).

The float64 side is :mod:`theory.models.perturb` and :mod:`theory.explainers.lime`; the reference side is
:mod:`reference.explainers.perturb` (the full mpmath forward pass on each perturbed document) and :mod:`reference.explainers.lime`
(lime 0.2.0.1's sampler and the weighted ridge solved in mpmath); the external oracle is the ``lime``
package itself.

LIME coefficients are linear in the outputs: ``(b, β) = H y`` with ``H = M⁻¹ [1 Z]ᵀ diag(π)`` and ``M`` the
ridge normal matrix.  Their errors are measured relative to the magnitude of those terms,
``Σ_i |H_ji| · m_i`` with ``m_i`` the magnitude of the terms of ``f`` on sample ``i``.
"""

from __future__ import annotations

import mpmath
import numpy as np

import reference.explainers.lime as ref_lime
import reference.oracles.lime_package as lime_package
import reference.explainers.perturb as ref_perturb
import reference.models.one_layer as ref
from theory.claims import claim
from theory.explainers.lime import kernel_weights, lime, weighted_ridge
from theory.models.perturb import f_perturbed
from theory.models.one_layer import forward, term_magnitudes
from theory.checking.compare import check_mp, combine, compare, engines
from theory.checking.engines import reference_engine
from theory.checking.strategies.lime import lime_cases, perturbed_cases
from theory.checking.strategies.trained import trained_lime_cases, trained_perturbed_cases

N_SAMPLES = 100  # per reference LIME (each distinct sample is one mpmath forward pass)
N_ORACLE = 300  # samples in the comparison with the lime package
ORACLE_RTOL = 1e-10


def _perturbed_docs(case, Z, semantics):
    return np.array([ref_perturb.perturbed_document(case.doc, len(case.tokens), z, semantics, case.model.unk_id)
                     for z in Z])


def _f_magnitudes(case, Z, semantics):
    """Magnitude of the terms of ``f`` on each perturbed document (mean over heads, as for ``model.forward``)."""
    return term_magnitudes(case.model, _perturbed_docs(case, Z, semantics)).f.mean(axis=1)


def _lime_scales(Z, mag_f):
    """``|H| m``: the magnitude of the terms of ``(intercept, β)`` as linear functions of the outputs."""
    Z = np.asarray(Z, dtype=np.float64)
    pi = kernel_weights(Z)
    X = np.column_stack([np.ones(len(Z)), Z])
    M = X.T @ (pi[:, None] * X)
    M[1:, 1:] += np.eye(Z.shape[1])
    H = np.linalg.solve(M, X.T * pi)
    scale = np.abs(H) @ mag_f
    return scale[0], scale[1:]


def _check_evaluator(pcase, semantics, label):
    case, Z = pcase.case, np.array(pcase.Z, dtype=np.float64)
    length = len(case.tokens)
    got = f_perturbed(case.model, case.doc, length, Z, semantics)
    engine = reference_engine(case)
    want = [ref_perturb.f_perturbed(case.model, case.doc, length, z, semantics, engine=engine) for z in pcase.Z]
    outcome = compare(label, got, want, _f_magnitudes(case, pcase.Z, semantics))
    outcome.engine = engine
    return outcome


@claim("model.sufficient_stats", section="§2", source="ours", kind="identity",
       statement="under replace, for every removal pattern z: f(ξ(z)) = (1/K) Σ_i [Σ_t (z? g_t c_t : g̃_t c̃_t)] / "
                 "[Σ_t (z? g_t : g̃_t)] (z? = 1 at CLS and padding, z_{w(t)} at word positions): a perturbed "
                 "document costs O(K·d) after O(K·T) precomputation",
       reference="full mpmath forward (40 digits) on each perturbed document, built token by token",
       strategy=perturbed_cases, trained=trained_perturbed_cases)
def check_sufficient_stats(pcase):
    return _check_evaluator(pcase, "replace", "f(ξ(z)) replace")


@claim("model.delete_decomposition", section="§2", source="ours", kind="identity",
       statement="under delete (words removed, the rest shifted left, UNK re-padding), the score and value "
                 "score of word w at position t split as s = a_w + b_t, c = c^E_w + c^P_t with the CLS query "
                 "fixed, so f on every perturbed document follows from O(K·(V_doc + T)·d_e) precomputation "
                 "and O(K) per kept occurrence",
       reference="full mpmath forward (40 digits) on each perturbed document, built token by token",
       strategy=perturbed_cases, trained=trained_perturbed_cases)
def check_delete_decomposition(pcase):
    return _check_evaluator(pcase, "delete", "f(ξ(z)) delete")


@claim("model.delete_equals_replace_without_pe", section="§2", source="ours", kind="identity",
       statement="with positional encoding off (and UNK padding), delete and replace give the same f for every "
                 "removal pattern z",
       reference="full mpmath forward on the deleted and on the replaced document",
       strategy=lambda: perturbed_cases(pe=False),
       trained="the trained model uses positional encoding; the claim is about models without it")
def check_delete_equals_replace(pcase):
    case = pcase.case
    length = len(case.tokens)
    mag = _f_magnitudes(case, pcase.Z, "replace")
    outcomes = []
    replaced = [ref_perturb.f_perturbed(case.model, case.doc, length, z, "replace") for z in pcase.Z]
    for z, want, scale in zip(pcase.Z, replaced, mag):
        deleted = ref_perturb.f_perturbed(case.model, case.doc, length, z, "delete")
        with mpmath.workdps(ref.DPS):
            outcomes.append(check_mp(f"f(delete) − f(replace) (mpmath), z={z}", deleted - want, scale=scale))
    fast = f_perturbed(case.model, case.doc, length, np.array(pcase.Z, dtype=np.float64), "delete")
    outcomes.append(compare("f(delete) (float64) vs f(replace) (mpmath)", fast, replaced, mag))
    return combine(*outcomes)


def _float(values):
    return np.array([float(v) for v in values])


@claim("lime.matches_lime_package", section="§5", source="ours", kind="identity",
       statement="for the same random_state, the reference LIME (mpmath) and the fast LIME (float64) reproduce "
                 "lime 0.2.0.1's LimeTextExplainer(...).explain_instance coefficients and intercept, feature "
                 "order included (delete semantics, lime's own; replace checked too through the empty slots "
                 "lime leaves; string ↔ token mapping in reference/explainers/lime.py)",
       reference=f"the real lime package driving the float64 forward pass, {N_ORACLE} samples; tolerance "
                 f"{ORACLE_RTOL:g} for lime (float64 sklearn Ridge) and 1e-12 for the fast LIME, both against "
                 "the mpmath reference LIME, relative to the magnitude of the terms",
       strategy=lime_cases, budget=1.0, requires=("lime", "sklearn"), trained=trained_lime_cases)
def check_matches_lime_package(lcase):
    case = lcase.case
    model, doc, length = case.model, case.doc, len(case.tokens)
    outcomes = []
    for semantics in ("delete", "replace"):
        coef, intercept, words = lime_package.run_lime_package(
            lambda docs: forward(model, docs).f, doc, length, N_ORACLE, lcase.seed, semantics, model.cls_id,
            model.unk_id, model.T)
        reference = ref_lime.lime_model(model, doc, length, N_ORACLE, lcase.seed, semantics,
                                        engine=reference_engine(case))
        fast = lime(model, doc, length, semantics=semantics, samples=N_ORACLE, seed=lcase.seed)
        s0, s = _lime_scales(reference.Z, _f_magnitudes(case, reference.Z, semantics))
        same_samples = bool(np.array_equal(fast.Z, reference.Z))
        same_words = words == reference.words == fast.words.tolist()
        outcome = combine(
            compare(f"lime β ({semantics})", coef, reference.coef[0], s, rtol=ORACLE_RTOL),
            compare(f"lime intercept ({semantics})", intercept, reference.intercept[0], s0, rtol=ORACLE_RTOL),
            compare(f"fast β ({semantics})", fast.coef, reference.coef[0], s),
            compare(f"fast intercept ({semantics})", fast.intercept, reference.intercept[0], s0),
            compare(f"fast samples ≠ reference samples ({semantics})", float(not same_samples), 0, 1.0),
            compare(f"feature order differs ({semantics})", float(not same_words), 0, 1.0),
        )
        ref_coef = _float(reference.coef[0])
        outcome.measures[f"max |β_lime − β_ref| ({semantics})"] = float(
            max(np.abs(coef - ref_coef).max(), abs(intercept - float(reference.intercept[0]))))
        outcomes.append(outcome)
    outcome = combine(*outcomes)
    outcome.engine = engines(outcome.engine, reference_engine(case))
    return outcome


@claim("lime.linear_in_model", section="§5", source="paper", kind="identity",
       statement="for the same samples β(f+g) = β(f) + β(g) and β(λf) = λβ(f); hence the multi-head model's "
                 "LIME is the mean of its heads' LIME (both semantics)",
       reference=f"reference LIME (mpmath weighted ridge on the mpmath forward of every perturbed document, "
                 f"{N_SAMPLES} samples); the fast float64 LIME against it",
       strategy=lime_cases, trained=trained_lime_cases)
def check_linear_in_model(lcase):
    case = lcase.case
    model, doc, length = case.model, case.doc, len(case.tokens)
    lam = mpmath.mpf(-2.5)
    outcomes = []
    for semantics in ("delete", "replace"):
        reference = ref_lime.lime_model(model, doc, length, N_SAMPLES, lcase.seed, semantics,
                                        engine=reference_engine(case))
        with mpmath.workdps(ref.DPS):
            # outputs: f, heads f^(i), λ f, f + f^(1)
            Y = [[y[0], *y[1:], lam * y[0], y[0] + y[1]] for y in reference.Y]
        fit = ref_lime.weighted_ridge(reference.Z, Y)
        K, d = model.K, len(reference.words)
        scale = float(max(max(abs(c) for c in row) for row in fit.coef) + max(abs(b) for b in fit.intercept))
        with mpmath.workdps(ref.DPS):
            def both(k):
                return [fit.intercept[k], *fit.coef[k]]
            f, heads, scaled, summed = both(0), [both(1 + i) for i in range(K)], both(1 + K), both(2 + K)
            mean_gap = max(abs(f[j] - mpmath.fsum(h[j] for h in heads) / K) for j in range(d + 1))
            scale_gap = max(abs(scaled[j] - lam * f[j]) for j in range(d + 1))
            sum_gap = max(abs(summed[j] - f[j] - heads[0][j]) for j in range(d + 1))
        s0, s = _lime_scales(reference.Z, _f_magnitudes(case, reference.Z, semantics))
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


@claim("attention.blind_to_values.lime", section="§3", source="consequence", kind="witness",
       statement="replacing every W_ℓ^(i) by −W_ℓ^(i) (attention unchanged) negates every LIME coefficient and "
                 "the intercept exactly, for the same LIME samples (both semantics)",
       reference=f"reference LIME of both models (mpmath, {N_SAMPLES} samples); the fast LIME of the negated "
                 "model against it",
       strategy=lime_cases, trained=trained_lime_cases)
def check_blind_to_values_lime(lcase):
    case = lcase.case
    model, doc, length = case.model, case.doc, len(case.tokens)
    negated = model.with_Wl(-model.Wl)
    outcomes = []
    for semantics in ("delete", "replace"):
        plus = ref_lime.lime_model(model, doc, length, N_SAMPLES, lcase.seed, semantics,
                                   engine=reference_engine(case))
        minus = ref_lime.lime_model(model, doc, length, N_SAMPLES, lcase.seed, semantics, Wl=negated.Wl,
                                    engine=reference_engine(case))
        with mpmath.workdps(ref.DPS):
            gap = max([abs(a + b) for a, b in zip(plus.coef[0], minus.coef[0])]
                      + [abs(plus.intercept[0] + minus.intercept[0])])
            scale = max(abs(c) for c in [*plus.coef[0], plus.intercept[0]])
        s0, s = _lime_scales(plus.Z, _f_magnitudes(case, plus.Z, semantics))
        fast = lime(negated, doc, length, semantics=semantics, samples=N_SAMPLES, seed=lcase.seed)
        outcomes += [
            check_mp(f"β(−W_ℓ) + β(W_ℓ) ({semantics}, mpmath)", gap, scale=scale),
            compare(f"−β(−W_ℓ) (float64) vs β(W_ℓ) (mpmath) ({semantics})", -fast.coef, plus.coef[0], s),
            compare(f"−intercept(−W_ℓ) (float64) vs intercept(W_ℓ) ({semantics})", -fast.intercept,
                    plus.intercept[0], s0),
        ]
    outcome = combine(*outcomes)
    outcome.engine = engines(outcome.engine, reference_engine(case))
    return outcome
