"""LIME for text exactly as lime 0.2.0.1 computes it (``LimeTextExplainer`` defaults), brute force.

Independent of ``theory`` (docs/theory.md §1.5).  numpy is used for the random draws only (lime's own
``numpy.random.RandomState``) and for bookkeeping; every number of the fit is computed in mpmath.

What lime 0.2.0.1 does (``lime_text.py``, ``lime_base.py``), step by step:

1. Features: the ``d`` distinct words of the text, numbered in order of first appearance
   (``IndexedString`` with ``bow=True``).
2. Samples, ``n`` of them, from ``RandomState(random_state)``: row 0 is the original (all ones); then one
   call ``randint(1, d + 1, n − 1)`` draws the number ``s`` of words to switch off for rows ``1..n−1``, and
   for each row in order ``choice(range(d), s, replace=False)`` draws which.
3. Distance ``D = 100 · cosine distance(z, 1) = 100 · (1 − √(|z|/d))`` (sklearn's cosine distance of the
   binary rows; a row of zeros is at distance 1), weight ``π = √exp(−D²/w²)`` with kernel width ``w = 25``.
4. Feature selection ``'auto'``: with ``num_features > 6`` this is ``'highest_weights'``, which, when
   ``num_features ≥ d``, keeps every feature (only their order changes; ``local_exp`` lists ``(feature id,
   coefficient)`` pairs sorted by decreasing ``|coefficient|``).  With ``num_features ≤ 6`` it is
   ``'forward_selection'``, which also keeps every feature when ``num_features ≥ d``.
5. Surrogate: ``Ridge(alpha=1, fit_intercept=True)`` with ``sample_weight = π``, i.e. the minimiser of
   ``Σ_i π_i (y_i − b − ⟨β, z_i⟩)² + ‖β‖²`` (the intercept is not penalised).  Here it is solved from its
   normal equations in mpmath.

String ↔ token mapping used to drive the real lime package (:func:`text_of`, :func:`tokens_of`): word id
``17`` is written ``"w17"`` and the words are joined by single spaces, e.g. ``"w5 w9 w12 w9"``.  lime's
default ``split_expression=r'\\W+'`` splits exactly on the spaces (``w`` and digits are word characters), so
lime's words are our word ids, in the same order of first appearance.  With ``bow=True`` lime removes a
switched-off word's characters and keeps the separators: removing ``w9`` gives ``"w5  w12 "``.  The
classifier function maps such a string back to a document: ``delete`` keeps the non-empty pieces
(``[w5, w12]``), CLS first and UNK padding to ``T``; ``replace`` splits on single spaces, so each empty piece
is the slot of a removed word and becomes UNK at the same position (``[w5, UNK, w12, UNK]``).
"""

from __future__ import annotations

from dataclasses import dataclass

import mpmath
import numpy as np
from mpmath import mpf

import reference.models.one_layer as ref
from reference.explainers.perturb import distinct_words, forward_perturbed, parse

KERNEL_WIDTH = 25
ALPHA = 1


def sample(d: int, n: int, random_state) -> np.ndarray:
    """The ``(n, d)`` 0/1 matrix of lime 0.2.0.1's samples for ``RandomState(random_state)`` (same calls)."""
    if d < 1:
        raise ValueError("the text has no words (d = 0): there is nothing to explain")
    if n < 2:
        raise ValueError(f"n = {n} samples: LIME needs at least 2 (the original and one perturbation)")
    rs = random_state if isinstance(random_state, np.random.RandomState) else np.random.RandomState(random_state)
    sizes = rs.randint(1, d + 1, n - 1)
    Z = np.ones((n, d), dtype=np.int64)
    for i, size in enumerate(sizes, start=1):
        Z[i, rs.choice(range(d), size, replace=False)] = 0
    return Z


def kernel_weight(kept: int, d: int, dps: int = ref.DPS):
    """``π = √exp(−D²/w²)`` with ``D = 100 (1 − √(kept/d))`` (cosine distance × 100 of a 0/1 row to 1)."""
    with mpmath.workdps(dps):
        D = 100 * (1 - mpmath.sqrt(mpf(kept) / d))
        return mpmath.sqrt(mpmath.exp(-D ** 2 / mpf(KERNEL_WIDTH) ** 2))


@dataclass
class Fit:
    """Weighted ridge fit: ``intercept[m]`` and ``coef[m][j]`` for each of the ``m`` outputs (mpf)."""

    intercept: list
    coef: list


def weighted_ridge(Z, Y, dps: int = ref.DPS, alpha=ALPHA) -> Fit:
    """sklearn's ``Ridge(alpha, fit_intercept=True).fit(Z, y, sample_weight=π)`` for every column ``y`` of ``Y``.

    ``Z`` is the 0/1 sample matrix (n, d) and ``Y`` a list of ``n`` rows of ``m`` outputs (mpf).  Solves the
    normal equations ``[[Σπ, Σπzᵀ], [Σπz, Σπzzᵀ + αI]] [b; β] = [Σπy; Σπzy]`` at ``dps`` digits; identical
    rows are merged first (same ``z``, hence same weight and same output).
    """
    Z = np.asarray(Z, dtype=np.int64)
    n, d = Z.shape
    with mpmath.workdps(dps):
        merged: dict[tuple, list] = {}
        for z, y in zip(map(tuple, Z.tolist()), Y):
            entry = merged.setdefault(z, [0, y])
            entry[0] += 1
        rows = list(merged)
        m = len(Y[0])
        # sums accumulated in lists of mpf (the same additions as in an mpmath matrix, without its slow
        # indexing), then solved as mpmath matrices
        A = [[mpmath.mpf(0)] * (d + 1) for _ in range(d + 1)]
        B = [[mpmath.mpf(0)] * (d + 1) for _ in range(m)]
        for z in rows:
            count, y = merged[z]
            w = count * kernel_weight(sum(z), d, dps)
            cols = [0] + [j + 1 for j, on in enumerate(z) if on]  # column 0: intercept; word j: column j + 1
            for a in cols:
                for b in cols:
                    A[a][b] += w
                for k in range(m):
                    B[k][a] += w * y[k]
        for j in range(1, d + 1):
            A[j][j] += alpha
        A = mpmath.matrix(A)
        solutions = [mpmath.lu_solve(A, mpmath.matrix(rhs)) for rhs in B]
        return Fit(intercept=[x[0] for x in solutions], coef=[[x[j] for j in range(1, d + 1)] for x in solutions])


@dataclass
class Lime:
    """Empirical LIME of one output function: coefficients in feature order, intercept, and the samples."""

    semantics: str
    words: list  # the distinct word ids (feature order)
    coef: list  # [output][j] mpf
    intercept: list  # [output] mpf
    Z: np.ndarray
    Y: list  # [sample][output] mpf


def lime(outputs, d: int, n: int, random_state, dps: int = ref.DPS, semantics: str = "", words=()) -> Lime:
    """LIME of ``outputs(z) -> list of mpf`` (one or several functions of the 0/1 vector ``z``).

    ``outputs`` is called once per distinct sample.
    """
    Z = sample(d, n, random_state)
    cache: dict[tuple, list] = {}
    Y = []
    for z in map(tuple, Z.tolist()):
        if z not in cache:
            cache[z] = list(outputs(z))
        Y.append(cache[z])
    fit = weighted_ridge(Z, Y, dps)
    return Lime(semantics, list(words), fit.coef, fit.intercept, Z, Y)


def lime_model(model, doc, length: int, n: int, random_state, semantics: str, dps: int = ref.DPS,
               Wl=None, engine: str = "mpmath") -> Lime:
    """LIME of the model on ``doc``: output 0 is ``f``, outputs ``1..K`` are the heads ``f^(i)``; every
    perturbed document goes through the full forward pass of ``engine`` (mpmath, or the Arb balls'
    midpoints: ``reference.explainers.perturb.forward_perturbed``)."""
    parse(semantics)
    words = distinct_words(doc, length)

    def outputs(z):
        fw = forward_perturbed(model, doc, length, z, semantics, dps, Wl, engine)
        return [fw.f, *fw.f_heads]

    return lime(outputs, len(words), n, random_state, dps, semantics, words)


# --- driving the real lime package ---------------------------------------------------------------------

def text_of(doc, length: int) -> str:
    """The string lime explains: word id ``17`` → ``"w17"``, words joined by single spaces."""
    return " ".join(f"w{int(token)}" for token in doc[1: length + 1])


def tokens_of(string: str, semantics: str, unk_id: int) -> list[int]:
    """The words of a (perturbed) string of :func:`text_of`: ``delete`` drops removed words, ``replace`` puts
    UNK in their slots (an empty piece between single spaces)."""
    pieces = string.split(" ")
    if semantics == "delete":
        return [int(piece[1:]) for piece in pieces if piece]
    if semantics == "replace":
        return [int(piece[1:]) if piece else unk_id for piece in pieces]
    raise ValueError(f"unknown removal semantics {semantics!r}; use 'delete' or 'replace'")


def document_of(string: str, semantics: str, cls_id: int, unk_id: int, T: int) -> list[int]:
    """The length-``T`` document (CLS, words, UNK padding) of a (perturbed) string."""
    words = tokens_of(string, semantics, unk_id)
    return [cls_id] + words + [unk_id] * (T - 1 - len(words))


def run_lime_package(f_documents, doc, length: int, n: int, random_state: int, semantics: str, cls_id: int,
                     unk_id: int, T: int):
    """``LimeTextExplainer(random_state=random_state).explain_instance`` on :func:`text_of`, with defaults
    except ``num_features`` (set to ``max(d, 10)`` so that every feature is kept) and ``num_samples = n``.

    ``f_documents`` maps an integer array of documents ``(B, T)`` to ``f`` ``(B,)``; the classifier returns
    the two columns ``(−f, f)`` and label 1 is explained.  Returns ``(coef in feature order, intercept)`` as
    float64 and lime's feature words.
    """
    from lime.lime_text import LimeTextExplainer

    def classifier(strings):
        docs = np.array([document_of(s, semantics, cls_id, unk_id, T) for s in strings], dtype=np.int64)
        f = np.asarray(f_documents(docs), dtype=np.float64)
        return np.column_stack([-f, f])

    d = len(distinct_words(doc, length))
    explainer = LimeTextExplainer(random_state=random_state)
    explanation = explainer.explain_instance(text_of(doc, length), classifier, num_features=max(d, 10),
                                             num_samples=n)
    coef = np.zeros(d)
    pairs = explanation.local_exp[1]
    if sorted(feature for feature, _ in pairs) != list(range(d)):
        raise AssertionError(f"lime kept features {sorted(f for f, _ in pairs)}, expected all of 0..{d - 1}")
    for feature, value in pairs:
        coef[feature] = value
    words = [int(explanation.domain_mapper.indexed_string.word(j)[1:]) for j in range(d)]
    return coef, float(explanation.intercept[1]), words
