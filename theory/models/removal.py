"""Removal semantics: what "switching a word off" does to a document (docs/theory.md §3 and §11.2), one concept for
every perturbation explainer (LIME, ``β^∞``, Shapley, KernelSHAP, occlusion) and for the baselines of
Integrated Gradients — the role that ``shap``'s maskers play there.

Four semantics; a switched-off word has *every* occurrence removed, CLS and the UNK padding never change:

``delete``
    the occurrences are removed, the remaining words keep their order and shift left, UNK re-pads the end
    (lime 0.2.0.1 with ``bow=True``, then the authors' padding).  Not a per-position substitution: positions
    move, so it has no baseline embedding (Integrated Gradients cannot use it).
``replace``
    every occurrence becomes UNK at the same position: embedding ``E[UNK] + p_t`` (Eq. (19) of the paper).
``mask:m``
    every occurrence becomes the token ``m`` at the same position: embedding ``E[m] + p_t`` (e.g. a [MASK]
    id).  ``mask:UNK`` is ``replace``.
``zero``
    the token embedding is set to 0 and the positional encoding is kept: embedding ``p_t`` (captum's usual
    all-zeros baseline on the token embeddings).  With positional encoding off the embedding is 0.

The three substitution semantics put, at a removed word position ``t``, the fixed embedding
:func:`removed_embeddings` ``[t]``; the fast evaluators (:mod:`theory.models.perturb`) only need its
scores ``s̃_t = ⟨u, ẽ_t⟩`` and value scores ``c̃_t = ⟨w_c, ẽ_t⟩``, so the sufficient statistics of
``model.sufficient_stats`` hold for all three with ``ẽ_t`` in place of ``E[UNK] + p_t``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
from numpy.typing import ArrayLike

from theory.errors import InputError
from theory.models.one_layer import Model, positional_encoding
from theory.models.protocol import AttentionClassifier

if TYPE_CHECKING:
    from theory.models.encoder import Encoder

KINDS = ("delete", "replace", "mask", "zero")
CHOICES = "delete | replace | mask:ID | zero"


@dataclass(frozen=True)
class Removal:
    """A parsed removal semantics; ``token`` is the id of ``mask:ID`` (None otherwise)."""

    kind: str
    token: int | None = None

    @property
    def name(self) -> str:
        """The canonical spelling (``delete``, ``replace``, ``mask:7``, ``zero``)."""
        return f"mask:{self.token}" if self.kind == "mask" else self.kind

    @property
    def substitutes(self) -> bool:
        """True when a removed word is replaced at its own position (every semantics but ``delete``)."""
        return self.kind != "delete"


def parse(semantics: str | Removal, model: AttentionClassifier | None = None) -> Removal:
    """Parse ``delete | replace | mask:ID | zero``; with ``model``, also check that ``ID`` is a token of it.

    Args:
        semantics: the spelling (``delete``, ``replace``, ``mask:ID``, ``zero``) or an already parsed
            :class:`Removal` (returned as it is, checked against ``model``).
        model: the model whose vocabulary (``V``, ``cls_id``) the mask token must belong to; None skips that check.

    Returns:
        The :class:`Removal`.

    Raises:
        InputError: an unknown spelling, a non-integer mask token, or a mask token outside the vocabulary or
            equal to CLS.
    """
    if isinstance(semantics, Removal):
        removal = semantics
    elif not isinstance(semantics, str):
        raise InputError(f"removal semantics must be a string ({CHOICES}), got {semantics!r}")
    elif semantics in ("delete", "replace", "zero"):
        removal = Removal(semantics)
    elif semantics.startswith("mask:"):
        text = semantics[len("mask:"):]
        try:
            token = int(text)
        except ValueError:
            raise InputError(f"removal semantics {semantics!r}: the mask token must be an integer id, "
                             "e.g. mask:3") from None
        removal = Removal("mask", token)
    else:
        raise InputError(f"unknown removal semantics {semantics!r}; use {CHOICES} (delete: what lime 0.2.0.1 does, "
                         "words removed and UNK re-padding; replace: UNK at the same position, Eq. (19); mask:ID: "
                         "token ID at the same position; zero: token embedding 0, positional encoding kept)")
    if model is not None and removal.token is not None:  # mask:ID, the only kind with a token
        if not 0 <= removal.token < model.V:
            raise InputError(f"removal semantics {removal.name!r}: token {removal.token} is not in the vocabulary "
                             f"(ids 0..{model.V - 1})")
        if removal.token == model.cls_id:
            raise InputError(f"removal semantics {removal.name!r}: the mask token may not be CLS "
                             f"(id {model.cls_id}); use another id, e.g. the UNK id {model.unk_id}")
    return removal


def removed_embeddings(model: Model | Encoder, semantics: str | Removal) -> np.ndarray:
    """``ẽ_t``, the embedding a removed word gets at each position ``t``: ``E[UNK] + p_t`` (replace),
    ``E[m] + p_t`` (mask:m), ``p_t`` (zero).

    Args:
        model: a model whose embeddings are ``E[ξ_t] + p_t`` (the §2 model or an encoder).
        semantics: a substitution semantics (``replace``, ``mask:ID``, ``zero``), spelled or parsed.

    Returns:
        ``ẽ``, shape ``(T, d_e)``.

    Raises:
        InputError: the semantics is ``delete`` (no embedding per position) or does not parse.
    """
    removal = parse(semantics, model)
    if not removal.substitutes:
        raise InputError("removal semantics 'delete' moves the remaining words, so it defines no embedding per "
                         "position; use replace, mask:ID or zero")
    P = positional_encoding(model.T, model.d_e) if model.pe else np.zeros((model.T, model.d_e))
    if removal.kind == "zero":
        return P
    token = model.unk_id if removal.token is None else removal.token  # replace: UNK; mask:m: m
    return model.E[token] + P


def baseline_embeddings(model: Model | Encoder, doc: ArrayLike, length: int, semantics: str | Removal) -> np.ndarray:
    """The embedded document with every word removed under a substitution semantics, CLS and padding
    unchanged (the baseline ``e'`` of Integrated Gradients, docs/theory.md §11.2).

    Args:
        model: a model whose embeddings are ``E[ξ_t] + p_t`` (the §2 model or an encoder).
        doc: the document's ids, shape ``(T,)``.
        length: its number of words ``L`` (positions ``1..L`` are removed).
        semantics: a substitution semantics (``replace``, ``mask:ID``, ``zero``), spelled or parsed.

    Returns:
        ``e'``, shape ``(T, d_e)``.
    """
    X = model.embed(np.asarray(doc)[None])[0]
    X[1: length + 1] = removed_embeddings(model, semantics)[1: length + 1]
    return X
