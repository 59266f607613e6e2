"""``f`` on LIME's perturbed documents for any model with a batched forward pass (the encoder family, §5).

The fast evaluators of :mod:`theory.explainers.perturb` rest on the §2 model's sufficient statistics
(``model.sufficient_stats``); a deeper model has none, so here the perturbed documents themselves are built —
under ``delete`` the kept occurrences shift left and UNK re-pads the end, under ``replace`` every switched-off
occurrence becomes UNK at its position (docs/theory.md §3, "Removal semantics") — and sent through the model's
batched ``output(docs) -> f``, in blocks of rows.  :func:`theory.explainers.perturb.evaluator` hands every model
that is not the §2 :class:`~theory.models.one_layer.Model` to :func:`evaluator` here, so LIME and ``β^∞`` work
unchanged on encoders.
"""

from __future__ import annotations

import numpy as np

from theory.explainers.perturb import (
    _check_width,
    _validate_doc,
    check_semantics,
    word_index,
)

_ELEMENTS = 1 << 22  # documents × T × width per block of the forward pass


def perturbed_documents(doc, length: int, Z, semantics: str, unk_id: int) -> np.ndarray:
    """The documents ``(n, T)`` of the 0/1 rows of ``Z`` (``z_j = 0``: every occurrence of word ``j`` off)."""
    doc = np.asarray(doc, dtype=np.int64)
    keep = np.take(np.asarray(Z) > 0, word_index(doc, length), axis=1)  # (n, L) occurrences kept
    n, T = keep.shape[0], doc.size
    text = doc[1: length + 1]
    docs = np.broadcast_to(doc, (n, T)).copy()
    if semantics == "replace":
        docs[:, 1: length + 1] = np.where(keep, text, unk_id)
        return docs
    docs[:, 1:] = unk_id
    position = np.where(keep, np.cumsum(keep, axis=1), T)  # new position of each occurrence; T when removed
    wide = np.concatenate([docs, np.full((n, 1), unk_id)], axis=1)
    rows = np.broadcast_to(np.arange(n)[:, None], position.shape)
    wide[rows, position] = np.broadcast_to(text, position.shape)
    return wide[:, :T]


def evaluator(model, doc, length: int, semantics: str):
    """``evaluate(Z) -> f`` on the perturbed documents of ``Z`` (n, d), through ``model.output``."""
    check_semantics(semantics)
    doc = _validate_doc(model, doc, length)
    d = int(word_index(doc, length).max()) + 1
    width = max(model.d, getattr(model, "d_ff", 0), model.T * model.K)
    rows = max(1, _ELEMENTS // (model.T * width))

    def evaluate(Z):
        Z = np.asarray(Z)
        _check_width(Z, d)
        docs = perturbed_documents(doc, length, Z, semantics, model.unk_id)
        return np.concatenate([model.output(docs[start: start + rows]) for start in range(0, len(docs), rows)]
                              or [np.empty(0)])

    return evaluate
