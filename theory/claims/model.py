"""Claims about the §2 model itself (docs/theory.md §2.5) and its fast evaluators on LIME's perturbed documents
(the sufficient statistics under replace, the word/position decomposition under delete; docs/theory.md §3)."""

from __future__ import annotations

import mpmath
import numpy as np

import reference.explainers.perturb as ref_perturb
import reference.models.one_layer as ref
from theory.checking.compare import check_mp, combine, compare, engines
from theory.checking.engines import reference_engine, reference_forward
from theory.checking.population import given_cases
from theory.checking.strategies.lime import perturbed_cases
from theory.checking.strategies.models import cases
from theory.checking.strategies.trained import trained_perturbed_cases
from theory.claims import claim
from theory.models.one_layer import forward, term_magnitudes
from theory.models.perturb import f_perturbed


@claim(
    "model.forward",
    section="§2",
    source="paper",
    kind="identity",
    statement="the float64 forward pass (f, f^(i), α, scores s, value scores c) equals the mpmath forward pass",
    reference="pure-mpmath re-implementation of §1 at 40 digits",
    strategy=cases,
    trained=given_cases,
)
def check_forward(case):
    model, doc = case.model, case.doc
    (mp_fw, rad), fw, mag = reference_forward(case, radii=True), forward(model, doc), term_magnitudes(model, doc)
    rad = rad or ref.Forward(None, None, None, None, None, None)  # mpmath: no radii
    return combine(
        compare("f", fw.f[0], mp_fw.f, mag.f[0].mean(), radius=rad.f),
        compare("f_head", fw.f_heads[0], mp_fw.f_heads, mag.f[0], radius=rad.f_heads),
        compare("alpha", fw.alpha[0], mp_fw.alpha, mag.alpha_scale(fw.alpha[0]), radius=rad.alpha),
        compare("s", fw.scores[0], mp_fw.scores, mag.s[0], radius=rad.scores),
        compare("c", fw.c[0], mp_fw.c, mag.c[0], radius=rad.c),
    )


@claim(
    "model.simplex",
    section="§2",
    source="paper",
    kind="identity",
    statement="per head, α_t > 0 and Σ_t α_t = 1",
    reference="mpmath (positivity and the sum at 40 digits); float64 sum against 1",
    strategy=cases,
    trained=given_cases,
)
def check_simplex(case):
    fw, mp_fw = forward(case.model, case.doc), reference_forward(case)
    with mpmath.workdps(ref.DPS):
        mp_sum = max(abs(mpmath.fsum(alpha) - 1) for alpha in mp_fw.alpha)
        mp_min = min(min(alpha) for alpha in mp_fw.alpha)
    outcome = combine(
        check_mp("|Σ α − 1| (mpmath)", mp_sum),
        check_mp("min α ≤ 0 (mpmath)", 0 if mp_min > 0 else 1),
        compare("Σ α (float64)", fw.alpha[0].sum(axis=-1), [1] * case.model.K, 1.0),
    )
    # float64 α_t underflows to 0 once s_t − max s < −745: positivity is a statement about the exact model.
    outcome.measures["float64 α underflowed to 0 (share of positions)"] = float(np.mean(fw.alpha[0] == 0))
    outcome.engine = engines(outcome.engine, reference_engine(case))
    return outcome


@claim(
    "model.convex",
    section="§2",
    source="consequence",
    kind="bound",
    statement="per head, min_t c_t ≤ f^(i) ≤ max_t c_t (f^(i) is a convex combination of value scores)",
    reference="mpmath; the float64 violation relative to the magnitude of the terms",
    strategy=cases,
    trained=given_cases,
)
def check_convex(case):
    fw, mp_fw = forward(case.model, case.doc), reference_forward(case)
    mag = term_magnitudes(case.model, case.doc)
    with mpmath.workdps(ref.DPS):
        mp_violation = max(max(min(c) - f, f - max(c), 0) for c, f in zip(mp_fw.c, mp_fw.f_heads))
    c, f = fw.c[0], fw.f_heads[0]
    violation = np.maximum(np.maximum(c.min(axis=-1) - f, f - c.max(axis=-1)), 0) / mag.f[0]
    outcome = combine(
        check_mp("bound violation (mpmath)", mp_violation, scale=mag.f[0].max()),
        compare("bound violation (float64)", violation, [0] * case.model.K, 1.0),
    )
    outcome.engine = engines(outcome.engine, reference_engine(case))
    return outcome


def _perturbed_docs(case, Z, semantics):
    """The perturbed documents (token by token, :mod:`reference.explainers.perturb`) of the patterns ``Z``."""
    return np.array(
        [ref_perturb.perturbed_document(case.doc, len(case.tokens), z, semantics, case.model.unk_id) for z in Z]
    )


def f_magnitudes(case, Z, semantics: str) -> np.ndarray:
    """The magnitude of the terms of ``f`` on each perturbed document (mean over heads, as for ``model.forward``).

    Args:
        case: the instance (its model, document and tokens).
        Z: the removal patterns, one row per perturbed document.
        semantics: the removal semantics.

    Returns:
        One magnitude per pattern.
    """
    return term_magnitudes(case.model, _perturbed_docs(case, Z, semantics)).f.mean(axis=1)


def _check_evaluator(pcase, semantics, label):
    """The fast evaluator of ``f`` on the instance's patterns against the full reference forward on each."""
    case, Z = pcase.case, np.array(pcase.Z, dtype=np.float64)
    length = len(case.tokens)
    got = f_perturbed(case.model, case.doc, length, Z, semantics)
    engine = reference_engine(case)
    want = [ref_perturb.f_perturbed(case.model, case.doc, length, z, semantics, engine=engine) for z in pcase.Z]
    outcome = compare(label, got, want, f_magnitudes(case, pcase.Z, semantics))
    outcome.engine = engine
    return outcome


@claim(
    "model.sufficient_stats",
    section="§2",
    source="ours",
    kind="identity",
    statement="under replace, for every removal pattern z: f(ξ(z)) = (1/K) Σ_i [Σ_t (z? g_t c_t : g̃_t c̃_t)] / "
    "[Σ_t (z? g_t : g̃_t)] (z? = 1 at CLS and padding, z_{w(t)} at word positions): a perturbed "
    "document costs O(K·d) after O(K·T) precomputation",
    reference="full mpmath forward (40 digits) on each perturbed document, built token by token",
    strategy=perturbed_cases,
    trained=trained_perturbed_cases,
)
def check_sufficient_stats(pcase):
    return _check_evaluator(pcase, "replace", "f(ξ(z)) replace")


@claim(
    "model.delete_decomposition",
    section="§2",
    source="ours",
    kind="identity",
    statement="under delete (words removed, the rest shifted left, UNK re-padding), the score and value "
    "score of word w at position t split as s = a_w + b_t, c = c^E_w + c^P_t with the CLS query "
    "fixed, so f on every perturbed document follows from O(K·(V_doc + T)·d_e) precomputation "
    "and O(K) per kept occurrence",
    reference="full mpmath forward (40 digits) on each perturbed document, built token by token",
    strategy=perturbed_cases,
    trained=trained_perturbed_cases,
)
def check_delete_decomposition(pcase):
    return _check_evaluator(pcase, "delete", "f(ξ(z)) delete")


@claim(
    "model.delete_equals_replace_without_pe",
    section="§2",
    source="ours",
    kind="identity",
    statement="with positional encoding off (and UNK padding), delete and replace give the same f for every "
    "removal pattern z",
    reference="full mpmath forward on the deleted and on the replaced document",
    strategy=lambda: perturbed_cases(pe=False),
    trained="the trained model uses positional encoding; the claim is about models without it",
)
def check_delete_equals_replace(pcase):
    case = pcase.case
    length = len(case.tokens)
    mag = f_magnitudes(case, pcase.Z, "replace")
    outcomes = []
    replaced = [ref_perturb.f_perturbed(case.model, case.doc, length, z, "replace") for z in pcase.Z]
    for z, want, scale in zip(pcase.Z, replaced, mag):
        deleted = ref_perturb.f_perturbed(case.model, case.doc, length, z, "delete")
        with mpmath.workdps(ref.DPS):
            outcomes.append(check_mp(f"f(delete) − f(replace) (mpmath), z={z}", deleted - want, scale=scale))
    fast = f_perturbed(case.model, case.doc, length, np.array(pcase.Z, dtype=np.float64), "delete")
    outcomes.append(compare("f(delete) (float64) vs f(replace) (mpmath)", fast, replaced, mag))
    return combine(*outcomes)
