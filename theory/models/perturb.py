"""``f`` on LIME's perturbed documents, fast (§5 of the paper; docs/theory.md §3 "Removal semantics").

LIME's features are the ``d`` distinct words of positions ``1..L`` in order of first appearance (lime
0.2.0.1's ``IndexedString`` with ``bow=True``); a row ``z ∈ {0,1}^d`` of ``Z`` switches word ``j`` off
(all its occurrences) when ``z_j = 0``.  The removal semantics are those of :mod:`theory.models.removal`
(``delete | replace | mask:ID | zero``); two fast evaluators cover them:

``replace``, ``mask:m``, ``zero`` (substitutions) — every occurrence gets, at the same position, the fixed
embedding ``ẽ_t`` (``E[UNK] + p_t``, ``E[m] + p_t`` or ``p_t``; ``replace`` is what Eq. (19) models).  The CLS
query ``q`` never changes, so the scores and value scores of a position take one of two values, ``(s_t, c_t)``
with the word or ``(s̃_t, c̃_t)`` with ``ẽ_t``, and (claim ``model.sufficient_stats``, ours; stated there for UNK)

    f(ξ(z)) = (1/K) Σ_i [Σ_t (z? g_t c_t : g̃_t c̃_t)] / [Σ_t (z? g_t : g̃_t)],   g = exp(s), g̃ = exp(s̃),

with ``z? = 1`` at CLS and padding and ``z_{w(t)}`` at word positions.  Summing per word first, numerator and
denominator are affine in ``z``: ``Z @ (per-word sums) + (1 − Z) @ (per-word UNK sums)`` — ``O(K·T)`` for the
document, then ``O(K·d)`` per sample.  (Not ``Z @ (differences)``: the denominator would then be computed by
cancellation and lose all its digits when the kept words carry a tiny share of the attention.)

``delete`` — the occurrences are removed, the remaining words shift left and UNK re-pads the end (what lime
0.2.0.1 does with ``bow=True``, followed by the authors' padding).  Since ``e_t = E[ξ_t] + p_t`` and ``q`` is
fixed, the score and value score of word ``w`` at position ``t`` split into a word part and a position part
(ours): ``s = a_w + b_t``, ``c = c^E_w + c^P_t`` with ``a_w = ⟨u, E[w]⟩``, ``b_t = ⟨u, p_t⟩`` (``u = W_kᵀq/√d_att``),
``c^E_w = W_ℓ W_v E[w]``, ``c^P_t = W_ℓ W_v p_t``.  After ``O(K·(V_doc + T)·d_e)`` precomputation a shifted
word costs ``O(K)``: the ``q``-th kept occurrence lands at position ``q + 1``, so one compiled pass over a
sample's kept occurrences sums ``exp(a_w)·exp(b_{q+1})`` and its value-weighted twin per head; the UNK padding
from position ``L'+1`` on is a suffix sum.  When the spreads of ``a`` and ``b`` are moderate (their sum ≤ 700)
``exp(a_w + b_t − m) = exp(a_w − m_a)·exp(b_t − m_b)`` needs no exponential per sample and nothing underflows;
otherwise the exact per-sample softmax over the same decomposition is used.

Neither path materialises an ``n × T × d_e`` array: memory is ``O(n·K)`` beyond ``Z`` itself.
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass
from functools import lru_cache
from typing import TYPE_CHECKING, Any

import numpy as np
from numpy.typing import ArrayLike

from theory.errors import InputError
from theory.models import removal
from theory.models.jit import cached_njit
from theory.models.one_layer import Model, head_vectors, positional_encoding
from theory.models.protocol import AttentionClassifier, Document, distinct_words, word_index

if TYPE_CHECKING:
    from theory.models.encoder import Encoder

#: ``evaluate(Z) -> f``: 0/1 patterns ``Z`` (n, d) over a document's distinct words to ``f`` (n,) of its perturbed
#: documents
Evaluate = Callable[[np.ndarray], np.ndarray]

SEMANTICS = removal.CHOICES
_SPREAD = 700.0  # exp(−700) ≈ 1e-304 is still a normal float64
_CHUNK = 1 << 21  # elements per temporary array
_ROWS = 1024  # samples per block of the matrix-product path (its temporaries stay in cache)


@lru_cache(maxsize=1)
def _blas_controller():
    try:
        from threadpoolctl import ThreadpoolController
    except ImportError:  # optional: without it BLAS keeps its own threading
        return None
    return ThreadpoolController()


def single_threaded_blas() -> AbstractContextManager[Any]:
    """A context in which BLAS runs on one thread (when ``threadpoolctl`` is installed).

    The fast paths call BLAS on small matrices (``n × d`` by ``d × K``, a ``d × d`` Gram matrix): OpenBLAS's
    thread pool gains nothing there and, on a machine whose cores are busy, its spinning threads made the
    same call up to 20× slower in our measurements.

    Returns:
        The context manager (a no-op without ``threadpoolctl``).
    """
    controller = _blas_controller()
    return nullcontext() if controller is None else controller.limit(limits=1, user_api="blas")


def check_semantics(semantics: str | removal.Removal, model: AttentionClassifier | None = None) -> str:
    """The canonical name of a removal semantics (:func:`theory.models.removal.parse`).

    Args:
        semantics: the spelling (``delete``, ``replace``, ``mask:ID``, ``zero``) or a parsed semantics.
        model: the model whose vocabulary a mask token must belong to; None skips that check.

    Returns:
        The canonical spelling (e.g. ``mask:7``).

    Raises:
        InputError: the semantics does not parse or its mask token is not a valid id of ``model``.
    """
    return removal.parse(semantics, model).name


def _validate_doc(model: AttentionClassifier, doc: ArrayLike, length: int) -> np.ndarray:
    doc = np.asarray(doc, dtype=np.int64)
    if doc.shape != (model.T,):
        raise InputError(f"the document has shape {doc.shape}; expected ({model.T},) (CLS, words, UNK padding)")
    if not 1 <= length <= model.T - 1:
        raise InputError(
            f"length={length}: the text must have 1..{model.T - 1} words (an empty text has no features to explain)"
        )
    if doc[0] != model.cls_id or np.any(doc[length + 1 :] != model.unk_id):
        raise InputError("the document must be CLS, then the words, then UNK padding (use the model's document())")
    return doc


def _check_width(Z, d: int) -> None:
    if Z.ndim != 2 or Z.shape[1] != d:
        raise InputError(f"Z has shape {Z.shape}; expected (n, {d}): one 0/1 column per distinct word")


@lru_cache(maxsize=8)
def _positions(T: int, d_e: int, pe: bool) -> np.ndarray:
    P = positional_encoding(T, d_e) if pe else np.zeros((T, d_e))
    P.setflags(write=False)
    return P


def _head_vectors(model: Model):
    """:func:`theory.models.one_layer.head_vectors` ``u``, ``w_c`` (K, d_e), and the positional encoding (T, d_e)."""
    return (*head_vectors(model), _positions(model.T, model.d_e, model.pe))


def f_perturbed(
    model: AttentionClassifier, doc: ArrayLike, length: int, Z: ArrayLike, semantics: str | removal.Removal
) -> np.ndarray:
    """``f`` of the ``n`` perturbed documents given by the rows of the 0/1 matrix ``Z`` (the fully checked entry
    point of :func:`evaluator`).

    Args:
        model: a model of any family.
        doc: the document (CLS, the words at ``1..length``, UNK padding), shape ``(T,)``.
        length: the number of words ``L``.
        Z: 0/1 patterns, shape ``(n, d)``: ``Z[r, j] = 0`` switches every occurrence of distinct word ``j`` off.
        semantics: the removal semantics (:mod:`theory.models.removal`).

    Returns:
        ``f`` of the perturbed documents, shape ``(n,)``.

    Raises:
        InputError: the semantics, the document or ``Z``'s width is wrong, or ``Z`` holds values other than 0/1.
    """
    evaluate = evaluator(model, doc, length, semantics)  # checks the semantics, the document and Z's width
    Z = np.asarray(Z)
    if not np.all((Z == 0) | (Z == 1)):
        raise InputError("Z must contain only 0 (word switched off) and 1 (word kept)")
    with single_threaded_blas():
        return evaluate(np.asarray(Z, dtype=np.float64))


def evaluator(model: AttentionClassifier, doc: ArrayLike, length: int, semantics: str | removal.Removal) -> Evaluate:
    """The document's precomputation done once: returns ``evaluate(Z) -> f`` for float64 0/1 matrices ``Z``
    (n, d) (their shape is checked, their values are not: :func:`f_perturbed` is the fully checked entry point).

    Args:
        model: a model of any family (:class:`~theory.models.protocol.AttentionClassifier`); its own
            ``evaluator`` computes ``f`` (the §2 model's sufficient statistics, :func:`sufficient_statistics_evaluator`;
            an encoder's documents built and run, :func:`built_documents_evaluator`).
        doc: the document (CLS, the words at ``1..length``, UNK padding), or the
            :class:`~theory.models.protocol.Document` of a model whose words span pieces.
        length: the number of words.
        semantics: the removal semantics (:mod:`theory.models.removal`).

    Returns:
        ``evaluate(Z) -> f`` of shape ``(n,)``.
    """
    how = removal.parse(semantics, model)
    if not isinstance(doc, Document):  # (a Document of words over pieces is the model's to check)
        doc = _validate_doc(model, doc, length)
    evaluate = model.evaluator(doc, length, how)
    d = distinct_words(doc, length).size

    def checked(Z: np.ndarray) -> np.ndarray:
        Z = np.asarray(Z)
        _check_width(Z, d)
        return evaluate(Z)

    return checked


def sufficient_statistics_evaluator(model: Model, doc: np.ndarray, length: int, how: removal.Removal) -> Evaluate:
    """``evaluate(Z) -> f`` of the §2 model (:meth:`~theory.models.one_layer.Model.evaluator`): the sufficient
    statistics of a substitution semantics, or the decomposition of ``delete`` (module docstring).

    Args:
        model: the §2 model.
        doc: the checked document.
        length: the number of words.
        how: the parsed removal semantics.

    Returns:
        ``evaluate(Z) -> f``, ``Z`` of shape ``(n, d)``.
    """
    return _substitute(model, doc, length, how) if how.substitutes else _delete(model, doc, length)


@dataclass(frozen=True)
class WordStatistics:
    """The sufficient statistics of a document under a substitution semantics (per head, shape ``(K,)`` or
    ``(d, K)``): group maxima ``M`` of the scores and, shifted by them, ``G = Σ exp(s − M)`` and
    ``A = Σ exp(s − M)·c`` over the base (CLS and padding), each word's positions with the word (``on``) and
    with the removed embedding (``off``)."""

    M_base: np.ndarray
    G_base: np.ndarray
    A_base: np.ndarray
    M_on: np.ndarray
    G_on: np.ndarray
    A_on: np.ndarray
    M_off: np.ndarray
    G_off: np.ndarray
    A_off: np.ndarray


def word_statistics(model: Model, doc: ArrayLike, length: int, semantics: str | removal.Removal) -> WordStatistics:
    """:class:`WordStatistics` of ``doc`` (text at ``1..length``) under a substitution semantics.

    Args:
        model: the §2 model.
        doc: the document, shape ``(T,)``.
        length: the number of words ``L``.
        semantics: a substitution semantics (``replace``, ``mask:ID``, ``zero``).

    Returns:
        The per-head group maxima and shifted sums (:class:`WordStatistics`) over the ``d`` distinct words.

    Raises:
        InputError: the semantics is ``delete`` or does not parse, or the document is not well formed.
    """
    how = removal.parse(semantics, model)
    doc = _validate_doc(model, doc, length)
    u, w_c, P = _head_vectors(model)
    X = model.E[doc] + P  # (T, d_e): the document
    Xu = removal.removed_embeddings(model, how)  # the removed word's embedding ẽ_t at every position
    s, c = X @ u.T, X @ w_c.T  # (T, K)
    s_unk, c_unk = Xu @ u.T, Xu @ w_c.T
    j = word_index(doc, length)
    d = int(j.max()) + 1
    base = np.ones(model.T, dtype=bool)
    base[1 : length + 1] = False
    # group maxima: the base (CLS + padding), each word on, each word off
    M_base = s[base].max(axis=0)  # (K,)
    M_on = np.full((d, model.K), -np.inf)
    M_off = np.full((d, model.K), -np.inf)
    np.maximum.at(M_on, j, s[1 : length + 1])
    np.maximum.at(M_off, j, s_unk[1 : length + 1])

    def sums(scores, values, M, index, size):
        g = np.exp(scores - M[index])
        G, A = np.zeros((size, model.K)), np.zeros((size, model.K))
        np.add.at(G, index, g)
        np.add.at(A, index, g * values)
        return G, A

    G_on, A_on = sums(s[1 : length + 1], c[1 : length + 1], M_on, j, d)
    G_off, A_off = sums(s_unk[1 : length + 1], c_unk[1 : length + 1], M_off, j, d)
    g_base = np.exp(s[base] - M_base)
    G_base, A_base = g_base.sum(axis=0), (g_base * c[base]).sum(axis=0)
    return WordStatistics(M_base, G_base, A_base, M_on, G_on, A_on, M_off, G_off, A_off)


def _substitute(model, doc, length, how):
    st = word_statistics(model, doc, length, how)
    M_base, G_base, A_base = st.M_base, st.G_base, st.A_base
    M_on, G_on, A_on, M_off, G_off, A_off = st.M_on, st.G_on, st.A_on, st.M_off, st.G_off, st.A_off
    d = M_on.shape[0]
    top = np.maximum(M_base, np.maximum(M_on.max(axis=0), M_off.max(axis=0)))
    low = np.minimum(M_base, np.minimum(M_on.min(axis=0), M_off.min(axis=0)))
    shared_shift = bool(np.all(top - low <= _SPREAD))
    if shared_shift:
        on, off, b = np.exp(M_on - top), np.exp(M_off - top), np.exp(M_base - top)
        W_on = np.hstack([on * G_on, on * A_on])  # (d, 2K): denominator and numerator columns
        W_off = np.hstack([off * G_off, off * A_off])
        W_base = np.concatenate([b * G_base, b * A_base])

    def evaluate(Z):
        out = np.empty(Z.shape[0])
        if shared_shift:  # one shift for every sample: two matrix products per block of rows
            for start in range(0, Z.shape[0], _ROWS):
                z = Z[start : start + _ROWS]
                ND = z @ W_on + (1.0 - z) @ W_off + W_base
                out[start : start + _ROWS] = (ND[:, model.K :] / ND[:, : model.K]).mean(axis=1)
            return out
        step = max(1, _CHUNK // (d * model.K))
        for start in range(0, Z.shape[0], step):  # a shift per sample (extreme score spreads)
            z = Z[start : start + step, :, None] > 0
            M = np.where(z, M_on, M_off)  # (m, d, K)
            m = np.maximum(M.max(axis=1), M_base)  # (m, K)
            e = np.exp(M - m[:, None, :])
            eb = np.exp(M_base - m)
            D = (e * np.where(z, G_on, G_off)).sum(axis=1) + eb * G_base
            N = (e * np.where(z, A_on, A_off)).sum(axis=1) + eb * A_base
            out[start : start + step] = (N / D).mean(axis=1)
        return out

    return evaluate


def _delete(model, doc, length):
    u, w_c, P = _head_vectors(model)
    T, K = model.T, model.K
    ids = np.unique(np.concatenate([doc[: length + 1], [model.cls_id, model.unk_id]]))
    Ew = model.E[ids]
    a, cw = Ew @ u.T, Ew @ w_c.T  # word parts (V_doc, K)
    b, cp = P @ u.T, P @ w_c.T  # position parts (T, K)
    local = {int(w): i for i, w in enumerate(ids)}
    text = np.array([local[int(w)] for w in doc[1 : length + 1]])
    cls, unk = local[model.cls_id], local[model.unk_id]
    j = word_index(doc, length)

    if np.all((a.max(0) - a.min(0)) + (b.max(0) - b.min(0)) <= _SPREAD):
        Pe = np.exp(b - b.max(0))  # (T, K)
        Ga = np.exp(a - a.max(0))  # (V_doc, K)
        # per head (a row of each table): the word factors of the text's occurrences and the position factors
        G = np.ascontiguousarray(Ga[text].T)  # (K, L) exp(a_w)
        GC = G * cw[text].T  # (K, L) exp(a_w) c^E_w
        PeK = np.ascontiguousarray(Pe.T)  # (K, T) exp(b_r)
        PCK = np.ascontiguousarray((Pe * cp).T)  # (K, T) exp(b_r) c^P_r
        # UNK padding from position p on (p = L' + 1 ≤ T): suffix sums
        pad_D = np.zeros((T + 1, K))
        pad_D[:T] = np.cumsum((Ga[unk] * Pe)[::-1], axis=0)[::-1]
        pad_N = np.zeros((T + 1, K))
        pad_N[:T] = np.cumsum((Ga[unk] * Pe * (cw[unk] + cp))[::-1], axis=0)[::-1]
        cls_D = Ga[cls] * Pe[0]
        cls_N = cls_D * (cw[cls] + cp[0])

        def evaluate(Z):
            n = Z.shape[0]
            D, N, kept = np.empty((n, K)), np.empty((n, K)), np.empty(n, dtype=np.int64)
            _shifted_sums(np.ascontiguousarray(Z, dtype=np.float64), j, G, GC, PeK, PCK, D, N, kept)
            tail = kept + 1
            return ((N + cls_N + pad_N[tail]) / (D + cls_D + pad_D[tail])).mean(axis=1)

        return evaluate

    def evaluate_exact(Z):  # extreme spreads: the exact softmax of each perturbed document
        keep = np.take(Z > 0, j, axis=1)  # (n, L) occurrences kept
        n = keep.shape[0]
        return np.concatenate(
            [
                _delete_exact(keep[start : start + _step(T, K)], a, b, cw, cp, text, cls, unk, T)
                for start in range(0, n, _step(T, K))
            ]
        )

    return evaluate_exact


@cached_njit
def _shifted_sums(Z, j, G, GC, Pe, PC, D, N, kept):
    """For each row ``z`` of ``Z`` and head ``h``, the text's part of the delete softmax:
    ``D[r, h] = Σ_q G[h, t_q] Pe[h, q+1]`` and ``N[r, h] = Σ_q (GC[h, t_q] Pe[h, q+1] + G[h, t_q] PC[h, q+1])``
    over the kept occurrences ``t_0 < t_1 < …`` (``z_{j[t]} = 1``): the ``q``-th of them moves to position
    ``q + 1``.  ``kept[r]``: their number ``L'``."""
    occurrences = np.empty(j.size, np.int64)
    for r in range(Z.shape[0]):
        count = 0
        for t in range(j.size):  # the kept occurrences, listed without a branch
            occurrences[count] = t
            count += Z[r, j[t]] > 0
        for h in range(G.shape[0]):
            d_sum, n_sum = 0.0, 0.0
            for q in range(count):
                t, e = occurrences[q], Pe[h, q + 1]
                d_sum += G[h, t] * e
                n_sum += GC[h, t] * e + G[h, t] * PC[h, q + 1]
            D[r, h], N[r, h] = d_sum, n_sum
        kept[r] = count


def _step(T, K):
    return max(1, _CHUNK // (T * K))


def _delete_exact(kc, a, b, cw, cp, text, cls, unk, T):
    """``f`` of the deleted documents of the kept-occurrence mask ``kc`` (m, L) by a max-shifted softmax."""
    nk = np.where(kc, np.cumsum(kc, axis=1), T)  # new position, T when removed
    m = nk.shape[0]
    docs = np.full((m, T + 1), unk)
    docs[:, 0] = cls
    rows = np.broadcast_to(np.arange(m)[:, None], nk.shape)
    docs[rows, nk] = np.broadcast_to(text, nk.shape)
    docs = docs[:, :T]
    s = a[docs] + b  # (m, T, K)
    c = cw[docs] + cp
    g = np.exp(s - s.max(axis=1, keepdims=True))
    return ((g * c).sum(axis=1) / g.sum(axis=1)).mean(axis=1)


# --- any model: the perturbed documents built and sent through its batched forward pass ------------------

_ELEMENTS = 1 << 22  # documents × T × width per block of the forward pass


def perturbed_documents(doc: ArrayLike, length: int, Z: ArrayLike, semantics: str, unk_id: int) -> np.ndarray:
    """The documents ``(n, T)`` of the 0/1 rows of ``Z`` (``z_j = 0``: every occurrence of word ``j`` off) under
    ``delete`` (``unk_id`` re-pads the end) or ``replace`` (``unk_id`` takes each removed occurrence's place; pass
    the mask token ``m`` for ``mask:m``).

    Args:
        doc: the document, shape ``(T,)``.
        length: the number of words ``L``.
        Z: 0/1 patterns, shape ``(n, d)`` over the distinct words.
        semantics: ``"delete"`` or ``"replace"``.
        unk_id: the token that pads (``delete``) or takes a removed occurrence's place (``replace``).

    Returns:
        The perturbed documents' ids, shape ``(n, T)``.
    """
    doc = np.asarray(doc, dtype=np.int64)
    keep = np.take(np.asarray(Z) > 0, word_index(doc, length), axis=1)  # (n, L) occurrences kept
    n, T = keep.shape[0], doc.size
    text = doc[1 : length + 1]
    docs = np.broadcast_to(doc, (n, T)).copy()
    if semantics == "replace":
        docs[:, 1 : length + 1] = np.where(keep, text, unk_id)
        return docs
    docs[:, 1:] = unk_id
    position = np.where(keep, np.cumsum(keep, axis=1), T)  # new position of each occurrence; T when removed
    wide = np.concatenate([docs, np.full((n, 1), unk_id)], axis=1)
    rows = np.broadcast_to(np.arange(n)[:, None], position.shape)
    wide[rows, position] = np.broadcast_to(text, position.shape)
    return wide[:, :T]


def built_documents_evaluator(model: Encoder, doc: np.ndarray, length: int, how: removal.Removal) -> Evaluate:
    """``evaluate(Z) -> f`` for any model with batched ``output(docs)`` and ``output_embedded(X)`` (the encoder
    family, which has no sufficient statistics: :meth:`~theory.models.encoder.Encoder.evaluator`): the perturbed
    documents of the rows of ``Z`` (n, d), in blocks of rows.  Under ``delete``, ``replace`` and ``mask:m`` they are
    token documents (:func:`perturbed_documents`, the removed occurrences becoming UNK, resp. ``m``) sent through
    ``output``; ``zero`` removes a word to the embedding ``p_t``, which no token has, so its documents are built
    embedded — the document's rows, with :func:`theory.models.removal.removed_embeddings` at the removed
    positions — and sent through ``output_embedded``.

    Args:
        model: the model.
        doc: the checked document.
        length: the number of words.
        how: the parsed removal semantics.

    Returns:
        ``evaluate(Z) -> f``, ``Z`` of shape ``(n, d)``.
    """
    j = word_index(doc, length)
    width = max(model.d_e, getattr(model, "d_ff", 0), model.T * model.K)
    rows = max(1, _ELEMENTS // (model.T * width))
    if how.kind == "zero":
        X = model.embed(doc[None])[0]
        words, removed = X[1 : length + 1], removal.removed_embeddings(model, how)[1 : length + 1]

        def block(Z):
            built = np.repeat(X[None], len(Z), axis=0)
            built[:, 1 : length + 1] = np.where(np.take(Z > 0, j, axis=1)[:, :, None], words, removed)
            return model.output_embedded(built)
    else:
        token = how.token if how.kind == "mask" else model.unk_id
        kind = "delete" if how.kind == "delete" else "replace"

        def block(Z):
            return model.output(perturbed_documents(doc, length, Z, kind, token))

    def evaluate(Z):
        return np.concatenate([block(Z[start : start + rows]) for start in range(0, len(Z), rows)] or [np.empty(0)])

    return evaluate
