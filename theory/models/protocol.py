"""The model protocol: what every model family offers the explainers, the claims and the command line.

A family is one module with a frozen dataclass that implements :class:`AttentionClassifier` (as methods and
attributes, delegating to the family's own functions) and one entry in :data:`theory.models.FAMILIES` (how its
``.npz`` file is recognised and read).  Today: the §2 one-layer classifier (:class:`theory.models.one_layer.Model`,
``family = "one-layer"``) and the encoder family (:class:`theory.models.encoder.Encoder`, ``"encoder"``).  Nothing
outside a family's module asks which family a model is: code that needs a family-specific answer asks the model.

**Documents.**  A model reads a document ``ξ = (CLS, w_1, …, w_L, UNK, …, UNK)`` of length ``T`` (docs/theory.md
§2): :class:`Document` holds its ids, ``L`` and its word structure — the ``d`` distinct words in order of first
appearance (lime's feature order, :func:`distinct_words`) and, per word position ``1..L``, the index of its word
(:func:`word_index`).  :meth:`AttentionClassifier.document` builds one from a text (a ``str``, read with a
:class:`~theory.models.vocabulary.Vocabulary`), word ids, or a Document (returned as it is).

**Capabilities** name what a family's structure offers beyond the protocol, so that an explanation method can
require it without naming families: ``"cls-only-attention"`` — one layer in which only CLS queries, so the
closed forms of §2 exist (Eq. (19), the large-d limit of LIME, the sufficient statistics); ``"layers"`` — every
position queries at every layer, so the full attention matrices compose (attention rollout); ``"word-pieces"`` — a
text is read by the model's own tokenizer into pieces, a word spanning one or more of them, and the model reads an
attention mask (the BERT family, docs/theory.md §8: the removal semantics ``pad`` and ``mask`` — the tokenizer's
mask token — exist, and position scores are summed into word scores).

**Words over pieces** (``"word-pieces"``): the document's ``ids`` are ``[CLS] pieces… [SEP]`` (no padding),
``length`` the number of pieces (positions ``1..length``; SEP at ``length + 1``), ``words`` the indices ``0..d−1``
of the distinct words (by their text, in order of first appearance: all occurrences switched together, as lime's
``bow=True``), ``word_of`` the word of each piece, ``names`` the words' strings and ``occurrences`` the word of each
word of the text in order.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar, Protocol, runtime_checkable

import numpy as np

from theory.errors import InputError

#: the capabilities a family may declare (module docstring)
CAPABILITIES = ("cls-only-attention", "layers", "word-pieces")


def distinct_words(doc, length: int) -> np.ndarray:
    """The distinct word ids of positions ``1..length`` in order of first appearance (lime's feature order).

    Args:
        doc: the document's ids, CLS at position 0.
        length: the number of words ``L`` (positions ``1..L``).

    Returns:
        The ``d`` distinct word ids, shape ``(d,)``; of a :class:`Document`, its ``words`` (for words over pieces,
        their indices).
    """
    if isinstance(doc, Document):
        return doc.words
    text = np.asarray(doc)[1 : length + 1]
    ids, first = np.unique(text, return_index=True)
    return ids[np.argsort(first)]


def word_index(doc, length: int) -> np.ndarray:
    """For each word position ``1..length``, the index ``j`` of its word in :func:`distinct_words`.

    Args:
        doc: the document's ids, CLS at position 0.
        length: the number of words ``L``.

    Returns:
        Shape ``(L,)``: ``distinct_words(doc, length)[word_index(doc, length)[t − 1]] == doc[t]``; of a
        :class:`Document`, its ``word_of`` (for words over pieces, the word of each piece).
    """
    if isinstance(doc, Document):
        return doc.word_of
    text = np.asarray(doc)[1 : length + 1]
    ids, first, inverse = np.unique(text, return_index=True, return_inverse=True)
    rank = np.empty(ids.size, dtype=np.int64)
    rank[np.argsort(first)] = np.arange(ids.size)
    return rank[inverse.ravel()]


@dataclass(frozen=True, eq=False)
class Document:
    """A text as a model reads it: ``ids`` (T,) = CLS, the ``length`` words, padding; ``words`` (d,) the distinct
    word ids in order of first appearance; ``word_of`` (L,) the index in ``words`` of the word at each position
    ``1..L``; ``text`` the text it was read from, when it was a string; ``names`` the distinct words' strings when
    words span pieces (``"word-pieces"``, module docstring: ``words`` are then indices), None otherwise; with
    ``names``, ``occurrences`` the index in ``words`` of each word of the text in order."""

    ids: np.ndarray
    length: int
    words: np.ndarray
    word_of: np.ndarray
    text: str | None = None
    names: tuple[str, ...] | None = None
    occurrences: np.ndarray | None = None

    @classmethod
    def of(cls, ids: np.ndarray, length: int, text: str | None = None) -> Document:
        """The document of padded ids with ``length`` words.

        Args:
            ids: CLS, the words, padding (shape ``(T,)``).
            length: the number of words.
            text: the string the ids were read from, if any.

        Returns:
            The :class:`Document`, its word structure computed.
        """
        ids = np.asarray(ids, dtype=np.int64)
        return cls(ids, int(length), distinct_words(ids, length), word_index(ids, length), text)

    @property
    def tokens(self) -> np.ndarray:
        """The word ids at positions ``1..L``."""
        return self.ids[1 : self.length + 1]

    @property
    def positions(self) -> list[int]:
        """The explained positions ``0..L`` (CLS and the words; padding is not explained)."""
        return list(range(self.length + 1))


def read_document(
    model: AttentionClassifier,
    text: str | Sequence[int] | Document,
    *,
    vocabulary=None,
    oov: str = "error",
    allow_unk: bool = False,
    truncate: bool = False,
) -> Document:
    """The :class:`Document` of ``text`` for a model whose documents are ``(CLS, words, UNK padding)`` of length
    ``T`` (both families today; :meth:`AttentionClassifier.document` delegates here).

    Args:
        model: the model (its ``V``, ``T``, ``cls_id``, ``unk_id``).
        text: a string (needs ``vocabulary``), word ids, or a Document (returned as it is, once its length is
            checked against ``T``).
        vocabulary: the :class:`~theory.models.vocabulary.Vocabulary` that reads a string.
        oov: what a string's out-of-vocabulary words become (:data:`theory.models.vocabulary.OOV_POLICIES`).
        allow_unk: whether the words may hold UNK (``--oov unk``).
        truncate: cut a text longer than ``T − 1`` words instead of refusing it.

    Returns:
        The document.
    """
    from theory.models.one_layer import document
    from theory.models.vocabulary import encode

    if isinstance(text, Document):
        if text.ids.shape != (model.T,):
            raise InputError(f"the document has {text.ids.size} positions but the model reads T = {model.T}")
        return text
    string = None
    if isinstance(text, str):
        if vocabulary is None:
            raise InputError("a text given as a string needs a vocabulary (token strings by id) to become word ids")
        string = text
        encoded = encode(text, vocabulary, model, oov, truncate)
        text, allow_unk = encoded.tokens, allow_unk or oov == "unk"
    tokens = list(text)
    ids = document(model, tokens, truncate=truncate, allow_unk=allow_unk)
    return Document.of(ids, min(len(tokens), model.T - 1), string)


@runtime_checkable
class AttentionClassifier(Protocol):
    """What a model family implements (one line each; shapes with ``B`` documents of ``T`` positions, embedding
    width ``d_e``, ``K`` heads, ``L`` layers).  Families are frozen dataclasses; ``replace(**changes)`` gives the
    same model with some parameters changed."""

    family: ClassVar[str]  # the family's name: "one-layer", "encoder", "bert"
    noun: ClassVar[str]  # how messages name a model of the family: "the one-layer model", "an encoder"
    capabilities: ClassVar[frozenset[str]]  # what its structure offers (module docstring, CAPABILITIES)

    @property
    def cls_id(self) -> int: ...  # the CLS token, at position 0 of every document

    @property
    def unk_id(self) -> int: ...  # the UNK token, the padding after the words

    @property
    def V(self) -> int: ...  # vocabulary size (rows of E)

    @property
    def T(self) -> int: ...  # document length (max_len)

    @property
    def K(self) -> int: ...  # heads (of every layer)

    @property
    def d_e(self) -> int: ...  # embedding width

    @property
    def word_ids(self) -> np.ndarray: ...  # the ids a text may hold (every id but CLS and UNK)

    def sizes(self) -> str:
        """The sizes in one line, in the family's notation (for messages and reports).

        Returns:
            E.g. ``"K = 2, d_e = 6, d_att = 4, d_out = 3, T = 12, V = 20"``.
        """
        ...

    def reference_seconds(self, tokens: int | None = None) -> float:
        """Rough seconds of one forward pass of the family's mpmath reference on this model (plain loops: its
        multiply-adds times their measured cost), for deciding what a given model's claims can afford.

        Args:
            tokens: the document length the pass runs on (default: the longest the model reads).

        Returns:
            The estimated seconds.
        """
        ...

    def replace(self, **changes: Any) -> Any:
        """The same model with some parameters changed (a frozen dataclass's ``dataclasses.replace``).

        Args:
            **changes: parameters by name, e.g. ``w=-model.w``.

        Returns:
            The new model, checked as a loaded one is.
        """
        ...

    def document(
        self,
        text: str | Sequence[int] | Document,
        *,
        vocabulary: Any = None,
        oov: str = "error",
        allow_unk: bool = False,
        truncate: bool = False,
    ) -> Document:
        """The document of a text, with its word structure (the features of the perturbation explainers).

        Args:
            text: a string (read with ``vocabulary``, or the model's own tokenizer), word ids, or a Document.
            vocabulary: the :class:`~theory.models.vocabulary.Vocabulary` that reads a string (families without
                a tokenizer of their own).
            oov: what out-of-vocabulary words of a string become (``error``, ``drop``, ``unk``).
            allow_unk: whether the words may hold the UNK token.
            truncate: cut a text longer than the model reads instead of refusing it.

        Returns:
            The :class:`Document`.
        """
        ...

    def embed(self, docs: np.ndarray) -> np.ndarray:
        """The embedded tokens ``e_t`` the gradient is taken with respect to.

        Args:
            docs: token ids, shape ``(B, T)``.

        Returns:
            Shape ``(B, T, d_e)``: ``E[ξ_t] + p_t`` (§2, encoder), ``E[ξ_t]`` alone (BERT family, docs/theory.md §13).
        """
        ...

    def forward(self, docs: np.ndarray) -> Any:
        """The family's forward record.

        Args:
            docs: token ids, shape ``(B, T)``.

        Returns:
            A record with at least ``.f`` ``(B,)``, ``.X`` ``(B, T, d_e)`` and ``.alpha`` ``(B, K, T)``.
        """
        ...

    def forward_quantities(self, docs: np.ndarray) -> list[tuple[str, np.ndarray]]:
        """The named quantities of the forward pass, in order (the overflow checks name the first non-finite one).

        Args:
            docs: token ids, shape ``(B, T)``.

        Returns:
            ``(name, values)`` pairs, one row of ``values`` per document.
        """
        ...

    def output(self, docs: np.ndarray) -> np.ndarray:
        """``f`` of token documents.

        Args:
            docs: token ids, shape ``(B, T)``.

        Returns:
            ``f``, shape ``(B,)``.
        """
        ...

    def output_embedded(self, X: np.ndarray) -> np.ndarray:
        """``f`` of embedded documents (not necessarily embeddings of tokens: IG's path, SmoothGrad's noise).

        Args:
            X: embedded documents, shape ``(B, T, d_e)``.

        Returns:
            ``f``, shape ``(B,)``.
        """
        ...

    def output_scale(self, X: np.ndarray) -> float:
        """The largest term ``f`` sums over ``X``: the scale of its rounding errors.

        Args:
            X: embedded documents, shape ``(B, T, d_e)``.

        Returns:
            The scale.
        """
        ...

    def output_magnitudes(self, docs: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """``f`` and the magnitude of the terms it sums (identities are checked relative to the latter).

        Args:
            docs: token ids, shape ``(B, T)``.

        Returns:
            ``(f, magnitude)``, each of shape ``(B,)``.
        """
        ...

    def attention(self, docs: np.ndarray) -> np.ndarray:
        """Every layer's attention matrices.

        Args:
            docs: token ids, shape ``(B, T)``.

        Returns:
            Shape ``(B, L, K, T, T)`` (the §2 model: ``L = 1``, only the CLS row is defined).
        """
        ...

    def readout_attention(self, docs: np.ndarray) -> np.ndarray:
        """The attention row the readout reads: the last layer's CLS row (the pooled row for mean pooling).

        Args:
            docs: token ids, shape ``(B, T)``.

        Returns:
            Shape ``(B, K, T)``.
        """
        ...

    def hidden_states(self, docs: np.ndarray) -> np.ndarray | None:
        """The hidden states ``h^(0..L)``.

        Args:
            docs: token ids, shape ``(B, T)``.

        Returns:
            Shape ``(B, L + 1, T, d_e)``, or None for a family without hidden states (the §2 model).
        """
        ...

    def gradient(self, docs: np.ndarray) -> np.ndarray:
        """``∇_t = ∂f/∂e_t`` at every position, CLS included (closed form for §2, backpropagation otherwise).

        Args:
            docs: token ids, shape ``(B, T)``.

        Returns:
            Shape ``(B, T, d_e)``.
        """
        ...

    def gradient_embedded(self, X: np.ndarray) -> np.ndarray:
        """``∇_X f`` at embedded documents.

        Args:
            X: embedded documents, shape ``(B, T, d_e)``.

        Returns:
            Shape ``(B, T, d_e)``.
        """
        ...

    def evaluator(self, doc: Any, length: int, semantics: Any) -> Callable[[np.ndarray], np.ndarray]:
        """``f`` on the perturbed documents of one document under a removal semantics (docs/theory.md §3, §13.5).

        Args:
            doc: the document (ids, or a :class:`Document`).
            length: its number of words.
            semantics: the removal semantics, spelled or parsed (:func:`theory.models.removal.parse`).

        Returns:
            ``evaluate(Z)``: 0/1 patterns ``Z`` of shape ``(n, d)`` over the distinct words (1: kept) to ``f`` of
            the perturbed documents, shape ``(n,)``.
        """
        ...

    def layer_norm_zeros(self, length: int) -> list[int]:
        """The positions where ``Σ_k ∇_{t,k} f = 0`` at every input because a LayerNorm reads ``e_t`` (§11.1).

        Args:
            length: the document's number of words.

        Returns:
            Positions in ``0..length`` (empty for a family where no LayerNorm forces it).
        """
        ...
