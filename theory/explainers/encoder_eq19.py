"""Eq. (19) of the paper at depth (docs/theory.md §11.1, claim ``encoder.eq19_last_layer``): the §2 formula evaluated
with the last layer's attention and value scores.

In the last layer ``L`` of an encoder, head ``i``'s CLS output reaches ``f`` through ``wᵀW_o^(i)``; so the value
score of position ``t`` is ``c_t = K·wᵀW_o^(i) v^(i,L)_t`` with ``v^(i,L)_t = W_v h_t + b_v`` the value of the
last layer's input (``h^(L−1)``, or ``LN(h^(L−1))`` in pre-norm) — exactly ``W_ℓ^(i) W_v e_t`` in the §5
reduction (``W_ℓ^(i) = K·wᵀW_o^(i)``).  With ``α_t = a^(i,L)_{0,t}`` and ``α̃_t``, ``c̃_t`` the same quantities in the
all-UNK document (CLS kept; its own last-layer CLS query, which at ``L = 1`` is the original query):

    β_j ≈ (3/2) · (1/K) Σ_i Σ_{t: ξ_t = w_j} (α_t c_t − α̃_t c̃_t).

It ignores everything the residual stream and the feed-forward add and every earlier layer's mixing; the
claim measures how far it is from the exact ``β^∞`` as ``L`` grows.
"""

from __future__ import annotations

import numpy as np

from theory.explainers.lime_approx import unk_document, word_positions
from theory.models.encoder import Encoder, EncoderForward, forward


def value_scores(model: Encoder, fw: EncoderForward) -> np.ndarray:
    """``c_t = K·wᵀW_o^(i) v^(i,L)_t`` per document, head and position.

    Args:
        model: the encoder.
        fw: its forward pass on ``B`` documents (the last layer's values).

    Returns:
        The value scores, shape ``(B, K, T)``.
    """
    readout = (model.w @ model.Wo[-1]).reshape(model.K, model.d_out)  # wᵀW_o^(i) per head
    return model.K * np.einsum("ko,bkto->bkt", readout, fw.layers[-1].sa.Vmat)


def eq19_last_layer(model: Encoder, doc: np.ndarray, length: int) -> np.ndarray:
    """The ``d`` coefficients of Eq. (19) at the last layer, in lime's feature order.

    Args:
        model: the encoder.
        doc: the document's ids, shape ``(T,)``.
        length: its number of words ``L``.

    Returns:
        ``β_j``, shape ``(d,)`` over the distinct words.
    """
    fw = forward(model, np.stack([doc, unk_document(model)]))
    c = value_scores(model, fw)
    term = (fw.alpha[0] * c[0] - fw.alpha[1] * c[1]).mean(axis=0)
    return 1.5 * (word_positions(doc, length) @ term)
