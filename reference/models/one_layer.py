"""The §2 classifier in plain mpmath: loops over mpf numbers, every quantity computed as defined.

Independent of ``theory`` (docs/theory.md §1.5).  A model is anything with the attributes of the public
``.npz`` format (``E, Wq, Wk, Wv, Wl, cls_id, unk_id, max_len, pe`` and the optional ``scale``, default 1);
float64 weights convert to mpf exactly.  Every function takes ``dps`` and works in ``mpmath.workdps(dps)``, so the
caller's precision is restored afterwards.  Results are lists of mpf (``[head][position]`` for per-head quantities).
"""

from __future__ import annotations

import weakref
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import mpmath
from mpmath import mp, mpf

DPS = 40


def to_mp(array):
    """A numpy array (any shape) as nested lists of mpf, converted exactly.

    Args:
        array: a numpy array or a scalar.

    Returns:
        An mpf for a scalar, else nested lists of mpf of the array's shape.
    """
    if getattr(array, "ndim", 0) == 0:
        return mpf(float(array))
    return [to_mp(row) for row in array]


@lru_cache(maxsize=64)
def positional_encoding(T: int, d_e: int, dps: int = DPS):
    """``p_{t,2m} = sin(t·10000^{-2m/d_e})``, ``p_{t,2m+1} = cos(t·10000^{-2m/d_e})`` at ``dps`` digits (rows are
    tuples: the result is cached).

    Args:
        T: the number of positions.
        d_e: the embedding dimension.
        dps: the precision in decimal digits.

    Returns:
        ``T`` tuples of ``d_e`` mpf.
    """
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
    """``e_t = E[ξ_t] + p_t`` for each position of ``doc`` (a token-id sequence of length T); fresh lists (the
    rows of each ``(token, t)`` are computed once per model and precision and copied out).

    Args:
        model: the §2 model (the public ``.npz`` attributes).
        doc: the token ids, length ``T``.
        dps: the precision in decimal digits.

    Returns:
        ``T`` lists of ``d_e`` mpf.
    """
    with mpmath.workdps(dps):
        rows = _embedded_rows(model, len(doc), dps)
        return [list(rows(int(token), t)) for t, token in enumerate(doc)]


_EMBEDDED: weakref.WeakKeyDictionary[Any, dict] = weakref.WeakKeyDictionary()  # model -> {(T, dps, token, t): row}


def _embedded_rows(model, T: int, dps: int):
    """``(token, t) -> e_t`` (a tuple of mpf) for ``model`` at ``dps`` digits, memoized per model."""
    try:
        memo = _EMBEDDED.setdefault(model, {})
    except TypeError:  # not weak-referenceable: no memo across calls
        memo = {}
    d_e = model.E.shape[1]
    pe = positional_encoding(T, d_e, dps) if model.pe else None

    def rows(token: int, t: int) -> tuple:
        key = (T, dps, token, t)
        if key not in memo:
            row = to_mp(model.E[token])
            memo[key] = tuple(row if pe is None else [x + p for x, p in zip(row, pe[t])])
        return memo[key]

    return rows


def score_factor(model):
    """The factor of ``⟨q, W_k e_t⟩`` in the score: ``1/√d_att`` when the model's ``scale`` is 1 (the default
    when the attribute is absent), 1 when it is 0 (the authors' ``SCALE = False``); at the caller's precision.

    Args:
        model: the §2 model (``Wq`` of shape ``(K, d_att, d_e)``, optional ``scale``).

    Returns:
        The factor (mpf).
    """
    return 1 / mpmath.sqrt(model.Wq.shape[1]) if int(getattr(model, "scale", 1)) else mpf(1)


def matvec(M, x):
    """``M x`` for a matrix given as rows of mpf, each entry an exact-then-rounded dot product (``mp.fdot``).

    Args:
        M: the matrix, a list of rows.
        x: the vector, as long as a row of ``M``.

    Returns:
        The list of ``len(M)`` mpf.
    """
    return [mp.fdot(row, x) for row in M]


@dataclass
class Forward:
    f: mpf
    f_heads: list  # [head]
    alpha: list  # [head][t]
    scores: list  # [head][t]
    c: list  # [head][t]
    q: list  # [head][a]


_MEMO: weakref.WeakKeyDictionary[Any, dict] = weakref.WeakKeyDictionary()  # model -> {(head, dps, W_ℓ row): _Head}
_QUERIES_KEPT = 4  # score memos kept per head: one per recent query (a moved CLS row changes the query)


def _key(x) -> tuple:
    """An exact, cheaply hashed key of a row of mpf: their ``(sign, mantissa, exponent, bits)`` tuples (mpmath
    normalizes every mpf, so equal numbers have equal tuples; hashing these ints is done in C, whereas hashing
    an mpf runs mpmath's Python ``mpf_hash``); an mpf and an mpc of equal value get different keys (a miss,
    never a wrong hit)."""
    try:
        return tuple([v._mpf_ for v in x])
    except AttributeError:  # complex entries (mpc: a pair of such tuples), e.g. a Cauchy-integral derivative
        return tuple([getattr(v, "_mpf_", None) or v._mpc_ for v in x])


class _Head:
    """Memos of the pure per-row quantities of head ``i`` of a model at ``dps`` digits — ``W_q x``, ``W_k x``,
    ``c = W_ℓ W_v x``, and ``(s, exp s)`` for a query ``q`` — keyed by the exact values of their inputs, so that
    forward passes that share rows (finite differences move one entry; perturbed documents keep most rows)
    reuse them.  Every value is computed by the definition, at the same precision, exactly as without the memo."""

    def __init__(self, model, wl, i, dps):
        self.Wq, self.Wk, self.Wv = to_mp(model.Wq[i]), to_mp(model.Wk[i]), to_mp(model.Wv[i])
        self.wl = to_mp(wl)
        self.rows: dict = {}  # row key -> (W_k x, c)
        self.queries: dict = {}  # row key of X[0] -> W_q X[0]
        self.scores: dict = {}  # query key -> {row key: (s, exp s)}

    def query(self, x, key):
        if key not in self.queries:
            self.queries[key] = matvec(self.Wq, x)
        return self.queries[key]

    def row(self, x, key):
        if key not in self.rows:
            self.rows[key] = (matvec(self.Wk, x), mp.fdot(self.wl, matvec(self.Wv, x)))
        return self.rows[key]

    def score_table(self, q) -> dict:
        qkey = _key(q)
        if qkey not in self.scores:
            if len(self.scores) >= _QUERIES_KEPT:
                self.scores.pop(next(iter(self.scores)))
            self.scores[qkey] = {}
        return self.scores[qkey]


def _head(model, Wl, i, dps) -> _Head:
    key = (i, dps, Wl[i].tobytes())
    try:
        memo = _MEMO.setdefault(model, {})
    except TypeError:  # not weak-referenceable: no memo across calls
        memo = {}
    if key not in memo:
        memo[key] = _Head(model, Wl[i], i, dps)
    return memo[key]


def forward_embedded(model, X, dps: int = DPS, Wl=None) -> Forward:
    """Forward pass from embedded tokens ``X`` (list of T rows of d_e mpf); ``Wl`` overrides ``model.Wl``:

        q = W_q x_0,  s_t = ⟨q, W_k x_t⟩ / √d_att,  α = softmax(s),  c_t = W_ℓ W_v x_t,
        f^(i) = Σ_t α_t c_t,  f = (1/K) Σ_i f^(i).

    Args:
        model: the §2 model (the public ``.npz`` attributes).
        X: the embedded document, ``T`` rows of ``d_e`` mpf (``X[0]`` is CLS).
        dps: the precision in decimal digits.
        Wl: overrides ``model.Wl`` (shape ``(K, d_out)``).

    Returns:
        The :class:`Forward` record: ``f``, ``f^(i)``, and per head ``α``, ``s``, ``c`` (``[head][t]``) and ``q``.
    """
    with mpmath.workdps(dps):
        factor = score_factor(model)
        Wl = model.Wl if Wl is None else Wl
        keys = [_key(x) for x in X]
        f_heads, alphas, all_scores, values, queries = [], [], [], [], []
        for i in range(model.Wq.shape[0]):
            head = _head(model, Wl, i, dps)
            q = head.query(X[0], keys[0])
            table = head.score_table(q)
            rows = [head.row(x, key) for x, key in zip(X, keys)]
            for (k, _), key in zip(rows, keys):
                if key not in table:
                    s = mp.fdot(q, k) * factor
                    table[key] = (s, mpmath.exp(s))
            scores = [table[key][0] for key in keys]
            g = [table[key][1] for key in keys]
            total = mpmath.fsum(g)
            alpha = [gt / total for gt in g]
            c = [ct for _, ct in rows]
            f_heads.append(mpmath.fsum(a * ct for a, ct in zip(alpha, c)))
            alphas.append(alpha)
            all_scores.append(scores)
            values.append(c)
            queries.append(q)
        return Forward(
            f=mpmath.fsum(f_heads) / len(f_heads), f_heads=f_heads, alpha=alphas, scores=all_scores, c=values, q=queries
        )


def forward(model, doc, dps: int = DPS, Wl=None) -> Forward:
    """Forward pass of §2 on one document (token ids, CLS first, padded to T).

    Args:
        model: the §2 model (the public ``.npz`` attributes).
        doc: the token ids, length ``T``.
        dps: the precision in decimal digits.
        Wl: overrides ``model.Wl``.

    Returns:
        The :class:`Forward` record (see :func:`forward_embedded`).
    """
    return forward_embedded(model, embeddings(model, doc, dps), dps, Wl)
