"""Claims about gradient-based explanations (docs/theory.md §5, paper §4); the gradient row of the family
``attention.blind_to_values`` (``blind_to_values.py``) uses this module's reference gradient.

The reference for every claim here is ``reference.explainers.gradient``: central differences of the mpmath forward pass
at ≥ 60 digits (≥ 30 correct digits); it costs two forward passes per gradient entry, so instances are kept
small (:data:`theory.checking.strategies.models.GRADIENT_SIZES`: K ≤ 3, d_e ≤ 6, d_att, d_out ≤ 4, V ≤ 12, T ≤ 8)
and the claims run a share (``budget``) of the profile's examples.  Torch autograd, the external oracle, is checked
against the same closed forms in ``tests/test_gradient_oracle.py`` (all sizes) and in the study
:mod:`theory.studies.query_path`.
"""

from __future__ import annotations

import statistics
import weakref
from functools import lru_cache
from typing import Any

import mpmath
import numpy as np
from hypothesis.strategies import SearchStrategy

import reference.engines.arb as arb
import reference.explainers.gradient as ref_grad
import reference.models.one_layer as ref
from theory.checking.compare import check_mp, combine, compare, engines, nstr
from theory.checking.engines import reference_engine, reference_forward, reference_gradient
from theory.checking.population import GivenCase, checked_coordinates, given_cases
from theory.checking.strategies.models import (
    constant_value_cases,
    gradient_cases,
)
from theory.claims import claim
from theory.explainers.attention import alpha_avg
from theory.explainers.gradient import (
    attention_bound,
    g_avg,
    g_l1,
    g_l2,
    g_x_input,
    g_x_input_closed_form,
    magnitudes,
)
from theory.models.one_layer import (
    Model,
    embed,
    forward,
    head_vectors,
    term_magnitudes,
)
from theory.models.one_layer_gradient import gradient

MP_RTOL = 1e-25  # statements checked in mpmath on the reference gradient (≥ 30 correct digits, see there)
MARGIN = 1e-6  # a sign witness must clear zero by this share of the magnitude of its terms
RANK_MARGIN = 0.01  # a ranking witness's top entries must beat their runner-up by 1% (a clear disagreement)


TRAINED_POSITIONS = 4  # positions per trained-model document (T = 256 positions, d_e entries each)
TRAINED_COORDINATES = 32  # coordinates per position, for trained-model claims stated entry by entry


def checked_positions(case, default) -> list[int]:
    """The positions a gradient claim checks: the instance's ``positions`` when it names some, otherwise
    ``default``.  Trained-model documents have T = 256 positions of d_e = 128 coordinates (32768 reference
    entries, two forward passes each), so their instances check :data:`TRAINED_POSITIONS` positions.

    Args:
        case: a gradient instance (it may carry ``positions``).
        default: the positions to check when it does not.

    Returns:
        The positions, as a list.
    """
    return list(getattr(case, "positions", None) or default)


def trained_gradient_cases(cls: bool = False, coordinates: int = 0) -> SearchStrategy[GivenCase]:
    """Held-out documents with :data:`TRAINED_POSITIONS` Hypothesis-drawn positions (CLS among them with
    ``cls=True``, for the claims whose statement covers t = 0), and ``coordinates`` drawn coordinates when
    positive (:func:`theory.checking.population.checked_coordinates`): CLS's entries are the costly ones at the
    authors' widths — moving one moves the query, and so all T scores — so the trained-model instances of the
    claims stated entry by entry check :data:`TRAINED_COORDINATES` of them.

    Args:
        cls: include CLS (t = 0) among the drawn positions.
        coordinates: the number of drawn coordinates per position (0: every coordinate).

    Returns:
        The Hypothesis strategy of the given population's documents.
    """
    return given_cases(positions=TRAINED_POSITIONS, cls=cls, coordinates=coordinates)


# --- gradient.closed_form / gradient.cls_query_path ---------------------------------------------------------


@claim(
    "gradient.closed_form",
    section="§4",
    source="paper",
    kind="identity",
    statement="for t ≥ 1 (words and padding): ∇_t = (1/K) Σ_i α_t [W_vᵀW_ℓᵀ + (c_t − f^(i)) W_kᵀq / √d_att]",
    reference="central differences of the mpmath forward pass (reference.explainers.gradient: ≥ 60 digits, step "
    "1e-20, ≥ 30 correct digits) at every position t ≥ 1 and coordinate; oracle: torch autograd "
    "(tests/test_gradient_oracle.py)",
    strategy=gradient_cases,
    budget=1.0,
    trained=trained_gradient_cases,
)
def check_closed_form(case):
    positions = checked_positions(case, range(1, case.model.T))
    got = gradient(case.model, case.doc).grad[0, positions]
    want, radii = reference_gradient(case, positions)
    return compare("∇_t (t ≥ 1)", got, want, magnitudes(case.model, case.doc)[0, positions], radius=radii)


@claim(
    "gradient.cls_query_path",
    section="§4",
    source="ours",
    kind="identity",
    statement="for t = 0 (CLS) the gradient has the t ≥ 1 form plus the query path "
    "(1/K) Σ_i W_qᵀ W_k Σ_u α_u (c_u − f^(i)) e_u / √d_att (the authors' code omits it)",
    reference="central differences of the mpmath forward pass at t = 0 (reference.explainers.gradient)",
    strategy=gradient_cases,
    budget=1.0,
    trained=lambda: given_cases(coordinates=TRAINED_COORDINATES),
)
def check_cls_query_path(case):
    g = gradient(case.model, case.doc)
    coordinates = checked_coordinates(case)
    want, radii = reference_gradient(case, [0], coordinates=coordinates)
    outcome = compare(
        "∇_0",
        g.grad[0, :1][:, coordinates],
        want,
        magnitudes(case.model, case.doc)[0, :1][:, coordinates],
        radius=radii,
    )
    exact = float(np.linalg.norm(g.grad[0, 0]))
    if exact > 0:
        outcome.measures["‖query path‖ / ‖∇_0‖"] = float(np.linalg.norm(g.query_path[0])) / exact
    return outcome


# --- gradient.attention_bound --------------------------------------------------------------------------------

# model -> {first token: [(‖W_vᵀW_ℓᵀ‖_2, ‖W_kᵀq‖_2) per head]}
_HEAD_NORMS: weakref.WeakKeyDictionary[Any, dict[int, list]] = weakref.WeakKeyDictionary()


def _head_norms(model, first: int, q) -> list:
    """Per head ``‖W_vᵀW_ℓᵀ‖_2`` and ``‖W_kᵀq‖_2`` in mpmath (weights converted exactly, ``q`` the reference
    query).  ``q = W_q e_0`` depends on the model and the first token only, so a model's documents share them:
    computed once per model and first token."""
    per_model = _HEAD_NORMS.setdefault(model, {})
    if first not in per_model:
        with mpmath.workdps(ref.DPS):
            norms = []
            for i in range(model.K):
                Wv, wl, Wk = ref.to_mp(model.Wv[i]), ref.to_mp(model.Wl[i]), ref.to_mp(model.Wk[i])
                wc = [mpmath.fsum(wl[o] * Wv[o][d] for o in range(len(wl))) for d in range(model.d_e)]
                u = [mpmath.fsum(Wk[a][d] * q[i][a] for a in range(model.d_att)) for d in range(model.d_e)]
                norms.append((mpmath.norm(wc), mpmath.norm(u)))
        per_model[first] = norms
    return per_model[first]


def _mp_bound(case):
    """``(1/K) Σ_i α_t [‖W_vᵀW_ℓᵀ‖ + |c_t − f^(i)| ‖W_kᵀ q‖ / √d_att]`` for every t, in mpmath (reference
    forward pass and score factor, weights converted exactly)."""
    model, fw = case.model, reference_forward(case)
    norms = _head_norms(model, int(case.doc[0]), fw.q)
    with mpmath.workdps(ref.DPS):
        K, factor = model.K, ref.score_factor(model)
        bound = [mpmath.mpf(0)] * model.T
        for i, (wc_norm, u_norm) in enumerate(norms):
            bound = [
                b + fw.alpha[i][t] * (wc_norm + abs(fw.c[i][t] - fw.f_heads[i]) * u_norm * factor) / K
                for t, b in enumerate(bound)
            ]
        return bound


@lru_cache(maxsize=2)  # a given population's documents share their model
def _doubled_with_negated_heads(model: Model) -> Model:
    """Every head twice, the copy with ``−W_ℓ``: the same attention in every head, and ``f ≡ 0``."""
    return model.replace(
        Wq=np.concatenate([model.Wq, model.Wq]),
        Wk=np.concatenate([model.Wk, model.Wk]),
        Wv=np.concatenate([model.Wv, model.Wv]),
        Wl=np.concatenate([model.Wl, -model.Wl]),
    )


@claim(
    "gradient.attention_bound",
    section="§4",
    source="consequence",
    kind="bound",
    statement="for t ≥ 1: ‖∇_t‖_2 ≤ (1/K) Σ_i α_t [‖W_vᵀW_ℓᵀ‖_2 + |c_t − f^(i)| ‖W_kᵀq‖_2 / √d_att]; hence zero "
    "attention in every head ⇒ zero gradient, while the converse fails (shown on every instance: "
    "doubling each head with −W_ℓ keeps every α_t > 0 and makes every ∇_t = 0)",
    reference="‖∇_t‖ of the reference gradient against the bound computed in mpmath; the float64 bound and "
    "the float64 ‖∇_t‖ against it; converse: reference gradient of the doubled model",
    strategy=gradient_cases,
    budget=1.0,
    trained=trained_gradient_cases,
)
def check_attention_bound(case):
    model, doc = case.model, case.doc
    positions = checked_positions(case, range(1, model.T))
    mp_grad, _ = reference_gradient(case, positions)
    full_bound = _mp_bound(case)
    mp_bound = [full_bound[t] for t in positions]
    fw = forward(model, doc)
    bound = attention_bound(model, fw)[0, positions]
    norm = g_l2(gradient(model, doc).grad[0, positions])
    mag = np.linalg.norm(magnitudes(model, doc)[0, positions], axis=-1)
    with mpmath.workdps(ref.DPS):
        ratios = [mpmath.norm(g) / b for g, b in zip(mp_grad, mp_bound) if b > 0]
        violation = (
            max(max(mpmath.norm(g) - b, 0) / b for g, b in zip(mp_grad, mp_bound) if b > 0) if ratios else mpmath.mpf(0)
        )
    # converse: positive attention everywhere, zero gradient (checked at position 1 in mpmath)
    doubled = _doubled_with_negated_heads(model)
    doubled_alpha = arb.forward(doubled, doc).alpha  # balls: "> 0" is certified
    zero = reference_gradient(case, [1], doubled)[0][0]
    outcome = combine(
        check_mp("(‖∇_t‖ − bound)₊ / bound (mpmath)", violation, tol=MP_RTOL),
        compare("bound (float64 vs mpmath)", bound, mp_bound, mag),
        compare("(‖∇_t‖ − bound)₊ (float64)", np.maximum(norm - bound, 0), [0] * len(positions), mag),
        check_mp(
            "converse: every α_t > 0 in the doubled model (Arb balls, certified)",
            0 if all(a > 0 for alpha in doubled_alpha for a in alpha) else 1,
        ),
        check_mp("converse: ‖∇_1‖ of the doubled model (mpmath)", mpmath.norm(zero), scale=float(mag[0]) or 1.0),
    )
    if ratios:
        outcome.measures["max_t ‖∇_t‖ / bound"] = float(max(ratios))
    outcome.engine = engines(outcome.engine, reference_engine(case))
    return outcome


# --- gradient.aggregates ------------------------------------------------------------------------------------


@claim(
    "gradient.aggregates",
    section="§4",
    source="consequence",
    kind="identity",
    statement="G-avg, G-l1, G-l2 of the closed-form gradient, and G×I_t = (1/K) Σ_i α_t [c_t + (c_t − f^(i)) s_t] "
    "for t ≥ 1 (at t = 0 plus (1/K) Σ_i Σ_u α_u (c_u − f^(i)) s_u, the query path — ours), at every "
    "position",
    reference="the same aggregates of the reference gradient (central differences), in mpmath",
    strategy=gradient_cases,
    budget=1.0,
    trained=lambda: trained_gradient_cases(cls=True),
    given_budget=0.5,
)
def check_aggregates(case):
    model, doc = case.model, case.doc
    positions = checked_positions(case, range(model.T))
    g = gradient(model, doc)
    grad, X = g.grad[0, positions], g.forward.X[0, positions]
    mp_grad, _ = reference_gradient(case, positions)
    mp_X = [ref.embeddings(model, doc, ref.DPS)[t] for t in positions]
    mag = magnitudes(model, doc)[0, positions]
    d_e = model.d_e
    with mpmath.workdps(ref.DPS):
        mp_avg = [mpmath.fsum(row) / d_e for row in mp_grad]
        mp_l1 = [mpmath.fsum(abs(x) for x in row) for row in mp_grad]
        mp_l2 = [mpmath.norm(row) for row in mp_grad]
        mp_gxi = [mpmath.fdot(row, x) for row, x in zip(mp_grad, mp_X)]
    gxi_scale = (mag * np.abs(X)).sum(axis=-1)
    outcome = combine(
        compare("G-avg", g_avg(grad), mp_avg, mag.mean(axis=-1)),
        compare("G-l1", g_l1(grad), mp_l1, mag.sum(axis=-1)),
        compare("G-l2", g_l2(grad), mp_l2, np.linalg.norm(mag, axis=-1)),
        compare("G×I = ⟨∇_t, e_t⟩", g_x_input(grad, X), mp_gxi, gxi_scale),
        compare("G×I closed form (α, c, s)", g_x_input_closed_form(g.forward)[0, positions], mp_gxi, gxi_scale),
    )
    outcome.engine = engines(outcome.engine, reference_engine(case))
    return outcome


# --- gradient.constant_values -------------------------------------------------------------------------------


@claim(
    "gradient.constant_values",
    section="§4",
    source="consequence",
    kind="identity",
    statement="if within each head c_t = c for all t, that head contributes α_t W_vᵀW_ℓᵀ to ∇_t (t = 0 included: "
    "the query path vanishes too); for K = 1, G-l2_t = α_t ‖W_vᵀW_ℓᵀ‖_2 and G-l1_t = α_t ‖W_vᵀW_ℓᵀ‖_1: "
    "gradient norms are attention times a constant",
    reference="reference gradient (central differences) and mpmath attention, on models built with constant, "
    "non-zero value scores (strategies.ConstantValueCase: W_v projected off the positional "
    "encoding's variation, E projected onto ⟨w_c, x⟩ = c)",
    strategy=constant_value_cases,
    budget=0.5,
    trained="the premise (constant value scores in every head) is a construction; a trained model's value scores vary",
)
def check_constant_values(case):
    model, doc = case.model, case.doc
    fw, mp_fw = forward(model, doc), ref.forward(model, doc)
    wc = head_vectors(model)[1]  # (K, d_e): W_vᵀW_ℓᵀ
    predicted = np.einsum("kt,kd->td", fw.alpha[0], wc) / model.K  # (1/K) Σ_i α_t w_c
    mp_grad = ref_grad.gradient(model, doc)
    mag = magnitudes(model, doc)[0]
    mag_c = term_magnitudes(model, doc).c[0]
    with mpmath.workdps(ref.DPS):
        spread = max((max(c) - min(c)) / float(m.max()) for c, m in zip(mp_fw.c, mag_c))
        constants = [statistics.fmean(float(x) for x in c) for c in mp_fw.c]
    outcomes = [
        # the premise, as constructed in float64: c_t constant up to rounding
        check_mp("premise: (max_t c_t − min_t c_t) / magnitude (mpmath)", spread, tol=1e-13),
        compare("∇_t vs (1/K) Σ_i α_t W_vᵀW_ℓᵀ", predicted, mp_grad, mag),
    ]
    if model.K == 1:
        with mpmath.workdps(ref.DPS):
            mp_l2 = [mpmath.norm(row) for row in mp_grad]
            mp_l1 = [mpmath.fsum(abs(x) for x in row) for row in mp_grad]
        alpha = fw.alpha[0, 0]
        outcomes += [
            compare("G-l2_t vs α_t ‖w_c‖_2", alpha * np.linalg.norm(wc[0]), mp_l2, np.linalg.norm(mag, axis=-1)),
            compare("G-l1_t vs α_t ‖w_c‖_1", alpha * np.abs(wc[0]).sum(), mp_l1, mag.sum(axis=-1)),
        ]
    outcome = combine(*outcomes)
    outcome.measures["min_i |c^(i)| (the constant)"] = min(abs(c) for c in constants)
    return outcome


# --- gradient.disagrees_with_attention ----------------------------------------------------------------------


def _top(values) -> tuple[int, bool]:
    """Index of the largest (non-negative) entry, and whether it beats the runner-up by :data:`RANK_MARGIN`."""
    order = sorted(range(len(values)), key=lambda k: values[k], reverse=True)
    clear = len(order) == 1 or values[order[0]] > values[order[1]] * (1 + RANK_MARGIN)
    return order[0], clear


@claim(
    "gradient.disagrees_with_attention",
    section="§4",
    source="paper",
    kind="witness",
    exists=True,
    statement="there are models and documents where the word ranked first by α-avg and the word ranked first "
    "by G-l2 are different tokens (Figure 1's message: attention and gradients disagree)",
    reference="α-avg from the mpmath forward pass, G-l2 from the reference gradient (central differences); both "
    "top positions must beat their runner-up by 1%",
    strategy=lambda: gradient_cases(min_words=2),
    budget=1.0,
    trained=lambda: given_cases(max_words=4),
)
def check_disagrees_with_attention(case):
    model, doc, L = case.model, case.doc, len(case.tokens)
    g = gradient(model, doc)  # float64 screen first: the brute force runs only on candidates
    words = slice(1, L + 1)
    top_att = int(np.argmax(alpha_avg(g.forward.alpha[0])[words]))
    top_grad = int(np.argmax(g_l2(g.grad[0])[words]))
    if doc[1 + top_att] == doc[1 + top_grad]:
        return combine(check_mp("float64 screen: same top token", 1))
    mp_fw = reference_forward(case)
    mp_grad, _ = reference_gradient(case, range(1, L + 1))
    with mpmath.workdps(ref.DPS):
        att = [mpmath.fsum(a[t] for a in mp_fw.alpha) / model.K for t in range(1, L + 1)]
        l2 = [mpmath.norm(row) for row in mp_grad]
    (ta, clear_a), (tg, clear_g) = _top(att), _top(l2)
    found = clear_a and clear_g and doc[1 + ta] != doc[1 + tg]
    outcome = check_mp("top α-avg token = top G-l2 token (mpmath; 0 when they differ clearly)", 0 if found else 1)
    outcome.detail += (
        f"\n  α-avg top: position {1 + ta} (token {doc[1 + ta]}, α-avg {nstr(att[ta], 6)}, "
        f"G-l2 {nstr(l2[ta], 6)}); G-l2 top: position {1 + tg} (token {doc[1 + tg]}, "
        f"α-avg {nstr(att[tg], 6)}, G-l2 {nstr(l2[tg], 6)})"
    )
    outcome.engine = engines(outcome.engine, reference_engine(case))
    return outcome


def _removal_effect(case, t):
    """``f(ξ) − f(ξ with ξ_t ← UNK)`` in mpmath: how much token ``t`` raises the output (exact occlusion)."""
    occluded = np.array(case.doc)
    occluded[t] = case.model.unk_id
    with mpmath.workdps(ref.DPS):
        return reference_forward(case).f - reference_forward(case, occluded).f


@claim(
    "gradient.disagrees_with_attention.sign",
    section="§4",
    source="paper",
    kind="witness",
    exists=True,
    statement="there are models and documents where G×I of the word with the highest α-avg has the opposite "
    "sign to that word's effect, the exact change f(ξ) − f(ξ with that word replaced by UNK)",
    reference="effect: two mpmath forward passes; G×I = ⟨∇_t, e_t⟩ from the reference gradient; both of "
    "magnitude above 1e-6 of their terms, the top α-avg word clear of its runner-up by 1%",
    strategy=lambda: gradient_cases(min_words=2),
    budget=1.0,
    trained=given_cases,
)
def check_sign_disagreement(case):
    model, doc, L = case.model, case.doc, len(case.tokens)
    g = gradient(model, doc)
    t = 1 + int(np.argmax(alpha_avg(g.forward.alpha[0])[1 : L + 1]))
    fw_occ = forward(model, np.where(np.arange(model.T) == t, model.unk_id, doc))
    if g_x_input_closed_form(g.forward)[0, t] * (g.forward.f[0] - fw_occ.f[0]) >= 0:
        return combine(check_mp("float64 screen: same sign", 1))
    mp_fw = reference_forward(case)
    with mpmath.workdps(ref.DPS):
        att = [mpmath.fsum(a[u] for a in mp_fw.alpha) / model.K for u in range(1, L + 1)]
    ta, clear = _top(att)
    t = 1 + ta
    effect = _removal_effect(case, t)
    row = reference_gradient(case, [t])[0][0]
    X = ref.embeddings(model, doc, ref.DPS)
    mag = magnitudes(model, doc)[0, t]
    scale_gxi = float((mag * np.abs(embed(model, np.atleast_2d(doc))[0, t])).sum())
    scale_f = float(term_magnitudes(model, doc).f[0].mean())
    with mpmath.workdps(ref.DPS):
        gxi = mpmath.fdot(row, X[t])
    found = clear and gxi * effect < 0 and abs(gxi) > MARGIN * scale_gxi and abs(effect) > MARGIN * scale_f
    outcome = check_mp(
        "G×I and the removal effect of the top-attention word agree in sign (0 when they clearly disagree)",
        0 if found else 1,
    )
    outcome.detail += (
        f"\n  top α-avg word: position {t} (token {doc[t]}, α-avg {nstr(att[ta], 6)}); "
        f"G×I {nstr(gxi, 6)}; effect f(ξ) − f(ξ, UNK at {t}) {nstr(effect, 6)}"
    )
    outcome.engine = engines(outcome.engine, reference_engine(case))
    return outcome
