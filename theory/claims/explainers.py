"""Claims about the other post-hoc explainers (docs/theory.md §11.2): the removal semantics' fast evaluators, exact and
sampled Shapley values, KernelSHAP, occlusion, Integrated Gradients, SmoothGrad and C-LIME, and for each of
Shapley, occlusion, IG and SmoothGrad the answer to "does a word with zero attention in every head get a zero
score?" (the gradient's answer is yes, ``gradient.attention_bound``; LIME's is no, ``lime.zero_attention_not_zero``).

References: :mod:`reference.explainers.perturb` (full mpmath forward on every perturbed document),
:mod:`reference.explainers.shapley` (the Shapley formula over every subset, occlusion, KernelSHAP's constrained
least squares solved in mpmath), :mod:`reference.explainers.integrated` (Gauss–Legendre quadrature of the
brute-force gradient; tensor Gauss–Hermite populations of SmoothGrad and C-LIME).

Error scale of every identity: the magnitude of the terms of ``f`` (``max |W_ℓ||W_v||e_t| · (1 + max |W_k||W_q||e_0||e_t|)``
over the document's and the removed embeddings), as :func:`theory.models.one_layer.term_magnitudes`.
"""

from __future__ import annotations

import mpmath
import numpy as np

import reference.explainers.integrated as ref_int
import reference.explainers.shapley as ref_shap
import reference.models.one_layer as ref
from theory.checking.compare import Outcome, check_mp, combine, compare
from theory.checking.strategies.explainers import (
    integrated_cases,
    noise_cases,
    removal_cases,
    vanishing_noise_cases,
)
from theory.checking.strategies.lime import equal_scores_cases, vanishing_cases
from theory.claims import claim
from theory.explainers import removal
from theory.explainers.clime import clime
from theory.explainers.ig import integrated_gradients
from theory.explainers.kernelshap import kernelshap_sampled, kernelshap_table
from theory.explainers.lime_approx import unk_document
from theory.explainers.lime_inf import beta_inf_exact, patterns, table
from theory.explainers.occlusion import occlusion
from theory.explainers.perturb import distinct_words, evaluator
from theory.explainers.shapley import shapley_exact, shapley_mc
from theory.explainers.smoothgrad import smoothgrad
from theory.models.one_layer import Model, embed, forward, scores_and_values

TRAINED = ("2^d mpmath forward passes at T = 256 take ~10 s per document; the fast evaluators are checked on the trained "
           "model by model.sufficient_stats, and every §6 claim holds for any model")
CONSTRUCTION = "the instance is a construction (a word pushed out of every head's attention)"


def magnitude(model: Model, doc, semantics: str = "replace") -> float:
    """The magnitude of the terms of ``f`` over the document and the removed embeddings (see the module docstring)."""
    X = embed(model, np.asarray(doc)[None])[0]
    how = removal.parse(semantics, model)
    rows = [X, removal.removed_embeddings(model, how if how.substitutes else "replace")]
    _, s, c = scores_and_values(np.abs(np.stack(rows)), np.abs(model.Wq), np.abs(model.Wk), np.abs(model.Wv),
                                np.abs(model.Wl), model.score_factor)
    return float(c.max() * (1.0 + s.max()))


def game(case) -> tuple:
    """The instance's game: every subset's value by the mpmath forward pass (:func:`reference.explainers.shapley.values`).

    Args:
        case: a removal case (an instance and its removal semantics).

    Returns:
        ``(model, doc, length, d, v)`` with ``v`` the value of every removal pattern.
    """
    model, doc, length = case.case.model, case.case.doc, len(case.case.tokens)
    d = distinct_words(doc, length).size
    return model, doc, length, d, ref_shap.values(model, doc, length, case.semantics)


def _versus_reference(case, label: str, ours, reference) -> Outcome:
    """``ours(model, doc, length, semantics)`` (float64) against ``reference(v, d)`` (mpmath, from the game ``v`` of
    every subset)."""
    model, doc, length, d, v = game(case)
    return compare(f"{label} ({case.semantics})", ours(model, doc, length, case.semantics), reference(v, d),
                   magnitude(model, doc, case.semantics))


def _pattern_order(v: dict, d: int) -> list:
    """The reference values in :func:`theory.explainers.lime_inf.patterns` order (``z_j = (k >> j) & 1``)."""
    return [v[tuple(int(b) for b in row)] for row in patterns(d)]


@claim("removal.fast_evaluators", section="§6", source="ours", kind="identity",
       statement="under every removal semantics (delete, replace, mask:ID, zero) the fast evaluators of f on the "
                 "perturbed documents (sufficient statistics for the substitutions, word/position decomposition for "
                 "delete) equal the full forward pass on every perturbed document",
       reference="mpmath forward pass (40 digits) on each of the 2^d perturbed documents, built token by token "
                 "(zero: the positional encoding alone at removed positions)",
       strategy=removal_cases, trained=TRAINED)
def check_fast_evaluators(case):
    return _versus_reference(case, "f_perturbed", table, _pattern_order)


@claim("shapley.exact", section="§6", source="ours", kind="identity",
       statement="exact Shapley values by enumeration through the fast evaluators (any removal semantics) equal the "
                 "Shapley formula over every subset",
       reference="Σ_{S ∌ j} |S|!(d−|S|−1)!/d! [v(S∪{j}) − v(S)] in mpmath, v by the mpmath forward on every subset",
       strategy=removal_cases, trained=TRAINED)
def check_shapley_exact(case):
    return _versus_reference(case, "φ", shapley_exact, ref_shap.shapley)


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


KERNEL_SAMPLES = (256, 4096)
KERNEL_SEEDS = 16
ROUNDING = 1e-9  # below this share of the scale the sampled error is least-squares rounding, not sampling
KERNEL_RATE = 0.5  # RMS error ratio for 16× the samples must fall below this (n^{-1/2} predicts 0.25)


@claim("kernelshap.is_shapley", section="§6", source="paper", kind="identity",
       statement="KernelSHAP's constrained Shapley-kernel least squares over the full enumeration equals φ "
                 "(Lundberg & Lee 2017, Thm 2); the sampled estimator converges to it (16× the samples cut the RMS "
                 f"error by more than {1 / KERNEL_RATE:g}×; n^(-1/2) predicts 4×)",
       reference="the reference φ (formula, mpmath) and the reference KernelSHAP solved in mpmath (KKT system); sampled "
                 f"KernelSHAP at n = {KERNEL_SAMPLES} with {KERNEL_SEEDS} seeds each",
       strategy=lambda: removal_cases().filter(lambda c: len(set(c.case.tokens)) >= 2),
       trained="holds for any value function; checked on random models")
def check_kernelshap(case):
    model, doc, length, d, v = game(case)
    phi = ref_shap.shapley(v, d)
    scale = magnitude(model, doc, case.semantics)
    with mpmath.workdps(ref.DPS):
        violation = max(abs(a - b) for a, b in zip(ref_shap.kernelshap(v, d), phi))
    outcome = combine(check_mp("reference KernelSHAP − φ (mpmath)", violation, scale),
                      compare("KernelSHAP population (float64)", kernelshap_table(_pattern_order(v, d), d), phi, scale))
    if d >= 3:  # d = 2: every sampled pattern is a one-word set, the sampled fit is exact
        exact = np.array([float(p) for p in phi])
        evaluate = evaluator(model, doc, length, case.semantics)
        rms = [float(np.sqrt(np.mean([np.sum((kernelshap_sampled(evaluate, d, n, s) - exact) ** 2)
                                      for s in range(KERNEL_SEEDS)]))) for n in KERNEL_SAMPLES]
        ratio = rms[1] / rms[0] if rms[0] > ROUNDING * scale else 0.0  # nearly additive game: exact already
        outcome = combine(outcome, Outcome(holds=ratio <= KERNEL_RATE, error=ratio, tolerance=KERNEL_RATE,
                                           detail=f"sampled KernelSHAP RMS error {rms[0]:.3e} (n = {KERNEL_SAMPLES[0]}) → "
                                                  f"{rms[1]:.3e} (n = {KERNEL_SAMPLES[1]}), ratio {ratio:.3f}"))
        outcome.measures["sampled KernelSHAP error ratio (16× samples)"] = ratio
    return outcome


@claim("occlusion.closed_form", section="§6", source="ours", kind="identity",
       statement="o_j = v([d]) − v([d] \\ {j}) from the sufficient statistics (substitutions: each leave-one-out "
                 "document's numerator and denominator per head, own max-shift) and from the fast evaluator (delete)",
       reference="mpmath forward on the document and on each leave-one-out document",
       strategy=removal_cases, trained=TRAINED)
def check_occlusion(case):
    return _versus_reference(case, "o", occlusion, ref_shap.occlusion)


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


IG_RTOL = 1e-9  # the float64 quadrature stops at a completeness gap of 1e-10 × scale


@claim("ig.completeness", section="§6", source="paper", kind="identity",
       statement="Σ_t Σ_k IG_{t,k} = f(e) − f(e') (Sundararajan et al. 2017) for the baselines replace, mask:ID and "
                 "zero, and every IG_{t,k} equals the mpmath quadrature of the brute-force gradient",
       reference="mpmath forward at e and e'; Gauss–Legendre (24 nodes, doubled up to 384 until the estimate is "
                 "below the tolerance; mpmath) of central differences of the mpmath forward at 60 digits, its error "
                 "estimated against the rule with half the nodes",
       strategy=integrated_cases, budget=0.2, trained="the mpmath quadrature of the brute-force gradient needs tiny models")
def check_ig(case):
    model, doc, length = case.case.model, case.case.doc, len(case.case.tokens)
    result = integrated_gradients(model, doc, length, case.semantics)
    scale = magnitude(model, doc, case.semantics)
    want, error, f_diff = ref_int.integrated_gradients(model, doc, length, case.semantics,
                                                       target=IG_RTOL / 100 * float(scale))
    outcome = combine(compare("Σ IG vs f(e) − f(e')", result.attributions.sum(), f_diff, scale, rtol=IG_RTOL),
                      compare("IG_{t,k} vs mpmath quadrature", result.attributions[1: length + 1], want, scale,
                              rtol=IG_RTOL),
                      check_mp("reference quadrature error estimate (against half the nodes)", error, scale,
                               tol=IG_RTOL / 100))
    outcome.measures["Gauss–Legendre nodes (float64)"] = float(result.nodes)
    return outcome


NOISE_PAIRS = 4096
Z_MAX = 5.0  # |estimate − population| / √(SE² + quadrature gap²)
STEIN_TOL = 1e-3  # Gauss–Hermite (5 nodes) error allowed between the two populations, relative to their size


@claim("clime.equals_smoothgrad", section="§6", source="paper", kind="identity",
       statement="population C-LIME = SmoothGrad for every σ > 0 (Agarwal et al. 2021, Stein's lemma); the seeded "
                 f"antithetic Monte Carlo estimators of both agree with the population within {Z_MAX:g} standard errors",
       reference="tensor Gauss–Hermite quadrature (5 nodes per noise coordinate, T·d_e = 4 coordinates, mpmath) of the "
                 "brute-force gradient and of ε·f/σ²; Stein's identity checked between the two quadratures to 1e-3 of "
                 "their size (their gap is the Gauss–Hermite error, worst seen 9e-5); Monte Carlo z-scores with "
                 "that gap added to the standard error",
       strategy=noise_cases, budget=0.1, trained="the Gauss–Hermite populations need T·d_e ≤ 4")
def check_clime(case):
    model, doc = case.case.model, case.case.doc
    sg_pop, cl_pop = ref_int.noise_populations(model, doc, case.sigma, nodes=5)
    size = max(abs(float(x)) for row in sg_pop for x in row)
    with mpmath.workdps(30):
        stein = max(abs(a - b) for ra, rb in zip(sg_pop, cl_pop) for a, b in zip(ra, rb))
    pop = np.array([[float(x) for x in row] for row in sg_pop])
    # the two quadratures differ only by their Gauss–Hermite errors: their gap is the population's uncertainty
    quadrature = np.array([[abs(float(a - b)) for a, b in zip(ra, rb)] for ra, rb in zip(sg_pop, cl_pop)])
    checks = [check_mp("Stein: GH SmoothGrad − GH C-LIME", stein, size + 1e-300, tol=STEIN_TOL)]
    z = {}
    for name, estimate in (("SmoothGrad", smoothgrad(model, doc, case.sigma, NOISE_PAIRS, case.seed)),
                           ("C-LIME", clime(model, doc, case.sigma, NOISE_PAIRS, case.seed))):
        spread = np.sqrt(estimate.stderr ** 2 + quadrature ** 2)
        score = np.abs(estimate.mean - pop) / np.maximum(spread, 1e-12 * size + 1e-300)
        z[name] = float(score.max())
        checks.append(Outcome(holds=z[name] <= Z_MAX, error=z[name], tolerance=Z_MAX,
                              detail=f"{name} Monte Carlo ({NOISE_PAIRS} antithetic pairs, seed {case.seed}): max |z| "
                                     f"{z[name]:.2f} against the Gauss–Hermite population"))
    outcome = combine(*checks)
    outcome.measures.update({f"max |z| {k}": v for k, v in z.items()})
    return outcome


# --- zero attention: does a word pushed out of every head's attention get a zero score? ------------------------

LAMBDAS = (0.0, 50.0, 1000.0)
VANISHED = 1e-300
KEPT_SHARE = 0.05


def _vanishing_rows(vanishing, score):
    """Per λ: (λ, max attention at the word's positions, the word's score, max |score| over the words)."""
    doc, length = vanishing.case.doc, len(vanishing.case.tokens)
    word = distinct_words(doc, length)[vanishing.target]
    positions = np.flatnonzero(doc[1: length + 1] == word) + 1
    rows = []
    for lam in LAMBDAS:
        model = vanishing.model(lam)
        alpha = float(forward(model, doc).alpha[0][:, positions].max())
        scores, extra = score(model, doc, length, positions)
        rows.append((lam, alpha, float(scores[vanishing.target]), float(np.abs(scores).max()), extra))
    return rows


def _witness(name, vanishing, score, significant=None) -> Outcome:
    rows = _vanishing_rows(vanishing, score)
    share = min(abs(r[2]) / r[3] if r[3] > 0 else 0.0 for r in rows if r[0] >= 50)
    last = rows[-1]
    holds = last[1] <= VANISHED and share >= KEPT_SHARE and (significant is None or significant(last[4]))
    table_ = "\n".join(f"  λ = {lam:6g}: max_i α = {a:.3e}  score_w = {s:+.5g}  max_k |score_k| = {m:.5g}  {extra or ''}"
                       for lam, a, s, m, extra in rows)
    return Outcome(holds=holds, error=share, tolerance=KEPT_SHARE,
                   detail=f"{name}: word {vanishing.target} pushed out of the attention (scores −λ in every head, value "
                          f"scores unchanged):\n{table_}\nmin over λ ≥ 50 of |score_w|/max_k|score_k| = {share:.3f}",
                   measures={f"|{name}_w| / max at λ = 1000": abs(last[2]) / last[3] if last[3] else 0.0,
                             "max attention at λ = 1000": last[1]})


def _zero_attention_claim(id, name, statement, reference, score, strategy=vanishing_cases, significant=None,
                          unpack=lambda case: case):
    @claim(id, section="§6", source="ours", kind="witness", exists=True, statement=statement, reference=reference,
           strategy=strategy, trained=CONSTRUCTION)
    def check(case):
        return _witness(name, unpack(case), score(case), significant)
    return check


_zero_attention_claim(
    "shapley.zero_attention", "φ",
    "there are models where a word's attention tends to 0 in every head while its exact Shapley value (replace) stays "
    "bounded away from 0: the UNK that replaces it is attended to, so v(S ∪ {j}) − v(S) does not vanish",
    "exact Shapley values (enumeration, replace) at λ = 0, 50, 1000; witness when at λ = 1000 every head's attention to "
    "the word is ≤ 1e-300 and |φ_w| ≥ 5% of max_k |φ_k| at λ = 50 and 1000",
    lambda case: lambda model, doc, length, positions: (shapley_exact(model, doc, length, "replace"), None))
_zero_attention_claim(
    "occlusion.zero_attention", "o",
    "there are models where a word's attention tends to 0 in every head while its occlusion score (replace) stays "
    "bounded away from 0 (o_w → the effect of inserting UNK's attention at its positions)",
    "closed-form occlusion (replace) at λ = 0, 50, 1000; witness rule as shapley.zero_attention",
    lambda case: lambda model, doc, length, positions: (occlusion(model, doc, length, "replace"), None))


def _ig_score(case):
    def score(model, doc, length, positions):
        result = integrated_gradients(model, doc, length, "replace")
        d = distinct_words(doc, length)
        per_word = np.array([result.scores[1: length + 1][doc[1: length + 1] == w].sum() for w in d])
        return per_word, f"(IG nodes {result.nodes}, completeness gap {result.gap:.1e})"
    return score


_zero_attention_claim(
    "ig.zero_attention", "IG",
    "there are models where a word's attention tends to 0 in every head while its Integrated-Gradients score (baseline "
    "replace, summed over the word's positions) stays bounded away from 0: along the path from UNK the word's score "
    "sweeps the whole range where the attention moves, so ∫ α_t λ da stays of order 1",
    "IG (Gauss–Legendre to completeness gap 1e-10) at λ = 0, 50, 1000; witness rule as shapley.zero_attention",
    _ig_score)

SG_PAIRS = 512


def _sg_score(case):
    def score(model, doc, length, positions):
        result = smoothgrad(model, doc, case.sigma, SG_PAIRS, case.seed)
        d = distinct_words(doc, length)
        pick = [doc[1: length + 1] == w for w in d]
        scores = np.array([result.scores[1: length + 1][p].sum() for p in pick])
        se = np.array([np.sqrt((result.scores_stderr[1: length + 1][p] ** 2).sum()) for p in pick])
        target = case.vanishing.target
        return scores, {"z": float(abs(scores[target]) / se[target]) if se[target] > 0 else np.inf}
    return score


_zero_attention_claim(
    "smoothgrad.zero_attention", "SG",
    "there are models where a word's attention tends to 0 in every head while its SmoothGrad score (Σ_k of the "
    "expected gradient, noise σ on every embedding, CLS included) stays bounded away from 0: the noise on the CLS "
    "embedding moves the query, and with positive probability the word's score −λ(1 − ⟨W_kᵀW_q ε_0, v⟩/√d_att) "
    "becomes +∞·λ, so the word takes the attention (with noise on the words only, the score would vanish)",
    f"SmoothGrad by {SG_PAIRS} antithetic pairs (seeded) at λ = 0, 50, 1000; witness rule as shapley.zero_attention, and "
    "the word's score at λ = 1000 at least 5 standard errors from 0",
    _sg_score, strategy=vanishing_noise_cases, significant=lambda extra: extra["z"] >= 5.0,
    unpack=lambda case: case.vanishing)
