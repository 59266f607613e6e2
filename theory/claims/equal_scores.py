"""The family ``*.equal_scores_exact``: when UNK is scored like every word (``s̃_t = s_t``), under replace ``f`` is
affine in the removal pattern, and LIME's ``β^∞`` and the Shapley values (with occlusion) equal the same closed form
``(1/K) Σ_i Σ_{t: ξ_t = w_j} α_t (c_t − c̃_t)`` (paper §5, §6; docs/theory.md §7, §11.2).  One statement, one row
per explainer."""

from __future__ import annotations

import mpmath
import numpy as np

import reference.explainers.lime_law as ref_law
import reference.explainers.perturb as ref_perturb
import reference.models.one_layer as ref
from theory.checking.compare import Outcome, check_mp, combine, compare
from theory.checking.strategies.lime import (
    equal_scores_cases,
)
from theory.claims import Row, family
from theory.claims.lime.limit import beta_scale, f_magnitude, kernel_width, mp_max_abs, reference_tables
from theory.claims.removal import magnitude
from theory.explainers import lime_inf
from theory.explainers.lime_approx import unk_document
from theory.explainers.lime_inf import beta_inf_exact
from theory.explainers.occlusion import occlusion
from theory.explainers.shapley import shapley_exact
from theory.models.perturb import distinct_words


def check_beta_inf(case) -> Outcome:
    """The row ``lime.equal_scores_exact``: under replace, ``β^∞`` equals the closed form when ``s̃_t = s_t``.

    Args:
        case: an instance whose model scores UNK like every word (model, document, tokens).

    Returns:
        The combined outcome: the premise and the identity in mpmath, the float64 ``β^∞`` against the formula.
    """
    model, doc, length = case.model, case.doc, len(case.tokens)
    words = ref_perturb.distinct_words(doc, length)
    d = len(words)
    fw = ref.forward(model, doc)
    off = ref_perturb.forward_perturbed(model, doc, length, [0] * d, "replace")
    K = model.K
    with mpmath.workdps(ref.DPS):
        formula = [off.f] + [
            mpmath.fsum(
                fw.alpha[i][t] * (fw.c[i][t] - off.c[i][t])
                for i in range(K)
                for t in range(1, length + 1)
                if int(doc[t]) == w
            )
            / K
            for w in words
        ]
        # the premise, in mpmath: UNK scored like every word
        premise = max(abs(fw.scores[i][t] - off.scores[i][t]) for i in range(K) for t in range(1, length + 1))
    values, _ = reference_tables(model, doc, length, "replace")
    beta_ref = ref_law.beta_inf(values, d, kernel_width(lime_inf.NU))
    beta = lime_inf.beta_inf_exact(model, doc, length, semantics="replace")
    f_mag = f_magnitude(model, doc)
    scale = beta_scale(np.abs(np.array(values, dtype=float)), d, lime_inf.NU)
    return combine(
        check_mp("premise max |s_t − s̃_t| (mpmath)", premise, scale=1.0),
        check_mp("mpmath β^∞ − formula", mp_max_abs(beta_ref, formula), scale=f_mag),
        compare("float64 β^∞ vs formula", beta, formula, scale),
    )


def check_shapley(case) -> Outcome:
    """The row ``shapley.equal_scores_exact``: ``φ_j = o_j = β^∞_j`` = the closed form when ``s̃_t = s_t``.

    Args:
        case: an instance whose model scores UNK like every word (model, document, tokens).

    Returns:
        The combined outcome of the float64 Shapley values, occlusion and ``β^∞`` against the mpmath formula.
    """
    model, doc, length = case.model, case.doc, len(case.tokens)
    words = distinct_words(doc, length)
    fw, fu = ref.forward(model, doc), ref.forward(model, unk_document(model))
    with mpmath.workdps(ref.DPS):
        formula = [
            mpmath.fsum(
                fw.alpha[i][t] * (fw.c[i][t] - fu.c[i][t])
                for i in range(model.K)
                for t in range(1, length + 1)
                if doc[t] == w
            )
            / model.K
            for w in words
        ]
    scale = magnitude(model, doc)
    return combine(
        compare("φ", shapley_exact(model, doc, length, semantics="replace"), formula, scale),
        compare("o", occlusion(model, doc, length, semantics="replace"), formula, scale),
        compare("β^∞", beta_inf_exact(model, doc, length, semantics="replace")[1:], formula, 1e3 * scale),
    )


family(
    [
        Row(
            "lime.equal_scores_exact",
            statement="if s̃_t = s_t for every head and word position (UNK is scored like the word it replaces), "
            "then under replace f is affine in z and β_j^∞ = (1/K) Σ_i Σ_{t: ξ_t = w_j} α_t (c_t − c̃_t) "
            "exactly (and β_0^∞ = f(z = 0))",
            reference="models built with W_k E[w] = W_k E[UNK] exactly (word embeddings equal to UNK's outside a "
            "subspace that every W_k annihilates); mpmath weighted least squares over the enumeration of "
            "the full mpmath forward on every perturbed document, against the formula in mpmath (α, c "
            "from the mpmath forward of the document, c̃ from that of the all-UNK document)",
            strategy=equal_scores_cases,
            check=check_beta_inf,
            options=dict(
                section="§5",
                trained="the premise (UNK scored exactly like every word) is a construction; the "
                "trained model does not satisfy it",
            ),
        ),
        Row(
            "shapley.equal_scores_exact",
            statement="if UNK is scored like every word (s̃_t = s_t), under replace f is affine in z, so "
            "φ_j = o_j = β^∞_j = (1/K) Σ_i Σ_{t: ξ_t = w_j} α_t (c_t − c̃_t)",
            reference="the formula in mpmath (α, c from the mpmath forward of the document, c̃ from the all-UNK "
            "document); "
            "float64 exact Shapley, occlusion and exact β^∞ against it",
            strategy=equal_scores_cases,
            check=check_shapley,
            options=dict(section="§6", trained="the premise (UNK scored like every word) is a construction"),
        ),
    ],
    source="ours",
    kind="identity",
)
