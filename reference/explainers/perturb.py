"""Perturbed documents for LIME (THEORY.md §2, "Removal semantics"), built one by one and evaluated with the
full mpmath forward pass of :mod:`reference.models.one_layer`.

Independent of ``theory``.  A document is a token-id sequence of length ``T``: CLS at position 0, the words
of the text at positions ``1..length``, UNK padding after.  LIME's features are the ``d`` distinct words of
positions ``1..length`` in order of first appearance — the order in which lime 0.2.0.1's ``IndexedString``
(``bow=True``) numbers them — and ``z_j = 0`` switches word ``j`` off, all its occurrences at once:

- ``delete`` (what lime 0.2.0.1 does with ``bow=True``; the authors' pipeline re-pads to ``T`` with UNK):
  the occurrences are removed, the remaining words keep their order and shift left, UNK fills the end;
- ``replace`` (what the paper's Eq. (19) models): every occurrence becomes UNK at the same position.
"""

from __future__ import annotations

import reference.models.one_layer as ref

SEMANTICS = ("delete", "replace")


def distinct_words(doc, length: int) -> list[int]:
    """The distinct word ids of positions ``1..length``, in order of first appearance (lime's feature order)."""
    seen: dict[int, None] = {}
    for token in doc[1: length + 1]:
        seen.setdefault(int(token), None)
    return list(seen)


def perturbed_document(doc, length: int, z, semantics: str, unk_id: int) -> list[int]:
    """The document with the words ``j`` where ``z[j] == 0`` switched off, under ``semantics``."""
    if semantics not in SEMANTICS:
        raise ValueError(f"unknown removal semantics {semantics!r}; use 'delete' or 'replace'")
    words = distinct_words(doc, length)
    if len(z) != len(words):
        raise ValueError(f"z has {len(z)} entries but the text has {len(words)} distinct words")
    off = {word for word, keep in zip(words, z) if not keep}
    doc = [int(token) for token in doc]
    text = doc[1: length + 1]
    if semantics == "replace":
        kept = [unk_id if token in off else token for token in text]
    else:
        kept = [token for token in text if token not in off]
    out = [doc[0]] + kept + doc[length + 1:]
    return out + [unk_id] * (len(doc) - len(out))


ENGINES = ("mpmath", "arb")


def forward_perturbed(model, doc, length: int, z, semantics: str, dps: int = ref.DPS, Wl=None,
                      engine: str = "mpmath") -> ref.Forward:
    """The full forward pass of §2 (``f``, the heads, …) on the perturbed document, in mpf numbers: by the mpmath
    engine at ``dps`` digits, or (``engine="arb"``, for T = 256 documents) the midpoints of the Arb engine's
    balls at as many bits (:mod:`reference.models.one_layer_arb`; only ``f`` and ``f^(i)``, what LIME
    explains)."""
    document = perturbed_document(doc, length, z, semantics, int(model.unk_id))
    if engine == "mpmath":
        return ref.forward(model, document, dps, Wl)
    if engine != "arb":
        raise ValueError(f"unknown reference engine {engine!r}; use one of {ENGINES}")
    import reference.models.one_layer_arb as arb_ref

    return arb_ref.midpoints(arb_ref.forward(model, document, arb_ref.dps_to_prec(dps), Wl), outputs_only=True)


def f_perturbed(model, doc, length: int, z, semantics: str, dps: int = ref.DPS, Wl=None, engine: str = "mpmath"):
    """``f`` (mpf) of the perturbed document, by the full forward pass of §2 (see :func:`forward_perturbed`)."""
    return forward_perturbed(model, doc, length, z, semantics, dps, Wl, engine).f
