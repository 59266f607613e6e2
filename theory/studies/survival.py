"""The table "which conclusions survive depth" (docs/theory.md §11.1): every §2–§5 claim of the registry × ``L = 1..4``.

Each row names the *depth analog* that is checked — the same statement with the last layer's CLS attention in the
role of α, the backpropagated gradient in the role of ∇ and the encoder's ``f`` inside LIME — or why there is none
(n/a: the claim is about the §2 structure, or is model-free: it holds for any ``f`` and is checked by the claim
itself, independently of the model).  A cell is "holds" only if that analog was checked at that depth, on the
listed number of random encoders (seeded draws of every switch: residual, post/pre/no norm, feed-forward ReLU/GELU,
biases, positional encoding); "fails" shows the first failing instance (a draw, not shrunk; the shrunk witness of
the main falsification is ``encoder.attention_bound``); witness rows say whether a witness was found.

Which reference each analog uses is in its row: mpmath (``reference.models.encoder`` and its central
differences) for ``model.forward``, ``model.simplex`` and the gradient rows; float64 elsewhere (exact sign
symmetries are checked bitwise; LIME against the real lime package).
"""

from __future__ import annotations

import zlib
from collections.abc import Callable
from dataclasses import dataclass
from itertools import product

import mpmath
import numpy as np

import reference.explainers.encoder_gradient as ref_enc_grad
import reference.models.encoder as ref_enc
import reference.models.one_layer as ref
from theory import optional
from theory.checking.compare import Outcome, check_mp, combine, compare
from theory.checking.strategies.encoder import SCORE_SCALES, EncoderCase, EncoderSpec
from theory.claims import all_claims
from theory.claims.encoder import ZeroAttentionCase, check_forward, f_scale
from theory.explainers import lime_inf
from theory.explainers.attention import alpha_avg, alpha_max
from theory.explainers.encoder_eq19 import eq19_last_layer, value_scores
from theory.explainers.gradient import g_l2
from theory.explainers.lime import lime
from theory.markdown import table
from theory.models.encoder import forward
from theory.models.encoder_gradient import gradient, rounding_scale
from theory.models.perturb import distinct_words, f_perturbed
from theory.studies import ExtraResult, extra

DEPTHS = (1, 2, 3, 4)
INSTANCES = {"ci": 3, "thorough": 20}
MODEL_FREE = "model-free: a statement about LIME's law / least squares for any f, checked by the claim itself"
LIME_SAMPLES = 300


def _random_case(rng: np.random.Generator, L: int, pe=None, T=None) -> EncoderCase:
    """A seeded random encoder of depth ``L`` (every switch drawn) and a text with ≥ 2 distinct words."""
    K = int(rng.integers(1, 3))
    T = int(rng.integers(4, 6)) if T is None else T
    spec = EncoderSpec(
        L=L,
        K=K,
        d=int(rng.integers(2, 5)),
        d_att=int(rng.integers(1, 3)),
        d_out=int(rng.integers(1, 3)),
        d_ff=int(rng.integers(0, 4)),
        V=8,
        T=T,
        pe=bool(rng.integers(2)) if pe is None else pe,
        residual=bool(rng.integers(2)),
        norm=str(rng.choice(["none", "post", "pre"])),
        activation=str(rng.choice(["relu", "gelu"])),
        biases=bool(rng.integers(2)),
        score_scale=float(rng.choice(SCORE_SCALES)),
        seed=int(rng.integers(2**32)),
    )
    length = int(rng.integers(2, T))
    pool = rng.choice(np.arange(2, 8), 2 + int(rng.integers(0, 2)), replace=False)
    tokens = rng.choice(pool, length)
    tokens[:2] = pool[:2]
    return EncoderCase(spec, tuple(int(t) for t in tokens))


def _zero_attention_case(rng: np.random.Generator, L: int, T: int = 2) -> ZeroAttentionCase:
    spec = EncoderSpec(
        L=L,
        K=int(rng.integers(1, 3)),
        d=int(rng.integers(2, 4)),
        d_ff=int(rng.integers(0, 3)),
        V=4,
        T=T,
        residual=True,
        activation=str(rng.choice(["relu", "gelu"])),
        biases=bool(rng.integers(2)),
        seed=int(rng.integers(2**32)),
    )
    return ZeroAttentionCase(spec, (2, 3)[: T - 1])


# --- the depth analogs ----------------------------------------------------------------------------------------


def _simplex(case) -> Outcome:
    """mpmath: every attention row of every layer is positive and sums to 1."""
    mp_fw = ref_enc.forward(case.model, case.doc)
    rows = [row for layer in mp_fw.attention for head in layer for row in head]
    with mpmath.workdps(ref.DPS):
        gap = max(abs(mpmath.fsum(row) - 1) for row in rows)
        smallest = min(min(row) for row in rows)
    return combine(check_mp("|Σ_u a_{t,u} − 1|", gap), check_mp("min a ≤ 0", 0 if smallest > 0 else 1))


def _head_mean_structure(case) -> Outcome:
    """float64: ``f = (1/K) Σ_i Σ_u a^(i,L)_{0,u} c^(i)_u + wᵀb_o + b`` (the §2 structure behind the convex bound)."""
    model, fw = case.model, forward(case.model, case.doc)
    heads = (fw.alpha * value_scores(model, fw)).sum(axis=-1).mean(axis=-1)
    structure = heads + model.w @ model.bo[-1] + model.b
    return compare("f − (head mean of convex combinations)", fw.f - structure, [0.0], f_scale(model, fw))


def _delete_equals_replace(case) -> Outcome:
    """float64: without positional encoding, delete and replace give the same f on every pattern."""
    model, doc, length = case.model, case.doc, len(case.tokens)
    Z = lime_inf.patterns(distinct_words(doc, length).size)
    a, b = f_perturbed(model, doc, length, Z, "delete"), f_perturbed(model, doc, length, Z, "replace")
    return compare(
        "f(delete) − f(replace)", a - b, np.zeros(len(Z)).tolist(), f_scale(model, forward(model, doc)).max()
    )


def _aggregates(case) -> Outcome:
    """float64: last-layer α-avg is a probability vector, α-max ≥ α-avg, 1 ≤ Σ α-max ≤ K."""
    alpha = forward(case.model, case.doc).alpha[0]
    avg, amax = alpha_avg(alpha), alpha_max(alpha)
    return combine(
        compare("Σ α-avg − 1", avg.sum() - 1, 0, 1.0),
        compare("(α-avg − α-max)₊", np.maximum(avg - amax, 0).max(), 0, 1.0),
        compare("Σ α-max outside [1, K]", max(1 - amax.sum(), amax.sum() - case.model.K, 0), 0, 1.0),
    )


def _blind(case) -> Outcome:
    """float64, bitwise: negating (w, b) keeps every attention and exactly negates f, ∇, LIME and β^∞."""
    model, doc, length = case.model, case.doc, len(case.tokens)
    negated = model.replace(w=-model.w, b=-model.b)
    g, g_neg = gradient(model, doc), gradient(negated, doc)
    same = [
        np.array_equal(g.forward.attention, g_neg.forward.attention),
        np.array_equal(g.forward.f, -g_neg.forward.f),
        np.array_equal(g.grad, -g_neg.grad),
    ]
    for sem in ("delete", "replace"):
        a, b = (
            lime(model, doc, length, semantics=sem, samples=100, seed=0),
            lime(negated, doc, length, semantics=sem, samples=100, seed=0),
        )
        same += [
            np.array_equal(a.coef, -b.coef),
            a.intercept == -b.intercept,
            np.array_equal(
                lime_inf.beta_inf_exact(model, doc, length, semantics=sem),
                -lime_inf.beta_inf_exact(negated, doc, length, semantics=sem),
            ),
        ]
    return Outcome(
        holds=all(same),
        error=float(len(same) - sum(same)),
        tolerance=0.0,
        detail=f"{sum(same)}/{len(same)} quantities exactly symmetric",
    )


def _gradient_entry(t: int) -> Callable:
    def check(case) -> Outcome:
        """mpmath central differences at position ``t``, the float64 gradient's largest coordinate."""
        model, doc = case.model, case.doc
        grad = gradient(model, doc).grad[0, t]
        j = int(np.abs(grad).argmax())
        want = ref_enc_grad.gradient(model, doc, positions=[t], coordinates=[j])[0][0]
        return compare(f"∇_({t},{j})", grad[j], want, float(rounding_scale(model, forward(model, doc))[0]) or 1.0)

    return check


def _zero_attention_gradient(case) -> Outcome:
    """float64 on the construction: ∇_1 vanishes with the last layer's CLS attention (‖∇_1‖ ≤ 10⁶·max_i a)."""
    g = gradient(case.model, case.doc)
    attention = float(g.forward.alpha[0, :, 1].max())
    norm = float(np.linalg.norm(g.grad[0, 1]))
    return Outcome(
        holds=norm <= 1e6 * attention,
        error=norm / attention,
        tolerance=1e6,
        detail=f"max_i a^(i,L)_(0,1) = {attention:.3g}, ‖∇_1‖ = {norm:.3g}",
    )


def _top_tokens_differ(case) -> Outcome:
    """Witness search: the last-layer α-avg and G-l2 rankings of the word positions have different top tokens."""
    g = gradient(case.model, case.doc)
    words = slice(1, len(case.tokens) + 1)
    a, b = alpha_avg(g.forward.alpha[0])[words], g_l2(g.grad[0])[words]
    return Outcome(
        holds=bool(np.argmax(a) != np.argmax(b)),
        error=0.0,
        tolerance=0.0,
        detail=f"top α-avg position {1 + np.argmax(a)}, top G-l2 position {1 + np.argmax(b)}",
    )


def _matches_lime(case) -> Outcome:
    """The real lime 0.2.0.1 package on the encoder's f (delete) against the generic-path LIME."""
    from reference.oracles.lime_package import run_lime_package

    model, doc, length = case.model, case.doc, len(case.tokens)
    coef, intercept, _ = run_lime_package(
        model.output, doc, length, LIME_SAMPLES, 0, "delete", model.cls_id, model.unk_id, model.T
    )
    fit = lime(model, doc, length, semantics="delete", samples=LIME_SAMPLES, seed=0)
    scale = float(np.abs(fit.f).max()) or 1.0
    return combine(
        compare("LIME coefficients vs lime", fit.coef, coef.tolist(), scale, rtol=1e-10),
        compare("LIME intercept vs lime", fit.intercept, intercept, scale, rtol=1e-10),
    )


def _linear_in_readout(case) -> Outcome:
    """float64: LIME and β^∞ of the readout (w₁ + w₂, b₁ + b₂) are the sums (same samples)."""
    model, doc, length = case.model, case.doc, len(case.tokens)
    other = model.replace(w=np.roll(model.w, 1) + 0.5, b=model.b - 1.0)
    both = model.replace(w=model.w + other.w, b=model.b + other.b)
    scale = float(f_scale(model, forward(model, doc))[0] + f_scale(other, forward(other, doc))[0])
    out = []
    for sem in ("delete", "replace"):
        parts = [lime(m, doc, length, semantics=sem, samples=200, seed=1).coef for m in (model, other, both)]
        betas = [lime_inf.beta_inf_exact(m, doc, length, semantics=sem) for m in (model, other, both)]
        out += [
            compare(f"LIME(sum) − ΣLIME ({sem})", parts[2] - parts[0] - parts[1], [0.0] * len(parts[0]), 10 * scale),
            compare(f"β^∞(sum) − Σβ^∞ ({sem})", betas[2] - betas[0] - betas[1], [0.0] * len(betas[0]), 10 * scale),
        ]
    return combine(*out)


def _beta_closed_form(case) -> Outcome:
    """float64: the closed form of β^∞ on the encoder's f equals weighted least squares over the enumeration."""
    model, doc, length = case.model, case.doc, len(case.tokens)
    d = distinct_words(doc, length).size
    Z = lime_inf.patterns(d)
    values = f_perturbed(model, doc, length, Z, "replace")
    weight = lime_inf.law(d) * lime_inf.psi((d - Z.sum(axis=1)) / d)
    X = np.column_stack([np.ones(len(Z)), Z]) * np.sqrt(weight)[:, None]
    direct = np.linalg.lstsq(X, values * np.sqrt(weight), rcond=None)[0]
    closed = lime_inf.beta_inf_table(values, d)
    return compare(
        "closed form − least squares", closed - direct, [0.0] * (d + 1), float(np.abs(values).max()) * 1e3 or 1.0
    )


def _eq19_error(case) -> Outcome:
    model, doc, length = case.model, case.doc, len(case.tokens)
    beta = lime_inf.beta_inf_exact(model, doc, length, semantics="replace")[1:]
    error = float(np.linalg.norm(eq19_last_layer(model, doc, length) - beta) / max(float(np.linalg.norm(beta)), 1e-300))
    return Outcome(holds=True, error=error, tolerance=np.inf, detail=f"relative error {error:.3g}")


def _zero_attention_lime(case) -> Outcome:
    """Witness search on the construction (T = 3, two words): the word at position 1 gets ~zero last-layer attention
    but a LIME coefficient (β^∞, replace) bounded away from 0 (≥ 1e-3 of the largest)."""
    model, doc = case.model, case.doc
    attention = float(forward(model, doc).alpha[0, :, 1].max())
    beta = lime_inf.beta_inf_exact(model, doc, 2, semantics="replace")[1:]
    found = attention < 1e-20 and abs(beta[0]) >= 1e-3 * np.abs(beta).max() > 0
    return Outcome(
        holds=bool(found),
        error=0.0,
        tolerance=0.0,
        detail=f"max_i a^(i,L)_(0,1) = {attention:.3g}, β^∞ = {np.array2string(beta, precision=3)}",
    )


@dataclass(frozen=True)
class Row:
    analog: str
    check: Callable | None = None  # None: n/a
    reason: str = ""
    kind: str = "holds"  # holds (every instance) / witness (one instance) / measured
    draw: Callable = _random_case
    share: float = 1.0  # share of the profile's instances (expensive references: fewer)
    requires: tuple = ()  # optional packages of the check (theory.optional.EXTRA); skipped without them


NA_STRUCTURE = "the claim is about the §2 structure (one CLS query, scalar value scores), which depth removes"
ROWS = {
    "model.forward": Row("encoder.forward: float64 = mpmath (f, every attention, every hidden state)", check_forward),
    "model.simplex": Row("every attention row of every layer positive, summing to 1 (mpmath)", _simplex),
    "model.convex": Row(
        "f = head mean of convex combinations of last-layer value scores (+ wᵀb_o + b)", _head_mean_structure
    ),
    "attention.aggregates": Row("last-layer CLS α-avg / α-max aggregates", _aggregates),
    "attention.non_identifiable": Row(
        "—",
        reason="not checked at depth: needs δ with Σ_u δ_u v_u = 0 in the value "
        "space (T ≥ d_out + 2) and an edited attention row inside the layer",
    ),
    "attention.blind_to_values": Row("negating (w, b): attention unchanged, f negated (float64, bitwise)", _blind),
    "gradient.closed_form": Row(
        "∇_1 by backpropagation = mpmath central differences (the depth formula)", _gradient_entry(1), share=0.67
    ),
    "gradient.cls_query_path": Row(
        "∇_0 (CLS, query path included) = mpmath central differences", _gradient_entry(0), share=0.67
    ),
    "gradient.attention_bound": Row(
        "zero last-layer CLS attention ⇒ ∇_t → 0 (ZeroAttentionCase, float64)",
        _zero_attention_gradient,
        draw=lambda rng, L: _zero_attention_case(rng, L),
    ),
    "gradient.aggregates": Row("—", reason=NA_STRUCTURE + " (G×I closed form in α, c, s)"),
    "gradient.constant_values": Row("—", reason=NA_STRUCTURE + " (premise: constant value scores per head)"),
    "gradient.disagrees_with_attention": Row(
        "last-layer α-avg and G-l2 top tokens differ (witness search)", _top_tokens_differ, kind="witness"
    ),
    "gradient.disagrees_with_attention.sign": Row("—", reason="not mapped at depth (the §2 sign construction)"),
    "attention.blind_to_values.gradient": Row("negating (w, b) negates ∇ (float64, bitwise)", _blind),
    "model.sufficient_stats": Row("—", reason=NA_STRUCTURE + ": a perturbed document needs a full forward pass"),
    "model.delete_decomposition": Row("—", reason=NA_STRUCTURE + " (word + position score split)"),
    "model.delete_equals_replace_without_pe": Row(
        "no PE: delete and replace give the same f on every pattern",
        _delete_equals_replace,
        draw=lambda rng, L: _random_case(rng, L, pe=False),
    ),
    "lime.matches_lime_package": Row(
        "the lime package on the encoder's f = generic-path LIME (delete)",
        _matches_lime,
        share=0.67,
        requires=("lime", "sklearn"),
    ),
    "lime.linear_in_model": Row("LIME linear in the readout (w, b), same samples", _linear_in_readout),
    "attention.blind_to_values.lime": Row("negating (w, b) negates LIME (float64, bitwise)", _blind),
    "lime.sampling_law": Row("—", reason=MODEL_FREE),
    "lime.beta_inf_closed_form": Row("closed-form β^∞ of the encoder's f = weighted least squares", _beta_closed_form),
    "lime.exact_on_linear": Row("—", reason=MODEL_FREE),
    "lime.equal_scores_exact": Row("—", reason=NA_STRUCTURE + " (premise: UNK scored like every word)"),
    "lime.linear_in_model.beta_inf": Row("β^∞ linear in the readout (w, b)", _linear_in_readout),
    "attention.blind_to_values.beta_inf": Row("negating (w, b) negates β^∞ (float64, bitwise)", _blind),
    "lime.consistency": Row("—", reason=MODEL_FREE),
    "lime.beta_inf_monte_carlo": Row("—", reason=MODEL_FREE),
    "lime.beta_inf_monte_carlo.heavy_tails": Row("—", reason=MODEL_FREE),
    "lime.eq19": Row("Eq. (19) on the last layer vs exact β^∞ (encoder.eq19_last_layer)", _eq19_error, kind="measured"),
    "lime.large_d_limit": Row("—", reason=NA_STRUCTURE + " (N/D sufficient statistics)"),
    "lime.large_d_limit.convergence": Row("—", reason=NA_STRUCTURE + " (N/D sufficient statistics)"),
    "lime.zero_attention_not_zero": Row(
        "~zero last-layer attention, β^∞ bounded away from 0 (witness search)",
        _zero_attention_lime,
        kind="witness",
        draw=lambda rng, L: _zero_attention_case(rng, L, T=3),
    ),
    "lime.affine_in_attention": Row("—", reason=NA_STRUCTURE + " (premise: constant value scores)"),
}


def _cell(row: Row, L: int, count: int, seed: int) -> dict:
    """The verdict of one row at depth ``L`` on ``count`` seeded instances."""
    if row.check is None:
        return {"verdict": "n/a", "reason": row.reason}
    if missing := optional.missing(*row.requires):
        return {"verdict": "skipped", "missing": missing, "reason": optional.needs(missing)}
    rng = np.random.default_rng([seed, L, zlib.crc32(row.analog.encode())])  # str hash() is salted per process
    cases = [row.draw(rng, L) for _ in range(max(1, round(count * row.share)))]
    outcomes = []
    for case in cases:
        outcome = row.check(case)
        outcomes.append(outcome)
        if row.kind == "holds" and not outcome.holds:
            return {
                "verdict": "fails",
                "instances": len(outcomes),
                "counterexample": repr(case),
                "detail": outcome.detail.splitlines()[0],
            }
        if row.kind == "witness" and outcome.holds:
            return {"verdict": "witness found", "instances": len(outcomes), "witness": repr(case)}
    if row.kind == "witness":
        return {"verdict": "no witness", "instances": len(outcomes)}
    if row.kind == "measured":
        errors = [o.error for o in outcomes]
        return {
            "verdict": "measured",
            "instances": len(outcomes),
            "median": float(np.median(errors)),
            "max": float(np.max(errors)),
        }
    return {
        "verdict": "holds",
        "instances": len(outcomes),
        "max_error": float(max(o.error / o.tolerance if o.tolerance else o.error for o in outcomes)),
    }


def _text(entry: dict) -> str:
    if entry["verdict"] == "n/a":
        return "n/a"
    if entry["verdict"] == "skipped":
        return f"skipped (install {optional.target(entry['missing'])}: {', '.join(entry['missing'])})"
    if entry["verdict"] == "measured":
        return f"measured: median rel. error {entry['median']:.2g} (n={entry['instances']})"
    if entry["verdict"] == "fails":
        return f"**fails** (counterexample {entry['counterexample_id']})"
    return f"{entry['verdict']} (n={entry['instances']})"


@extra("encoder.survival", section="depth", title="Which conclusions survive depth")
def survival_extra(profile, seed):
    count = INSTANCES.get(profile, INSTANCES["ci"])
    ids = [c.id for c in all_claims() if c.section in ("§2", "§3", "§4", "§5")]
    cells, notes, skipped = {}, [], []
    for claim_id, L in product(ids, DEPTHS):
        row = ROWS.get(claim_id, Row("—", reason="no depth analog declared"))
        entry = _cell(row, L, count, seed)
        if entry["verdict"] == "skipped" and L == DEPTHS[0]:
            skipped.append(f"the row {claim_id}: {entry['reason']}")
        if entry["verdict"] == "fails":
            entry["counterexample_id"] = len(notes) + 1
            notes.append(f"{len(notes) + 1}. `{claim_id}`, L = {L}: {entry['detail']} — `{entry['counterexample']}`")
        cells.setdefault(claim_id, {"analog": row.analog, "reason": row.reason, "cells": {}})["cells"][str(L)] = entry
    intro = (
        "Every §2–§5 claim at depth L = 1..4: the *depth analog* checked (or why none applies), and its "
        f"verdict on {count} seeded random encoders per cell (fewer where the mpmath reference is costly, "
        "as listed); every switch is drawn (residual, post/pre/no norm, feed-forward ReLU/GELU, biases, PE). "
        '"holds" means checked at that depth; "fails" lists the first failing draw (not shrunk).'
    )
    rows = []
    for claim_id, entry in cells.items():
        analog = entry["analog"] if entry["analog"] != "—" else f"n/a: {entry['reason']}"
        rows.append([f"`{claim_id}`", analog, *(_text(entry["cells"][str(L)]) for L in DEPTHS)])
    lines = [intro, "", table(["claim", "depth analog", *(f"L = {L}" for L in DEPTHS)], rows)]
    if notes:
        lines += ["", "Counterexamples:", "", *notes]
    return ExtraResult(
        markdown="\n".join(lines), data={"depths": list(DEPTHS), "instances": count, "table": cells}, skipped=skipped
    )
