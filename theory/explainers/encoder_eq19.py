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

**The BERT family with mean pooling** (docs/theory.md §13, the pretrained fixture's probe): ``f = ⟨w, Σ_t m_t h^(L)_t
/ Σ_t m_t⟩ + b`` with ``w = W_cᵀu``, so the last layer's attention output reaches ``f`` as
``(1/K) Σ_i Σ_u ᾱ^(i)_u c^(i)_u`` with the *pooled* readout row ``ᾱ^(i)_u = (1/Σm) Σ_t m_t a^(i,L)_{t,u}``
(:func:`theory.models.bert.readout_attention`) and the same value scores ``c^(i)_u = K·wᵀW_o^(i) v^(i,L)_u``
(``W_o`` = ``attention.output.dense``, ``v^(i,L)_u`` = the last layer's values, bias included).  The removed
document is the all-removed one under a substitution semantics (``unk`` — §2's UNK —, ``mask``, ``zero``:
:func:`theory.models.removal.baseline_embeddings`), special tokens kept; a word sums its pieces' terms.  A CLS
readout (pooler, pre-classifier, classification head) passes ``h^(L)_0`` through a non-linearity: it has no such
value score and is refused.
"""

from __future__ import annotations

import numpy as np

from theory.errors import InputError
from theory.explainers.lime_approx import unk_document, word_positions
from theory.models import bert
from theory.models.bert import Bert, BertForward
from theory.models.encoder import Encoder, EncoderForward, forward
from theory.models.protocol import Document
from theory.models.removal import baseline_embeddings


def value_scores(model: Encoder | Bert, fw: EncoderForward | BertForward) -> np.ndarray:
    """``c_t = K·wᵀW_o^(i) v^(i,L)_t`` per document, head and position (``w``: the encoder's readout, or
    ``W_cᵀu`` of a mean-pooling BERT-family probe).

    Args:
        model: the encoder, or a BERT-family model with the ``mean`` readout.
        fw: its forward pass on ``B`` documents (the last layer's values).

    Returns:
        The value scores, shape ``(B, K, T)``.

    Raises:
        InputError: a BERT-family model whose readout is not mean pooling (module docstring).
    """
    if isinstance(model, Bert):
        if model.config.readout != "mean":
            raise InputError(
                f"Eq. (19) at the last layer needs a readout linear in the last layer's states (mean pooling + "
                f"probe); this model's readout is {model.config.readout}, a non-linear function of h^(L)_0"
            )
        w = model.u @ model.classifier_weight
        readout = (w @ model.attention_output_weight[-1]).reshape(model.K, -1)
    else:
        readout = (model.w @ model.Wo[-1]).reshape(model.K, model.d_out)  # wᵀW_o^(i) per head
    return model.K * np.einsum("ko,bkto->bkt", readout, fw.layers[-1].sa.Vmat)


def eq19_readout(model: Bert, doc: Document, semantics: str = "unk") -> np.ndarray:
    """Eq. (19) with the readout attention (the pooled last-layer row) and last-layer value scores of a
    mean-pooling BERT-family model, per distinct word (module docstring).

    Args:
        model: a BERT-family model with the ``mean`` readout.
        doc: the document, its words over pieces (``model.document(text)``).
        semantics: the substitution semantics of the all-removed document (``unk``, ``mask``, ``mask:ID``,
            ``zero``).

    Returns:
        ``β_j``, shape ``(d,)`` over the document's distinct words.
    """
    X = model.embed(doc.ids[None])[0]
    X0 = baseline_embeddings(model, doc.ids, doc.length, semantics)  # type: ignore[arg-type]
    fw = bert.forward(model, np.stack([doc.ids, doc.ids]), None, np.stack([X, X0]))
    term = (bert.readout_attention(model, fw) * value_scores(model, fw)).mean(axis=1)  # (2, T)
    pieces = (term[0] - term[1])[1 : doc.length + 1]
    return 1.5 * np.bincount(doc.word_of, weights=pieces, minlength=doc.words.size)


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
