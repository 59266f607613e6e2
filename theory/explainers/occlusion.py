"""Occlusion (leave one word out; Zeiler & Fergus 2014 for images, docs/theory.md §11.2):
``o_j = v([d]) − v([d] \\ {j})``, the drop of ``f`` when every occurrence of word ``j`` is removed
under a removal semantics.

Under a substitution semantics (``replace``, ``mask:m``, ``zero``; ours) it has a closed form in the
sufficient statistics of :func:`theory.models.perturb.word_statistics`: per head, removing word ``j`` swaps
its group of positions from ``(G_j, A_j)`` to ``(G̃_j, Ã_j)`` (``G = Σ exp(s)``, ``A = Σ exp(s) c`` over the
word's positions, with the word and with the removed embedding ``ẽ_t``), so

    f_{−j}^(i) = [N^(i) − A_j + Ã_j] / [D^(i) − G_j + G̃_j],      o_j = f − (1/K) Σ_i f_{−j}^(i),

with ``N, D`` the document's numerator and denominator.  Each ``f_{−j}`` is evaluated with its own max-shift
(the largest score of the document with word ``j`` removed), so it neither overflows nor loses the
denominator for any finite scores; the cost is ``O(K·T + K·d²)`` for all ``d`` words.  Under ``delete``, and for
a model without these statistics (a model whose capabilities lack ``"cls-only-attention"``: the encoder family),
the ``d + 1`` documents go through the evaluator of :mod:`theory.models.perturb` instead.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike

from theory.models import removal
from theory.models.perturb import distinct_words, evaluator, word_statistics
from theory.models.protocol import AttentionClassifier


def leave_one_out(d: int) -> np.ndarray:
    """The patterns ``1 − e_j``: every word kept but one.

    Args:
        d: the number of distinct words.

    Returns:
        The patterns, shape ``(d, d)``; row ``j`` switches word ``j`` off.
    """
    return 1.0 - np.eye(d)


def occlusion(model: AttentionClassifier, doc: ArrayLike, length: int, *, semantics: str = "replace") -> np.ndarray:
    """``o_j = f(ξ) − f(ξ without word j)`` for the ``d`` distinct words (lime's feature order).

    Args:
        model: a model of any family.
        doc: the document's ids, shape ``(T,)``.
        length: its number of words ``L``.
        semantics: the removal semantics (:mod:`theory.models.removal`).

    Returns:
        ``o``, shape ``(d,)``.
    """
    how = removal.parse(semantics, model)
    if not how.substitutes or "cls-only-attention" not in model.capabilities:
        d = distinct_words(doc, length).size
        v = evaluator(model, doc, length, how)(np.vstack([np.ones((1, d)), leave_one_out(d)]))
        return v[0] - v[1:]
    # "cls-only-attention" is the §2 model's structure, whose sufficient statistics word_statistics reads; the
    # protocol names the capability, not the class, so the type checker cannot narrow AttentionClassifier to Model
    st = word_statistics(model, doc, length, how)  # type: ignore[arg-type]
    d = st.M_on.shape[0]
    others = ~np.eye(d, dtype=bool)[:, :, None]  # [j, k]: word k is kept when j is removed
    M_kept = np.where(others, st.M_on[None], -np.inf).max(axis=1)  # (d, K)
    m = np.maximum(np.maximum(M_kept, st.M_off), st.M_base)  # the shift of each leave-one-out document
    on = np.exp(np.where(others, st.M_on[None] - m[:, None], -np.inf))  # (d, d, K); word j itself: 0
    off, base = np.exp(st.M_off - m), np.exp(st.M_base - m)
    D = (on * st.G_on[None]).sum(axis=1) + off * st.G_off + base * st.G_base
    N = (on * st.A_on[None]).sum(axis=1) + off * st.A_off + base * st.A_base
    return model.forward(np.asarray(doc)).f[0] - (N / D).mean(axis=1)
