"""No non-finite number leaves the program as a result.

Finite weights can still overflow float64 in the forward pass of §2: ``s_t = ⟨q, W_k e_t⟩/√d_att`` and
``c_t = W_ℓ W_v e_t`` are sums of products of weights, so ``E × 1e200`` gives ``|s_t| ≈ 1e400 = inf`` and
``α = softmax(s)`` becomes ``inf − inf = NaN``.  Explainers built on ``f`` (gradients, LIME, ``β^∞``) then
return NaN without any error.  This module is the one place that refuses such results:

- :func:`overflow_cause` runs one forward pass (cheap) and names the first overflowing quantity;
  :func:`finite_result` calls it before a method runs, so a model that overflows on the document is refused
  before any LIME or ``β^∞`` work;
- :func:`finite_result` then runs the method and checks every number of its result (``f``, the scores, the
  intercept, the standard errors), turning a singular linear system into the same error;
- :func:`finite_outcome` does the same for a claim check's measured error inside ``attnverify run``, where
  the error is recorded as the verdict ``error`` with its instance.

Each refusal is a :class:`NonFiniteError`, an :class:`~theory.errors.InputError` (exit code 2).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any, Protocol

import numpy as np
from numpy.typing import ArrayLike

from theory.errors import InputError
from theory.models.protocol import AttentionClassifier

FIX = "rescale the model's weights so that the scores and value scores stay well inside float64's range (1.8e308)"


class NonFiniteError(InputError):
    """A computation produced NaN or inf from finite input."""


class Measured(Protocol):
    """What :func:`finite_outcome` reads of a claim check's :class:`~theory.checking.compare.Outcome`."""

    @property
    def holds(self) -> bool: ...  # whether the check holds

    @property
    def error(self) -> float | None: ...  # the measured error, in the claim's units

    @property
    def tolerance(self) -> float | None: ...  # the tolerance it is compared with


def overflow_cause(model: AttentionClassifier, doc: ArrayLike) -> str | None:
    """The first quantity of the forward pass on ``doc`` that is not finite, as a phrase; None when all are finite.

    Args:
        model: a model of any family.
        doc: the document (CLS, words, padding).

    Returns:
        The first of the model's :meth:`~theory.models.protocol.AttentionClassifier.forward_quantities` (§2: the
        scores ``s_t``, value scores ``c_t``, attention ``α``, output ``f``) that overflows, named.
    """
    with np.errstate(all="ignore"):
        quantities = model.forward_quantities(np.asarray(doc)[None])
    for name, values in quantities:
        if not np.all(np.isfinite(values)):
            finite = np.abs(values[np.isfinite(values)])
            largest = f" (largest finite |value| {finite.max():.3g})" if finite.size else ""
            return f"the {name} overflow float64 on this document{largest}"
    return None


def _first_nonfinite(value: Any, path: str = "") -> tuple[str, float] | None:
    """The path (e.g. ``scores[2]``) and value of the first NaN or inf in a JSON-shaped result."""
    if isinstance(value, dict):
        items = ((f"{path}.{key}" if path else str(key), item) for key, item in value.items())
    elif isinstance(value, (list, tuple, np.ndarray)):
        items = ((f"{path}[{i}]", item) for i, item in enumerate(value))
    else:
        finite = not isinstance(value, (float, np.floating)) or math.isfinite(value)
        return None if finite else (path, float(value))
    for where, item in items:
        found = _first_nonfinite(item, where)
        if found:
            return found
    return None


def finite_result(method: str, model: AttentionClassifier, doc: ArrayLike, compute: Callable[[], dict]) -> dict:
    """``compute()``, the result of explanation ``method`` on ``doc``, once the forward pass is known to be
    finite and provided every number in the result is finite.

    Args:
        method: the explanation method's name, for the message.
        model: a model of any family.
        doc: the document's ids, shape ``(T,)``.
        compute: runs the method and returns its JSON-shaped result.

    Returns:
        The result of ``compute()``.

    Raises:
        NonFiniteError: the forward pass overflows on ``doc``, the method's linear system is singular, or a number
            of the result is NaN or inf.
    """
    cause = overflow_cause(model, doc)
    if cause:
        raise NonFiniteError(f"{method}: {cause}; {FIX}")
    try:
        with np.errstate(all="ignore"):
            result = compute()
    except np.linalg.LinAlgError as error:
        raise NonFiniteError(f"{method}: the linear system of the fit is singular ({error}); {FIX}") from None
    found = _first_nonfinite(result)
    if found:
        where, value = found
        raise NonFiniteError(
            f"{method}: {where} is {value} although the forward pass on the document is finite "
            f"(an intermediate overflows float64, e.g. the gradient or the regression on the "
            f"perturbed documents); {FIX}"
        )
    return result


def finite_outcome(outcome: Measured) -> None:
    """Refuse a claim check's :class:`~theory.checking.compare.Outcome` whose error or tolerance is NaN, or inf
    while the check says it holds (the theory or the reference overflowed on the instance).  An infinite error
    of a failing check is a deliberate "infinitely wrong" (``lime.sampling_law`` when row 0 is not the
    original) and stays a failure.  ``measures`` are descriptive numbers, left as they are (a log10 of 0 is a
    legitimate ``-inf`` there).

    Args:
        outcome: the check's outcome (its ``error``, ``tolerance`` and ``holds``).

    Raises:
        NonFiniteError: the error or tolerance is NaN, or infinite while the check holds.
    """
    for name, value in (("error", outcome.error), ("tolerance", outcome.tolerance)):
        if value is None or math.isfinite(value) or (math.isinf(value) and not outcome.holds):
            continue
        raise NonFiniteError(
            f"the check measured a non-finite {name} ({value}): the computation overflows float64 on this instance"
        )
