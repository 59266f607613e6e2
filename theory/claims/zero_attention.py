"""The family ``*.zero_attention``: does a word pushed out of every head's attention get a zero score?  The
gradient's answer is yes (``gradient.attention_bound``), LIME's is no (``lime.zero_attention_not_zero``); one row
per explainer of §6 — Shapley, occlusion, Integrated Gradients, SmoothGrad — each a witness search on the same
construction (the word's scores sent to −λ in every head, its value scores unchanged) with the same rule
(docs/theory.md §11.2)."""

from __future__ import annotations

import numpy as np

from theory.checking.compare import Outcome
from theory.checking.strategies.explainers import (
    vanishing_noise_cases,
)
from theory.checking.strategies.lime import vanishing_cases
from theory.claims import Row, family
from theory.explainers.ig import integrated_gradients
from theory.explainers.occlusion import occlusion
from theory.explainers.shapley import shapley_exact
from theory.explainers.smoothgrad import smoothgrad
from theory.models.one_layer import forward
from theory.models.perturb import distinct_words

CONSTRUCTION = "the instance is a construction (a word pushed out of every head's attention)"
LAMBDAS = (0.0, 50.0, 1000.0)
VANISHED = 1e-300
KEPT_SHARE = 0.05


def _vanishing_rows(vanishing, score):
    """Per λ: (λ, max attention at the word's positions, the word's score, max |score| over the words)."""
    doc, length = vanishing.case.doc, len(vanishing.case.tokens)
    word = distinct_words(doc, length)[vanishing.target]
    positions = np.flatnonzero(doc[1 : length + 1] == word) + 1
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
    table_ = "\n".join(
        f"  λ = {lam:6g}: max_i α = {a:.3e}  score_w = {s:+.5g}  max_k |score_k| = {m:.5g}  {extra or ''}"
        for lam, a, s, m, extra in rows
    )
    return Outcome(
        holds=holds,
        error=share,
        tolerance=KEPT_SHARE,
        detail=f"{name}: word {vanishing.target} pushed out of the attention (scores −λ in every head, "
        f"value scores unchanged):\n{table_}\nmin over λ ≥ 50 of |score_w|/max_k|score_k| = "
        f"{share:.3f}",
        measures={
            f"|{name}_w| / max at λ = 1000": abs(last[2]) / last[3] if last[3] else 0.0,
            "max attention at λ = 1000": last[1],
        },
    )


def _witness_check(name: str, score, significant=None, unpack=lambda case: case):
    """The check of one row: the witness rule of :func:`_witness` on the explainer's ``score(case)``."""

    def check(case):
        return _witness(name, unpack(case), score(case), significant)

    return check


def _ig_score(case):
    def score(model, doc, length, positions):
        result = integrated_gradients(model, doc, length, baseline="replace")
        d = distinct_words(doc, length)
        per_word = np.array([result.scores[1 : length + 1][doc[1 : length + 1] == w].sum() for w in d])
        return per_word, f"(IG nodes {result.nodes}, completeness gap {result.gap:.1e})"

    return score


SG_PAIRS = 512


def _sg_score(case):
    def score(model, doc, length, positions):
        result = smoothgrad(model, doc, sigma=case.sigma, samples=SG_PAIRS, seed=case.seed)
        d = distinct_words(doc, length)
        pick = [doc[1 : length + 1] == w for w in d]
        scores = np.array([result.scores[1 : length + 1][p].sum() for p in pick])
        se = np.array([np.sqrt((result.scores_stderr[1 : length + 1][p] ** 2).sum()) for p in pick])
        target = case.vanishing.target
        return scores, {"z": float(abs(scores[target]) / se[target]) if se[target] > 0 else np.inf}

    return score


family(
    [
        Row(
            "shapley.zero_attention",
            statement="there are models where a word's attention tends to 0 in every head while its exact "
            "Shapley value "
            "(replace) stays bounded away from 0: the UNK that replaces it is attended to, so v(S ∪ {j}) − v(S) "
            "does not vanish",
            reference="exact Shapley values (enumeration, replace) at λ = 0, 50, 1000; witness when at λ = 1000 every "
            "head's attention to the word is ≤ 1e-300 and |φ_w| ≥ 5% of max_k |φ_k| at λ = 50 and 1000",
            strategy=vanishing_cases,
            check=_witness_check(
                "φ",
                lambda case: (
                    lambda model, doc, length, positions: (shapley_exact(model, doc, length, semantics="replace"), None)
                ),
            ),
        ),
        Row(
            "occlusion.zero_attention",
            statement="there are models where a word's attention tends to 0 in every head while its occlusion score "
            "(replace) stays bounded away from 0 (o_w → the effect of inserting UNK's attention at its "
            "positions)",
            reference="closed-form occlusion (replace) at λ = 0, 50, 1000; witness rule as shapley.zero_attention",
            strategy=vanishing_cases,
            check=_witness_check(
                "o",
                lambda case: (
                    lambda model, doc, length, positions: (occlusion(model, doc, length, semantics="replace"), None)
                ),
            ),
        ),
        Row(
            "ig.zero_attention",
            statement="there are models where a word's attention tends to 0 in every head while its "
            "Integrated-Gradients "
            "score (baseline replace, summed over the word's positions) stays bounded away from 0: along the "
            "path from UNK the word's score sweeps the whole range where the attention moves, so ∫ α_t λ da "
            "stays of order 1",
            reference="IG (Gauss–Legendre to completeness gap 1e-10) at λ = 0, 50, 1000; witness rule as "
            "shapley.zero_attention",
            strategy=vanishing_cases,
            check=_witness_check("IG", _ig_score),
        ),
        Row(
            "smoothgrad.zero_attention",
            statement="there are models where a word's attention tends to 0 in every head while its SmoothGrad "
            "score (Σ_k "
            "of the expected gradient, noise σ on every embedding, CLS included) stays bounded away from 0: the "
            "noise on the CLS embedding moves the query, and with positive probability the word's score "
            "−λ(1 − ⟨W_kᵀW_q ε_0, v⟩/√d_att) becomes +∞·λ, so the word takes the attention (with noise on the "
            "words only, the score would vanish)",
            reference=f"SmoothGrad by {SG_PAIRS} antithetic pairs (seeded) at λ = 0, 50, 1000; witness rule as "
            "shapley.zero_attention, and the word's score at λ = 1000 at least 5 standard errors from 0",
            strategy=vanishing_noise_cases,
            check=_witness_check(
                "SG", _sg_score, significant=lambda extra: extra["z"] >= 5.0, unpack=lambda case: case.vanishing
            ),
        ),
    ],
    section="§6",
    source="ours",
    kind="witness",
    exists=True,
    trained=CONSTRUCTION,
)
