"""The BERT family of docs/theory.md §13 (BERT, DistilBERT, RoBERTa, and an encoder with a mean-pooling probe) in
float64 numpy: forward pass, hand-written backpropagation to the word embeddings, batched evaluation.

A document is a row of token ids ``ξ`` (``[CLS] pieces… [SEP]``, :mod:`theory.models.wordpieces`) with an
attention mask ``m`` (1 for real tokens, 0 for padding).  With ``d`` the width, ``K`` heads of width
``d_h = d/K``, ``L`` layers and Hugging Face's names for the blocks (``modeling_bert.py``):

* **embeddings** (``BertEmbeddings``): ``x_t = E[ξ_t] + P[π(t)] + T_y[0]`` and ``h^(0)_t = LN_emb(x_t)``, with
  ``π(t) = t`` — RoBERTa: ``π(t) = padding_idx + #{u ≤ t : ξ_u ≠ padding_idx}`` for a non-pad token and
  ``padding_idx`` for a pad token (``create_position_ids_from_input_ids``) — and the token-type row 0 (DistilBERT
  has no token types).  ``E[ξ_t]`` can be replaced by given vectors (Hugging Face's ``inputs_embeds``; the
  positions still come from the ids);
* **self-attention** (``BertSelfAttention``, ``BertSelfOutput``): per head ``i``, ``q = W_q h + b_q`` … split into
  heads, ``a^(i)_{t,u} = m_u exp(s_{t,u}) / Σ_v m_v exp(s_{t,v})`` with ``s_{t,u} = ⟨q^(i)_t, k^(i)_u⟩ / √d_h``
  (padding gets exactly zero attention), ``SA(h)_t = W_o concat_i(Σ_u a^(i)_{t,u} v^(i)_u) + b_o``;
* **post-LayerNorm blocks**: ``h ← LN_1(h + SA(h))``, ``h ← LN_2(h + W_2 act(W_1 h + b_1) + b_2)``
  (``BertIntermediate``, ``BertOutput``), ``LN(x) = (x − mean x)/√(var x + ε)·γ + β`` (biased variance, the
  config's ``ε``: DistilBERT's is 1e-12, fixed in its code), ``act`` = ``gelu`` (``x Φ(x)``, the erf form),
  ``gelu_new`` / ``gelu_pytorch_tanh`` (``x (1 + tanh(√(2/π)(x + 0.044715 x³)))/2``) or ``relu``;
* **readouts** (logits ``W_c z + b_c``, ``n_classes`` rows):

  - ``pooler`` (BERT's ``BertPooler`` then ``classifier``): ``z = tanh(W_p h^(L)_0 + b_p)``;
  - ``pre_classifier`` (DistilBERT): ``z = ReLU(W_p h^(L)_0 + b_p)``;
  - ``classification_head`` (RoBERTa's ``dense`` and ``out_proj``): ``z = tanh(W_p h^(L)_0 + b_p)``;
  - ``mean`` (sentence-transformers' mean pooling, then a linear probe): ``z = Σ_t m_t h^(L)_t / Σ_t m_t``
    (special tokens included).

``f`` is the explained class's logit, or the difference of two logits (``contrast``): ``f = ⟨u, W_c z + b_c⟩``
with ``u = e_c`` or ``e_c − e_{c'}``.  The gradient is Hugging Face's ``inputs_embeds`` convention,
``∇_t = ∂f/∂E[ξ_t]`` (equal to ``∂f/∂x_t``).

The backward pass mirrors the forward pass block by block with the same names (``_attention`` ↔
``_attention_backward`` …), reading what the forward pass kept (the encoder family's traces,
:mod:`theory.models.encoder`), with the rules of :mod:`theory.explainers.encoder_gradient` and, for the mask,
``a_{t,u} = 0`` where ``m_u = 0`` (so the masked scores receive no adjoint); for the readouts
``z̄ = W_cᵀu``, then ``h̄^(L)_0 = W_pᵀ(z̄ ⊙ act_p'(W_p h^(L)_0 + b_p))`` (``tanh' = 1 − z²``, ``ReLU' = [· > 0]``),
or ``h̄^(L)_t = m_t z̄ / Σ_v m_v`` for mean pooling.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass, fields
from dataclasses import replace as replaced
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
from scipy.special import erf

from theory.errors import InputError
from theory.models import removal
from theory.models.encoder import AttentionTrace, FeedForwardTrace, LayerTrace, NormTrace, layer_norm
from theory.models.encoder_gradient import norm_backward
from theory.models.protocol import Document

ARCHITECTURES = ("bert", "distilbert", "roberta")
ACTIVATIONS = ("gelu", "gelu_new", "gelu_pytorch_tanh", "relu")
#: the classification readout of each architecture's ``…ForSequenceClassification`` (``mean`` fits all three)
NATIVE_READOUT = {"bert": "pooler", "distilbert": "pre_classifier", "roberta": "classification_head"}
READOUTS = (*NATIVE_READOUT.values(), "mean")
_TANH_C = np.sqrt(2.0 / np.pi)


@dataclass(frozen=True)
class BertConfig:
    """The sizes and switches of a BERT-family model (Hugging Face's ``config.json``, read by
    :mod:`theory.models.huggingface`)."""

    architecture: str  # bert | distilbert | roberta
    readout: str  # pooler | pre_classifier | classification_head | mean
    layers: int  # L
    heads: int  # K
    d: int  # hidden size
    ffn: int  # intermediate size
    vocab_size: int  # rows of E
    max_positions: int  # rows of P
    type_vocab_size: int  # rows of T_y (0: no token types, DistilBERT)
    n_classes: int  # rows of W_c
    activation: str = "gelu"
    layer_norm_eps: float = 1e-12
    pad_token_id: int = 0  # RoBERTa's padding_idx of the positions

    def __post_init__(self):
        if self.architecture not in ARCHITECTURES:
            raise InputError(
                f"architecture {self.architecture!r} is not supported; use one of {', '.join(ARCHITECTURES)}"
            )
        if self.readout not in (NATIVE_READOUT[self.architecture], "mean"):
            raise InputError(
                f"readout {self.readout!r} does not fit a {self.architecture} model; use "
                f"{NATIVE_READOUT[self.architecture]} or mean"
            )
        if self.activation not in ACTIVATIONS:
            raise InputError(f"activation {self.activation!r} is not supported; use one of {', '.join(ACTIVATIONS)}")
        sizes = {
            name: getattr(self, name)
            for name in ("layers", "heads", "d", "ffn", "vocab_size", "max_positions", "n_classes")
        }
        if any(not isinstance(v, int | np.integer) or v < 1 for v in sizes.values()):
            raise InputError(f"every size must be a positive integer; got {sizes}")
        if self.d % self.heads:
            raise InputError(f"the hidden size d = {self.d} is not a multiple of the number of heads {self.heads}")
        if self.type_vocab_size < 0 or (self.architecture == "distilbert") != (self.type_vocab_size == 0):
            raise InputError(
                f"type_vocab_size = {self.type_vocab_size}: DistilBERT has no token types (0), "
                "BERT and RoBERTa at least one"
            )
        if not (np.isfinite(self.layer_norm_eps) and self.layer_norm_eps > 0):
            raise InputError(f"layer_norm_eps must be a positive number, got {self.layer_norm_eps!r}")
        if not 0 <= self.pad_token_id < self.vocab_size:
            raise InputError(
                f"pad_token_id {self.pad_token_id} is not an id of the vocabulary (size {self.vocab_size})"
            )

    @property
    def max_tokens(self) -> int:
        """The longest document the position table allows (RoBERTa's positions start at ``padding_idx + 1``)."""
        if self.architecture == "roberta":
            return self.max_positions - self.pad_token_id - 1
        return self.max_positions


def reference_multiply_adds(config: BertConfig, tokens: int) -> int:
    """The multiply-adds of one forward pass of the BERT family's mpmath reference (``reference/models/bert.py``)
    on a document of ``tokens`` tokens: per layer the projections ``W_q``, ``W_k``, ``W_v``, ``W_o`` (``4Td²``), the
    feed-forward (``2Td·d_ff``), the scores and the attention-weighted values (``2T²d``), and the conversion of the
    layer's weights to mpf that the reference repeats on every pass (counted as one more token's projections);
    then the readout (``d²`` + ``n_classes·d``).

    Args:
        config: The model's sizes.
        tokens: ``T``, the document's tokens (special tokens and padding included).

    Returns:
        ``L((T + 1)(4d² + 2d·d_ff) + 2T²d) + d² + n_classes·d``.
    """
    d, T = config.d, tokens
    return config.layers * ((T + 1) * (4 * d * d + 2 * d * config.ffn) + 2 * T * T * d) + d * d + config.n_classes * d


def shapes(config: BertConfig) -> dict[str, tuple[int, ...]]:
    """The shape of every weight of :class:`Bert` under ``config`` (per-layer weights stacked on a leading axis of
    length ``L``; the ``(out, in)`` layout of ``torch.nn.Linear``).

    Args:
        config: the model's sizes and switches.

    Returns:
        ``{field name: shape}``, in the order of the forward pass; the token-type table only when the
        architecture has one, ``W_p``, ``b_p`` only for the CLS readouts.
    """
    L, d, F = config.layers, config.d, config.ffn
    out: dict[str, tuple[int, ...]] = {
        "word_embeddings": (config.vocab_size, d),
        "position_embeddings": (config.max_positions, d),
    }
    if config.type_vocab_size:
        out["token_type_embeddings"] = (config.type_vocab_size, d)
    out.update(embeddings_norm_weight=(d,), embeddings_norm_bias=(d,))
    for name in ("query", "key", "value", "attention_output"):
        out.update({f"{name}_weight": (L, d, d), f"{name}_bias": (L, d)})
    out.update(
        attention_norm_weight=(L, d),
        attention_norm_bias=(L, d),
        intermediate_weight=(L, F, d),
        intermediate_bias=(L, F),
        output_weight=(L, d, F),
        output_bias=(L, d),
        output_norm_weight=(L, d),
        output_norm_bias=(L, d),
    )
    if config.readout != "mean":
        out.update(pooler_weight=(d, d), pooler_bias=(d,))
    out.update(classifier_weight=(config.n_classes, d), classifier_bias=(config.n_classes,))
    return out


ARCH = "bert"  # the ``arch`` of the family's .npz files (docs/file-formats.md)
_ELEMENTS = 1 << 22  # numbers per block of a batched pass (the attention scores of a layer, the FFN's activations)


@dataclass(frozen=True, eq=False)
class Bert:
    """A BERT-family classifier: its :class:`BertConfig`, its weights (float64, read-only, shapes from
    :func:`shapes`), the explained output ``f`` (``klass``, or ``klass`` minus ``contrast``) and the tokenizer
    that reads its texts (a :class:`~theory.models.wordpieces.WordPieces`; None for a model built in memory,
    which then reads piece ids only through the functions of this module).

    It implements :class:`~theory.models.protocol.AttentionClassifier` with Hugging Face's conventions (§13):
    a document is ``[CLS] pieces… [SEP]`` without padding, the embedded tokens are the word embeddings
    ``e_t = E[ξ_t]`` (positions, token types and LN_emb inside the model, ``inputs_embeds``), so ``∇_t = ∂f/∂E[ξ_t]``;
    the words span pieces (capability ``"word-pieces"``, :mod:`theory.models.protocol`).

    ``pooler_weight``/``pooler_bias`` are ``W_p``, ``b_p`` of the CLS readouts: BERT's ``pooler.dense``,
    DistilBERT's ``pre_classifier``, RoBERTa's ``classifier.dense``; ``classifier_weight``/``classifier_bias`` are
    ``W_c``, ``b_c``: ``classifier`` (RoBERTa: ``classifier.out_proj``), or the probe's ``w``, ``b``."""

    config: BertConfig
    word_embeddings: np.ndarray
    position_embeddings: np.ndarray
    embeddings_norm_weight: np.ndarray
    embeddings_norm_bias: np.ndarray
    query_weight: np.ndarray
    query_bias: np.ndarray
    key_weight: np.ndarray
    key_bias: np.ndarray
    value_weight: np.ndarray
    value_bias: np.ndarray
    attention_output_weight: np.ndarray
    attention_output_bias: np.ndarray
    attention_norm_weight: np.ndarray
    attention_norm_bias: np.ndarray
    intermediate_weight: np.ndarray
    intermediate_bias: np.ndarray
    output_weight: np.ndarray
    output_bias: np.ndarray
    output_norm_weight: np.ndarray
    output_norm_bias: np.ndarray
    classifier_weight: np.ndarray
    classifier_bias: np.ndarray
    token_type_embeddings: np.ndarray | None = None
    pooler_weight: np.ndarray | None = None
    pooler_bias: np.ndarray | None = None
    klass: int = 0
    contrast: int | None = None
    tokenizer: Any = None  # theory.models.wordpieces.WordPieces

    family: ClassVar[str] = "bert"
    noun: ClassVar[str] = "a BERT-family model"
    capabilities: ClassVar[frozenset[str]] = frozenset({"layers", removal.PIECES})

    def __post_init__(self):
        want = shapes(self.config)
        for field in fields(self):
            if field.name in ("config", "klass", "contrast", "tokenizer"):
                continue
            value = getattr(self, field.name)
            if field.name not in want:
                if value is not None:
                    raise InputError(
                        f"weight {field.name!r} is given but a {self.config.architecture} model with "
                        f"readout {self.config.readout} has none"
                    )
                continue
            if value is None:
                raise InputError(f"weight {field.name!r} is missing; it must have shape {want[field.name]}")
            object.__setattr__(self, field.name, _weight(field.name, value, want[field.name]))
        for name in ("klass", "contrast"):
            value = getattr(self, name)
            if value is not None and not (isinstance(value, int | np.integer) and 0 <= value < self.config.n_classes):
                raise InputError(f"{name} = {value!r} is not a class of the model (0 … {self.config.n_classes - 1})")
        if self.contrast is not None and self.contrast == self.klass:
            raise InputError(f"contrast = klass = {self.klass}: a logit difference needs two different classes")

    # --- sizes ---------------------------------------------------------------------------------------------
    L = property(lambda self: self.config.layers)
    K = property(lambda self: self.config.heads)
    d = property(lambda self: self.config.d)
    V = property(lambda self: self.config.vocab_size)

    @property
    def u(self) -> np.ndarray:
        """The explained combination of logits: ``e_c`` or ``e_c − e_{c'}`` (``f = ⟨u, logits⟩``)."""
        u = np.zeros(self.config.n_classes)
        u[self.klass] = 1.0
        if self.contrast is not None:
            u[self.contrast] = -1.0
        return u

    def weights(self) -> dict[str, np.ndarray]:
        """Every weight by field name (the keys of :func:`shapes`).

        Returns:
            ``{field name: array}``, float64 and read-only, in the order and with the shapes of :func:`shapes`.
        """
        return {name: getattr(self, name) for name in shapes(self.config)}

    # --- the model protocol (theory.models.protocol.AttentionClassifier) ------------------------------------
    d_e = property(lambda self: self.config.d)

    def _tokens(self):
        if self.tokenizer is None:
            raise InputError(
                "this BERT-family model has no tokenizer (built in memory): read it from a Hugging Face "
                "folder or an imported .npz to give it texts"
            )
        return self.tokenizer

    cls_id = property(lambda self: self._tokens().cls_id)
    unk_id = property(lambda self: self._tokens().unk_id)
    mask_id = property(lambda self: self._tokens().mask_id)
    pad_id = property(lambda self: self._tokens().pad_id)

    @property
    def T(self) -> int:
        """The longest document (special tokens included): the tokenizer's, within the position table's."""
        return self.config.max_tokens if self.tokenizer is None else min(self.tokenizer.max_len, self.config.max_tokens)

    @property
    def word_ids(self) -> np.ndarray:
        """Every id but the tokenizer's special tokens (CLS, SEP, UNK, MASK, PAD)."""
        t = self._tokens()
        return np.setdiff1d(np.arange(self.V), [t.cls_id, t.sep_id, t.unk_id, t.mask_id, t.pad_id])

    def sizes(self) -> str:
        """The sizes in one line: architecture and readout, ``L``, ``K``, ``d``, the FFN width, ``T``, ``V``.

        Returns:
            The line, e.g. ``bert (pooler readout, gelu, ε = 1e-12), L = 2, K = 2, d = 8, d_ff = 16, T = 32, V = 50``.
        """
        c = self.config
        return (
            f"{c.architecture} ({c.readout} readout, {c.activation}, ε = {c.layer_norm_eps:g}), L = {c.layers}, "
            f"K = {c.heads}, d = {c.d}, d_ff = {c.ffn}, T = {self.T}, V = {c.vocab_size}"
        )

    def reference_seconds(self, tokens: int | None = None) -> float:
        """Rough seconds of one forward pass of the mpmath reference (``reference/models/bert.py``): 2 µs per
        multiply-add (:func:`reference_multiply_adds`), 120 µs per ``gelu`` (an mpmath ``erf`` or ``tanh``;
        ``relu`` is free) and 10 µs per attention score (an ``exp``) — within 15 % of the measured 0.03–0.5 s of
        40-digit passes at L = 1–2, d = 8–64, d_ff = 8–128, T = 6–48, and of the 60-digit passes of the central
        differences (L = 2, K = 2, d = 8, d_ff = 12, T = 5–14: 0.028–0.086 s, estimated 0.028–0.088 s).

        Args:
            tokens: the document's tokens, special tokens and padding included (default: the maximum length).

        Returns:
            The estimated seconds.
        """
        config, T = self.config, self.T if tokens is None else tokens
        activations = 0 if config.activation == "relu" else config.layers * T * config.ffn
        return (
            2e-6 * reference_multiply_adds(config, T)
            + 1.2e-4 * activations
            + 1e-5 * config.layers * config.heads * T * T
        )

    def replace(self, **changes: Any) -> Bert:
        """The same model with some fields changed (weights by field name, ``klass``, ``contrast``, ``tokenizer``).

        Args:
            **changes: the new value of each changed field (a weight of the shape :func:`shapes` gives, a class
                index in ``0 … n_classes − 1``, a contrast class or None, a tokenizer).

        Returns:
            A new :class:`Bert` (this one is unchanged), checked as at construction.

        Raises:
            InputError: a changed weight has the wrong shape or is not finite, or a class is not one of the model.
        """
        return replaced(self, **changes)

    def document(
        self,
        text: str | Sequence[int] | Document,
        *,
        vocabulary=None,
        oov: str = "error",
        allow_unk: bool = False,
        truncate: bool = False,
    ) -> Document:
        """The document of a text through the model's tokenizer (docs/theory.md §13, :func:`pieces_document`).

        Args:
            text: a string, piece ids without the special tokens (their decoded text must tokenize back to them),
                or a Document (checked and returned).
            vocabulary: not used (the model reads texts with its own tokenizer).
            oov: not used (the pieces cover every text: unknown words become UNK pieces).
            allow_unk: not used.
            truncate: cut a text longer than ``T`` pieces (special tokens included) instead of refusing it.

        Returns:
            The :class:`~theory.models.protocol.Document` with its words over pieces.
        """
        if isinstance(text, Document):
            if text.names is None:
                raise InputError("the document has no words over pieces: give the BERT-family model a text")
            check_documents(self, text.ids)
            return text
        tokens = self._tokens()
        if isinstance(text, str):
            return pieces_document(tokens.encode(text, truncate))
        ids = [int(i) for i in text]
        encoded = tokens.encode(tokens.tokenizer.decode(ids), truncate)
        if encoded.ids[1:-1].tolist() != ids:
            raise InputError(
                f"piece ids {ids} are not what the model's tokenizer makes of their text "
                f"{encoded.text!r} ({encoded.ids[1:-1].tolist()}): give the text instead"
            )
        return pieces_document(encoded)

    def embed(self, docs: np.ndarray) -> np.ndarray:
        """``e_t = E[ξ_t]`` of documents ``(B, T)``, shape ``(B, T, d)`` (Hugging Face's ``inputs_embeds``).

        Args:
            docs: token ids, shape ``(T,)`` or ``(B, T)``, each in ``[0, V)``.

        Returns:
            The word embeddings, shape ``(B, T, d)`` (no position or token-type vector added).

        Raises:
            InputError: the ids are not a batch of documents the model reads (:func:`check_documents`).
        """
        ids = check_documents(self, docs)[0]
        return word_vectors(self, ids)

    def forward(self, docs: np.ndarray) -> BertForward:
        """The forward pass of documents ``(T,)`` or ``(B, T)`` (every token real), every layer kept.

        Args:
            docs: token ids, shape ``(T,)`` or ``(B, T)``.

        Returns:
            The :class:`BertForward`: ``f`` ``(B,)``, the logits ``(B, n_classes)``, every layer's attention
            ``(B, L, K, T, T)`` and hidden state ``(B, L + 1, T, d)``, and the traces the backward pass reads.
        """
        return forward(self, docs)

    def forward_quantities(self, docs: np.ndarray) -> list[tuple[str, np.ndarray]]:
        """Named quantities of the forward pass on documents ``(B, T)``, in the order they are computed: every
        layer's attention, the hidden states, the logits and ``f``.

        Args:
            docs: token ids, shape ``(B, T)``.

        Returns:
            ``(name, values)`` pairs: attention ``(B, L, K, T, T)``, hidden states ``(B, L + 1, T, d)``, logits
            ``(B, n_classes)``, ``f`` ``(B,)``.
        """
        fw = forward(self, docs)
        return [
            ("attention weights", fw.attention),
            ("hidden states", fw.hidden),
            ("logits", fw.logits),
            ("model output f", fw.f),
        ]

    def output(self, docs: np.ndarray) -> np.ndarray:
        """``f`` of documents ``(B, T)`` (every token real), shape ``(B,)``.

        Args:
            docs: token ids, shape ``(T,)`` or ``(B, T)``.

        Returns:
            ``f`` (the explained logit, or the logit difference), shape ``(B,)``.
        """
        return evaluate(self, docs)

    def _filler(self, shape) -> np.ndarray:
        """Ids that only place positions (any id but RoBERTa's padding_idx): ``E[ξ]`` is given."""
        return np.full(shape, (self.config.pad_token_id + 1) % self.V)

    def output_embedded(self, X: np.ndarray) -> np.ndarray:
        """``f`` of documents given by their word embeddings ``X`` ``(B, T, d)`` (positions ``0..T−1``, token type 0,
        every token real), shape ``(B,)``.

        Args:
            X: vectors in place of ``E[ξ_t]``, shape ``(B, T, d)`` (IG's path points, SmoothGrad's noisy inputs).

        Returns:
            ``f``, shape ``(B,)``.
        """
        X = np.asarray(X, dtype=np.float64)
        return evaluate(self, self._filler(X.shape[:2]), None, X)

    def _magnitude(self, fw: BertForward) -> np.ndarray:
        """``Σ_o |u_o| (Σ_k |W_c[o,k] z_k| + |b_c[o]|)`` per document: the terms ``f = ⟨u, W_c z + b_c⟩`` sums."""
        terms = np.abs(fw.readout.z) @ np.abs(self.classifier_weight).T + np.abs(self.classifier_bias)
        return terms @ np.abs(self.u)

    def output_scale(self, X: np.ndarray) -> float:
        """The largest term of ``f`` over documents given by their word embeddings ``X`` (the readout's,
        :meth:`_magnitude`), 1.0 when every term is 0.

        Args:
            X: vectors in place of ``E[ξ_t]``, shape ``(B, T, d)``.

        Returns:
            The largest ``Σ_o |u_o| (Σ_k |W_c[o,k] z_k| + |b_c[o]|)`` over the ``B`` documents (the scale of
            ``f``'s rounding errors).
        """
        X = np.asarray(X, dtype=np.float64)
        return float(self._magnitude(forward(self, self._filler(X.shape[:2]), None, X)).max()) or 1.0

    def output_magnitudes(self, docs: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """``f`` of documents ``(B, T)`` and the magnitude of the readout's terms, each ``(B,)``.

        Args:
            docs: token ids, shape ``(B, T)``.

        Returns:
            ``(f, magnitude)``, each of shape ``(B,)`` (the magnitude as in :meth:`output_scale`).
        """
        fw = forward(self, docs)
        return fw.f, self._magnitude(fw)

    def attention(self, docs: np.ndarray) -> np.ndarray:
        """Every layer's attention ``a^(i,l)_{t,u}``, ``(B, L, K, T, T)``.

        Args:
            docs: token ids, shape ``(B, T)``.

        Returns:
            The attention weights, shape ``(B, L, K, T, T)``; each row sums to 1.
        """
        return forward(self, docs).attention

    def readout_attention(self, docs: np.ndarray) -> np.ndarray:
        """The readout's last-layer attention, ``(B, K, T)``: the CLS row, or the pooled row for mean pooling
        (:func:`readout_attention`).

        Args:
            docs: token ids, shape ``(B, T)``.

        Returns:
            The readout attention of every head, shape ``(B, K, T)``.
        """
        return readout_attention(self, forward(self, docs))

    def hidden_states(self, docs: np.ndarray) -> np.ndarray:
        """``h^(0) = LN_emb(x), …, h^(L)``, ``(B, L + 1, T, d)``.

        Args:
            docs: token ids, shape ``(B, T)``.

        Returns:
            The hidden states after the embeddings and after each layer, shape ``(B, L + 1, T, d)``.
        """
        return forward(self, docs).hidden

    def gradient(self, docs: np.ndarray) -> np.ndarray:
        """``∇_t = ∂f/∂E[ξ_t]``, ``(B, T, d)``, by backpropagation (:func:`gradient`).

        Args:
            docs: token ids, shape ``(B, T)``.

        Returns:
            The gradient at every position (special tokens included), shape ``(B, T, d)``.
        """
        return gradient(self, docs).grad

    def gradient_embedded(self, X: np.ndarray) -> np.ndarray:
        """``∇_X f`` at documents given by their word embeddings ``X`` ``(B, T, d)``, in blocks of documents (the
        traces hold every layer's attention and activations).

        Args:
            X: vectors in place of ``E[ξ_t]``, shape ``(B, T, d)``.

        Returns:
            ``∇_X f``, shape ``(B, T, d)``.
        """
        X = np.asarray(X, dtype=np.float64)
        T = X.shape[1]
        rows = max(1, _ELEMENTS // (self.L * (self.K * T + self.d + self.config.ffn) * T))
        return np.concatenate(
            [
                gradient(self, self._filler((len(part), T)), None, part).grad
                for part in (X[start : start + rows] for start in range(0, len(X), rows))
            ]
        )

    def evaluator(self, doc: Document, length: int, semantics: Any) -> Callable[[np.ndarray], np.ndarray]:
        """``evaluate(Z) -> f`` on the perturbed documents of a Document under a removal semantics
        (:func:`perturbed_evaluator`).

        Args:
            doc: the document, with its words over pieces (:meth:`document`).
            length: its number of words (not read: the Document carries its words).
            semantics: the removal semantics, spelled (``delete``, ``replace``, ``mask:m``, ``pad``, ``zero``) or
                parsed (:func:`theory.models.removal.parse`).

        Returns:
            ``evaluate(Z)``: 0/1 patterns ``Z`` ``(n, d)`` over the distinct words (1: kept) to ``f``, shape ``(n,)``.

        Raises:
            InputError: the semantics is not one the model supports, or ``doc`` has no words over pieces.
        """
        return perturbed_evaluator(self, doc, removal.parse(semantics, self))

    def removed_embeddings(self, how: removal.Removal) -> np.ndarray:
        """The word embedding a removed piece gets, at each position ``0..T−1``, ``(T, d)``: ``E[UNK]``
        (replace/unk), ``E[m]`` (mask:m), 0 (zero); positions and token types stay the model's.

        Args:
            how: the parsed removal semantics (``replace``, ``mask`` or ``zero``).

        Returns:
            The vectors, shape ``(T, d)`` (the same row at every position).
        """
        if how.kind == "zero":
            return np.zeros((self.T, self.d))
        token = self.unk_id if how.kind == "replace" else how.token
        return np.repeat(self.word_embeddings[token][None], self.T, axis=0)

    def layer_norm_zeros(self, length: int) -> list[int]:
        """Every position ``0..length``: ``e_t = E[ξ_t]`` enters only through the embedding LayerNorm
        ``LN_emb(e_t + P[π(t)] + T_y[0])``, whose input gradient sums to 0 over the coordinates, so
        ``Σ_k ∇_{t,k} f = 0`` at every input (docs/theory.md §13).

        Args:
            length: the document's number of pieces (between ``[CLS]`` and ``[SEP]``).

        Returns:
            ``[0, 1, …, length]``.
        """
        return list(range(length + 1))

    # --- the .npz format (docs/file-formats.md) --------------------------------------------------------------
    def arrays(self) -> dict[str, Any]:
        """The ``.npz`` arrays: the weights by field name, ``arch``, the config and the explained class as JSON,
        and the tokenizer (``tokenizer.json``'s text, its special tokens' names and maximum length).

        Returns:
            ``{name: array}``: the weights (:func:`shapes`), ``arch``, ``config``, ``explained``, ``tokenizer``,
            ``tokenizer_names`` (0-d strings) and ``tokenizer_max_len``.

        Raises:
            InputError: the model has no tokenizer (built in memory).
        """
        t = self._tokens()
        config = {field.name: getattr(self.config, field.name) for field in fields(self.config)}
        out = dict(
            self.weights(),
            arch=np.str_(ARCH),
            config=np.str_(json.dumps(config)),
            explained=np.str_(json.dumps({"klass": int(self.klass), "contrast": self.contrast})),
            tokenizer=np.str_(t.tokenizer.to_str()),
            tokenizer_max_len=t.max_len,
            tokenizer_names=np.str_(json.dumps(t.names)),
        )
        return out

    def save(self, path: str | Path) -> None:
        """Write the ``.npz`` format (:meth:`arrays`).

        Args:
            path: the file to write (numpy adds ``.npz`` when it is missing).

        Raises:
            InputError: the model has no tokenizer (built in memory).
        """
        np.savez(path, **self.arrays())

    @classmethod
    def from_arrays(cls, arrays: dict, where: str = "the arrays") -> Bert:
        """The model of a BERT-family ``.npz`` file's arrays (:meth:`arrays`).

        Args:
            arrays: the file's arrays.
            where: the file, for the messages.

        Returns:
            The model with its tokenizer.
        """
        from theory.models.wordpieces import WordPieces, tokenizer_from_str

        lacking = [
            key
            for key in ("config", "explained", "tokenizer", "tokenizer_max_len", "tokenizer_names")
            if key not in arrays
        ]
        if lacking:
            raise InputError(f"BERT-family file {where} lacks {', '.join(lacking)} (docs/file-formats.md)")
        try:
            config = json.loads(str(arrays["config"]))
            explained = json.loads(str(arrays["explained"]))
            names = json.loads(str(arrays["tokenizer_names"]))
            config = BertConfig(**config)
            klass, contrast = explained["klass"], explained["contrast"]
        except (ValueError, TypeError, KeyError) as error:
            raise InputError(
                f"{where}: config/explained/tokenizer_names are not the JSON of the format ({error})"
            ) from None
        weights = {name: arrays[name] for name in shapes(config) if name in arrays}
        tokenizer = WordPieces(
            tokenizer_from_str(str(arrays["tokenizer"]), where), int(arrays["tokenizer_max_len"]), names
        )
        model = cls(config, **weights, klass=klass, contrast=contrast, tokenizer=tokenizer)
        check_vocabulary(model, tokenizer, where)
        return model


def _weight(name: str, value, shape: tuple[int, ...]) -> np.ndarray:
    value = np.asarray(value)
    if not np.issubdtype(value.dtype, np.number) or np.iscomplexobj(value):
        raise InputError(f"weight {name!r} has dtype {value.dtype}; it must hold real numbers")
    if value.shape != shape:
        raise InputError(f"weight {name!r} has shape {value.shape} but the config implies {shape}")
    value = np.ascontiguousarray(value, dtype=np.float64)
    if not np.all(np.isfinite(value)):
        bad = np.argwhere(~np.isfinite(value))[0].tolist()
        raise InputError(f"weight {name!r} contains NaN or inf (first at index {bad}); every weight must be finite")
    value.setflags(write=False)
    return value


# --- inputs ----------------------------------------------------------------------------------------------------


def check_documents(model: Bert, ids, mask=None, word_embeddings=None) -> tuple:
    """Validate a batch of documents.

    Args:
        model: the model.
        ids: token ids, ``(T,)`` or ``(B, T)``, each in ``[0, V)``.
        mask: the attention mask, same shape, 0/1 with at least one real token per document (default: all 1).
        word_embeddings: optional ``(B, T, d)`` (or ``(T, d)``) vectors that replace ``E[ξ_t]``.

    Returns:
        ``(ids, mask, word_embeddings)`` as ``(B, T)`` int64, ``(B, T)`` float64 and ``(B, T, d)`` float64 or None.
    """
    ids = np.atleast_2d(np.asarray(ids))
    if ids.ndim != 2 or not np.issubdtype(ids.dtype, np.integer):
        raise InputError(f"token ids must be an integer array (T,) or (B, T), got {ids.dtype} {ids.shape}")
    if ids.size and (ids.min() < 0 or ids.max() >= model.V):
        raise InputError(
            f"token id {int(ids.max() if ids.max() >= model.V else ids.min())} is outside the "
            f"vocabulary (0 … {model.V - 1})"
        )
    if ids.shape[1] < 1 or position_ids(model, ids).max() >= model.config.max_positions:
        longest = (
            int((ids != model.config.pad_token_id).sum(axis=1).max())
            if model.config.architecture == "roberta"
            else ids.shape[1]
        )
        raise InputError(
            f"a document of {longest} tokens does not fit the model (1 … {model.config.max_tokens} tokens)"
        )
    mask = np.ones(ids.shape) if mask is None else np.atleast_2d(np.asarray(mask, dtype=np.float64))
    if mask.shape != ids.shape or not np.isin(mask, (0.0, 1.0)).all():
        raise InputError(f"the attention mask must be 0/1 of the ids' shape {ids.shape}, got {mask.shape}")
    if not mask.any(axis=1).all():
        raise InputError("a document's attention mask is all 0: every document needs one real token")
    if word_embeddings is not None:
        word_embeddings = np.asarray(word_embeddings, dtype=np.float64)
        word_embeddings = word_embeddings[None] if word_embeddings.ndim == 2 else word_embeddings
        if word_embeddings.shape != (*ids.shape, model.d) or not np.isfinite(word_embeddings).all():
            raise InputError(
                f"word embeddings must be finite of shape {(*ids.shape, model.d)}, got {word_embeddings.shape}"
            )
    return ids.astype(np.int64), mask, word_embeddings


def position_ids(model: Bert, ids: np.ndarray) -> np.ndarray:
    """``π(t)``: ``t``, or RoBERTa's ``padding_idx + #{u ≤ t : ξ_u ≠ padding_idx}`` (``padding_idx`` at pads).

    Args:
        model: the model (its architecture and ``pad_token_id``).
        ids: token ids, shape ``(B, T)``.

    Returns:
        The row of the position table each token reads, shape ``(B, T)``.
    """
    if model.config.architecture != "roberta":
        return np.broadcast_to(np.arange(ids.shape[1]), ids.shape)
    real = ids != model.config.pad_token_id
    return np.cumsum(real, axis=1) * real + model.config.pad_token_id


def word_vectors(model: Bert, ids: np.ndarray) -> np.ndarray:
    """``E[ξ_t]`` of a batch of ids, ``(B, T, d)`` (the vectors the gradient is taken with respect to).

    Args:
        model: the model.
        ids: checked token ids, shape ``(B, T)``.

    Returns:
        The rows of the word embedding, shape ``(B, T, d)`` (a copy).
    """
    return model.word_embeddings[ids]


# --- forward pass ----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ReadoutTrace:
    pooled: np.ndarray  # (B, d) h^(L)_0, or the masked mean of h^(L)
    z: np.ndarray  # (B, d) act_p(W_p pooled + b_p), or pooled (mean)


@dataclass(frozen=True)
class BertForward:
    f: np.ndarray  # (B,)
    logits: np.ndarray  # (B, n_classes)
    mask: np.ndarray  # (B, T)
    attention: np.ndarray  # (B, L, K, T, T) every layer's attention
    hidden: np.ndarray  # (B, L + 1, T, d): h^(0) = LN_emb(x), …, h^(L)
    embeddings: NormTrace  # LN_emb's
    layers: tuple  # (LayerTrace,) * L
    readout: ReadoutTrace


def readout_attention(model: Bert, fw: BertForward) -> np.ndarray:
    """The last layer's attention of the readout, ``(B, K, T)``: the CLS row ``a^(i,L)_{0,·}``, or for mean pooling
    the pooled row ``(1/Σm) Σ_t m_t a^(i,L)_{t,·}`` (what the readout averages).

    Args:
        model: the model.
        fw: its forward pass.

    Returns:
        The readout attention of every head, zero at padding.
    """
    last = fw.attention[:, -1]
    if model.config.readout == "mean":
        return np.einsum("bt,bktu->bku", fw.mask, last) / fw.mask.sum(axis=1)[:, None, None]
    return last[:, :, 0, :]


def embeddings(model: Bert, ids: np.ndarray, word: np.ndarray | None = None) -> tuple[np.ndarray, NormTrace]:
    """``h^(0) = LN_emb(E[ξ_t] + P[π(t)] + T_y[0])`` (``word`` replaces ``E[ξ_t]`` when given), and LN_emb's trace.

    Args:
        model: the model.
        ids: checked token ids, shape ``(B, T)`` (they give the positions, and ``E[ξ_t]`` without ``word``).
        word: vectors in place of ``E[ξ_t]``, shape ``(B, T, d)``, or None.

    Returns:
        ``(h^(0), trace)``: the embeddings' output, shape ``(B, T, d)``, and LN_emb's trace.
    """
    x = (word_vectors(model, ids) if word is None else word) + model.position_embeddings[position_ids(model, ids)]
    if model.token_type_embeddings is not None:
        x = x + model.token_type_embeddings[0]
    return layer_norm(model.embeddings_norm_weight, model.embeddings_norm_bias, x, model.config.layer_norm_eps)


def _linear(x, W, b=None):
    """``x Wᵀ + b`` over the last axis (``W`` (out, in), ``torch.nn.Linear``'s layout), as one matrix product."""
    y = x.reshape(-1, x.shape[-1]) @ W.T
    if b is not None:
        y += b
    return y.reshape(*x.shape[:-1], W.shape[0])


def _heads(model: Bert, y):
    """``(B, T, d)`` → ``(B, K, T, d_h)``: head ``i`` holds coordinates ``i·d_h … (i+1)·d_h − 1``."""
    B, T, _ = y.shape
    return y.reshape(B, T, model.K, -1).transpose(0, 2, 1, 3)


def _attention(model: Bert, l: int, x, mask_bias):
    """``SA(x)`` with ``a^(i)_{t,u} ∝ m_u exp(⟨q_t, k_u⟩/√d_h)`` (``mask_bias`` = 0 or −∞ per key)."""
    Q = _heads(model, _linear(x, model.query_weight[l], model.query_bias[l]))
    Kmat = _heads(model, _linear(x, model.key_weight[l], model.key_bias[l]))
    Vmat = _heads(model, _linear(x, model.value_weight[l], model.value_bias[l]))
    S = np.matmul(Q, Kmat.transpose(0, 1, 3, 2)) * (model.d // model.K) ** -0.5 + mask_bias
    S -= S.max(axis=-1, keepdims=True)
    A = np.exp(S, out=S)
    A /= A.sum(axis=-1, keepdims=True)
    concat = np.matmul(A, Vmat).transpose(0, 2, 1, 3).reshape(x.shape)
    out = _linear(concat, model.attention_output_weight[l], model.attention_output_bias[l])
    return out, AttentionTrace(x, Q, Kmat, Vmat, A)


def activation(model: Bert, z: np.ndarray) -> np.ndarray:
    """``gelu``: ``z Φ(z)``; ``gelu_new``/``gelu_pytorch_tanh``: ``z (1 + tanh(√(2/π)(z + 0.044715 z³)))/2``;
    ``relu``.

    Args:
        model: the model (its config's ``activation``).
        z: the feed-forward pre-activations ``W_1 h + b_1``, any shape.

    Returns:
        ``act(z)``, elementwise, the shape of ``z``.
    """
    name = model.config.activation
    if name == "relu":
        return np.maximum(z, 0.0)
    if name == "gelu":
        return 0.5 * z * (1.0 + erf(z / np.sqrt(2.0)))
    return 0.5 * z * (1.0 + np.tanh(_TANH_C * (z + 0.044715 * z**3)))


def _feed_forward(model: Bert, l: int, x):
    """``W_2 act(W_1 x + b_1) + b_2`` (``BertIntermediate`` then ``BertOutput``'s dense)."""
    z = _linear(x, model.intermediate_weight[l], model.intermediate_bias[l])
    return _linear(activation(model, z), model.output_weight[l], model.output_bias[l]), FeedForwardTrace(x, z)


def _layer(model: Bert, l: int, h, mask_bias):
    """One post-LN layer: ``h ← LN_1(h + SA(h))``, ``h ← LN_2(h + FF(h))``."""
    eps = model.config.layer_norm_eps
    sa, sa_trace = _attention(model, l, h, mask_bias)
    h, norm1 = layer_norm(model.attention_norm_weight[l], model.attention_norm_bias[l], h + sa, eps)
    ff, ff_trace = _feed_forward(model, l, h)
    h, norm2 = layer_norm(model.output_norm_weight[l], model.output_norm_bias[l], h + ff, eps)
    return h, LayerTrace(sa_trace, ff_trace, norm1, norm2)


def _readout(model: Bert, h, mask):
    """Logits ``W_c z + b_c`` of the last layer's states ``h`` (module docstring), and the readout's trace."""
    if model.config.readout == "mean":
        pooled = (mask[:, :, None] * h).sum(axis=1) / mask.sum(axis=1, keepdims=True)
        z = pooled
    else:
        pooled = h[:, 0]
        assert model.pooler_weight is not None  # a CLS readout has W_p (__post_init__)
        pre = pooled @ model.pooler_weight.T + model.pooler_bias
        z = np.maximum(pre, 0.0) if model.config.readout == "pre_classifier" else np.tanh(pre)
    return z @ model.classifier_weight.T + model.classifier_bias, ReadoutTrace(pooled, z)


def _f(model: Bert, logits):
    f = logits[:, model.klass]
    return f - logits[:, model.contrast] if model.contrast is not None else f


def _stack(model: Bert, ids, mask, word_embeddings, keep: bool):
    """Embeddings, the ``L`` layers and the readout on checked inputs; every layer's state and trace with ``keep``."""
    mask_bias = np.where(mask > 0, 0.0, -np.inf)[:, None, None, :]
    h, emb_trace = embeddings(model, ids, word_embeddings)
    hidden, traces = [h], []
    for l in range(model.L):
        h, trace = _layer(model, l, h, mask_bias)
        if keep:
            hidden.append(h)
            traces.append(trace)
    logits, readout = _readout(model, h, mask)
    return logits, readout, emb_trace, hidden, traces


def forward(model: Bert, ids, mask=None, word_embeddings=None) -> BertForward:
    """The float64 forward pass of a batch of documents, keeping what the backward pass reads.

    Args:
        model: the model.
        ids: token ids ``(T,)`` or ``(B, T)``.
        mask: the attention mask (default: every token real).
        word_embeddings: ``(B, T, d)`` vectors that replace ``E[ξ_t]`` (Hugging Face's ``inputs_embeds``; the
            positions still come from ``ids``).

    Returns:
        The :class:`BertForward`: ``f``, the logits, every layer's attention and hidden state, the traces.
    """
    ids, mask, word_embeddings = check_documents(model, ids, mask, word_embeddings)
    logits, readout, emb_trace, hidden, traces = _stack(model, ids, mask, word_embeddings, keep=True)
    return BertForward(
        f=_f(model, logits),
        logits=logits,
        mask=mask,
        attention=np.stack([tr.sa.A for tr in traces], axis=1),
        hidden=np.stack(hidden, axis=1),
        embeddings=emb_trace,
        layers=tuple(traces),
        readout=readout,
    )


def evaluate(model: Bert, ids, mask=None, word_embeddings=None, chunk: int | None = None) -> np.ndarray:
    """``f`` of many (perturbed) documents, vectorised in chunks that bound the memory of the attention scores.

    Args:
        model: the model.
        ids: ``(B, T)`` token ids (``delete``: shorter documents padded with any id and mask 0 — RoBERTa: with its
            ``padding_idx`` so that no position moves; ``mask``/``unk``: the replaced ids).
        mask: ``(B, T)`` attention masks (``pad``: 0 at the removed pieces).
        word_embeddings: ``(B, T, d)`` vectors replacing ``E[ξ_t]`` (``zero`` and IG's straight paths).
        chunk: documents per vectorised pass (default: scores of at most 2^22 numbers per layer).

    Returns:
        ``f``, shape ``(B,)``.
    """
    ids, mask, word_embeddings = check_documents(model, ids, mask, word_embeddings)
    B, T = ids.shape
    chunk = chunk or max(1, 2**22 // (model.K * T * T))
    out = np.empty(B)
    for start in range(0, B, chunk):
        part = slice(start, start + chunk)
        we = None if word_embeddings is None else word_embeddings[part]
        out[part] = _f(model, _stack(model, ids[part], mask[part], we, keep=False)[0])
    return out


def pooled(model: Bert, ids, mask=None) -> np.ndarray:
    """The last layer's pooled state the readout starts from — ``h^(L)_0`` for a CLS readout, the masked mean of
    ``h^(L)`` for mean pooling (there the probe's features ``z``) — by :func:`evaluate`'s forward pass (no layer kept).

    Args:
        model: the model.
        ids: ``(B, T)`` token ids.
        mask: ``(B, T)`` attention masks (default: every token real).

    Returns:
        Shape ``(B, d)``.
    """
    ids, mask, _ = check_documents(model, ids, mask)
    return _stack(model, ids, mask, None, keep=False)[1].pooled


# --- backward pass ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class BertGradient:
    grad: np.ndarray  # (B, T, d) ∇_t = ∂f/∂E[ξ_t] at every position (special tokens and padding included)
    forward: BertForward


def _readout_backward(model: Bert, fw: BertForward) -> np.ndarray:
    """``h̄^(L)`` of ``f = ⟨u, W_c z + b_c⟩``."""
    dz = np.broadcast_to(model.u @ model.classifier_weight, fw.readout.z.shape)
    if model.config.readout == "mean":
        return fw.mask[:, :, None] * (dz / fw.mask.sum(axis=1, keepdims=True))[:, None, :]
    dh = np.zeros_like(fw.hidden[:, -1])
    z = fw.readout.z
    dpre = dz * ((z > 0) if model.config.readout == "pre_classifier" else (1.0 - z * z))
    dh[:, 0] = dpre @ model.pooler_weight
    return dh


def _heads_backward(dY, W):
    """``x̄ = Σ_i W^(i)ᵀ Ȳ^(i)`` of a projection split into heads (``dY`` (B, K, T, d_h), ``W`` (d, d))."""
    B, K, T, width = dY.shape
    return _linear(dY.transpose(0, 2, 1, 3).reshape(B, T, K * width), W.T)


def _attention_backward(model: Bert, l: int, trace: AttentionTrace, dy):
    B, T, d = dy.shape
    A = trace.A
    dheads = _heads(model, _linear(dy, model.attention_output_weight[l].T))
    dA = np.matmul(dheads, trace.Vmat.transpose(0, 1, 3, 2))
    dV = np.matmul(A.transpose(0, 1, 3, 2), dheads)
    dS = A * (dA - (dA * A).sum(axis=-1, keepdims=True)) * (d // model.K) ** -0.5
    dQ = np.matmul(dS, trace.Kmat)
    dK = np.matmul(dS.transpose(0, 1, 3, 2), trace.Q)
    return (
        _heads_backward(dQ, model.query_weight[l])
        + _heads_backward(dK, model.key_weight[l])
        + _heads_backward(dV, model.value_weight[l])
    )


def activation_derivative(model: Bert, z: np.ndarray) -> np.ndarray:
    """``ReLU' = [z > 0]``; ``gelu'(z) = Φ(z) + z φ(z)``; tanh form: ``(1 + τ)/2 + z (1 − τ²) c (1 + 3·0.044715 z²)/2``
    with ``τ = tanh(c (z + 0.044715 z³))``, ``c = √(2/π)``.

    Args:
        model: the model (its config's ``activation``).
        z: the feed-forward pre-activations ``W_1 h + b_1``, any shape.

    Returns:
        ``act'(z)``, elementwise, float64, the shape of ``z``.
    """
    name = model.config.activation
    if name == "relu":
        return (z > 0).astype(np.float64)
    if name == "gelu":
        return 0.5 * (1.0 + erf(z / np.sqrt(2.0))) + z * np.exp(-0.5 * z * z) / np.sqrt(2.0 * np.pi)
    tau = np.tanh(_TANH_C * (z + 0.044715 * z**3))
    return 0.5 * (1.0 + tau) + 0.5 * z * (1.0 - tau * tau) * _TANH_C * (1.0 + 3 * 0.044715 * z * z)


def _feed_forward_backward(model: Bert, l: int, trace: FeedForwardTrace, dy):
    dz = _linear(dy, model.output_weight[l].T) * activation_derivative(model, trace.z)
    return _linear(dz, model.intermediate_weight[l].T)


def _layer_backward(model: Bert, l: int, trace: LayerTrace, dh):
    """The reverse of :func:`_layer`: ``h̄^(l)`` from ``h̄^(l+1)``."""
    assert trace.ff is not None and trace.norm1 is not None and trace.norm2 is not None  # post-LN: all kept
    dx = norm_backward(model.output_norm_weight[l], trace.norm2, dh)
    dx = dx + _feed_forward_backward(model, l, trace.ff, dx)
    dx = norm_backward(model.attention_norm_weight[l], trace.norm1, dx)
    return dx + _attention_backward(model, l, trace.sa, dx)


def backward(model: Bert, fw: BertForward) -> np.ndarray:
    """``∂f/∂x`` (= ``∂f/∂E[ξ_t]``) of the documents of ``fw``, ``(B, T, d)``.

    Args:
        model: the model.
        fw: its forward pass.

    Returns:
        ``∇_t`` at every position of every document.
    """
    dh = _readout_backward(model, fw)
    for l in reversed(range(model.L)):
        dh = _layer_backward(model, l, fw.layers[l], dh)
    return norm_backward(model.embeddings_norm_weight, fw.embeddings, dh)


def gradient(model: Bert, ids, mask=None, word_embeddings=None) -> BertGradient:
    """``∇_t = ∂f/∂E[ξ_t]`` (Hugging Face's ``inputs_embeds`` convention) at every position of every document.

    Args:
        model: the model.
        ids: token ids ``(T,)`` or ``(B, T)``.
        mask: the attention mask (default: every token real).
        word_embeddings: vectors replacing ``E[ξ_t]`` (the gradient is then taken at them: IG's path points).

    Returns:
        The gradient and the forward pass it came from.
    """
    fw = forward(model, ids, mask, word_embeddings)
    return BertGradient(grad=backward(model, fw), forward=fw)


def check_vocabulary(model: Bert, tokenizer, where: str) -> None:
    """Refuse a tokenizer that makes ids the word embedding does not have.

    Args:
        model: the model.
        tokenizer: its :class:`~theory.models.wordpieces.WordPieces`.
        where: the folder or file, for the message.
    """
    if tokenizer.vocab_size > model.V:
        raise InputError(
            f"{where}: the tokenizer has {tokenizer.vocab_size} ids but the word embedding only "
            f"{model.V} rows (config.json vocab_size): they belong to different models"
        )


def pieces_document(encoded) -> Document:
    """The protocol's :class:`~theory.models.protocol.Document` of a tokenized text: ``ids`` ``[CLS] pieces…
    [SEP]``, ``length`` the number of pieces, the distinct words (by their text, first appearance first) as
    ``names`` with ``words = 0..d−1``, ``word_of`` the word of each piece and ``occurrences`` the word of each
    word of the text in order.

    Args:
        encoded: a :class:`theory.models.wordpieces.Document` (``WordPieces.encode``).

    Returns:
        The Document; a text with a special token inside it, or with no word, is an :class:`InputError`.
    """
    T = encoded.T
    inner = np.flatnonzero(encoded.special[1:-1])
    if inner.size or not (encoded.special[0] and encoded.special[-1]):
        raise InputError(
            f"the text holds the special token {encoded.pieces[1 + inner[0]] if inner.size else '?'}"
            " inside it; special tokens are never explained nor removed: leave them out of the text"
        )
    if T < 3:
        raise InputError("the text has no word to explain (it tokenizes to the special tokens only)")
    names = tuple(dict.fromkeys(encoded.words))
    index = {name: j for j, name in enumerate(names)}
    occurrences = np.array([index[w] for w in encoded.words], dtype=np.int64)
    word_of = np.full(T - 2, -1, dtype=np.int64)
    for j, at in zip(occurrences, encoded.positions):
        word_of[np.asarray(at) - 1] = j
    if (word_of < 0).any():
        raise InputError(f"piece {encoded.pieces[1 + int(np.argmax(word_of < 0))]!r} belongs to no word of the text")
    return Document(
        np.asarray(encoded.ids, dtype=np.int64), T - 2, np.arange(len(names)), word_of, encoded.text, names, occurrences
    )


def perturbed_evaluator(model: Bert, doc: Document, how: removal.Removal) -> Callable[[np.ndarray], np.ndarray]:
    """``evaluate(Z) -> f`` (``Z`` (n, d) 0/1, ``z_j = 0``: every piece of word ``j`` removed) under docs/theory.md
    §13's semantics, the documents built in blocks of rows and run by :func:`evaluate`:

    * ``delete`` — the kept pieces shift left between ``[CLS]`` and ``[SEP]``, the end padded (pad id, mask 0);
    * ``replace`` (``unk``), ``mask:m`` — the removed pieces' ids become UNK, resp. ``m``, at their positions;
    * ``pad`` — the removed pieces get attention mask 0 (nothing moves; left out of mean pooling);
    * ``zero`` — the removed pieces' word embeddings become 0 (positions and token types kept).

    Args:
        model: the model.
        doc: the document (words over pieces: :func:`pieces_document`).
        how: the parsed removal semantics.

    Returns:
        ``evaluate(Z) -> f`` of shape ``(n,)``.
    """
    if not isinstance(doc, Document) or doc.names is None:
        raise InputError(
            "a BERT-family model's perturbed documents need its Document (model.document(text)), "
            "whose words span pieces"
        )
    ids = check_documents(model, doc.ids)[0][0]
    T, L = ids.size, doc.length
    rows = max(1, _ELEMENTS // (T * max(model.d, model.config.ffn, model.K * T)))
    pad = model.config.pad_token_id
    token = None
    if how.kind in ("replace", "mask"):
        token = model.unk_id if how.kind == "replace" else how.token

    def block(Z):
        keep = np.take(np.asarray(Z) > 0, doc.word_of, axis=1)  # (n, L): the pieces kept
        n = len(keep)
        docs = np.repeat(ids[None], n, axis=0)
        mask = np.ones((n, T))
        embeddings = None
        if how.kind == "delete":
            kept = np.concatenate([np.ones((n, 1), bool), keep, np.ones((n, 1), bool)], axis=1)
            to = np.cumsum(kept, axis=1) - 1
            docs, mask = np.full((n, T), pad), np.zeros((n, T))
            rows_of = np.broadcast_to(np.arange(n)[:, None], kept.shape)
            docs[rows_of[kept], to[kept]] = np.broadcast_to(ids, kept.shape)[kept]
            mask[rows_of[kept], to[kept]] = 1.0
        elif how.kind == "pad":
            mask[:, 1 : L + 1] = keep
        elif how.kind == "zero":
            embeddings = word_vectors(model, docs)
            embeddings[:, 1 : L + 1] *= keep[:, :, None]
        else:
            docs[:, 1 : L + 1] = np.where(keep, ids[1 : L + 1], token)
        return evaluate(model, docs, mask, embeddings)

    def run(Z):
        return np.concatenate([block(Z[start : start + rows]) for start in range(0, len(Z), rows)] or [np.empty(0)])

    return run
