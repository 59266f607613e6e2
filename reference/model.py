"""The §2 classifier in plain mpmath: loops over mpf numbers, every quantity computed as defined.

Independent of ``theory`` (THEORY.md §3.5).  A model is anything with the attributes of the public
``.npz`` format (``E, Wq, Wk, Wv, Wl, cls_id, unk_id, max_len, pe``); float64 weights convert to mpf
exactly.  Every function takes ``dps`` and works in ``mpmath.workdps(dps)``, so the caller's precision is
restored afterwards.  Results are lists of mpf (``[head][position]`` for per-head quantities).
"""

from __future__ import annotations

from dataclasses import dataclass

import mpmath
from mpmath import mp, mpf

DPS = 40


def to_mp(array):
    """A numpy array (any shape) as nested lists of mpf, converted exactly."""
    if getattr(array, "ndim", 0) == 0:
        return mpf(float(array))
    return [to_mp(row) for row in array]


def positional_encoding(T: int, d_e: int):
    """``p_{t,2m} = sin(t·10000^{-2m/d_e})``, ``p_{t,2m+1} = cos(t·10000^{-2m/d_e})`` at the working precision."""
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
            pe = positional_encoding(T, d_e)
            rows = [[x + p for x, p in zip(row, prow)] for row, prow in zip(rows, pe)]
        return rows


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


def forward_embedded(model, X, dps: int = DPS, Wl=None) -> Forward:
    """Forward pass from embedded tokens ``X`` (list of T rows of d_e mpf); ``Wl`` overrides ``model.Wl``."""
    with mpmath.workdps(dps):
        d_att = model.Wq.shape[1]
        root = mpmath.sqrt(d_att)
        Wl = model.Wl if Wl is None else Wl
        f_heads, alphas, all_scores, values, queries = [], [], [], [], []
        for i in range(model.Wq.shape[0]):
            Wq, Wk, Wv, wl = to_mp(model.Wq[i]), to_mp(model.Wk[i]), to_mp(model.Wv[i]), to_mp(Wl[i])
            q = matvec(Wq, X[0])
            scores = [mp.fdot(q, matvec(Wk, x)) / root for x in X]
            g = [mpmath.exp(s) for s in scores]
            total = mpmath.fsum(g)
            alpha = [gt / total for gt in g]
            c = [mp.fdot(wl, matvec(Wv, x)) for x in X]
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
