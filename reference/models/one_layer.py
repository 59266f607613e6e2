"""The §2 classifier in plain mpmath: loops over mpf numbers, every quantity computed as defined.

Independent of ``theory`` (docs/theory.md §1.5).  A model is anything with the attributes of the public
``.npz`` format (``E, Wq, Wk, Wv, Wl, cls_id, unk_id, max_len, pe`` and the optional ``scale``, default 1);
float64 weights convert to mpf exactly.  Every function takes ``dps`` and works in ``mpmath.workdps(dps)``, so the caller's precision is
restored afterwards.  Results are lists of mpf (``[head][position]`` for per-head quantities).
"""

from __future__ import annotations

import weakref
from dataclasses import dataclass
from functools import lru_cache

import mpmath
from mpmath import mp, mpf

DPS = 40


def to_mp(array):
    """A numpy array (any shape) as nested lists of mpf, converted exactly."""
    if getattr(array, "ndim", 0) == 0:
        return mpf(float(array))
    return [to_mp(row) for row in array]


@lru_cache(maxsize=64)
def positional_encoding(T: int, d_e: int, dps: int = DPS):
    """``p_{t,2m} = sin(t·10000^{-2m/d_e})``, ``p_{t,2m+1} = cos(t·10000^{-2m/d_e})`` at ``dps`` digits (rows are
    tuples: the result is cached)."""
    with mpmath.workdps(dps):
        return tuple(tuple(row) for row in _positional_encoding(T, d_e))


def _positional_encoding(T: int, d_e: int):
    rows = []
    for t in range(T):
        row = []
        for j in range(d_e):
            angle = t * mpf(10000) ** (-mpf(j - j % 2) / d_e)
            row.append(mpmath.sin(angle) if j % 2 == 0 else mpmath.cos(angle))
        rows.append(row)
    return rows


def embeddings(model, doc, dps: int = DPS):
    """``e_t = E[ξ_t] + p_t`` for each position of ``doc`` (a token-id sequence of length T)."""
    with mpmath.workdps(dps):
        T, d_e = len(doc), model.E.shape[1]
        rows = [to_mp(model.E[int(token)]) for token in doc]
        if model.pe:
            pe = positional_encoding(T, d_e, dps)
            rows = [[x + p for x, p in zip(row, prow)] for row, prow in zip(rows, pe)]
        return rows


def score_factor(model):
    """The factor of ``⟨q, W_k e_t⟩`` in the score: ``1/√d_att`` when the model's ``scale`` is 1 (the default
    when the attribute is absent), 1 when it is 0 (the authors' ``SCALE = False``); at the caller's precision."""
    return 1 / mpmath.sqrt(model.Wq.shape[1]) if int(getattr(model, "scale", 1)) else mpf(1)


def matvec(M, x):
    return [mp.fdot(row, x) for row in M]


@dataclass
class Forward:
    f: mpf
    f_heads: list  # [head]
    alpha: list  # [head][t]
    scores: list  # [head][t]
    c: list  # [head][t]
    q: list  # [head][a]


_MEMO = weakref.WeakKeyDictionary()  # model -> {(what, head, dps, row): result}


def _memo(model) -> dict:
    """Results of pure per-row products ``W x`` of one model, reused across forward passes (finite differences
    and perturbed documents change few rows; the arithmetic of every forward pass is still the definition)."""
    try:
        return _MEMO.setdefault(model, {})
    except TypeError:  # not weak-referenceable: no memo
        return {}


def _product(memo, name, W, i, dps, x):
    key = (name, i, dps, tuple(x))
    if key not in memo:
        matrix = (name, i, dps)
        if matrix not in memo:
            memo[matrix] = to_mp(W[i])
        memo[key] = matvec(memo[matrix], x)
    return memo[key]


def forward_embedded(model, X, dps: int = DPS, Wl=None) -> Forward:
    """Forward pass from embedded tokens ``X`` (list of T rows of d_e mpf); ``Wl`` overrides ``model.Wl``."""
    with mpmath.workdps(dps):
        factor = score_factor(model)
        Wl = model.Wl if Wl is None else Wl
        memo = _memo(model)
        f_heads, alphas, all_scores, values, queries = [], [], [], [], []
        for i in range(model.Wq.shape[0]):
            wl = to_mp(Wl[i])
            q = _product(memo, "Wq", model.Wq, i, dps, X[0])
            scores = [mp.fdot(q, _product(memo, "Wk", model.Wk, i, dps, x)) * factor for x in X]
            g = [mpmath.exp(s) for s in scores]
            total = mpmath.fsum(g)
            alpha = [gt / total for gt in g]
            c = [mp.fdot(wl, _product(memo, "Wv", model.Wv, i, dps, x)) for x in X]
            f_heads.append(mpmath.fsum(a * ct for a, ct in zip(alpha, c)))
            alphas.append(alpha)
            all_scores.append(scores)
            values.append(c)
            queries.append(q)
        return Forward(f=mpmath.fsum(f_heads) / len(f_heads), f_heads=f_heads, alpha=alphas,
                       scores=all_scores, c=values, q=queries)


def forward(model, doc, dps: int = DPS, Wl=None) -> Forward:
    """Forward pass of §2 on one document (token ids, CLS first, padded to T)."""
    return forward_embedded(model, embeddings(model, doc, dps), dps, Wl)
