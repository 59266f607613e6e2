"""Which reference engine checks an instance, asked in one way: :func:`reference_engine` names it (mpmath,
:mod:`reference.engines.mpmath`, for the small random models; Arb balls, :mod:`reference.engines.arb`, for every
*given* population — the trained fixture, a user's model (:mod:`theory.checking.population`) — whose T = 256
documents the matrix products in C make affordable), and :func:`reference.engines.engine` resolves that name to
the engine; :func:`reference_forward` and :func:`reference_gradient` return its results as mpf numbers with the
certified radii where the engine has them."""

from __future__ import annotations

from types import ModuleType

import numpy as np

from reference.engines import engine
from reference.models.one_layer import DPS
from theory.checking.population import GivenCase


def reference_engine(case) -> str:
    """The name of the reference engine of an instance.

    Args:
        case: an instance of a claim (also wrapped: ``case.case``).

    Returns:
        ``"arb"`` for documents of a given population, ``"mpmath"`` otherwise.
    """
    return "arb" if isinstance(getattr(case, "case", case), GivenCase) else "mpmath"


def _engine(case) -> ModuleType:
    return engine(reference_engine(case))


def reference_forward(case, doc=None, radii: bool = False, model=None):
    """The reference forward pass of an instance's engine in mpf numbers.

    Args:
        case: the instance (its engine: :func:`reference_engine`).
        doc: the document (default ``case.doc``).
        radii: also return the balls' radii.
        model: the model (default ``case.model``).

    Returns:
        The forward record at :data:`reference.models.one_layer.DPS` digits (mpmath), or the exact midpoints of
        the Arb engine's balls at as many bits; with ``radii``, the pair of it and the radii (the same record
        with floats; None for mpmath).
    """
    doc = case.doc if doc is None else doc
    model = case.model if model is None else model
    chosen = _engine(case)
    fw = chosen.forward(model, doc, DPS)
    if not radii:
        return chosen.midpoints(fw)
    return chosen.midpoints(fw), (chosen.radii(fw) if chosen.CERTIFIED else None)


def reference_gradient(case, positions, model=None, coordinates=slice(None)):
    """The reference gradient of an instance's engine (the central differences of
    :mod:`reference.central_difference`, at the engine's working precision and step).

    Args:
        case: the instance (its engine: :func:`reference_engine`; the mpmath engine on random models, the Arb
            engine on the trained model, T = 256, beyond what mpmath affords per entry).
        positions: the rows ``t``.
        model: the model (default ``case.model``).
        coordinates: a list of coordinates, or a slice of all.

    Returns:
        The entries ``[[∇_{t,j} for j] for t]`` as mpf (the Arb balls' exact midpoints), and the array of their
        certified radii (None for mpmath).
    """
    model = case.model if model is None else model
    coordinates = None if isinstance(coordinates, slice) else coordinates
    chosen = _engine(case)
    rows = chosen.gradient(model, case.doc, positions=positions, coordinates=coordinates)
    mids = [[chosen.midpoint(x) for x in row] for row in rows]
    if not chosen.CERTIFIED:
        return mids, None
    return mids, np.array([[chosen.radius(x) for x in row] for row in rows])
