"""Per-word scores of one document of a mean-pooling BERT-family model (the pretrained fixture, docs/theory.md
§13.8) from every attention explanation and every post-hoc explainer the answers of
:mod:`theory.studies.pretrained_answers` compare, computed once and shared.

Per distinct word ``j`` (pieces summed, §13.4; the special tokens never scored):

- **attention**, from one forward pass: the *pooled* last-layer readout row ``ᾱ^(i)_u = (1/T) Σ_t a^(i,L)_{t,u}``
  averaged over heads (what the mean-pooling readout averages, :func:`theory.models.bert.readout_attention`) and
  its minimum over heads (a word is ignored by *every* head only if this is small); the *CLS row*
  ``a^(i,L)_{0,u}`` averaged over heads; attention *rollout* (Abnar & Zuidema 2020, :mod:`theory.explainers.rollout`)
  as the registry's CLS row ``R_{0,·}`` and as the pooled row ``(1/T) Σ_t R_{t,·}``;
- **gradient × input** ``⟨∇_t, E[ξ_t]⟩`` (one backward pass, Hugging Face's ``inputs_embeds`` convention);
- from the ``2^d`` values ``v(S)`` of one exact enumeration under the removal semantics
  (:func:`theory.explainers.lime_inf.patterns` order): exact **Shapley** values, exact **β^∞** (LIME's population
  limit, default kernel width) and **occlusion** ``v([d]) − v([d] \\ {j})`` (leave-one-out, ferret's reference);
- **Integrated Gradients** to the all-removed baseline of the semantics (``unk``, ``mask``, ``zero``); ``pad`` and
  ``delete`` define no baseline embedding, so there IG takes captum's ``[PAD]``-id baseline ``mask:<pad id>``
  (§8);
- **Eq. (19)** with the readout attention and last-layer value scores
  (:func:`theory.explainers.encoder_eq19.eq19_readout`), under a substitution semantics only.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from theory.explainers.encoder_eq19 import eq19_readout
from theory.explainers.gradient import g_x_input
from theory.explainers.ig import integrated_gradients
from theory.explainers.lime_inf import beta_inf_table, patterns
from theory.explainers.registry import ENCODER_IG_RTOL, word_scores
from theory.explainers.rollout import rollout_matrix
from theory.explainers.shapley import shapley_table
from theory.models import bert, removal
from theory.models.bert import Bert
from theory.models.protocol import Document

ATTENTIONS = ("pooled attention", "CLS-row attention", "rollout (CLS row)", "rollout (pooled)")
POSTHOC = ("shapley", "occlusion", "β^∞", "ig", "grad×input")


@dataclass(frozen=True)
class Scores:
    """One document's per-word scores under one removal semantics (module docstring); ``scores`` maps every name
    of :data:`ATTENTIONS` and :data:`POSTHOC` (and ``eq19`` under a substitution semantics) to ``(d,)``."""

    words: tuple[str, ...]
    scores: dict[str, np.ndarray]
    attention_min: np.ndarray  # (d,) the pooled row's word sums, minimum over heads
    ig_baseline: str
    ig_gap: float  # IG's completeness gap |Σ IG − (f − f')|
    f: float


def _words(doc: Document, pieces: np.ndarray) -> np.ndarray:
    """Word sums of per-position scores ``(..., T)`` (positions ``1..L`` are the pieces)."""
    d = doc.words.size
    return np.stack([word_scores("sum", row[1 : doc.length + 1], doc.word_of, d) for row in np.atleast_2d(pieces)])


def attention_scores(model: Bert, doc: Document) -> tuple[dict[str, np.ndarray], np.ndarray, float]:
    """The attention explanations and gradient × input of one document (they do not depend on a semantics).

    Args:
        model: a BERT-family model with the mean readout.
        doc: the document (words over pieces).

    Returns:
        ``(scores, attention_min, f)``: the four :data:`ATTENTIONS` and ``grad×input`` per word, the pooled row's
        minimum over heads per word, and ``f``.
    """
    g = bert.gradient(model, doc.ids[None])
    fw = g.forward
    heads = _words(doc, bert.readout_attention(model, fw)[0])  # (K, d)
    R = rollout_matrix(fw.attention)[0]
    scores = {
        "pooled attention": heads.mean(axis=0),
        "CLS-row attention": _words(doc, fw.attention[0, -1, :, 0, :].mean(axis=0))[0],
        "rollout (CLS row)": _words(doc, R[0])[0],
        "rollout (pooled)": _words(doc, R.mean(axis=0))[0],
        "grad×input": _words(doc, g_x_input(g.grad[0], model.embed(doc.ids[None])[0]))[0],
    }
    return scores, heads.min(axis=0), float(fw.f[0])


def ig_baseline(model: Bert, semantics: str) -> str:
    """IG's baseline for a removal semantics: the semantics itself when it substitutes an embedding, else captum's
    ``[PAD]``-id baseline (module docstring).

    Args:
        model: the model (its pad id).
        semantics: the removal semantics.

    Returns:
        The baseline's spelling.
    """
    return semantics if removal.parse(semantics, model).substitutes else f"mask:{model.pad_id}"


def game_scores(values: np.ndarray, d: int) -> dict[str, np.ndarray]:
    """Exact Shapley values, ``β^∞`` and occlusion from the ``2^d`` values of one enumeration.

    Args:
        values: ``v`` of the patterns of :func:`theory.explainers.lime_inf.patterns` (last: every word kept).
        d: the number of distinct words (``2 ≤ d ≤ 16``).

    Returns:
        ``{"shapley", "β^∞", "occlusion"}``, each ``(d,)``.
    """
    full = 2**d - 1
    return {
        "shapley": shapley_table(values, d),
        "β^∞": beta_inf_table(values, d)[1:],
        "occlusion": values[full] - values[full ^ (1 << np.arange(d))],
    }


def document_scores(model: Bert, doc: Document, semantics: str, shared=None) -> Scores:
    """Every score of the module docstring for one document under one removal semantics.

    Args:
        model: a BERT-family model with the mean readout.
        doc: the document (words over pieces), ``2 ≤ d ≤ 16`` distinct words.
        semantics: ``delete``, ``unk``, ``mask``, ``pad`` or ``zero``.
        shared: :func:`attention_scores` of the document when already computed (they do not depend on it).

    Returns:
        The :class:`Scores`.
    """
    attention, minimum, f = attention_scores(model, doc) if shared is None else shared
    d = doc.words.size
    values = model.evaluator(doc, doc.length, semantics)(patterns(d))
    baseline = ig_baseline(model, semantics)
    ig = integrated_gradients(model, doc.ids, doc.length, baseline=baseline, rtol=ENCODER_IG_RTOL)
    scores = {**attention, **game_scores(values, d), "ig": _words(doc, ig.scores)[0]}
    if removal.parse(semantics, model).substitutes:
        scores["eq19"] = eq19_readout(model, doc, semantics)
    assert doc.names is not None  # a word-pieces document
    return Scores(doc.names, scores, minimum, baseline, ig.gap, f)
