"""Which reference engine checks an instance (``reference.models.one_layer``, mpmath, for the small random
models; ``reference.models.one_layer_arb``, Arb balls, for the trained model's T = 256 documents, where the
matrix products in C are what make the brute force affordable), and its forward pass in mpf numbers.  Every
*given* population (the trained fixture, a user's model: :mod:`theory.checking.population`) is checked with Arb."""

from __future__ import annotations

import reference.models.one_layer as ref
import reference.models.one_layer_arb as arb_ref
from theory.checking.population import GivenCase


def reference_engine(case) -> str:
    """``"arb"`` for documents of a given population (also wrapped: ``case.case``), ``"mpmath"`` otherwise."""
    return "arb" if isinstance(getattr(case, "case", case), GivenCase) else "mpmath"


def reference_forward(case, doc=None, radii: bool = False, model=None):
    """The reference forward pass of ``model`` (default ``case.model``) on ``doc`` (default ``case.doc``) in mpf
    numbers: the mpmath engine at 40 digits, or the exact midpoints of the Arb engine's balls at as many bits.
    With ``radii``, also the balls' radii (the same record with floats; None for mpmath)."""
    doc = case.doc if doc is None else doc
    model = case.model if model is None else model
    if reference_engine(case) == "mpmath":
        fw = ref.forward(model, doc)
        return (fw, None) if radii else fw
    balls = arb_ref.forward(model, doc, arb_ref.dps_to_prec(ref.DPS))
    mids = arb_ref.midpoints(balls)
    return (mids, arb_ref.radii(balls)) if radii else mids
