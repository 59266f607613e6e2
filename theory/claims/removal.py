"""Claims about the removal semantics (docs/theory.md §11.2, paper §6): the fast evaluators of ``f`` on the perturbed
documents under every semantics, and the game ``v`` they define, which the Shapley, KernelSHAP and occlusion
claims share (:func:`game`, :func:`versus_reference`).

The reference is :mod:`reference.explainers.perturb` (full mpmath forward on every perturbed document) through
:mod:`reference.explainers.shapley` (the value of every subset).  Error scale of every identity of §6: the
magnitude of the terms of ``f`` (``max |W_ℓ||W_v||e_t| · (1 + max |W_k||W_q||e_0||e_t|)`` over the document's and
the removed embeddings, :func:`magnitude`), as :func:`theory.models.one_layer.term_magnitudes`.
"""

from __future__ import annotations

import numpy as np

import reference.explainers.shapley as ref_shap
from theory.checking.compare import Outcome, compare
from theory.checking.strategies.explainers import (
    removal_cases,
)
from theory.claims import claim
from theory.explainers.lime_inf import patterns, table
from theory.models import removal
from theory.models.one_layer import Model, embed, scores_and_values
from theory.models.perturb import distinct_words

TRAINED = (
    "2^d mpmath forward passes at T = 256 take ~10 s per document; the fast evaluators are checked on the "
    "trained model by model.sufficient_stats, and every §6 claim holds for any model"
)


def magnitude(model: Model, doc, semantics: str = "replace") -> float:
    """The magnitude of the terms of ``f`` over the document and the removed embeddings (see the module docstring).

    Args:
        model, doc: the instance.
        semantics: the removal semantics (its removed embeddings count; ``delete`` counts UNK's).

    Returns:
        ``max c · (1 + max s)`` over those embeddings, with every weight in absolute value.
    """
    X = embed(model, np.asarray(doc)[None])[0]
    how = removal.parse(semantics, model)
    rows = [X, removal.removed_embeddings(model, how if how.substitutes else "replace")]
    _, s, c = scores_and_values(
        np.abs(np.stack(rows)),
        np.abs(model.Wq),
        np.abs(model.Wk),
        np.abs(model.Wv),
        np.abs(model.Wl),
        model.score_factor,
    )
    return float(c.max() * (1.0 + s.max()))


def game(case) -> tuple:
    """The instance's game: every subset's value by the mpmath forward pass
    (:func:`reference.explainers.shapley.values`).

    Args:
        case: a removal case (an instance and its removal semantics).

    Returns:
        ``(model, doc, length, d, v)`` with ``v`` the value of every removal pattern.
    """
    model, doc, length = case.case.model, case.case.doc, len(case.case.tokens)
    d = distinct_words(doc, length).size
    return model, doc, length, d, ref_shap.values(model, doc, length, case.semantics)


def versus_reference(case, label: str, ours, reference) -> Outcome:
    """An explainer against its reference on the instance's game.

    Args:
        case: a removal case.
        label: the comparison's name.
        ours: ``ours(model, doc, length, semantics=…)``, the float64 explainer.
        reference: ``reference(v, d)``, the mpmath one, from the game ``v`` of every subset.

    Returns:
        The comparison, relative to :func:`magnitude`.
    """
    model, doc, length, d, v = game(case)
    return compare(
        f"{label} ({case.semantics})",
        ours(model, doc, length, semantics=case.semantics),
        reference(v, d),
        magnitude(model, doc, case.semantics),
    )


def pattern_order(v: dict, d: int) -> list:
    """The reference values in :func:`theory.explainers.lime_inf.patterns` order (``z_j = (k >> j) & 1``).

    Args:
        v: the game (a value per removal pattern).
        d: the number of distinct words.

    Returns:
        The values, in that order.
    """
    return [v[tuple(int(b) for b in row)] for row in patterns(d)]


@claim(
    "removal.fast_evaluators",
    section="§6",
    source="ours",
    kind="identity",
    statement="under every removal semantics (delete, replace, mask:ID, zero) the fast evaluators of f on the "
    "perturbed documents (sufficient statistics for the substitutions, word/position decomposition for "
    "delete) equal the full forward pass on every perturbed document",
    reference="mpmath forward pass (40 digits) on each of the 2^d perturbed documents, built token by token "
    "(zero: the positional encoding alone at removed positions)",
    strategy=removal_cases,
    trained=TRAINED,
)
def check_fast_evaluators(case):
    return versus_reference(case, "f_perturbed", table, pattern_order)
