"""Shapley values of the words of a document (Shapley 1953; docs/theory.md §11.2), through the fast evaluators of
:mod:`theory.models.perturb` under any removal semantics (:mod:`theory.models.removal`).

The players are the ``d`` distinct words (lime's feature order); the value of a set ``S`` of kept words is
``v(S) = f(ξ with the words outside S removed)``, ``z = 1_S``.  The Shapley value of word ``j`` is

    φ_j = Σ_{S ∌ j} |S|! (d − |S| − 1)! / d! · [v(S ∪ {j}) − v(S)]
        = E_π [v(P_j^π ∪ {j}) − v(P_j^π)],

the second form over a uniformly random order ``π`` of the words, ``P_j^π`` the words before ``j`` in it.

- :func:`shapley_table` / :func:`shapley_exact` — the first form over the ``2^d`` patterns (``d ≤ 16``,
  pattern ``k`` has ``z_j = (k >> j) & 1``, as :func:`theory.explainers.lime_inf.patterns`);
- :func:`shapley_permutation` — the second form by Monte Carlo over orders with *antithetic pairs*
  (an order and its reverse; each pair's mean marginal-contribution vector is one i.i.d. draw, unbiased for
  ``φ``): the estimate, its standard errors (sample SD of the pair means / √pairs), and, given a target,
  more pairs until ``‖SE‖₂ / ‖φ̂‖₂`` reaches it.  An order costs ``d − 1`` evaluations (``v(∅)`` and ``v([d])``
  are computed once).  The draws come from ``numpy.random.default_rng(seed)``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike
from scipy.special import gammaln

from theory.errors import InputError
from theory.explainers.lime_inf import patterns, table
from theory.models.perturb import Evaluate, distinct_words, evaluator, single_threaded_blas
from theory.models.protocol import AttentionClassifier

BATCH_PAIRS = 16  # antithetic pairs evaluated per block
MAX_PAIRS = 1_000_000


def weights(d: int) -> np.ndarray:
    """``|S|!(d − |S| − 1)!/d! = 1/(d·C(d−1, |S|))`` for ``|S| = 0..d−1``.

    Args:
        d: the number of players (distinct words).

    Returns:
        The weights by ``|S|``, shape ``(d,)``.
    """
    s = np.arange(d)
    return np.exp(gammaln(s + 1) + gammaln(d - s) - gammaln(d + 1))


def shapley_table(values: ArrayLike, d: int) -> np.ndarray:
    """Exact ``φ`` of the game with ``values[k] = v(pattern k)``.

    Args:
        values: ``v`` of the ``2^d`` patterns (pattern ``k`` keeps word ``j`` when ``(k >> j) & 1``), shape
            ``(..., 2^d)`` (games batched on the leading axes).
        d: the number of players.

    Returns:
        ``φ``, shape ``(..., d)``.

    Raises:
        InputError: ``values`` does not have ``2^d`` entries on its last axis.
    """
    values = np.asarray(values, dtype=np.float64)
    if values.shape[-1] != 2**d:
        raise InputError(f"values must have 2^d = {2**d} entries (one per pattern), got {values.shape[-1]}")
    k = np.arange(2**d)
    size = np.bitwise_count(k) if hasattr(np, "bitwise_count") else patterns(d).sum(axis=1).astype(int)
    w = weights(d)
    phi = np.empty(values.shape[:-1] + (d,))
    for j in range(d):
        without = k[(k >> j) & 1 == 0]
        phi[..., j] = (values[..., without | (1 << j)] - values[..., without]) @ w[size[without]]
    return phi


def shapley_exact(model: AttentionClassifier, doc: ArrayLike, length: int, *, semantics: str = "replace") -> np.ndarray:
    """Exact Shapley values of the words (enumeration of the ``2^d`` perturbed documents, ``d ≤ 16``).

    Args:
        model: a model of any family.
        doc: the document's ids, shape ``(T,)``.
        length: its number of words ``L``.
        semantics: the removal semantics (:mod:`theory.models.removal`).

    Returns:
        ``φ``, shape ``(d,)`` in lime's feature order.
    """
    d = distinct_words(doc, length).size
    return shapley_table(table(model, doc, length, semantics=semantics), d)


@dataclass(frozen=True)
class ShapleyEstimate:
    """A Monte Carlo estimate of ``φ`` with its standard errors; ``pairs`` antithetic pairs of orders."""

    phi: np.ndarray
    stderr: np.ndarray
    pairs: int
    seed: int
    evaluations: int

    @property
    def relative_se(self) -> float:
        """``‖SE‖₂ / ‖φ̂‖₂`` (inf when ``φ̂ = 0``)."""
        norm = float(np.linalg.norm(self.phi))
        return float(np.linalg.norm(self.stderr)) / norm if norm > 0 else np.inf


def prefix_patterns(orders: np.ndarray) -> np.ndarray:
    """The patterns of the orders' proper non-empty prefixes: row ``k`` keeps the first ``k + 1`` words of the
    order.

    Args:
        orders: ``m`` orders of the ``d`` words, shape ``(m, d)``.

    Returns:
        The 0/1 patterns, shape ``(m, d − 1, d)``.
    """
    m, d = orders.shape
    rank = np.empty_like(orders)
    np.put_along_axis(rank, orders, np.arange(d)[None, :].repeat(m, 0), axis=1)
    return (rank[:, None, :] <= np.arange(d - 1)[None, :, None]).astype(np.float64)


def shapley_permutation(
    evaluate: Evaluate, d: int, pairs: int = 256, seed: int = 0, target: float | None = None, max_pairs: int = MAX_PAIRS
) -> ShapleyEstimate:
    """Antithetic permutation sampling of ``φ`` for a value function ``evaluate(Z) -> v`` (see the module
    docstring).  Draws ``pairs`` pairs; with ``target``, keeps drawing blocks until the relative SE is at most
    ``target`` (or ``max_pairs``).

    Args:
        evaluate: the value function: 0/1 patterns ``(m, d)`` to ``v`` ``(m,)``.
        d: the number of players, at least 1.
        pairs: the number of antithetic pairs of orders drawn at least, at least 2.
        seed: the seed of ``numpy.random.default_rng``.
        target: the relative standard error ``‖SE‖₂ / ‖φ̂‖₂`` to reach, drawing more pairs; None: ``pairs`` only.
        max_pairs: the most pairs drawn when chasing ``target``.

    Returns:
        The :class:`ShapleyEstimate` (``φ̂``, its standard errors, the pairs and evaluations used).

    Raises:
        InputError: ``d = 0`` or ``pairs`` is not an integer ≥ 2.
    """
    if d < 1:
        raise InputError("the text is empty (d = 0 distinct words): there is nothing to explain")
    if isinstance(pairs, bool) or int(pairs) != pairs or pairs < 2:
        raise InputError(f"pairs={pairs!r}: the standard error needs at least 2 antithetic pairs")
    rng = np.random.default_rng(seed)
    ends = evaluate(np.stack([np.zeros(d), np.ones(d)]))
    total, squares, n = np.zeros(d), np.zeros(d), 0
    while True:
        m = min(BATCH_PAIRS, max_pairs - n) if target is not None and n >= pairs else min(BATCH_PAIRS, pairs - n)
        orders = rng.permuted(np.tile(np.arange(d), (m, 1)), axis=1)
        orders = np.concatenate([orders, orders[:, ::-1]])  # the antithetic twins
        inner = (
            evaluate(prefix_patterns(orders).reshape(-1, d)).reshape(2 * m, d - 1) if d > 1 else np.empty((2 * m, 0))
        )
        v = np.concatenate([np.full((2 * m, 1), ends[0]), inner, np.full((2 * m, 1), ends[1])], axis=1)
        marginal = np.empty((2 * m, d))
        np.put_along_axis(marginal, orders, np.diff(v, axis=1), axis=1)  # word orders[r, k] adds v[k+1] − v[k]
        pair = 0.5 * (marginal[:m] + marginal[m:])
        total += pair.sum(axis=0)
        squares += (pair**2).sum(axis=0)
        n += m
        phi = total / n
        stderr = np.sqrt(np.maximum(squares / n - phi**2, 0.0) * n / (n - 1) / n) if n > 1 else np.full(d, np.inf)
        estimate = ShapleyEstimate(phi, stderr, n, int(seed), 2 + 2 * n * (d - 1))
        if n >= pairs and (target is None or estimate.relative_se <= target or n >= max_pairs):
            return estimate


def shapley_mc(
    model: AttentionClassifier,
    doc: ArrayLike,
    length: int,
    *,
    semantics: str = "replace",
    samples: int = 256,
    seed: int = 0,
    target: float | None = None,
) -> ShapleyEstimate:
    """:func:`shapley_permutation` of a model's words on one document under ``semantics``, with ``samples``
    antithetic pairs of orders.

    Args:
        model: a model of any family.
        doc: the document's ids, shape ``(T,)``.
        length: its number of words ``L``.
        semantics: the removal semantics (:mod:`theory.models.removal`).
        samples: the number of antithetic pairs of orders.
        seed: the seed of the orders.
        target: the relative standard error to reach (:func:`shapley_permutation`); None: ``samples`` pairs only.

    Returns:
        The :class:`ShapleyEstimate` in lime's feature order.
    """
    d = distinct_words(doc, length).size
    evaluate = evaluator(model, doc, length, semantics)
    with single_threaded_blas():
        return shapley_permutation(evaluate, d, samples, seed, target)
