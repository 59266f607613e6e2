"""The two reference engines of the §2 model, one interface: :func:`engine` chooses one by name.

- ``"mpmath"`` (:mod:`reference.engines.mpmath`): plain loops over mpf numbers, every product as written — the
  reference of the small random models;
- ``"arb"`` (:mod:`reference.engines.arb`): the same definitions on Arb balls (python-flint) with matrix products
  in C and certified radii — the reference at the authors' widths (T = 256, d_e = 128).

Each engine module provides, with the same arguments (``dps`` is the precision in decimal digits; Arb works at
as many bits):

- ``forward(model, doc, dps, Wl) -> Forward`` — the forward pass of §2 on a token document;
- ``forward_perturbed(model, doc, length, z, semantics, dps, Wl) -> Forward`` — on the document with the words
  ``j`` where ``z[j] == 0`` switched off (:mod:`reference.explainers.perturb`);
- ``working_dps(model, doc, Wl) -> int`` and ``gradient(model, doc, positions, Wl, dps, step_exponent,
  coordinates)`` — ``∇_{e_t} f`` by the central differences of :mod:`reference.central_difference`;
- ``midpoint(x)``, ``midpoints(fw, outputs_only)`` — the engine's numbers as exact mpf;
- ``CERTIFIED`` — whether its numbers are balls; if so, ``radius(x)`` and ``radii(fw)`` give the radii that
  certify them (Arb; mpmath certifies nothing).

Results are in the engine's numbers (mpf, or ``flint.arb`` balls); ``midpoints`` makes them mpf.
"""

from __future__ import annotations

from importlib import import_module
from types import ModuleType

ENGINES = ("mpmath", "arb")


def engine(name: str) -> ModuleType:
    """The reference engine called ``name``.

    Args:
        name: ``"mpmath"`` or ``"arb"``.

    Returns:
        The engine's module (:mod:`reference.engines.mpmath` or :mod:`reference.engines.arb`), whose functions
        are the interface above.

    Raises:
        ValueError: for any other name.
    """
    if name not in ENGINES:
        raise ValueError(f"unknown reference engine {name!r}; use one of {ENGINES}")
    return import_module(f"{__name__}.{name}")
