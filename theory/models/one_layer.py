"""The attention-based classifier of §2 of the paper, in float64 numpy.

Notation (docs/theory.md §2).  A document is ``ξ = (ξ_0, …, ξ_{T-1})`` with ``ξ_0 = CLS``, the words of the
text at positions ``1..L`` and UNK padding at ``L+1..T-1``.  Embeddings are ``e_t = E[ξ_t] + p_t`` with
the sinusoidal positional encoding ``p_t`` (or ``p_t = 0``).  Head ``i`` computes

    q = W_q e_0,   s_t = ⟨q, W_k e_t⟩ / √d_att,   α_t = softmax(s)_t,   c_t = W_ℓ W_v e_t,
    f^(i) = Σ_t α_t c_t,

and the model output is the mean of the heads, ``f = (1/K) Σ_i f^(i)`` (the explained class's logit).
With ``scale = 0`` (the authors' ``SCALE = False``; docs/theory.md §11.3) the scores are not divided by ``√d_att``:
every closed form multiplies ``⟨q, W_k e_t⟩`` by :attr:`Model.score_factor`, the one place that decides.

Everything here is batched over documents; nothing materialises a ``B × T × d_att`` array: the scores
use ``u = W_kᵀ q`` and the value scores use ``w_c = W_vᵀ W_ℓᵀ``.
"""

from __future__ import annotations

import contextlib
import zipfile
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import IO, TYPE_CHECKING, ClassVar

import numpy as np
from numpy.typing import ArrayLike

from theory.errors import InputError
from theory.memory import forward_bytes, require
from theory.models.protocol import AttentionClassifier, Document, read_document

if TYPE_CHECKING:
    from theory.models.encoder import Encoder
    from theory.models.removal import Removal


@dataclass(frozen=True, eq=False)
class Model:
    """Parameters of the §2 classifier (shapes as in docs/theory.md §2; ``T = max_len``), and its
    :class:`~theory.models.protocol.AttentionClassifier` members."""

    family: ClassVar[str] = "one-layer"
    noun: ClassVar[str] = "the one-layer model"
    capabilities: ClassVar[frozenset[str]] = frozenset({"cls-only-attention"})

    E: np.ndarray  # (V, d_e)
    Wq: np.ndarray  # (K, d_att, d_e)
    Wk: np.ndarray  # (K, d_att, d_e)
    Wv: np.ndarray  # (K, d_out, d_e)
    Wl: np.ndarray  # (K, d_out)
    cls_id: int
    unk_id: int
    max_len: int
    pe: bool
    scale: bool = True  # scores divided by √d_att (default) or not (the authors' SCALE = False)

    def __post_init__(self):
        for name in ("E", "Wq", "Wk", "Wv", "Wl"):
            value = np.asarray(getattr(self, name))
            if not np.issubdtype(value.dtype, np.number) or np.iscomplexobj(value):
                raise InputError(f"model array {name!r} has dtype {value.dtype}; it must hold real numbers")
            value = np.ascontiguousarray(value, dtype=np.float64)
            if not np.all(np.isfinite(value)):
                bad = np.argwhere(~np.isfinite(value))[0].tolist()
                raise InputError(
                    f"model array {name!r} contains NaN or inf (first at index {bad}); "
                    "every weight must be a finite number"
                )
            value.setflags(write=False)
            object.__setattr__(self, name, value)
        expected_dims = {"E": 2, "Wq": 3, "Wk": 3, "Wv": 3, "Wl": 2}
        for name, ndim in expected_dims.items():
            if getattr(self, name).ndim != ndim:
                raise InputError(
                    f"model array {name!r} has shape {getattr(self, name).shape}; expected {ndim} dimensions "
                    f"({_SHAPES[name]})"
                )
        V, d_e = self.E.shape
        K, d_att, _ = self.Wq.shape
        d_out = self.Wv.shape[1]
        expected = {
            "E": (V, d_e),
            "Wq": (K, d_att, d_e),
            "Wk": (K, d_att, d_e),
            "Wv": (K, d_out, d_e),
            "Wl": (K, d_out),
        }
        for name, shape in expected.items():
            if getattr(self, name).shape != shape:
                raise InputError(
                    f"inconsistent shapes: {name!r} is {getattr(self, name).shape} but E is {self.E.shape} "
                    f"and Wq is {self.Wq.shape}, so {name!r} must be {shape} ({_SHAPES[name]})"
                )
        if min(V, d_e, K, d_att, d_out) < 1:
            raise InputError(
                f"every dimension must be at least 1; got V={V}, d_e={d_e}, K={K}, d_att={d_att}, d_out={d_out}"
            )
        check_ids(self, V)
        require(
            forward_bytes(self.max_len, d_e, K),
            f"one document of max_len={self.max_len} (d_e={d_e}, K={K})",
            "lower max_len in the model file",
        )
        if self.pe not in (0, 1, True, False):
            raise InputError(f"pe must be 0 or 1 (positional encoding off/on), got {self.pe!r}")
        object.__setattr__(self, "pe", bool(self.pe))
        if self.scale not in (0, 1, True, False):
            raise InputError(f"scale must be 0 or 1 (scores divided by √d_att: no/yes), got {self.scale!r}")
        object.__setattr__(self, "scale", bool(self.scale))

    # --- sizes -------------------------------------------------------------------------------------------
    @property
    def V(self) -> int:
        """The vocabulary size (rows of ``E``)."""
        return self.E.shape[0]

    @property
    def d_e(self) -> int:
        """The embedding width."""
        return self.E.shape[1]

    @property
    def K(self) -> int:
        """The number of heads."""
        return self.Wq.shape[0]

    @property
    def d_att(self) -> int:
        """The query and key width."""
        return self.Wq.shape[1]

    @property
    def d_out(self) -> int:
        """The value width."""
        return self.Wv.shape[1]

    @property
    def T(self) -> int:
        """The document length (``max_len``)."""
        return self.max_len

    @property
    def score_factor(self) -> float:
        """The factor of ``⟨q, W_k e_t⟩`` in the score ``s_t``: ``1/√d_att`` (``scale`` on) or 1 (off)."""
        return 1.0 / np.sqrt(self.d_att) if self.scale else 1.0

    @property
    def word_ids(self) -> np.ndarray:
        """Token ids that may appear in a text (every id but CLS and UNK)."""
        ids = np.arange(self.V)
        return ids[(ids != self.cls_id) & (ids != self.unk_id)]

    def with_Wl(self, Wl: np.ndarray) -> Model:
        """The same model with another explained-class row ``W_ℓ`` per head.

        Args:
            Wl: the new rows ``W_ℓ``, shape ``(K, d_out)``.

        Returns:
            The model with ``Wl`` replaced, every other parameter kept.
        """
        return self.replace(Wl=Wl)

    def head(self, i: int) -> Model:
        """Head ``i`` alone, as a one-head model (its ``f`` is ``f^(i)``).

        Args:
            i: the head's index, ``0..K-1``.

        Returns:
            A model with ``K = 1`` whose weights are head ``i``'s.
        """
        return self.replace(Wq=self.Wq[i : i + 1], Wk=self.Wk[i : i + 1], Wv=self.Wv[i : i + 1], Wl=self.Wl[i : i + 1])

    def replace(self, **changes) -> Model:
        """The same model with the given fields changed (every other field, ``scale`` included, kept).

        Args:
            **changes: new values by field name (``E``, ``Wq``, ``Wk``, ``Wv``, ``Wl``, ``cls_id``, ``unk_id``,
                ``max_len``, ``pe``, ``scale``), checked as a new model's are.

        Returns:
            The new :class:`Model`.
        """
        return Model(**({name: getattr(self, name) for name in _SHAPES} | changes))

    # --- the model protocol (theory.models.protocol.AttentionClassifier) ----------------------------------
    def sizes(self) -> str:
        """The sizes in one line: ``K``, ``d_e``, ``d_att``, ``d_out``, ``T``, ``V``.

        Returns:
            The line, e.g. ``"K = 2, d_e = 4, d_att = 3, d_out = 2, T = 6, V = 10"``.
        """
        return f"K = {self.K}, d_e = {self.d_e}, d_att = {self.d_att}, d_out = {self.d_out}, T = {self.T}, V = {self.V}"

    def reference_seconds(self, tokens: int | None = None) -> float:
        """Rough seconds of one forward pass of the mpmath reference (``reference/models/one_layer.py``): its
        multiply-adds at ~1 µs each, measured on this machine.

        Args:
            tokens: unused (the §2 model reads documents of length ``T``).

        Returns:
            ``1e-6 (K T d_e (d_att + d_out) + V d_e)``.
        """
        return 1e-6 * (self.K * self.T * self.d_e * (self.d_att + self.d_out) + self.V * self.d_e)

    def document(
        self, text, *, vocabulary=None, oov: str = "error", allow_unk: bool = False, truncate: bool = False
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
            The embedded tokens, shape ``(B, T, d_e)``.
        """
        return embed(self, np.atleast_2d(np.asarray(docs)))

    def forward(self, docs: ArrayLike) -> Forward:
        """The forward pass of documents (:func:`forward`).

        Args:
            docs: token ids, shape ``(T,)`` or ``(B, T)``.

        Returns:
            The :class:`Forward` record of the ``B`` documents.
        """
        return forward(self, docs)

    def forward_quantities(self, docs: ArrayLike) -> list[tuple[str, np.ndarray]]:
        """The quantities of the forward pass on documents ``(B, T)`` (one row per document), named, in the order
        they are computed: the scores ``s_t``, value scores ``c_t``, attention ``α`` and ``f``.

        Args:
            docs: token ids, shape ``(T,)`` or ``(B, T)``.

        Returns:
            ``(name, array)`` pairs: ``s_t``, ``c_t`` and ``α`` of shape ``(B, K, T)``, ``f`` of shape ``(B,)``.
        """
        fw = forward(self, docs)
        return [
            ("attention scores s_t", fw.scores),
            ("value scores c_t", fw.c),
            ("attention weights α", fw.alpha),
            ("model output f", fw.f),
        ]

    def output(self, docs: ArrayLike) -> np.ndarray:
        """``f`` of a batch of documents.

        Args:
            docs: token ids, shape ``(T,)`` or ``(B, T)``.

        Returns:
            The model outputs ``f``, shape ``(B,)``.
        """
        return forward(self, docs).f

    def output_embedded(self, X: np.ndarray) -> np.ndarray:
        """``f`` of embedded documents (:func:`forward_embedded`).

        Args:
            X: embedded tokens, shape ``(B, T, d_e)``.

        Returns:
            The model outputs ``f``, shape ``(B,)``.
        """
        return forward_embedded(self, X).f

    def output_scale(self, X: np.ndarray) -> float:
        """The largest term of ``f`` over embedded documents ``X``: ``max |c_t|`` over heads and positions
        (``|f| ≤ max |c_t|``, §2.5), 1.0 when every term is 0.

        Args:
            X: embedded tokens, shape ``(B, T, d_e)``.

        Returns:
            The scale, one float over the whole batch (units of ``f``).
        """
        return float(np.abs(forward_embedded(self, X).c).max()) or 1.0

    def output_magnitudes(self, docs: ArrayLike) -> tuple[np.ndarray, np.ndarray]:
        """``f`` of documents ``(B, T)`` and the magnitude of its terms (:func:`term_magnitudes`, the largest
        head's), each ``(B,)``.

        Args:
            docs: token ids, shape ``(T,)`` or ``(B, T)``.

        Returns:
            ``(f, magnitude)``, each of shape ``(B,)``.
        """
        return self.output(docs), term_magnitudes(self, docs).f.max(axis=1)

    def attention(self, docs: ArrayLike) -> np.ndarray:
        """The full self-attention matrices of the one layer (:func:`attention_matrices`); the model reads row 0
        only.

        Args:
            docs: token ids, shape ``(T,)`` or ``(B, T)``.

        Returns:
            The matrices, shape ``(B, 1, K, T, T)`` (one layer), each row summing to 1.
        """
        return np.stack([attention_matrices(self, doc) for doc in np.atleast_2d(np.asarray(docs))])[:, None]

    def readout_attention(self, docs: ArrayLike) -> np.ndarray:
        """The CLS attention ``α``, the row the readout reads.

        Args:
            docs: token ids, shape ``(T,)`` or ``(B, T)``.

        Returns:
            ``α``, shape ``(B, K, T)``.
        """
        return forward(self, docs).alpha

    def hidden_states(self, docs: ArrayLike) -> None:
        """None: the §2 model has no hidden states (its CLS readout is the heads' mean of ``Σ_t α_t c_t``).

        Args:
            docs: token ids (unused: the answer is None for every document).
        """
        return None

    def gradient(self, docs: ArrayLike) -> np.ndarray:
        """``∇_t = ∂f/∂e_t`` by the closed form of :mod:`theory.models.one_layer_gradient`.

        Args:
            docs: token ids, shape ``(T,)`` or ``(B, T)``.

        Returns:
            The gradients at every position, CLS included, shape ``(B, T, d_e)``.
        """
        from theory.models.one_layer_gradient import gradient

        return gradient(self, docs).grad

    def gradient_embedded(self, X: np.ndarray) -> np.ndarray:
        """``∇_X f`` at embedded documents (the closed form).

        Args:
            X: embedded tokens, shape ``(B, T, d_e)``.

        Returns:
            ``∂f/∂X``, shape ``(B, T, d_e)``.
        """
        from theory.models.one_layer_gradient import gradient_embedded

        return gradient_embedded(self, X).grad

    def evaluator(self, doc: np.ndarray, length: int, semantics: Removal) -> Callable[[np.ndarray], np.ndarray]:
        """``evaluate(Z) -> f`` on the perturbed documents of a checked ``doc`` under a parsed removal semantics:
        the sufficient statistics of :func:`theory.models.perturb.sufficient_statistics_evaluator`.

        Args:
            doc: the document's ids, shape ``(T,)``, already checked.
            length: its number of words ``L``.
            semantics: the parsed removal semantics (:func:`theory.models.removal.parse`).

        Returns:
            ``evaluate(Z)``: for 0/1 patterns ``Z`` of shape ``(n, d)`` over the ``d`` distinct words, ``f`` of
            the ``n`` perturbed documents, shape ``(n,)``.
        """
        from theory.models.perturb import sufficient_statistics_evaluator

        return sufficient_statistics_evaluator(self, doc, length, semantics)

    def layer_norm_zeros(self, length: int) -> list[int]:
        """No position: the §2 model has no LayerNorm.

        Args:
            length: the number of words ``L`` (unused).

        Returns:
            The empty list.
        """
        return []

    # --- file format -------------------------------------------------------------------------------------
    def save(self, path: str | Path | IO[bytes]) -> None:
        """Write the public ``.npz`` format (docs/file-formats.md).

        Args:
            path: the file to write (numpy appends ``.npz`` when it lacks the suffix), or a binary stream.
        """
        np.savez(
            path,
            E=self.E,
            Wq=self.Wq,
            Wk=self.Wk,
            Wv=self.Wv,
            Wl=self.Wl,
            cls_id=self.cls_id,
            unk_id=self.unk_id,
            max_len=self.max_len,
            pe=int(self.pe),
            scale=int(self.scale),
        )

    @classmethod
    def from_arrays(cls, arrays: dict, where: str) -> Model:
        """The model of the arrays of a ``.npz`` file.

        Args:
            arrays: the file's arrays by name (:func:`read_npz`); ``scale`` is optional (default 1).
            where: how messages name the file (its path).

        Returns:
            The checked :class:`Model`.

        Raises:
            InputError: an array is missing, a scalar is not a scalar, or the model's own checks fail.
        """
        arrays = {"scale": np.array(1), **arrays}
        missing = [key for key in _SHAPES if key not in arrays]
        if missing:
            raise InputError(
                f"model file {where!r} lacks {', '.join(missing)}; it needs arrays "
                + ", ".join(f"{k} {v}" for k, v in _SHAPES.items())
            )
        for key in ("cls_id", "unk_id", "max_len", "pe", "scale"):
            if arrays[key].size != 1:
                raise InputError(f"{key} in {where!r} must be a scalar, got shape {arrays[key].shape}")
            arrays[key] = arrays[key].item()
        return cls(**{key: arrays[key] for key in _SHAPES})


def check_ids(model: Model | Encoder, V: int) -> None:
    """The scalar ids of a model file (either family): ``cls_id``, ``unk_id``, ``max_len`` integers (stored as
    ``int`` on the frozen ``model``), CLS and UNK two different rows of ``E``, room for CLS and one word.

    Args:
        model: the frozen model being built, with ``cls_id``, ``unk_id`` and ``max_len`` attributes.
        V: its vocabulary size (rows of ``E``).

    Raises:
        InputError: an id is not an integer or not a row of ``E``, CLS equals UNK, or ``max_len < 2``.
    """
    for name in ("cls_id", "unk_id", "max_len"):
        value = getattr(model, name)
        if isinstance(value, bool) or not float(value).is_integer():
            raise InputError(f"{name} must be an integer, got {value!r}")
        object.__setattr__(model, name, int(value))
    for name in ("cls_id", "unk_id"):
        if not 0 <= getattr(model, name) < V:
            raise InputError(f"{name}={getattr(model, name)} is not a row of E (V={V}); use an id in 0..{V - 1}")
    if model.cls_id == model.unk_id:
        raise InputError(f"cls_id and unk_id are both {model.cls_id}; they must be two different token ids")
    if model.max_len < 2:
        raise InputError(f"max_len={model.max_len}: a document needs room for CLS and at least one word (>= 2)")


_TORCH_FILE = (
    "{path!r} is a PyTorch file (torch.save), not a .npz model file; run `attnverify import` first, "
    "e.g. `attnverify import {path} --out model.npz --cls-id ID --unk-id ID --max-len T` "
    "(docs/your-model.md)"
)


def read_npz(path: str | Path) -> dict:
    """Every array of the ``.npz`` file at ``path`` (no pickles; the declared sizes checked against the machine's
    memory before loading), with an :class:`InputError` naming what is wrong with a missing or corrupt file.

    Args:
        path: the ``.npz`` file.

    Returns:
        Its arrays by name.

    Raises:
        InputError: the path is a folder or missing, a torch or ``.npy`` file, or not a readable archive.
    """
    path = Path(path)
    if path.is_dir():
        raise InputError(f"model file {str(path)!r} is a folder; pass the path of a .npz model file")
    if not path.is_file():
        raise InputError(f"model file {str(path)!r} does not exist; pass the path of a .npz model file")
    require(
        _declared_bytes(path),
        f"the arrays of {str(path)!r}",
        "check the shapes of the model file's arrays (docs/file-formats.md)",
    )
    try:
        # our own handle: np.load leaks the one it opens when a zip-looking file is not a valid archive
        with open(path, "rb") as handle:
            if handle.read(2) == b"\x80\x02":  # a pickle: torch.save's legacy format
                raise InputError(_TORCH_FILE.format(path=str(path)))
            handle.seek(0)
            data = np.load(handle, allow_pickle=False)
            if not isinstance(data, np.lib.npyio.NpzFile):
                raise InputError(
                    f"{str(path)!r} holds a single array (a .npy file), not a .npz archive of the "
                    "model's arrays; save the model with numpy.savez (docs/file-formats.md)"
                )
            with data:
                if any(key.endswith("data.pkl") for key in data.files):  # torch.save's zip format
                    raise InputError(_TORCH_FILE.format(path=str(path)))
                arrays = {key: data[key] for key in data.files}
    except InputError:
        raise
    except Exception as error:  # numpy raises many types for corrupt archives
        raise InputError(
            f"cannot read {str(path)!r} as a .npz archive ({error}); "
            "save the model with numpy.savez (docs/file-formats.md)"
        ) from None
    return arrays


_NPY_HEADERS = {(1, 0): np.lib.format.read_array_header_1_0, (2, 0): np.lib.format.read_array_header_2_0}


def _declared_bytes(path: Path) -> int:
    """The bytes the arrays of an ``.npz`` archive declare in their ``.npy`` headers (shape × item size), read
    without loading any array; 0 for what is not a readable archive (``np.load`` then says why)."""
    total = 0
    # anything unreadable (zip, zlib or header errors of many types) is left to np.load's message
    with contextlib.suppress(Exception), zipfile.ZipFile(path) as archive:
        for name in archive.namelist():
            with archive.open(name) as member:
                read_header = _NPY_HEADERS.get(np.lib.format.read_magic(member))
                if read_header:
                    shape, _, dtype = read_header(member)
                    total += int(np.prod(shape, dtype=object)) * dtype.itemsize
    return total


_SHAPES = {
    "E": "(V, d_e)",
    "Wq": "(K, d_att, d_e)",
    "Wk": "(K, d_att, d_e)",
    "Wv": "(K, d_out, d_e)",
    "Wl": "(K, d_out)",
    "cls_id": "scalar int",
    "unk_id": "scalar int",
    "max_len": "scalar int (T)",
    "pe": "scalar 0/1",
    "scale": "optional scalar 0/1, default 1 (scores divided by √d_att)",
}


def document(
    model: AttentionClassifier, tokens: Iterable[int], truncate: bool = False, allow_unk: bool = False
) -> np.ndarray:
    """The length-``T`` document ``(CLS, w_1, …, w_L, UNK, …, UNK)`` of a text (docs/theory.md §2).

    Args:
        model: the model (its ``V``, ``T``, ``cls_id``, ``unk_id``).
        tokens: the text's word ids ``w_1, …, w_L``.
        truncate: keep the first ``T − 1`` words of a longer text instead of refusing it.
        allow_unk: let the text hold UNK (the authors' mapping of out-of-vocabulary words, ``--oov unk``).

    Returns:
        The document's ids, shape ``(T,)``, int64.

    Raises:
        InputError: the text is empty, holds a non-integer, an out-of-range id, CLS (or UNK unless allowed), or
            is longer than ``T − 1`` words without ``truncate``.
    """
    tokens = list(tokens)
    if not tokens:
        raise InputError("the text is empty; give at least one word id")
    if not all(isinstance(w, (int, np.integer)) and not isinstance(w, (bool, np.bool_)) for w in tokens):
        raise InputError(f"word ids must be integers, got {tokens!r}")
    bad = [int(w) for w in tokens if not 0 <= w < model.V]  # Python ints: any size, no overflow
    if bad:
        raise InputError(f"word id {bad[0]} is out of range: the vocabulary has ids 0..{model.V - 1}")
    tokens = np.asarray(tokens, dtype=np.int64)
    for name, reserved in (("CLS", model.cls_id),) + ((("UNK", model.unk_id),) if not allow_unk else ()):
        if np.any(tokens == reserved):
            raise InputError(
                f"the text contains the {name} id {reserved}; CLS and padding are added "
                "automatically, so pass only the words"
            )
    if tokens.size > model.T - 1:
        if not truncate:
            raise InputError(
                f"the text has {tokens.size} words but max_len={model.T} leaves room for "
                f"{model.T - 1}; shorten it or ask for truncation explicitly"
            )
        tokens = tokens[: model.T - 1]
    doc = np.full(model.T, model.unk_id, dtype=np.int64)
    doc[0] = model.cls_id
    doc[1 : 1 + tokens.size] = tokens
    return doc


def positional_encoding(T: int, d_e: int) -> np.ndarray:
    """``p_{t,2m} = sin(t·10000^{-2m/d_e})``, ``p_{t,2m+1} = cos(t·10000^{-2m/d_e})`` (docs/theory.md §2).

    Args:
        T: the number of positions.
        d_e: the embedding width.

    Returns:
        ``p``, shape ``(T, d_e)``.
    """
    t = np.arange(T, dtype=np.float64)[:, None]
    m2 = np.arange(d_e) - np.arange(d_e) % 2  # 2m for both coordinates 2m and 2m+1
    angle = t * 10000.0 ** (-m2 / d_e)
    return np.where(np.arange(d_e) % 2 == 0, np.sin(angle), np.cos(angle))


def embed(model: Model, docs: np.ndarray) -> np.ndarray:
    """Embedded tokens ``e_t = E[ξ_t] + p_t``.

    Args:
        model: the model (``E``, ``pe``).
        docs: token ids, shape ``(B, T)``.

    Returns:
        The embedded tokens, shape ``(B, T, d_e)``.
    """
    X = model.E[docs]
    if model.pe:
        X = X + positional_encoding(docs.shape[-1], model.d_e)
    return X


@dataclass(frozen=True)
class Forward:
    """Output of :func:`forward` for a batch of ``B`` documents."""

    f: np.ndarray  # (B,) model output
    f_heads: np.ndarray  # (B, K) head outputs f^(i)
    alpha: np.ndarray  # (B, K, T) CLS attention
    scores: np.ndarray  # (B, K, T) s_t
    c: np.ndarray  # (B, K, T) value scores
    q: np.ndarray  # (B, K, d_att) CLS queries
    X: np.ndarray  # (B, T, d_e) embedded tokens


def scores_and_values(
    X: np.ndarray, Wq: np.ndarray, Wk: np.ndarray, Wv: np.ndarray, Wl: np.ndarray, score_factor: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """CLS queries ``q``, scores ``s_t = ⟨q, W_k e_t⟩·score_factor`` and value scores ``c_t = W_ℓ W_v e_t``.

    Written in terms of the arrays only, so that :func:`term_magnitudes` can run it on absolute values.

    Args:
        X: embedded tokens, shape ``(B, T, d_e)`` (CLS at position 0).
        Wq: query matrices, ``(K, d_att, d_e)``.
        Wk: key matrices, ``(K, d_att, d_e)``.
        Wv: value matrices, ``(K, d_out, d_e)``.
        Wl: the explained class's rows, ``(K, d_out)``.
        score_factor: ``1/√d_att`` or 1 (:attr:`Model.score_factor`).

    Returns:
        ``(q, s, c)``: queries ``(B, K, d_att)``, scores ``(B, K, T)``, value scores ``(B, K, T)``.
    """
    q = np.einsum("kad,bd->bka", Wq, X[:, 0])
    u = np.einsum("kad,bka->bkd", Wk, q)  # W_kᵀ q
    s = np.einsum("bkd,btd->bkt", u, X) * score_factor
    w_c = np.einsum("ko,kod->kd", Wl, Wv)  # W_vᵀ W_ℓᵀ
    c = np.einsum("kd,btd->bkt", w_c, X)
    return q, s, c


def head_vectors(model: Model) -> tuple[np.ndarray, np.ndarray]:
    """Per head, ``u = W_kᵀ q / √d_att`` (``W_kᵀ q`` when ``scale`` is off) and ``w_c = W_vᵀ W_ℓᵀ`` (each
    ``(K, d_e)``), so that ``s_t = ⟨u, e_t⟩`` and ``c_t = ⟨w_c, e_t⟩``; ``q = W_q e_0`` is the CLS query, the
    same in every document.

    Args:
        model: the model.

    Returns:
        ``(u, w_c)``, each of shape ``(K, d_e)``.
    """
    e0 = model.E[model.cls_id] + (positional_encoding(1, model.d_e)[0] if model.pe else 0.0)
    q = np.einsum("kad,d->ka", model.Wq, e0)
    u = np.einsum("kad,ka->kd", model.Wk, q) * model.score_factor
    return u, np.einsum("ko,kod->kd", model.Wl, model.Wv)


def softmax(s: np.ndarray) -> np.ndarray:
    """Softmax over the last axis, with the max-shift (no overflow for any finite scores).

    Args:
        s: scores, any shape ``(..., T)``.

    Returns:
        The weights, same shape, summing to 1 over the last axis.
    """
    g = np.exp(s - s.max(axis=-1, keepdims=True))
    return g / g.sum(axis=-1, keepdims=True)


def forward(model: Model, docs: ArrayLike) -> Forward:
    """Batched float64 forward pass of §2.

    Args:
        model: the model.
        docs: token ids, shape ``(T,)`` or ``(B, T)``.

    Returns:
        The :class:`Forward` record of the ``B`` documents.
    """
    docs = np.atleast_2d(np.asarray(docs))
    return forward_embedded(model, embed(model, docs))


def forward_embedded(model: Model, X: np.ndarray) -> Forward:
    """The forward pass of §2 from embedded tokens (any embeddings, e.g. the points of an Integrated-Gradients
    path or noisy embeddings of SmoothGrad).

    Args:
        model: the model.
        X: embedded tokens, shape ``(B, T, d_e)``.

    Returns:
        The :class:`Forward` record (its ``X`` is the given ``X``).
    """
    q, s, c = scores_and_values(X, model.Wq, model.Wk, model.Wv, model.Wl, model.score_factor)
    alpha = softmax(s)
    f_heads = np.einsum("bkt,bkt->bk", alpha, c)
    return Forward(f=f_heads.mean(axis=1), f_heads=f_heads, alpha=alpha, scores=s, c=c, q=q, X=X)


def attention_matrices(model: Model, doc: ArrayLike) -> np.ndarray:
    """Full self-attention matrices ``softmax_u(⟨W_q e_t, W_k e_u⟩·score_factor)``.

    The model only uses the CLS row (row 0); the other rows are what Figure 3 of the paper shows.

    Args:
        model: the model.
        doc: one document's ids, shape ``(T,)``.

    Returns:
        The matrices, shape ``(K, T, T)`` (query position, key position), rows summing to 1.
    """
    X = embed(model, np.atleast_2d(np.asarray(doc)))[0]
    Q = np.einsum("kad,td->kta", model.Wq, X)
    Kmat = np.einsum("kad,td->kta", model.Wk, X)
    return softmax(np.einsum("kta,kua->ktu", Q, Kmat) * model.score_factor)


@dataclass(frozen=True)
class Magnitudes:
    """Magnitudes of the terms of each computed quantity, the scale for rounding-error tolerances.

    ``c[b,k,t] = Σ_o Σ_d |W_ℓ||W_v||e_t|`` (the terms summed into ``c_t``), ``s`` likewise for ``s_t``,
    ``alpha[b,k] = 1 + max_t s`` (an absolute error ε·m in the scores moves each ``α_t`` by about ``ε·m·α_t``,
    so ``α_t`` is compared relative to ``alpha_scale(α) = max(α_t, 1e-300)·(1 + max_t s)``) and
    ``f[b,k] = max_t c · (1 + max_t s)``.
    """

    c: np.ndarray
    s: np.ndarray
    alpha: np.ndarray
    f: np.ndarray

    def alpha_scale(self, alpha: np.ndarray) -> np.ndarray:
        """Per-weight scale of attention weights: relative to each weight, floored at 1e-300 where float64
        underflows.

        Args:
            alpha: attention weights, shape ``(B, K, T)`` or ``(K, T)`` for one document.

        Returns:
            The scales, the shape of ``alpha``.
        """
        factor = self.alpha if alpha.ndim == 3 else self.alpha[0]
        return np.maximum(alpha, 1e-300) * factor[..., None]


def term_magnitudes(model: Model, docs: ArrayLike) -> Magnitudes:
    """The magnitudes of the terms of ``s_t``, ``c_t``, ``α`` and ``f``: the same sums on absolute values of the
    weights and embeddings (:class:`Magnitudes`), the scale of the rounding-error tolerances.

    Args:
        model: the model.
        docs: token ids, shape ``(T,)`` or ``(B, T)``.

    Returns:
        The :class:`Magnitudes` of the ``B`` documents.
    """
    docs = np.atleast_2d(np.asarray(docs))
    X = np.abs(embed(model, docs))
    _, s, c = scores_and_values(
        X, np.abs(model.Wq), np.abs(model.Wk), np.abs(model.Wv), np.abs(model.Wl), model.score_factor
    )
    alpha = 1.0 + s.max(axis=-1)
    return Magnitudes(c=c, s=s, alpha=alpha, f=c.max(axis=-1) * alpha)
