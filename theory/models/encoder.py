"""The encoder family of docs/theory.md §11.1 (depth), in float64 numpy, batched over documents.

Input: the §1 embedded document ``h^(0)_t = e_t = E[ξ_t] + p_t`` (same tokens, same UNK padding, same
sinusoidal encoding as :mod:`theory.models.one_layer`).  Layer ``l`` (``l = 1..L``) has ``K`` heads with
``W_q, W_k ∈ R^{d_att×d}``, ``W_v ∈ R^{d_out×d}`` and biases, an output map ``W_o ∈ R^{d×K·d_out}`` (+ ``b_o``),
LayerNorms ``(γ_1, β_1)``, ``(γ_2, β_2)`` and a feed-forward ``FF(x) = W_2 act(W_1 x + b_1) + b_2``:

    SA(x)_t = W_o concat_i(Σ_u a^(i)_{t,u} (W_v x_u + b_v)) + b_o,
    a^(i)_{t,u} = softmax_u(⟨W_q x_t + b_q, W_k x_u + b_k⟩ / √d_att)          (every position queries),
    LN(x) = (x − mean x) / √(var x + ε) · γ + β   (biased variance, ε = 1e-5),
    act = ReLU or the exact GELU  x·Φ(x) = x·(1 + erf(x/√2))/2.

Switches (model-wide): ``residual`` (add the block's input back), ``norm`` — ``"post"``
(``h ← LN(h + SA(h))``, ``h ← LN(h + FF(h))``), ``"pre"`` (``h ← h + SA(LN(h))``, ``h ← h + FF(LN(h))``) or
``"none"`` — and the feed-forward (absent when ``d_ff = 0``).  An optional final LayerNorm ``(γ_f, β_f)`` — torch's
``nn.TransformerEncoder(norm=nn.LayerNorm(d))`` — normalises the last layer's output at every position:
``h^(L) ← LN_f(h^(L))`` (whatever ``norm`` is; without it, nothing).  ``h^(L)`` is the encoder's output, the final norm
included, as ``nn.TransformerEncoder`` returns it.  Readout: ``f = ⟨w, h^(L)_0⟩ + b``, the CLS position of the
last layer.

With ``residual``, a norm, ``d_att = d_out = d/K`` this is exactly torch's ``nn.TransformerEncoderLayer``
(eval mode, ``norm_first = (norm == "pre")``) stacked by ``nn.TransformerEncoder``.  With ``L = 1``, no
residual, no norm, no feed-forward, no biases it is the §2 model with ``W_ℓ^(i) = K·wᵀW_o^(i)``
(:func:`from_one_layer`).

The forward pass keeps, per layer, what the hand-written backward pass
(:mod:`theory.models.encoder_gradient`) needs: :class:`LayerTrace`.

**File format** (``arch = "encoder"``; every key is documented in docs/file-formats.md): ``E`` (V, d);
per layer, stacked on a leading axis of length ``L``: ``Wq``, ``Wk`` (L, K, d_att, d), ``Wv`` (L, K, d_out, d),
``bq``, ``bk`` (L, K, d_att), ``bv`` (L, K, d_out), ``Wo`` (L, d, K·d_out), ``bo`` (L, d), ``norm1_weight``,
``norm1_bias``, ``norm2_weight``, ``norm2_bias`` (L, d), ``W1`` (L, d_ff, d), ``b1`` (L, d_ff), ``W2`` (L, d, d_ff),
``b2`` (L, d); the final norm ``final_norm_weight``, ``final_norm_bias`` (d,) (both or neither: absent, no final norm);
readout ``w`` (d,), ``b`` scalar; scalars ``cls_id``, ``unk_id``, ``max_len``, ``pe`` (0/1),
``residual`` (0/1), strings ``norm`` (none/post/pre), ``activation`` (relu/gelu).  Biases, norm parameters and
the feed-forward arrays are optional (defaults: zeros, γ = 1, β = 0, no feed-forward).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any, ClassVar

import numpy as np
from numpy.typing import ArrayLike
from scipy.special import erf

from theory.errors import InputError
from theory.models.one_layer import Model, check_ids, positional_encoding
from theory.models.protocol import Document, read_document

if TYPE_CHECKING:
    from theory.models.removal import Removal
    from theory.models.vocabulary import Vocabulary

EPS = 1e-5
NORMS = ("none", "post", "pre")
ACTIVATIONS = ("relu", "gelu")
ARCH = "encoder"

# key -> (shape in terms of the sizes, default when absent or None when required)
_LAYER_KEYS = {
    "Wq": ("(L, K, d_att, d)", None),
    "Wk": ("(L, K, d_att, d)", None),
    "Wv": ("(L, K, d_out, d)", None),
    "bq": ("(L, K, d_att)", 0.0),
    "bk": ("(L, K, d_att)", 0.0),
    "bv": ("(L, K, d_out)", 0.0),
    "Wo": ("(L, d, K·d_out)", None),
    "bo": ("(L, d)", 0.0),
    "norm1_weight": ("(L, d)", 1.0),
    "norm1_bias": ("(L, d)", 0.0),
    "norm2_weight": ("(L, d)", 1.0),
    "norm2_bias": ("(L, d)", 0.0),
    "W1": ("(L, d_ff, d)", "ff"),
    "b1": ("(L, d_ff)", 0.0),
    "W2": ("(L, d, d_ff)", "ff"),
    "b2": ("(L, d)", 0.0),
}
_FINAL = ("final_norm_weight", "final_norm_bias")  # optional, (d,) each, both or neither
_ARRAYS = ("E", *_LAYER_KEYS, "w")
_SCALARS = ("b", "cls_id", "unk_id", "max_len", "pe", "residual")
_ELEMENTS = 1 << 22  # numbers held by the traces of one block of documents in the backward pass


@dataclass(frozen=True, eq=False)
class Encoder:
    """Parameters of an encoder classifier (shapes in the module docstring; ``T = max_len``), and its
    :class:`~theory.models.protocol.AttentionClassifier` members."""

    family: ClassVar[str] = "encoder"
    noun: ClassVar[str] = "an encoder"
    capabilities: ClassVar[frozenset[str]] = frozenset({"layers"})

    E: np.ndarray
    Wq: np.ndarray
    Wk: np.ndarray
    Wv: np.ndarray
    Wo: np.ndarray
    w: np.ndarray
    cls_id: int
    unk_id: int
    max_len: int
    pe: bool = True
    residual: bool = True
    norm: str = "post"
    activation: str = "relu"
    b: float = 0.0
    bq: np.ndarray | None = None
    bk: np.ndarray | None = None
    bv: np.ndarray | None = None
    bo: np.ndarray | None = None
    norm1_weight: np.ndarray | None = None
    norm1_bias: np.ndarray | None = None
    norm2_weight: np.ndarray | None = None
    norm2_bias: np.ndarray | None = None
    W1: np.ndarray | None = None
    b1: np.ndarray | None = None
    W2: np.ndarray | None = None
    b2: np.ndarray | None = None
    final_norm_weight: np.ndarray | None = None
    final_norm_bias: np.ndarray | None = None

    def __post_init__(self):
        for name in ("E", "Wq", "Wk", "Wv", "Wo", "w"):
            object.__setattr__(self, name, _real_array(name, getattr(self, name)))
        for name, ndim in (("E", 2), ("Wq", 4), ("Wk", 4), ("Wv", 4), ("Wo", 3), ("w", 1)):
            if getattr(self, name).ndim != ndim:
                raise InputError(
                    f"encoder array {name!r} has shape {getattr(self, name).shape}; expected {ndim} "
                    f"dimensions ({_shape_of(name)})"
                )
        V, d = self.E.shape
        L, K, d_att, _ = self.Wq.shape
        d_out = self.Wv.shape[2]
        if self.W1 is None and self.W2 is None:
            d_ff = 0
        elif self.W1 is None or self.W2 is None:
            raise InputError("the feed-forward needs both W1 (L, d_ff, d) and W2 (L, d, d_ff), or neither")
        else:
            d_ff = np.shape(self.W1)[1] if np.ndim(self.W1) == 3 else -1
        sizes = {"V": V, "d": d, "L": L, "K": K, "d_att": d_att, "d_out": d_out, "d_ff": d_ff}
        if min(V, d, L, K, d_att, d_out) < 1 or d_ff < 0:
            raise InputError(f"every size must be at least 1 (d_ff may be 0); got {sizes}")
        for name, (shape, default) in _LAYER_KEYS.items():
            value = getattr(self, name)
            want = _expected(shape, sizes)
            if value is None:
                if default == "ff":  # no feed-forward: zero-width arrays
                    value = np.zeros(want)
                elif default is None:
                    raise InputError(f"encoder array {name!r} is missing; it must have shape {shape}")
                else:
                    value = np.full(want, default)
            value = _real_array(name, value)
            if value.shape != want:
                raise InputError(
                    f"inconsistent shapes: {name!r} is {value.shape} but must be {want} {shape}, "
                    f"from E {self.E.shape}, Wq {self.Wq.shape}, Wv {self.Wv.shape}"
                )
            object.__setattr__(self, name, value)
        for name, want in (
            ("E", (V, d)),
            ("Wk", (L, K, d_att, d)),
            ("Wv", (L, K, d_out, d)),
            ("Wo", (L, d, K * d_out)),
            ("w", (d,)),
        ):
            if getattr(self, name).shape != want:
                raise InputError(
                    f"inconsistent shapes: {name!r} is {getattr(self, name).shape} but must be {want} "
                    f"{_shape_of(name)}, from E {self.E.shape}, Wq {self.Wq.shape}, Wv {self.Wv.shape}"
                )
        self._check_final_norm(d)
        b = np.asarray(self.b, dtype=np.float64)
        if b.size != 1 or not np.isfinite(b).all():
            raise InputError(f"the readout bias b must be one finite number, got {self.b!r}")
        object.__setattr__(self, "b", float(b.reshape(())))
        check_ids(self, V)
        for name in ("pe", "residual"):
            if getattr(self, name) not in (0, 1, True, False):
                raise InputError(f"{name} must be 0 or 1, got {getattr(self, name)!r}")
            object.__setattr__(self, name, bool(getattr(self, name)))
        if self.norm not in NORMS:
            raise InputError(
                f"norm={self.norm!r}; use one of {', '.join(NORMS)} (post: torch's default, pre: norm_first=True)"
            )
        if self.activation not in ACTIVATIONS:
            raise InputError(f"activation={self.activation!r}; use relu or gelu (the exact erf form)")

    def _check_final_norm(self, d: int) -> None:
        given = [name for name in _FINAL if getattr(self, name) is not None]
        if len(given) == 1:
            raise InputError(
                f"the final norm needs both final_norm_weight and final_norm_bias ({d},), or neither "
                f"(no final norm); only {given[0]} is given"
            )
        for name in given:
            value = _real_array(name, getattr(self, name))
            if value.shape != (d,):
                raise InputError(
                    f"inconsistent shapes: {name!r} is {value.shape} but must be ({d},) (d,), from E {self.E.shape}"
                )
            object.__setattr__(self, name, value)

    @property
    def final_norm(self) -> bool:
        """Whether a final LayerNorm follows the last layer (``nn.TransformerEncoder(norm=…)``)."""
        return self.final_norm_weight is not None

    # --- sizes ---------------------------------------------------------------------------------------------
    V = property(lambda self: self.E.shape[0])
    d = property(lambda self: self.E.shape[1])
    d_e = d
    L = property(lambda self: self.Wq.shape[0])
    K = property(lambda self: self.Wq.shape[1])
    d_att = property(lambda self: self.Wq.shape[2])
    d_out = property(lambda self: self.Wv.shape[2])
    d_ff = property(lambda self: self.W1.shape[1])
    T = property(lambda self: self.max_len)

    @property
    def word_ids(self) -> np.ndarray:
        """Token ids that may appear in a text (every id but CLS and UNK)."""
        ids = np.arange(self.V)
        return ids[(ids != self.cls_id) & (ids != self.unk_id)]

    def arrays(self) -> dict[str, Any]:
        """The public ``.npz`` arrays (module docstring).

        Returns:
            Every array and scalar of the file format by key (the final norm's only when the model has one),
            ``arch = "encoder"`` included.
        """
        out = {name: getattr(self, name) for name in _ARRAYS}
        if self.final_norm:
            out.update({name: getattr(self, name) for name in _FINAL})
        out.update(
            b=self.b,
            cls_id=self.cls_id,
            unk_id=self.unk_id,
            max_len=self.max_len,
            pe=int(self.pe),
            residual=int(self.residual),
            norm=np.str_(self.norm),
            activation=np.str_(self.activation),
            arch=np.str_(ARCH),
        )
        return out

    def replace(self, **changes: Any) -> Encoder:
        """The same encoder with some parameters changed (e.g. ``w=-model.w, b=-model.b``).

        Args:
            **changes: new values by field name (the file format's keys), checked as a new encoder's are.

        Returns:
            The new :class:`Encoder`.
        """
        fields = {name: getattr(self, name) for name in (*_ARRAYS, *_FINAL, *_SCALARS, "norm", "activation")}
        return Encoder(**{**fields, **changes})

    # --- the model protocol (theory.models.protocol.AttentionClassifier) ------------------------------------
    def sizes(self) -> str:
        """The sizes in one line: ``L``, ``K``, ``d``, ``d_att``, ``d_ff``, ``T``, ``V``.

        Returns:
            The line, e.g. ``"L = 2, K = 2, d = 4, d_att = 2, d_ff = 8, T = 6, V = 10"``.
        """
        return (
            f"L = {self.L}, K = {self.K}, d = {self.d_e}, d_att = {self.d_att}, d_ff = {self.d_ff}, "
            f"T = {self.T}, V = {self.V}"
        )

    def reference_seconds(self, tokens: int | None = None) -> float:
        """Rough seconds of one forward pass of the mpmath reference (``reference/models/encoder.py``): its
        multiply-adds at ~1.4 µs each (the loops also run LayerNorm and the feed-forward; measured on an L = 2,
        K = 2, d = 8, d_ff = 16, T = 10 encoder, where ``encoder.gradient`` took 0.83 s and
        ``encoder.blind_to_values`` 1.7 s per document).

        Args:
            tokens: unused (an encoder reads documents of length ``T``).

        Returns:
            ``1.4e-6 · L · T (K T (d_att + d_out) + d K (2 d_att + 2 d_out) + 2 d d_ff)``.
        """
        T, d, K = self.T, self.d_e, self.K
        per_layer = T * (
            K * T * (self.d_att + self.d_out) + d * K * (2 * self.d_att + 2 * self.d_out) + 2 * d * self.d_ff
        )
        return 1.4e-6 * self.L * per_layer

    def document(
        self,
        text: str | Sequence[int] | Document,
        *,
        vocabulary: Vocabulary | None = None,
        oov: str = "error",
        allow_unk: bool = False,
        truncate: bool = False,
    ) -> Document:
        """The document of a text (:func:`theory.models.protocol.read_document`).

        Args:
            text: a string (read with ``vocabulary``), word ids, or a Document.
            vocabulary: the vocabulary that reads a string.
            oov: what a string's out-of-vocabulary words become.
            allow_unk: whether the words may hold UNK.
            truncate: cut a text longer than ``T − 1`` words.

        Returns:
            The :class:`~theory.models.protocol.Document`.
        """
        return read_document(self, text, vocabulary=vocabulary, oov=oov, allow_unk=allow_unk, truncate=truncate)

    def embed(self, docs: ArrayLike) -> np.ndarray:
        """``e_t = E[ξ_t] + p_t`` of documents (:func:`embed`).

        Args:
            docs: token ids, shape ``(T,)`` or ``(B, T)``.

        Returns:
            The embedded tokens, shape ``(B, T, d)``.
        """
        return embed(self, np.atleast_2d(np.asarray(docs)))

    def forward(self, docs: ArrayLike) -> EncoderForward:
        """The forward pass of documents (:func:`forward`), every layer kept.

        Args:
            docs: token ids, shape ``(T,)`` or ``(B, T)``.

        Returns:
            The :class:`EncoderForward` record of the ``B`` documents.
        """
        return forward(self, docs)

    def forward_quantities(self, docs: ArrayLike) -> list[tuple[str, np.ndarray]]:
        """The quantities of the forward pass on documents ``(B, T)`` (one row per document), named, in the order
        they are computed: every layer's queries, keys and values, the attention, the hidden states and ``f``.

        Args:
            docs: token ids, shape ``(T,)`` or ``(B, T)``.

        Returns:
            ``(name, array)`` pairs, each array's first axis the ``B`` documents: the projections ``(B, ·)``,
            the attention ``(B, L, K, T, T)``, the hidden states ``(B, L + 1, T, d)`` and ``f`` ``(B,)``.
        """
        fw = forward(self, docs)
        projections = np.concatenate(
            [
                np.concatenate([layer.sa.Q, layer.sa.Kmat, layer.sa.Vmat], axis=-1).reshape(fw.f.shape[0], -1)
                for layer in fw.layers
            ],
            axis=1,
        )
        return [
            ("queries, keys and values", projections),
            ("attention weights", fw.attention),
            ("hidden states", fw.hidden),
            ("model output f", fw.f),
        ]

    def output(self, docs: ArrayLike) -> np.ndarray:
        """``f`` of a batch of documents (no traces kept).

        Args:
            docs: token ids, shape ``(T,)`` or ``(B, T)``.

        Returns:
            The model outputs ``f``, shape ``(B,)``.
        """
        docs = np.atleast_2d(np.asarray(docs))
        return output_embedded(self, embed(self, docs))

    def output_embedded(self, X: np.ndarray) -> np.ndarray:
        """``f`` of embedded documents (:func:`output_embedded`, no traces kept).

        Args:
            X: embedded tokens, shape ``(B, T, d)``.

        Returns:
            The model outputs ``f``, shape ``(B,)``.
        """
        return output_embedded(self, X)

    def output_scale(self, X: np.ndarray) -> float:
        """The largest term of ``f`` over embedded documents ``X``: the readout's, ``|b| + Σ_k |w_k h^(L)_{0,k}|``
        (``f = ⟨w, h^(L)_0⟩ + b``), 1.0 when every term is 0.

        Args:
            X: embedded tokens, shape ``(B, T, d)``.

        Returns:
            The scale, one float over the whole batch (units of ``f``).
        """
        h = forward_embedded(self, X).hidden[:, -1, 0]  # (B, d): h^(L)_0
        return float((abs(self.b) + np.abs(h * self.w).sum(axis=1)).max()) or 1.0

    def output_magnitudes(self, docs: ArrayLike) -> tuple[np.ndarray, np.ndarray]:
        """``f`` of documents ``(B, T)`` and the magnitude of the readout's terms ``|h^(L)_0|·|w| + |b|``.

        Args:
            docs: token ids, shape ``(T,)`` or ``(B, T)``.

        Returns:
            ``(f, magnitude)``, each of shape ``(B,)``.
        """
        fw = forward(self, docs)
        return fw.f, np.abs(fw.hidden[:, -1, 0]) @ np.abs(self.w) + abs(self.b)

    def attention(self, docs: ArrayLike) -> np.ndarray:
        """Every layer's attention ``a^(i,l)_{t,u}``.

        Args:
            docs: token ids, shape ``(T,)`` or ``(B, T)``.

        Returns:
            The matrices, shape ``(B, L, K, T, T)`` (query position, key position), rows summing to 1.
        """
        return forward(self, docs).attention

    def readout_attention(self, docs: ArrayLike) -> np.ndarray:
        """The last layer's CLS attention row (the row the readout ``⟨w, h^(L)_0⟩`` reads).

        Args:
            docs: token ids, shape ``(T,)`` or ``(B, T)``.

        Returns:
            ``a^(i,L)_{0,·}``, shape ``(B, K, T)``.
        """
        return forward(self, docs).alpha

    def hidden_states(self, docs: ArrayLike) -> np.ndarray:
        """``h^(0) = X, …, h^(L)`` (the final norm included).

        Args:
            docs: token ids, shape ``(T,)`` or ``(B, T)``.

        Returns:
            The hidden states, shape ``(B, L + 1, T, d)``.
        """
        return forward(self, docs).hidden

    def gradient(self, docs: ArrayLike) -> np.ndarray:
        """``∇_t = ∂f/∂e_t`` by the backpropagation of :mod:`theory.models.encoder_gradient`.

        Args:
            docs: token ids, shape ``(T,)`` or ``(B, T)``.

        Returns:
            The gradients at every position, CLS included, shape ``(B, T, d)``.
        """
        from theory.models.encoder_gradient import gradient

        return gradient(self, docs).grad

    def gradient_embedded(self, X: np.ndarray) -> np.ndarray:
        """``∇_X f`` at embedded documents, by backpropagation in blocks of documents (the traces hold every
        layer's attention, ``L·K·T²`` numbers per document).

        Args:
            X: embedded tokens, shape ``(B, T, d)``.

        Returns:
            ``∂f/∂X``, shape ``(B, T, d)``.
        """
        from theory.models.encoder_gradient import backward

        rows = max(1, _ELEMENTS // (self.L * (self.K * self.T + self.d + self.d_ff) * self.T))
        return np.concatenate(
            [backward(self, forward_embedded(self, X[start : start + rows])) for start in range(0, len(X), rows)]
        )

    def evaluator(self, doc: np.ndarray, length: int, semantics: Removal) -> Callable[[np.ndarray], np.ndarray]:
        """``evaluate(Z) -> f`` on the perturbed documents of a checked ``doc`` under a parsed removal semantics:
        the documents built and run (:func:`theory.models.perturb.built_documents_evaluator`).

        Args:
            doc: the document's ids, shape ``(T,)``, already checked.
            length: its number of words ``L``.
            semantics: the parsed removal semantics (:func:`theory.models.removal.parse`).

        Returns:
            ``evaluate(Z)``: for 0/1 patterns ``Z`` of shape ``(n, d)`` over the distinct words, ``f`` of the
            ``n`` perturbed documents, shape ``(n,)``.
        """
        from theory.models.perturb import built_documents_evaluator

        return built_documents_evaluator(self, doc, length, semantics)

    def layer_norm_zeros(self, length: int) -> list[int]:
        """The positions ``t ∈ 0..length`` where ``Σ_k ∇_{t,k} f = 0`` at every input by LayerNorm
        (docs/theory.md §11.1): in a pre-norm encoder the residual stream carries ``e_t`` unchanged and every
        sublayer reads it through a LayerNorm, whose input gradient sums to 0 over the coordinates — every word
        position, and CLS too when no residual or a final norm puts a LayerNorm between ``e_0`` and the readout
        (otherwise ``Σ_k ∇_{0,k} f = Σ_k w_k``, the readout's direct path).  None for a post-norm encoder
        (``e_t`` also reaches a LayerNorm through attention's linear maps, whose gradient does not sum to 0) or
        one without norms.

        Args:
            length: the number of words ``L``.

        Returns:
            The positions, in increasing order (empty unless ``norm = "pre"``).
        """
        if self.norm != "pre":
            return []
        first = 0 if (not self.residual or self.final_norm) else 1
        return list(range(first, length + 1))

    def save(self, path: str | Path | IO[bytes]) -> None:
        """Write the public ``.npz`` format (:meth:`arrays`).

        Args:
            path: the file to write (numpy appends ``.npz`` when it lacks the suffix), or a binary stream.
        """
        np.savez(path, **self.arrays())

    @classmethod
    def from_arrays(cls, arrays: dict, where: str = "the arrays") -> Encoder:
        """The encoder of the arrays of an encoder ``.npz`` file (module docstring).

        Args:
            arrays: the file's arrays by name (:func:`theory.models.one_layer.read_npz`); ``arch`` must be
                ``"encoder"``, the optional keys take their defaults.
            where: how messages name the file (its path).

        Returns:
            The checked :class:`Encoder`.

        Raises:
            InputError: ``arch`` is not ``"encoder"``, a required key is missing, a scalar is not a scalar, or the
                encoder's own checks fail.
        """
        if str(arrays.get("arch", "")) != ARCH:
            raise InputError(
                f"{where} is not an encoder file (arch={arrays.get('arch')!r}); encoder files carry arch='{ARCH}'"
            )
        missing = [k for k in ("E", "Wq", "Wk", "Wv", "Wo", "w", "cls_id", "unk_id", "max_len") if k not in arrays]
        if missing:
            raise InputError(f"encoder file {where} lacks {', '.join(missing)} (see the encoder file format)")
        kwargs = {}
        for key in (*_ARRAYS, *_FINAL, *_SCALARS, "norm", "activation"):
            if key not in arrays:
                continue
            value = arrays[key]
            if key in _SCALARS or key in ("norm", "activation"):
                if np.size(value) != 1:
                    raise InputError(f"{key} in {where} must be a scalar, got shape {np.shape(value)}")
                value = np.asarray(value).item()
            kwargs[key] = value
        return cls(**kwargs)


def _real_array(name, value) -> np.ndarray:
    value = np.asarray(value)
    if not np.issubdtype(value.dtype, np.number) or np.iscomplexobj(value):
        raise InputError(f"encoder array {name!r} has dtype {value.dtype}; it must hold real numbers")
    value = np.ascontiguousarray(value, dtype=np.float64)
    if not np.all(np.isfinite(value)):
        bad = np.argwhere(~np.isfinite(value))[0].tolist()
        raise InputError(
            f"encoder array {name!r} contains NaN or inf (first at index {bad}); every weight must be a finite number"
        )
    value.setflags(write=False)
    return value


def _shape_of(name) -> str:
    return {"E": "(V, d)", "w": "(d,)", **{k: v[0] for k, v in _LAYER_KEYS.items()}}[name]


def _expected(shape: str, sizes: dict) -> tuple:
    names = shape.strip("()").replace(" ", "").split(",")
    return tuple(sizes["K"] * sizes["d_out"] if n == "K·d_out" else sizes[n] for n in names if n)


def from_one_layer(model: Model, rng: np.random.Generator | None = None) -> Encoder:
    """The §5 reduction: the §2 model as an encoder with ``L = 1``, no residual, no norm, no feed-forward, no
    biases, ``w = (1, 0, …, 0)`` and ``W_o``'s first row ``(W_ℓ^(1), …, W_ℓ^(K)) / K``, so that
    ``K·wᵀW_o^(i) = W_ℓ^(i)``.  The other rows of ``W_o`` do not reach ``f``: they are drawn from ``rng`` when
    given (to show it), zero otherwise.  The encoder always divides the scores by ``√d_att`` (torch's
    convention); a §2 model whose ``scale`` is 0 gets ``√d_att·W_q`` instead, which undoes that division.

    Args:
        model: the §2 model.
        rng: the generator of the rows of ``W_o`` that do not reach ``f``; None makes them zero.

    Returns:
        The encoder with ``L = 1`` whose ``f`` equals the §2 model's on every document.
    """
    K, d_out, d = model.K, model.d_out, model.d_e
    Wq = model.Wq if model.scale else model.Wq * np.sqrt(model.d_att)
    Wo = np.zeros((d, K * d_out)) if rng is None else rng.standard_normal((d, K * d_out))
    Wo[0] = model.Wl.reshape(-1) / K
    w = np.zeros(d)
    w[0] = 1.0
    return Encoder(
        model.E,
        Wq[None],
        model.Wk[None],
        model.Wv[None],
        Wo[None],
        w,
        model.cls_id,
        model.unk_id,
        model.max_len,
        model.pe,
        residual=False,
        norm="none",
    )


# --- forward pass ----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class NormTrace:
    xhat: np.ndarray  # (B, T, d) normalised input
    inv_std: np.ndarray  # (B, T, 1) 1/√(var + ε)


@dataclass(frozen=True)
class AttentionTrace:
    x: np.ndarray  # (B, T, d) block input
    Q: np.ndarray  # (B, K, T, d_att)
    Kmat: np.ndarray  # (B, K, T, d_att)
    Vmat: np.ndarray  # (B, K, T, d_out)
    A: np.ndarray  # (B, K, T, T) attention a^(i)_{t,u}


@dataclass(frozen=True)
class FeedForwardTrace:
    x: np.ndarray  # (B, T, d) block input
    z: np.ndarray  # (B, T, d_ff) pre-activation W_1 x + b_1


@dataclass(frozen=True)
class LayerTrace:
    """What layer ``l`` computed (the backward pass reads it): its blocks and norms."""

    sa: AttentionTrace
    ff: FeedForwardTrace | None
    norm1: NormTrace | None
    norm2: NormTrace | None


@dataclass(frozen=True)
class EncoderForward:
    f: np.ndarray  # (B,)
    attention: np.ndarray  # (B, L, K, T, T) every layer's attention
    hidden: np.ndarray  # (B, L + 1, T, d): h^(0) = X, …, h^(L)
    layers: tuple[LayerTrace, ...]  # one per layer
    final: NormTrace | None = None  # the final norm's, when the model has one

    @property
    def X(self) -> np.ndarray:
        """The embedded input ``h^(0)_t = e_t``."""
        return self.hidden[:, 0]

    @property
    def alpha(self) -> np.ndarray:
        """The last layer's CLS attention ``a^(i,L)_{0,·}``, ``(B, K, T)`` (§2's α in the reduction)."""
        return self.attention[:, -1, :, 0, :]


def embed(model: Encoder, docs: np.ndarray) -> np.ndarray:
    """``e_t = E[ξ_t] + p_t`` (as :func:`theory.models.one_layer.embed`).

    Args:
        model: the encoder (``E``, ``pe``).
        docs: token ids, shape ``(B, T)``.

    Returns:
        The embedded tokens, shape ``(B, T, d)``.
    """
    X = model.E[docs]
    if model.pe:
        X = X + positional_encoding(docs.shape[-1], model.d)
    return X


def _norm(model: Encoder, weight, bias, x):
    """A layer's LayerNorm (:func:`layer_norm`); the identity when ``norm = none``."""
    if model.norm == "none":
        return x, None
    return layer_norm(weight, bias, x)


def filled(value: np.ndarray | None) -> np.ndarray:
    """An optional array of a built :class:`Encoder` (``bq`` … ``b2``): ``__post_init__`` fills every absent one with
    its default, so only a model still being built holds None.

    Args:
        value: the field's value.

    Returns:
        The array itself.
    """
    assert value is not None, "an optional encoder array is None after __post_init__"
    return value


def layer_norm(weight: np.ndarray, bias: np.ndarray, x: np.ndarray, eps: float = EPS) -> tuple[np.ndarray, NormTrace]:
    """``LN(x) = (x − mean)/√(var + ε)·γ + β`` over the last axis (biased variance), and its trace.

    Args:
        weight: ``γ``, shape ``(d,)``.
        bias: ``β``, shape ``(d,)``.
        x: the input, shape ``(..., d)``.
        eps: ``ε`` (the encoder family's :data:`EPS`; the BERT family passes its config's ``layer_norm_eps``).

    Returns:
        ``(LN(x), trace)``: the output, shape of ``x``, and its :class:`NormTrace` (``x̂``, ``1/√(var + ε)``).
    """
    centred = x - x.mean(axis=-1, keepdims=True)
    inv_std = 1.0 / np.sqrt((centred * centred).mean(axis=-1, keepdims=True) + eps)
    xhat = centred * inv_std
    return xhat * weight + bias, NormTrace(xhat, inv_std)


def _softmax_in_place(s):
    """Softmax over the last axis with the max-shift (as :func:`theory.models.one_layer.softmax`), overwriting ``s``
    (the ``B × K × T × T`` scores are the largest array of the forward pass)."""
    s -= s.max(axis=-1, keepdims=True)
    np.exp(s, out=s)
    s /= s.sum(axis=-1, keepdims=True)
    return s


def heads_of(x: np.ndarray, W: np.ndarray, bias: np.ndarray) -> np.ndarray:
    """Per-head projections ``W^(i) x_t + b^(i)``: one matrix product for all heads.

    Args:
        x: the block's input, shape ``(B, T, d)``.
        W: the heads' matrices, shape ``(K, width, d)``.
        bias: the heads' biases, shape ``(K, width)``.

    Returns:
        The projections, shape ``(B, K, T, width)``.
    """
    K, width, d = W.shape
    y = x @ W.reshape(K * width, d).T + bias.reshape(-1)
    return y.reshape(x.shape[0], x.shape[1], K, width).transpose(0, 2, 1, 3)


def _sa_block(model: Encoder, l: int, x):
    """``SA(x)_t = W_o concat_i(Σ_u a^(i)_{t,u} v^(i)_u) + b_o`` with ``a^(i) = softmax(Q Kᵀ/√d_att)``."""
    Q = heads_of(x, model.Wq[l], filled(model.bq)[l])
    Kmat = heads_of(x, model.Wk[l], filled(model.bk)[l])
    Vmat = heads_of(x, model.Wv[l], filled(model.bv)[l])
    A = _softmax_in_place(np.matmul(Q, Kmat.transpose(0, 1, 3, 2)) / np.sqrt(model.d_att))
    heads = np.matmul(A, Vmat)  # (B, K, T, d_out)
    concat = heads.transpose(0, 2, 1, 3).reshape(x.shape[0], x.shape[1], -1)  # (B, T, K·d_out)
    return concat @ model.Wo[l].T + filled(model.bo)[l], AttentionTrace(x, Q, Kmat, Vmat, A)


def activation(model: Encoder, z: np.ndarray) -> np.ndarray:
    """ReLU, or the exact GELU ``z·Φ(z) = z·(1 + erf(z/√2))/2`` (the model's ``activation``).

    Args:
        model: the encoder.
        z: the feed-forward's pre-activations ``W_1 x + b_1``, any shape.

    Returns:
        ``act(z)``, the shape of ``z``.
    """
    if model.activation == "relu":
        return np.maximum(z, 0.0)
    return 0.5 * z * (1.0 + erf(z / np.sqrt(2.0)))


def _ff_block(model: Encoder, l: int, x):
    """``FF(x) = W_2 act(W_1 x + b_1) + b_2``; ``None`` when the model has no feed-forward (``d_ff = 0``)."""
    if model.d_ff == 0:
        return None, None
    z = x @ filled(model.W1)[l].T + filled(model.b1)[l]
    return activation(model, z) @ filled(model.W2)[l].T + filled(model.b2)[l], FeedForwardTrace(x, z)


def _add(model: Encoder, x, block):
    """The residual connection: ``x + block`` (or ``block`` alone without residual; ``x`` when there is no block)."""
    if block is None:
        return x
    return x + block if model.residual else block


def _layer(model: Encoder, l: int, x):
    """One layer, in torch's ``TransformerEncoderLayer`` order: ``norm_first`` (pre) or post-norm."""
    norm1_weight, norm1_bias = filled(model.norm1_weight)[l], filled(model.norm1_bias)[l]
    norm2_weight, norm2_bias = filled(model.norm2_weight)[l], filled(model.norm2_bias)[l]
    if model.norm == "pre":
        n1, norm1 = _norm(model, norm1_weight, norm1_bias, x)
        sa, sa_trace = _sa_block(model, l, n1)
        x = _add(model, x, sa)
        n2, norm2 = _norm(model, norm2_weight, norm2_bias, x)
        ff, ff_trace = _ff_block(model, l, n2)
        x = _add(model, x, ff)
    else:
        sa, sa_trace = _sa_block(model, l, x)
        x, norm1 = _norm(model, norm1_weight, norm1_bias, _add(model, x, sa))
        ff, ff_trace = _ff_block(model, l, x)
        if ff is None:
            norm2 = None
        else:
            x, norm2 = _norm(model, norm2_weight, norm2_bias, _add(model, x, ff))
    return x, LayerTrace(sa_trace, ff_trace, norm1, norm2)


def _stack(
    model: Encoder, X: np.ndarray, keep: bool
) -> tuple[np.ndarray, list[np.ndarray], list[LayerTrace], NormTrace | None]:
    """The layer stack and the final norm (when the model has one) on embedded inputs ``X`` (B, T, d): ``h^(L)``
    and, with ``keep``, ``h^(0..L)``, every layer's trace and the final norm's (empty lists and None without)."""
    hidden, traces = [X], []
    h = X
    for l in range(model.L):
        h, trace = _layer(model, l, h)
        if keep:
            hidden.append(h)
            traces.append(trace)
    final = None
    if model.final_norm:
        h, final = layer_norm(filled(model.final_norm_weight), filled(model.final_norm_bias), h)
        if keep:
            hidden[-1] = h  # h^(L) is the encoder's output, the final norm included
    return h, hidden, traces, final


def forward_embedded(model: Encoder, X: np.ndarray) -> EncoderForward:
    """The layer stack, the final norm (when the model has one) and the CLS readout on embedded inputs, every
    layer's trace kept for the backward pass.

    Args:
        model: the encoder.
        X: embedded inputs, shape ``(B, T, d)``.

    Returns:
        The :class:`EncoderForward` record (``f``, attention, hidden states, traces).
    """
    h, hidden, traces, final = _stack(model, X, keep=True)
    return EncoderForward(
        f=h[:, 0] @ model.w + model.b,
        attention=np.stack([tr.sa.A for tr in traces], axis=1),
        hidden=np.stack(hidden, axis=1),
        layers=tuple(traces),
        final=final,
    )


def output_embedded(model: Encoder, X: np.ndarray) -> np.ndarray:
    """``f = ⟨w, h^(L)_0⟩ + b`` on embedded inputs, no attention, hidden states or traces kept (the perturbation
    explainers' batched path).

    Args:
        model: the encoder.
        X: embedded inputs, shape ``(B, T, d)``.

    Returns:
        ``f``, shape ``(B,)``.
    """
    return _stack(model, X, keep=False)[0][:, 0] @ model.w + model.b


def forward(model: Encoder, docs: ArrayLike) -> EncoderForward:
    """Batched float64 forward pass.

    Args:
        model: the encoder.
        docs: token ids, shape ``(T,)`` or ``(B, T)``.

    Returns:
        The :class:`EncoderForward` record of the ``B`` documents.
    """
    docs = np.atleast_2d(np.asarray(docs))
    return forward_embedded(model, embed(model, docs))
