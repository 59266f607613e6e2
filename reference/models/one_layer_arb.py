"""The §2 classifier on Arb balls (python-flint): the forward pass as defined, with matrix products, returning
certified enclosures.

A second reference engine beside :mod:`reference.models.one_layer` (mpmath), independent of ``theory`` and of
it: every quantity is computed from its definition,

    e_t = E[ξ_t] + p_t,  q = W_q e_0,  s_t = ⟨q, W_k e_t⟩ / √d_att (not divided when ``scale`` is 0),
    α = softmax(s),  c_t = W_ℓ W_v e_t,
    f^(i) = Σ_t α_t c_t,  f = (1/K) Σ_i f^(i),

but in ball arithmetic (Arb, through ``flint.arb`` and ``flint.arb_mat``): each result is a midpoint and a
radius such that the exact real number — the forward pass of the float64 weights, which convert exactly —
lies in the ball.  So the radius *certifies* the result's rounding error (mpmath's results come with none),
and the products may be associated to be cheap (``⟨q, W_k e_t⟩ = ⟨e_t, W_kᵀ q⟩``, :class:`Document`) without
any risk to that guarantee.  Arb's matrix products run in C; with that association a document at the
authors' widths (K = 6, d_e = 128, d_att = d_out = 64, T = 256) costs O(K·T·d_e); the mpmath engine stays
the reference of the small random models and evaluates every product as written.

``prec`` is in bits (``flint.ctx.prec`` is set for the computation and restored afterwards).  Results are
``flint.arb`` (per head: lists ``[head][position]``); :func:`to_mpf` and :func:`radius` convert a ball's
midpoint to an exact mpf and its radius to a float.
"""

from __future__ import annotations

import math
import weakref
from contextlib import contextmanager
from typing import Any

import flint
import mpmath
from flint import arb, arb_mat, fmpz
from mpmath.libmp import from_man_exp

from reference.models.one_layer import (
    Forward,  # the same record; here its numbers are balls
)

PREC = 200  # bits (≈ 60 digits)


@contextmanager
def workprec(prec: int):
    """``flint.ctx.prec = prec`` inside the block; the caller's precision is restored afterwards.

    Args:
        prec: the working precision in bits.

    Yields:
        Nothing: the block runs at ``prec`` bits.
    """
    saved = flint.ctx.prec
    flint.ctx.prec = prec
    try:
        yield
    finally:
        flint.ctx.prec = saved


def dps_to_prec(dps: int) -> int:
    """The bits of ``dps`` decimal digits (rounded up), for working at an mpmath precision.

    Args:
        dps: a precision in decimal digits.

    Returns:
        The precision in bits, ``⌈dps·log2 10⌉ + 1``.
    """
    return int(mpmath.ceil(dps * mpmath.log(10, 2))) + 1


def to_mpf(x: arb):
    """The midpoint of the ball ``x`` as an mpf, exactly (no rounding to mpmath's working precision).

    Args:
        x: a ball.

    Returns:
        Its midpoint as an mpf.
    """
    man, exp = x.mid().man_exp()
    return mpmath.mp.make_mpf(from_man_exp(int(man), int(exp)))


def exact(x) -> arb:
    """The mpf (or float) ``x`` as an exact ball (its dyadic value, whatever its number of bits).

    Args:
        x: an mpf or a float.

    Returns:
        The ball of radius 0 at ``x``.
    """
    sign, man, exp, _ = x._mpf_ if isinstance(x, mpmath.mpf) else mpmath.mpf(float(x))._mpf_  # floats: exact
    man, exp = (-int(man) if sign else int(man)), int(exp)
    with workprec(max(flint.ctx.prec, man.bit_length() + 8)):
        return arb(fmpz(man)) * arb(2) ** exp


def radius(x: arb) -> float:
    """The radius of the ball ``x``, rounded up to a float (so that it still bounds the error).

    Args:
        x: a ball.

    Returns:
        The radius, a float ``≥`` the exact radius.
    """
    r = float(x.rad())
    return r if arb(r) >= x.rad() else math.nextafter(r, math.inf)


def matrix(array) -> arb_mat:
    """A 2-d float64 array as an ``arb_mat`` (exact: a double is an exact ball).

    Args:
        array: a 2-d float array ``(rows, cols)``.

    Returns:
        The ``rows × cols`` ball matrix of radius 0.
    """
    rows, cols = array.shape
    return arb_mat(rows, cols, [float(v) for v in array.ravel()])


def positional_encoding(T: int, d_e: int) -> arb_mat:
    """``p_{t,2m} = sin(t·10000^{-2m/d_e})``, ``p_{t,2m+1} = cos(t·10000^{-2m/d_e})`` as balls.

    Args:
        T: the number of positions.
        d_e: the embedding dimension.

    Returns:
        The ``T × d_e`` ball matrix, at the current ``flint.ctx.prec``.
    """
    base = arb(10000)
    rates = [base ** (arb(-(j - j % 2)) / d_e) for j in range(d_e)]
    return arb_mat(
        T, d_e, [(t * rates[j]).sin() if j % 2 == 0 else (t * rates[j]).cos() for t in range(T) for j in range(d_e)]
    )


class _Weights:
    """A model's weights as ``arb_mat`` (per head), converted once per model and precision."""

    def __init__(self, model):
        K = model.Wq.shape[0]
        self.Wq = [matrix(model.Wq[i]) for i in range(K)]
        self.Wk_T = [matrix(model.Wk[i].T) for i in range(K)]
        self.Wv_T = [matrix(model.Wv[i].T) for i in range(K)]
        self.Wl_T = {}  # bytes of W_ℓ -> [head] column vectors
        self.pe = {}  # T -> arb_mat
        self.E = None  # V × d_e, converted on first use (the tables)
        self.tables = {}  # (first token, T, bytes of W_ℓ) -> Tables
        self.WkT_Wq = {}  # head -> W_kᵀ W_q (d_e × d_e), for CLS's moved queries


_WEIGHTS: weakref.WeakKeyDictionary[Any, dict[int, _Weights]] = weakref.WeakKeyDictionary()  # model -> {prec: _Weights}


def _weights(model, prec: int) -> _Weights:
    try:
        per_model = _WEIGHTS.setdefault(model, {})
    except TypeError:
        per_model = {}
    if prec not in per_model:
        per_model[prec] = _Weights(model)
    return per_model[prec]


def _positions(model, T: int, prec: int) -> arb_mat:
    """The ``T × d_e`` positional encoding of the model (zero when ``pe`` is off), once per model and precision."""
    weights = _weights(model, prec)
    if T not in weights.pe:
        d_e = model.E.shape[1]
        weights.pe[T] = positional_encoding(T, d_e) if model.pe else arb_mat(T, d_e)
    return weights.pe[T]


def embeddings(model, doc, prec: int = PREC) -> arb_mat:
    """``e_t = E[ξ_t] + p_t`` as the rows of a ``T × d_e`` ball matrix.

    Args:
        model: the §2 model (the public ``.npz`` attributes).
        doc: the token ids, length ``T``.
        prec: the working precision in bits.

    Returns:
        The ``T × d_e`` ball matrix.
    """
    with workprec(prec):
        X = matrix(model.E[[int(token) for token in doc]])
        return X + _positions(model, len(doc), prec) if model.pe else X


class Document:
    """An embedded document ``X`` (``T × d_e`` balls) with what every head's forward pass is made of — the
    query ``q = W_q e_0``, ``u = W_kᵀ q`` and ``w = W_vᵀ W_ℓᵀ``, so that ``s_t = ⟨q, W_k e_t⟩ / √d_att = ⟨e_t, u⟩ /
    √d_att`` and ``c_t = W_ℓ W_v e_t = ⟨e_t, w⟩``, the scores, ``g_t = exp s_t`` and the value scores.

    The products are associated so that a document costs O(K·T·d_e) instead of O(K·T·d_e·d_att): the same
    real numbers, and in ball arithmetic the order of evaluation cannot hide an error — every ball contains
    the exact value whichever way it was computed (``reference.engines_agree`` checks the balls against the
    mpmath engine, which evaluates every product as written).  :meth:`moved` evaluates the forward pass of
    ``X`` with one entry moved, recomputing only what that entry enters."""

    def __init__(self, model, X: arb_mat, prec: int = PREC, Wl=None):
        with workprec(prec):
            self.weights, self.prec, self.X = _weights(model, prec), prec, X
            Wl = model.Wl if Wl is None else Wl
            key = Wl.tobytes()
            if key not in self.weights.Wl_T:
                self.weights.Wl_T[key] = [matrix(Wl[i][:, None]) for i in range(Wl.shape[0])]
            self.root = arb(model.Wq.shape[1]).sqrt() if int(getattr(model, "scale", 1)) else arb(1)  # ⟨q, k⟩ / root
            self.K = model.Wq.shape[0]
            w = self.weights
            self.q = [w.Wq[i] * _row(X, 0).transpose() for i in range(self.K)]  # d_att × 1
            self.u = [w.Wk_T[i] * self.q[i] for i in range(self.K)]  # d_e × 1: W_kᵀ q
            self.w = [w.Wv_T[i] * w.Wl_T[key][i] for i in range(self.K)]  # d_e × 1: W_vᵀ W_ℓᵀ
            c, scores = X * _columns(self.w), X * _columns(self.u) / self.root  # T × K each
            self.c = [_column_of(c, i) for i in range(self.K)]
            self.scores = [_column_of(scores, i) for i in range(self.K)]
            self.g = [[s.exp() for s in scores] for scores in self.scores]
            self._query_paths: dict[tuple, tuple] = {}

    def forward(self) -> Forward:
        """The forward pass of the document as it is (nothing moved).

        Returns:
            The :class:`Forward` record in balls: ``f``, ``f^(i)``, and per head ``α``, ``s``, ``c`` and ``q``.
        """
        with workprec(self.prec):
            return _record(self.g, self.scores, self.c, self.q)

    def _query_moves(self, i: int, js: list) -> tuple:
        """Head ``i``'s CLS key ``k_0 = W_k e_0`` (a ``1 × d_att`` row) and, for the positions ``u = 1..T−1``,
        ``⟨W_k e_u, column j of W_q⟩ = e_uᵀ (W_kᵀ W_q)[:, j]`` for every j in ``js`` (``(T−1) × len(js)``): by
        distributivity, CLS's entry j moved by δ moves the query to ``q + δ·(column j of W_q)`` and every other
        score to ``⟨W_k e_u, q⟩ + δ·⟨W_k e_u, column j of W_q⟩``.  Built once per document and coordinates."""
        key = (i, tuple(js))
        if key not in self._query_paths:
            X, w = self.X, self.weights
            if i not in w.WkT_Wq:
                w.WkT_Wq[i] = w.Wk_T[i] * w.Wq[i]  # d_e × d_e, once per model and precision
            others = arb_mat(X.nrows() - 1, X.ncols(), [X[u, a] for u in range(1, X.nrows()) for a in range(X.ncols())])
            self._query_paths[key] = (_row(X, 0) * w.Wk_T[i], others * _select_columns(w.WkT_Wq[i], js))
        return self._query_paths[key]

    def moved(self, t: int, delta: arb, coordinates=None) -> list:
        """``[f of the document with X[t, j] replaced by X[t, j] + delta for j in coordinates]`` (default: every
        j in ``range(d_e)``).

        The ``d_e`` moved copies of row ``t`` are the rows of one ball matrix ``M = 1·e_tᵀ + δ·I``, so their
        scores ``M u / √d_att`` and value scores ``M w`` are two matrix products.  When ``t = 0`` the query
        moves too (:meth:`_query_moves`): every score changes, CLS's own as ``⟨q + δ·W_q[:, j], k_0 +
        δ·W_k[:, j]⟩``.  Then ``f^(i) = Σ_u g_u c_u / Σ_u g_u`` (``g_u = exp s_u``), with the unmoved positions'
        terms summed once: the same sums in another order.

        Args:
            t: the position whose row moves.
            delta: the move ``δ`` (a ball).
            coordinates: the coordinates ``j`` moved, one at a time (None: all ``d_e``).

        Returns:
            ``f`` of each moved document (balls), one per coordinate in order.
        """
        with workprec(self.prec):
            d_e = self.X.ncols()
            js = list(range(d_e)) if coordinates is None else [int(j) for j in coordinates]
            n = len(js)
            ones = arb_mat(n, 1, [1] * n)  # copies a row n times (exactly) as a matrix product
            M = ones * _row(self.X, t) + delta * arb_mat(n, d_e, [int(a == j) for j in js for a in range(d_e)])
            f_heads = []
            for i in range(self.K):
                c = _column(M * self.w[i])  # the moved copies' value scores
                rest = [u for u in range(len(self.c[i])) if u != t]
                if t == 0:
                    w = self.weights
                    k0, along = self._query_moves(i, js)
                    Wq, Wk_T = _select_columns(w.Wq[i], js), _select_rows(w.Wk_T[i], js)
                    queries = self.q[i] * ones.transpose() + delta * Wq  # d_att × n: moved queries
                    keys = ones * k0 + delta * Wk_T  # n × d_att: CLS's moved keys
                    unmoved = arb_mat(len(rest), 1, [self.scores[i][u] * self.root for u in rest])
                    S = unmoved * ones.transpose() + delta * along  # (T − 1) × n
                    g_t = [
                        (_dot([keys[m, a] for a in range(keys.ncols())], _column_of(queries, m)) / self.root).exp()
                        for m in range(n)
                    ]
                    G = arb_mat(len(rest), n, [x.exp() for x in (S / self.root).entries()])
                    numerators = arb_mat(1, len(rest), [self.c[i][u] for u in rest]) * G
                    denominators = arb_mat(1, len(rest), [1] * len(rest)) * G
                    f_heads.append(
                        [(numerators[0, m] + g_t[m] * c[m]) / (denominators[0, m] + g_t[m]) for m in range(n)]
                    )
                else:
                    g_t = [(s / self.root).exp() for s in _column(M * self.u[i])]
                    numerator = _dot([self.g[i][u] for u in rest], [self.c[i][u] for u in rest])
                    denominator = sum((self.g[i][u] for u in rest), arb(0))
                    f_heads.append([(numerator + g * cj) / (denominator + g) for g, cj in zip(g_t, c)])
            return [_mean([heads[m] for heads in f_heads]) for m in range(n)]


def _row(X: arb_mat, t: int) -> arb_mat:
    return arb_mat(1, X.ncols(), [X[t, j] for j in range(X.ncols())])


def _columns(vectors: list) -> arb_mat:
    """The ``n × 1`` ball matrices ``vectors`` side by side, as one ``n × len(vectors)`` matrix."""
    n = vectors[0].nrows()
    return arb_mat(n, len(vectors), [v[r, 0] for r in range(n) for v in vectors])


def _select_columns(A: arb_mat, js: list) -> arb_mat:
    """The columns ``js`` of ``A`` (all of ``A`` when ``js`` is every column, in order)."""
    if js == list(range(A.ncols())):
        return A
    return arb_mat(A.nrows(), len(js), [A[r, j] for r in range(A.nrows()) for j in js])


def _select_rows(A: arb_mat, js: list) -> arb_mat:
    """The rows ``js`` of ``A``."""
    if js == list(range(A.nrows())):
        return A
    return arb_mat(len(js), A.ncols(), [A[j, a] for j in js for a in range(A.ncols())])


def _column_of(A: arb_mat, j: int) -> list:
    return [A[r, j] for r in range(A.nrows())]


def _dot(a: list, b: list) -> arb:
    """``Σ_u a_u b_u`` as a ball matrix product (in C)."""
    return (arb_mat(1, len(a), a) * arb_mat(len(b), 1, b))[0, 0]


def _column(M: arb_mat) -> list:
    return _column_of(M, 0)


def _head(g: list, c: list):
    """``(f^(i), α)`` from ``g_t = exp s_t`` and ``c_t``: ``α_t = g_t / Σ_u g_u``, ``f^(i) = Σ_t α_t c_t``."""
    total = sum(g[1:], g[0])
    alpha = [gt / total for gt in g]
    return sum((a * v for a, v in zip(alpha, c)), arb(0)), alpha


def _mean(values: list) -> arb:
    return sum(values[1:], values[0]) / len(values)


def forward_embedded(model, X: arb_mat, prec: int = PREC, Wl=None) -> Forward:
    """Forward pass from the embedded document ``X`` (``T × d_e`` ball matrix); ``Wl`` overrides ``model.Wl``.

    Args:
        model: the §2 model (the public ``.npz`` attributes).
        X: the embedded document, a ``T × d_e`` ball matrix (row 0 is CLS).
        prec: the working precision in bits.
        Wl: overrides ``model.Wl`` (shape ``(K, d_out)``).

    Returns:
        The :class:`Forward` record in balls.
    """
    return Document(model, X, prec, Wl).forward()


def midpoints(fw: Forward, outputs_only: bool = False) -> Forward:
    """The same record with every ball replaced by its midpoint (an exact mpf), for mpmath computations; with
    ``outputs_only`` only ``f`` and ``f^(i)`` (the per-position fields are then None).

    Args:
        fw: a forward record in balls.
        outputs_only: convert only ``f`` and ``f^(i)``.

    Returns:
        The record in mpf.
    """

    def rows(nested):
        return None if outputs_only else [[to_mpf(x) for x in row] for row in nested]

    return Forward(
        f=to_mpf(fw.f),
        f_heads=[to_mpf(x) for x in fw.f_heads],
        alpha=rows(fw.alpha),
        scores=rows(fw.scores),
        c=rows(fw.c),
        q=rows(fw.q),
    )


def radii(fw: Forward) -> Forward:
    """The same record with every ball replaced by its radius (a float rounded up).

    Args:
        fw: a forward record in balls.

    Returns:
        The record of radii (floats), field by field.
    """

    def rows(nested):
        return [[radius(x) for x in row] for row in nested]

    return Forward(
        f=radius(fw.f),
        f_heads=[radius(x) for x in fw.f_heads],
        alpha=rows(fw.alpha),
        scores=rows(fw.scores),
        c=rows(fw.c),
        q=rows(fw.q),
    )


class Tables:
    """What the forward pass of any document of length ``T`` whose first token is ``first`` is made of: per
    head the query ``q`` (of ``e_0 = E[first] + p_0``) and, with ``u = W_kᵀ q`` and ``w = W_vᵀ W_ℓᵀ`` as in
    :class:`Document`, the tables ``E u``, ``E w`` (one row per token id) and ``P u``, ``P w`` (one row per
    position).  Position t's score is then ``((E u)[ξ_t] + (P u)[t]) / √d_att`` and its value score
    ``(E w)[ξ_t] + (P w)[t]``: ``⟨E[ξ_t] + p_t, u⟩`` by distributivity, in balls that contain the exact value."""

    def __init__(self, model, first: int, T: int, prec: int, Wl):
        document = Document(model, embeddings(model, [first], prec), prec, Wl)  # the one row e_0
        weights = _weights(model, prec)
        if weights.E is None:
            weights.E = matrix(model.E)
        self.q, self.root = document.q, document.root
        U, W = _columns(document.u), _columns(document.w)  # d_e × K
        self.EU, self.EW = _rows(weights.E * U), _rows(weights.E * W)  # [token][head]
        P = _positions(model, T, prec)  # zero without positional encoding: the sums below are then exact
        self.PU, self.PW = _rows(P * U), _rows(P * W)  # [position][head]


def _tables(model, first: int, T: int, prec: int, Wl) -> Tables:
    weights = _weights(model, prec)
    Wl = model.Wl if Wl is None else Wl
    key = (first, T, Wl.tobytes())
    if key not in weights.tables:
        weights.tables[key] = Tables(model, first, T, prec, Wl)
    return weights.tables[key]


def forward(model, doc, prec: int = PREC, Wl=None) -> Forward:
    """Forward pass of §2 on one document (token ids, CLS first, padded to T), in balls, from the
    :class:`Tables` of the model (built on the first call for a first token, length and precision).

    Args:
        model: the §2 model (the public ``.npz`` attributes).
        doc: the token ids, length ``T``.
        prec: the working precision in bits.
        Wl: overrides ``model.Wl`` (shape ``(K, d_out)``).

    Returns:
        The :class:`Forward` record in balls.
    """
    with workprec(prec):
        doc = [int(token) for token in doc]
        tables = _tables(model, doc[0], len(doc), prec, Wl)
        K = len(tables.q)
        scores = [[(tables.EU[x][i] + tables.PU[t][i]) / tables.root for t, x in enumerate(doc)] for i in range(K)]
        c = [[tables.EW[x][i] + tables.PW[t][i] for t, x in enumerate(doc)] for i in range(K)]
        return _record([[s.exp() for s in row] for row in scores], scores, c, tables.q)


def _record(g: list, scores: list, c: list, q: list) -> Forward:
    """The forward record from every head's ``g_t = exp s_t``, scores, value scores and query."""
    heads = [_head(gi, ci) for gi, ci in zip(g, c)]
    f_heads = [f for f, _ in heads]
    return Forward(
        f=_mean(f_heads),
        f_heads=f_heads,
        alpha=[alpha for _, alpha in heads],
        scores=scores,
        c=c,
        q=[_column(qi) for qi in q],
    )


def _rows(M: arb_mat) -> list:
    """The entries of ``M`` as nested lists ``[row][column]``."""
    entries, n = M.entries(), M.ncols()
    return [entries[r * n : (r + 1) * n] for r in range(M.nrows())]
