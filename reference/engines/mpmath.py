"""The mpmath engine: the §2 model in plain mpf loops (:mod:`reference.models.one_layer`), every product as
written, behind the interface of :mod:`reference.engines`.  Its numbers are mpf; it certifies no radius."""

from __future__ import annotations

import reference.models.one_layer as ref
from reference.explainers.gradient import gradient, working_dps
from reference.explainers.perturb import embedded_document, perturbed_document
from reference.models.one_layer import DPS, Forward, forward

CERTIFIED = False  # mpf results carry no radius

__all__ = ["CERTIFIED", "forward", "forward_perturbed", "gradient", "midpoint", "midpoints", "working_dps"]


def forward_perturbed(model, doc, length: int, z, semantics: str, dps: int = DPS, Wl=None) -> Forward:
    """The forward pass of §2 in mpf numbers on a perturbed document.

    Args:
        model: the §2 model (the public ``.npz`` attributes).
        doc: the token document (the text at positions ``1..length``).
        length: the number of words.
        z: 0/1 per distinct word (0: switched off).
        semantics: ``delete``, ``replace``, ``mask:ID`` or ``zero`` (:mod:`reference.explainers.perturb`).
        dps: the precision in decimal digits.
        Wl: overrides the model's ``W_ℓ``.

    Returns:
        The forward record (``f``, ``f^(i)``, ``α``, scores, ``c``, ``q``) in mpf.
    """
    document = perturbed_document(doc, length, z, semantics, int(model.unk_id))
    if None in document:  # 'zero': an embedding without a token
        return ref.forward_embedded(model, embedded_document(model, document, dps), dps, Wl)
    return forward(model, document, dps, Wl)


def midpoint(x):
    """The number itself (an mpf is its own midpoint).

    Args:
        x: an mpf.

    Returns:
        ``x``.
    """
    return x


def midpoints(fw: Forward, outputs_only: bool = False) -> Forward:
    """The record itself (mpf numbers).

    Args:
        fw: a forward record of this engine.
        outputs_only: ignored (the mpmath record is already mpf; kept for the engines' common interface).

    Returns:
        ``fw``.
    """
    return fw
