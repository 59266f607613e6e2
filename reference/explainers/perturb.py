"""Perturbed documents for LIME (docs/theory.md §3, "Removal semantics"), built one by one and evaluated with the
full forward pass of a reference engine (:mod:`reference.engines`: mpmath, or Arb at the authors' widths).

Independent of ``theory``.  A document is a token-id sequence of length ``T``: CLS at position 0, the words
of the text at positions ``1..length``, UNK padding after.  LIME's features are the ``d`` distinct words of
positions ``1..length`` in order of first appearance — the order in which lime 0.2.0.1's ``IndexedString``
(``bow=True``) numbers them — and ``z_j = 0`` switches word ``j`` off, all its occurrences at once:

- ``delete`` (what lime 0.2.0.1 does with ``bow=True``; the authors' pipeline re-pads to ``T`` with UNK):
  the occurrences are removed, the remaining words keep their order and shift left, UNK fills the end;
- ``replace`` (what the paper's Eq. (19) models): every occurrence becomes UNK at the same position;
- ``mask:m``: every occurrence becomes the token ``m`` at the same position;
- ``zero``: every occurrence keeps its position, its token embedding is set to 0 (``p_t`` alone remains).
"""

from __future__ import annotations

import mpmath

import reference.models.one_layer as ref
from reference.engines import engine as reference_engine

SEMANTICS = ("delete", "replace", "mask:ID", "zero")


def parse(semantics: str) -> tuple[str, int | None]:
    """``(kind, mask token)`` of ``delete | replace | mask:ID | zero``; ValueError otherwise.

    Args:
        semantics: the removal semantics, ``delete``, ``replace``, ``mask:ID`` or ``zero``.

    Returns:
        ``(kind, mask token)``: kind is ``delete``, ``replace``, ``mask`` or ``zero``; the token is set for ``mask``
        only.

    Raises:
        ValueError: for any other string.
    """
    if semantics in ("delete", "replace", "zero"):
        return semantics, None
    if isinstance(semantics, str) and semantics.startswith("mask:") and semantics[5:].lstrip("-").isdigit():
        return "mask", int(semantics[5:])
    raise ValueError(f"unknown removal semantics {semantics!r}; use one of {', '.join(SEMANTICS)}")


def distinct_words(doc, length: int) -> list[int]:
    """The distinct word ids of positions ``1..length``, in order of first appearance (lime's feature order).

    Args:
        doc: the token document (CLS at position 0, the words at ``1..length``).
        length: the number of words.

    Returns:
        The ``d`` distinct word ids.
    """
    seen: dict[int, None] = {}
    for token in doc[1 : length + 1]:
        seen.setdefault(int(token), None)
    return list(seen)


def perturbed_document(doc, length: int, z, semantics: str, unk_id: int) -> list:
    """The document with the words ``j`` where ``z[j] == 0`` switched off, under ``semantics``; under ``zero``
    a removed position holds ``None`` (no token: its embedding is the positional encoding alone).

    Args:
        doc: the token document of length ``T`` (CLS at 0, the words at ``1..length``, UNK padding after).
        length: the number of words.
        z: 0/1 per distinct word, in :func:`distinct_words` order (0: switched off).
        semantics: ``delete``, ``replace``, ``mask:ID`` or ``zero``.
        unk_id: the UNK token id (the padding, and the substitute under ``replace``).

    Returns:
        The perturbed document, ``T`` token ids (``None`` at the removed positions under ``zero``).

    Raises:
        ValueError: for an unknown semantics or a ``z`` of the wrong length.
    """
    kind, mask = parse(semantics)
    words = distinct_words(doc, length)
    if len(z) != len(words):
        raise ValueError(f"z has {len(z)} entries but the text has {len(words)} distinct words")
    off = {word for word, keep in zip(words, z) if not keep}
    doc = [int(token) for token in doc]
    text = doc[1 : length + 1]
    if kind == "delete":
        kept = [token for token in text if token not in off]
    else:
        substitute = {"replace": unk_id, "mask": mask, "zero": None}[kind]
        kept = [substitute if token in off else token for token in text]
    out = [doc[0]] + kept + doc[length + 1 :]
    return out + [unk_id] * (len(doc) - len(out))


def embedded_document(model, document, dps: int = ref.DPS):
    """``e_t = E[ξ_t] + p_t`` of a (perturbed) document, with ``e_t = p_t`` where it holds ``None``.

    Args:
        model: the §2 model (the public ``.npz`` attributes).
        document: a document of ``T`` token ids, ``None`` where a word was zeroed.
        dps: the precision in decimal digits.

    Returns:
        ``T`` rows of ``d_e`` mpf.
    """
    tokens = [int(model.unk_id) if token is None else token for token in document]
    X = ref.embeddings(model, tokens, dps)
    with mpmath.workdps(dps):
        pe = ref.positional_encoding(len(tokens), model.E.shape[1], dps) if model.pe else None
        zero = [mpmath.mpf(0)] * model.E.shape[1]
        return [
            (list(pe[t]) if pe else list(zero)) if token is None else row
            for t, (token, row) in enumerate(zip(document, X))
        ]


def forward_perturbed(
    model, doc, length: int, z, semantics: str, dps: int = ref.DPS, Wl=None, engine: str = "mpmath"
) -> ref.Forward:
    """The full forward pass of §2 on the perturbed document, in mpf numbers, by the reference engine ``engine``
    (:func:`reference.engines.engine`: mpmath, or the midpoints of the Arb engine's balls for T = 256 documents).

    Args:
        model: the §2 model (the public ``.npz`` attributes).
        doc: the token document (the text at positions ``1..length``).
        length: the number of words.
        z: 0/1 per distinct word (0: switched off).
        semantics: ``delete``, ``replace``, ``mask:ID`` or ``zero`` (mpmath only).
        dps: the precision in decimal digits.
        Wl: overrides the model's ``W_ℓ``.
        engine: ``"mpmath"`` or ``"arb"``.

    Returns:
        The forward record in mpf (with Arb, only ``f`` and ``f^(i)``: what LIME explains).
    """
    chosen = reference_engine(engine)
    return chosen.midpoints(chosen.forward_perturbed(model, doc, length, z, semantics, dps, Wl), outputs_only=True)


def f_perturbed(model, doc, length: int, z, semantics: str, dps: int = ref.DPS, Wl=None, engine: str = "mpmath"):
    """``f`` of the perturbed document (see :func:`forward_perturbed`).

    Args:
        model, doc, length, z, semantics, dps, Wl, engine: as in :func:`forward_perturbed`.

    Returns:
        ``f`` as an mpf.
    """
    return forward_perturbed(model, doc, length, z, semantics, dps, Wl, engine).f
