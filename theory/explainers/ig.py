"""Integrated Gradients (Sundararajan, Taly & Yan 2017; docs/theory.md §11.2) with respect to the embedded tokens.

With the baseline ``e'`` (every word removed under a substitution semantics of :mod:`theory.models.removal`
— ``replace``: ``E[UNK] + p_t``, ``mask:m``: ``E[m] + p_t``, ``zero``: ``p_t`` — CLS and padding unchanged),

    IG_t = (e_t − e'_t) ⊙ ∫_0^1 ∇_t f(e' + a(e − e')) da,     score_t = Σ_k IG_{t,k},

and completeness (their Proposition 1, the fundamental theorem of calculus along the path):
``Σ_t Σ_k IG_{t,k} = f(e) − f(e')``.  ``IG_t = 0`` wherever ``e_t = e'_t`` (CLS, padding).

The integral is computed by Gauss–Legendre quadrature of the exact gradient (the model's ``gradient_embedded``: the
closed form of paper §4 with the CLS query path for the §2 model, backpropagation for an encoder): ``n`` nodes,
``n`` doubled from :data:`FIRST_NODES` until the completeness gap ``|Σ IG − (f(e) − f(e'))|`` is at most ``rtol ×
scale`` (``scale``: the model's ``output_scale`` of the document and the baseline — for the §2 model the largest
value score ``|c_t|``, which bounds ``|f|``). For the §2 model the integrand is analytic in ``a``, so the gap falls
geometrically with ``n``; an encoder with ReLU feed-forwards is only piecewise analytic along the path, the gap
falls more slowly, and the result carries the gap reached.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike

from theory.errors import InputError
from theory.models import removal
from theory.models.protocol import AttentionClassifier

RTOL = 1e-10
FIRST_NODES = 8
MAX_NODES = 4096
_BLOCK = 1 << 22  # path points × T × d_e per gradient call


@dataclass(frozen=True)
class IntegratedGradients:
    attributions: np.ndarray  # (T, d_e) IG_{t,k}
    scores: np.ndarray  # (T,) Σ_k IG_{t,k}
    f: float
    f_baseline: float
    gap: float  # |Σ IG − (f − f')|
    nodes: int
    baseline: str


def _integral(model: AttentionClassifier, X: np.ndarray, X0: np.ndarray, nodes: int) -> np.ndarray:
    """``∫_0^1 ∇ f(X0 + a(X − X0)) da`` by ``nodes``-point Gauss–Legendre, shape ``(T, d_e)``."""
    a, w = np.polynomial.legendre.leggauss(nodes)
    a, w = (a + 1) / 2, w / 2
    step = max(1, _BLOCK // X.size)
    out = np.zeros_like(X)
    for start in range(0, nodes, step):
        path = X0 + a[start : start + step, None, None] * (X - X0)
        out += np.einsum("n,ntd->td", w[start : start + step], model.gradient_embedded(path))
    return out


def integrated_gradients(
    model: AttentionClassifier,
    doc: ArrayLike,
    length: int,
    *,
    baseline: str = "replace",
    rtol: float = RTOL,
    nodes: int | None = None,
) -> IntegratedGradients:
    """IG of every position (``nodes`` fixed, or doubled until the completeness gap is ≤ ``rtol·scale``).

    Args:
        model: a model of any family whose embeddings are ``E[ξ_t] + p_t`` (today's two).
        doc: the document's ids, shape ``(T,)``.
        length: its number of words ``L`` (the positions the baseline removes).
        baseline: a substitution semantics for ``e'``: ``replace``, ``mask:ID`` or ``zero``.
        rtol: the completeness tolerance, relative to the model's ``output_scale`` of the document and the baseline.
        nodes: a fixed number of Gauss–Legendre nodes; None doubles them from :data:`FIRST_NODES` up to
            :data:`MAX_NODES` until the gap is within ``rtol``.

    Returns:
        The :class:`IntegratedGradients`: ``IG`` ``(T, d_e)``, its per-token scores ``(T,)``, ``f``, ``f(e')``, the
        completeness gap reached and the nodes used.

    Raises:
        InputError: the baseline is ``delete`` or does not parse, or ``rtol`` is not a positive number.
    """
    how = removal.parse(baseline, model)
    if not how.substitutes:
        raise InputError(
            f"--baseline {how.name}: Integrated Gradients needs a baseline embedding at each position; "
            "use replace, mask:ID or zero"
        )
    if not (np.isfinite(rtol) and rtol > 0):
        raise InputError(f"rtol={rtol!r}: the completeness tolerance must be a positive number")
    X = model.embed(np.asarray(doc)[None])[0]
    # the baseline needs the token table E and the positional encoding, which both families have and the protocol
    # does not name (a family whose embeddings are not E[ξ_t] + p_t needs its own baseline here)
    X0 = removal.baseline_embeddings(model, doc, length, how)  # type: ignore[arg-type]
    ends = np.stack([X, X0])
    f, f0 = (float(value) for value in model.output_embedded(ends))
    scale = model.output_scale(ends)
    n = FIRST_NODES if nodes is None else int(nodes)
    while True:
        attributions = (X - X0) * _integral(model, X, X0, n)
        gap = abs(float(attributions.sum()) - (f - f0))
        if nodes is not None or gap <= rtol * scale or n >= MAX_NODES:
            return IntegratedGradients(attributions, attributions.sum(axis=1), f, f0, gap, n, how.name)
        n *= 2
