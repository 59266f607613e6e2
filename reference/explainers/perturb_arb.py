"""Perturbed documents (:mod:`reference.explainers.perturb`: the same removal semantics, the same document
construction) evaluated with the Arb ball forward pass of :mod:`reference.models.one_layer_arb`."""

from __future__ import annotations

import reference.models.one_layer_arb as arb_ref
from reference.explainers.perturb import perturbed_document


def forward_perturbed(model, doc, length: int, z, semantics: str, prec: int = arb_ref.PREC,
                      Wl=None) -> arb_ref.Forward:
    """The ball forward pass of §2 on the document with the words ``j`` where ``z[j] == 0`` switched off."""
    return arb_ref.forward(model, perturbed_document(doc, length, z, semantics, int(model.unk_id)), prec, Wl)
