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

For a model whose words span pieces and which reads an attention mask (capability ``"word-pieces"``, the BERT
family of docs/theory.md §8) every piece of a removed word is removed, the special tokens never, and two more
spellings exist: ``mask`` — the tokenizer's own mask token (``[MASK]``, ``<mask>``) — and

``pad``
    the removed pieces get attention mask 0 in every layer (and are left out of mean pooling): the word is absent
    and no other token moves.  Not a substitution either: no baseline embedding.

``unk`` is its spelling of ``replace`` (§8's name for it); the other families keep their four spellings.

The three substitution semantics put, at a removed word position ``t``, the fixed embedding
:func:`removed_embeddings` ``[t]``; the fast evaluators (:mod:`theory.models.perturb`) only need its
scores ``s̃_t = ⟨u, ẽ_t⟩`` and value scores ``c̃_t = ⟨w_c, ẽ_t⟩``, so the sufficient statistics of
``model.sufficient_stats`` hold for all three with ``ẽ_t`` in place of ``E[UNK] + p_t``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, cast

import numpy as np
from numpy.typing import ArrayLike

from theory.errors import InputError
from theory.models.one_layer import Model, positional_encoding
from theory.models.protocol import AttentionClassifier

if TYPE_CHECKING:
    from theory.models.encoder import Encoder

KINDS = ("delete", "replace", "mask", "zero", "pad")
CHOICES = "delete | replace | mask:ID | zero (a BERT-family model also: unk, mask, pad)"
#: the capability of the models that read pieces with an attention mask (theory.models.protocol.CAPABILITIES)
PIECES = "word-pieces"
#: the spellings only a "word-pieces" model has (``unk`` is its name for ``replace``)
PIECE_SPELLINGS = ("unk", "mask", "pad")


@dataclass(frozen=True)
class Removal:
    """A parsed removal semantics; ``token`` is the id of ``mask:ID`` (None otherwise)."""

    kind: str
    token: int | None = None

    @property
    def name(self) -> str:
        """The canonical spelling (``delete``, ``replace``, ``mask:7``, ``zero``)."""
        return (
            "mask"
            if self.kind == "mask" and self.token is None
            else (f"mask:{self.token}" if self.kind == "mask" else self.kind)
        )

    @property
    def substitutes(self) -> bool:
        """True when a removed word is replaced at its own position (every semantics but ``delete`` and ``pad``)."""
        return self.kind not in ("delete", "pad")


def parse(semantics: str | Removal, model: AttentionClassifier | None = None) -> Removal:
    """Parse a removal semantics (module docstring).

    Args:
        semantics: ``delete | replace | unk | mask:ID | zero``, and for a ``"word-pieces"`` model ``mask`` and
            ``pad`` (or a parsed :class:`Removal`).
        model: the model (any family), to check that ``ID`` is a token of it and that it has ``mask``/``pad``.

    Returns:
        The :class:`Removal` (``unk`` is ``replace``; ``mask`` becomes ``mask:ID`` with the model's mask id).

    Raises:
        InputError: an unknown spelling, a non-integer mask token, a mask token outside the vocabulary or equal to
            CLS, or a word-piece spelling (``mask``, ``pad``) for a model without word pieces.
    """
    pieces = model is not None and PIECES in model.capabilities
    if isinstance(semantics, Removal):
        removal = semantics
    elif not isinstance(semantics, str):
        raise InputError(f"removal semantics must be a string ({CHOICES}), got {semantics!r}")
    elif model is not None and not pieces and semantics in PIECE_SPELLINGS:
        raise InputError(
            f"unknown removal semantics {semantics!r} for {model.noun}; use {CHOICES} ({semantics} is "
            "a spelling of the BERT family's, whose model reads word pieces with an attention mask)"
        )
    elif semantics in ("delete", "replace", "zero", "unk"):
        removal = Removal("replace" if semantics == "unk" else semantics)
    elif semantics == "pad":
        removal = Removal("pad")
    elif semantics == "mask":  # the model's own mask token, resolved below
        removal = Removal("mask")
    elif semantics.startswith("mask:"):
        text = semantics[len("mask:") :]
        try:
            token = int(text)
        except ValueError:
            raise InputError(
                f"removal semantics {semantics!r}: the mask token must be an integer id, e.g. mask:3"
            ) from None
        removal = Removal("mask", token)
    else:
        raise InputError(
            f"unknown removal semantics {semantics!r}; use {CHOICES} (delete: what lime 0.2.0.1 does, "
            "words removed and UNK re-padding; replace: UNK at the same position, Eq. (19); mask:ID: "
            "token ID at the same position; zero: token embedding 0, positional encoding kept)"
        )
    if model is not None and pieces and removal.name == "mask":
        removal = Removal("mask", cast(Any, model).mask_id)  # a word-pieces model's own [MASK] (<mask>) id
    if model is not None and not pieces and removal.name in PIECE_SPELLINGS:  # (a Removal parsed without the model)
        raise InputError(f"unknown removal semantics {removal.name!r} for {model.noun}; use {CHOICES}")
    if model is not None and removal.kind == "mask" and removal.token is not None:
        if not 0 <= removal.token < model.V:
            raise InputError(
                f"removal semantics {removal.name!r}: token {removal.token} is not in the vocabulary "
                f"(ids 0..{model.V - 1})"
            )
        if removal.token == model.cls_id:
            raise InputError(
                f"removal semantics {removal.name!r}: the mask token may not be CLS "
                f"(id {model.cls_id}); use another id, e.g. the UNK id {model.unk_id}"
            )
    return removal


def removed_embeddings(model: Any, semantics: str | Removal) -> np.ndarray:
    """``ẽ_t``, the embedding a removed word gets at each position ``t``: ``E[UNK] + p_t`` (replace),
    ``E[m] + p_t`` (mask:m), ``p_t`` (zero).

    Args:
        model: a model whose embeddings are ``E[ξ_t] + p_t`` (the §2 model or an encoder: its ``E``, ``pe``,
            ``T``, ``d_e``), or a word-pieces model (its own ``removed_embeddings``) — typed ``Any``: the protocol
            does not carry the embedding table.
        semantics: a substitution semantics (``replace``, ``mask:ID``, ``zero``), spelled or parsed.

    Returns:
        ``ẽ``, shape ``(T, d_e)``.

    Raises:
        InputError: the semantics is ``delete`` (no embedding per position) or does not parse.
    """
    removal = parse(semantics, model)
    if not removal.substitutes:
        how = "moves the remaining words" if removal.kind == "delete" else "removes through the attention mask"
        raise InputError(
            f"removal semantics {removal.name!r} {how}, so it defines no embedding per position; use "
            "replace, mask:ID or zero"
        )
    if PIECES in model.capabilities:  # e_t = E[ξ_t]: the positions and token types are the model's, kept
        return model.removed_embeddings(removal)
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
    docs = np.asarray(doc)[None]
    X = model.embed(docs)[0]  # the family's embedded tokens: E[ξ_t] + p_t, or E[ξ_t] alone for word pieces
    X[1 : length + 1] = removed_embeddings(model, semantics)[1 : length + 1]
    return X
