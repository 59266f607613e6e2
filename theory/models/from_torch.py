"""``attnverify import``: a PyTorch ``state_dict`` of the authors' ``MultiHead`` classifier as a public ``.npz``.

The ``state_dict`` (docs/theory.md §11.3; :mod:`reference.oracles.torch_multihead` builds one) holds, with ``nn.Linear``
weights stored ``(out, in)`` and no biases:

    embedding.weight              (V, d_e)          → E
    heads.{i}.query.weight        (d_att, d_e)      → Wq[i]
    heads.{i}.key.weight          (d_att, d_e)      → Wk[i]
    heads.{i}.value.weight        (d_out, d_e)      → Wv[i]
    heads.{i}.classifier.weight   (n_classes, d_out) → Wl[i] = row C            (--class C)
                                                      or row C − row C'        (--contrast C,C')

for heads ``i = 0..K−1``.  The explained output is one class's logit, or the difference of two logits: the
model averages the heads' logits and each logit is linear in its classifier row, so a difference of logits is
the same model with ``W_ℓ = row C − row C'`` (exact, no approximation).  What the file does not hold is given
on the command line: the CLS and UNK ids, ``T``, the positional encoding (``pe``, default on as the authors) and
``scale`` (scores divided by ``√d_att``, default on; ``--no-scale`` is the authors' ``SCALE = False``).

The file is read with ``torch.load(weights_only=True)``: tensors only, never an unpickled object (and torch's
advice to retry with ``weights_only=False`` is never passed on).  Every problem — not a torch.save'd dict of
dense real tensors, a NaN or inf weight (in any class row), DataParallel's ``module.`` key prefix, a checkpoint
dict around the state_dict, an ``nn.TransformerEncoder`` state_dict (use ``--arch encoder``), a missing or extra
key, a key that is not 2-D, sizes of one dimension (``d_e``, ``d_att``, ``d_out``, ``n_classes``) that disagree
between keys, a class out of range, an ``--out`` that cannot be written — is one :class:`InputError` naming it
and the fix, and nothing is written; the ``.npz`` is written to a temporary file and renamed into place
(:func:`save_atomically`).
"""

from __future__ import annotations

import io
import re
import warnings
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from theory.atomic import write_file
from theory.errors import InputError, listed
from theory.models.import_encoder import head_candidates
from theory.models.one_layer import Model

if TYPE_CHECKING:
    from theory.models.encoder import Encoder

EXTRA = "import"  # the pyproject extra that installs torch for this module
_HEAD_KEY = re.compile(r"heads\.(\d+)\.(query|key|value|classifier)\.weight")
_PARTS = ("query", "key", "value", "classifier")
_WRAPPED = "module."  # the key prefix of a DataParallel / DistributedDataParallel model's state_dict
#: the layout's dimension names: (rows, columns) of each key, by the part of its name
_LAYOUT = {
    "embedding": ("V", "d_e"),
    "query": ("d_att", "d_e"),
    "key": ("d_att", "d_e"),
    "value": ("d_out", "d_e"),
    "classifier": ("n_classes", "d_out"),
}


def load_state_dict(path: str | Path) -> dict[str, np.ndarray]:
    """The tensors of a ``torch.save``d ``state_dict`` as float64 arrays (``weights_only=True``, on the CPU).

    Args:
        path: the file written by ``torch.save(model.state_dict(), path)``.

    Returns:
        The weights by key, float64.

    Raises:
        InputError: the file is missing or a folder, torch is not installed, the file is not a state_dict of dense
            real tensors (a pickled model, a checkpoint, garbage), or a weight is NaN or inf.
    """
    path = Path(path)
    if path.is_dir():
        raise InputError(f"model file {str(path)!r} is a folder; pass the path of a torch.save'd state_dict")
    if not path.is_file():
        raise InputError(f"model file {str(path)!r} does not exist; pass the path of a torch.save'd state_dict")
    try:
        import torch
    except ImportError:
        raise InputError(f"importing a PyTorch model needs torch: pip install '.[{EXTRA}]'") from None
    try:
        with warnings.catch_warnings():  # torch warns about a foreign pickle protocol before refusing it
            warnings.simplefilter("ignore")
            state = torch.load(path, weights_only=True, map_location="cpu")
    except Exception as error:  # torch raises many types for files it cannot read safely
        raise InputError(
            f"{str(path)!r} is not a torch.save'd state_dict of tensors ({_unreadable(error)}); save "
            "the model's state_dict with torch.save(model.state_dict(), path), never the whole "
            "model"
        ) from None
    if isinstance(state, dict) and not all(isinstance(v, torch.Tensor) for v in state.values()):
        inner = [
            key
            for key, value in state.items()
            if isinstance(value, dict) and value and all(isinstance(v, torch.Tensor) for v in value.values())
        ]
        if inner:  # a training checkpoint {"model": state_dict, "epoch": …}
            raise InputError(
                f"{str(path)!r} is a checkpoint, not a state_dict: its state_dict is under key "
                f"{inner[0]!r}; save that alone (torch.save(checkpoint[{inner[0]!r}], path))"
            )
    if not isinstance(state, dict) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise InputError(
            f"{str(path)!r} does not hold a state_dict (a dict of tensors); save it with "
            "torch.save(model.state_dict(), path)"
        )
    arrays = {}
    for key, tensor in state.items():
        if not (tensor.is_floating_point() and not tensor.is_complex()):
            raise InputError(f"{key} in {str(path)!r} has dtype {tensor.dtype}; weights must be real floats")
        if tensor.layout != torch.strided:
            raise InputError(
                f"{key} in {str(path)!r} is a {tensor.layout} tensor; save dense weights (tensor.to_dense())"
            )
        array = tensor.detach().to(torch.float64).numpy()
        if not np.all(np.isfinite(array)):  # in any row: a class not explained is still a diverged model
            bad = np.argwhere(~np.isfinite(array))[0].tolist()
            raise InputError(
                f"{key} in {str(path)!r} contains NaN or inf (first at index {bad}); every weight "
                "must be a finite number (did training diverge?)"
            )
        arrays[str(key)] = array
    return arrays


def _unreadable(error: Exception) -> str:
    """Why ``torch.load(weights_only=True)`` refused a file, without torch's advice to load it unsafely."""
    text = str(error)
    pickled = re.search(r"Unsupported global: GLOBAL ([\w.]+)", text)
    if pickled:
        return f"it pickles a {pickled.group(1)} object, which weights_only=True does not unpickle"
    if "weights only" in text.lower() and "Unsupported operand" not in text:  # not garbage: a foreign object
        return "it holds Python objects other than tensors, which weights_only=True does not unpickle"
    return "not a complete torch.save file: truncated, or another format"


def _heads(state: dict) -> int:
    """The number of heads ``K``, checking that the keys are exactly the authors' layout for heads ``0..K−1``."""
    if state and all(key.startswith(_WRAPPED) for key in state):
        raise InputError(
            f"the state_dict's keys start with {_WRAPPED!r} (a DataParallel or DistributedDataParallel "
            "model); save model.module.state_dict(), or strip the prefix: "
            f"{{k.removeprefix({_WRAPPED!r}): v for k, v in state.items()}}"
        )
    if any(key.startswith("encoder.layers.") for key in state):
        raise InputError(
            f"the state_dict has torch nn.TransformerEncoder keys (encoder.layers.*), not the authors' "
            f"MultiHead layout: import it with --arch encoder --heads K ({_head_hint(state)})"
        )
    indices = {int(m.group(1)) for key in state if (m := _HEAD_KEY.fullmatch(key))}
    K = max(indices) + 1 if indices else 0
    expected = ["embedding.weight"] + [f"heads.{i}.{part}.weight" for i in range(K) for part in _PARTS]
    missing = [key for key in expected if key not in state]
    extra = [key for key in state if key not in expected]
    if not K:
        missing.append("heads.0.{query,key,value,classifier}.weight")
    if missing or extra:
        problems = ([f"missing {listed(missing, 6)}"] if missing else []) + (
            [f"unexpected {listed(extra, 6)}"] if extra else []
        )
        raise InputError(
            f"the state_dict is not the authors' MultiHead layout: {'; '.join(problems)} (expected "
            "embedding.weight and heads.{i}.query|key|value|classifier.weight for heads 0..K-1, "
            "no biases)"
        )
    return K


def _head_hint(state: dict) -> str:
    """The candidates for ``--heads``: the divisors of ``d`` (torch's state_dict does not record ``nhead``)."""
    embedding = state.get("embedding.weight")
    if embedding is None or np.ndim(embedding) != 2:
        return "K: nhead of your nn.TransformerEncoderLayer, which the state_dict does not record"
    d = int(np.shape(embedding)[1])
    return (
        f"K: nhead of your nn.TransformerEncoderLayer, which the state_dict does not record; it divides d = {d}: "
        f"{', '.join(map(str, head_candidates(d)))}; add --expect FILE to check the choice against your model's "
        "outputs"
    )


def _shape_check(state: dict, K: int) -> None:
    """Every key is 2-D and each dimension of :data:`_LAYOUT` has one size over all the keys that carry it;
    a disagreement names the keys on each side."""
    keys = ["embedding.weight"] + [f"heads.{i}.{part}.weight" for i in range(K) for part in _PARTS]
    sizes: dict[str, dict[int, list[str]]] = {}  # dimension → size → keys
    for key in keys:
        names = _LAYOUT[key.split(".")[-2]]
        shape = tuple(state[key].shape)
        if len(shape) != 2:
            raise InputError(f"{key} has shape {shape}; expected 2 dimensions ({', '.join(names)})")
        for name, size in zip(names, shape):
            sizes.setdefault(name, {}).setdefault(size, []).append(key)
    for name, by_size in sizes.items():
        if len(by_size) > 1:
            groups = sorted(by_size.items(), key=lambda item: len(item[1]))  # the odd ones out first
            shown = "; ".join(f"{size} in {listed(group)}" for size, group in groups)
            raise InputError(
                f"the state_dict's shapes disagree on {name}: {shown}; every key must have the same "
                f"{name} (layout: query/key (d_att, d_e), value (d_out, d_e), classifier "
                "(n_classes, d_out), embedding (V, d_e))"
            )


def _explained_rows(classifier: np.ndarray, explained_class, contrast) -> np.ndarray:
    """``W_ℓ`` per head (``(K, d_out)``) from the classifier rows ``(K, n_classes, d_out)``."""
    n = classifier.shape[1]
    if explained_class is not None and contrast is not None:
        raise InputError("give --class C or --contrast C,C', not both")
    if explained_class is None and contrast is None:
        if n != 1:
            raise InputError(
                f"the classifier has {n} classes; choose the explained logit with --class C "
                f"(0..{n - 1}) or a logit difference with --contrast C,C'"
            )
        explained_class = 0
    for c in [explained_class] if contrast is None else list(contrast):
        if isinstance(c, bool) or not isinstance(c, (int, np.integer)) or not 0 <= c < n:
            raise InputError(f"class {c!r} is out of range: the classifier has {n} classes (0..{n - 1})")
    if contrast is None:
        return classifier[:, explained_class]
    a, b = contrast
    if a == b:
        raise InputError(f"--contrast {a},{b}: the two classes must differ (the difference would be 0)")
    return classifier[:, a] - classifier[:, b]


def model_from_state_dict(
    state: dict[str, np.ndarray],
    *,
    cls_id: int,
    unk_id: int,
    max_len: int,
    pe: bool = True,
    scale: bool = True,
    explained_class: int | None = None,
    contrast: tuple[int, int] | None = None,
) -> Model:
    """The §2 model of a MultiHead ``state_dict`` (arrays by key), explaining ``explained_class``'s logit or
    the difference ``contrast = (C, C')`` of two logits.

    Args:
        state: the weights by key (:func:`load_state_dict`): ``embedding.weight`` and
            ``heads.{i}.query|key|value|classifier.weight`` for heads ``0..K-1``.
        cls_id: the CLS token's id.
        unk_id: the UNK (padding) token's id.
        max_len: the document length ``T``.
        pe: whether the model adds the sinusoidal positional encoding.
        scale: whether the scores are divided by ``√d_att``.
        explained_class: the class whose logit is ``f`` (None: the only class, or ``contrast``).
        contrast: ``(C, C')``: ``f`` is the difference of the two logits.

    Returns:
        The §2 :class:`Model`.

    Raises:
        InputError: the keys are not the MultiHead layout, the shapes disagree, the class choice is missing or
            out of range, or the model's own checks fail.
    """
    K = _heads(state)
    _shape_check(state, K)

    def stack(part: str) -> np.ndarray:
        return np.stack([state[f"heads.{i}.{part}.weight"] for i in range(K)])

    Wl = _explained_rows(stack("classifier"), explained_class, contrast)
    return Model(
        state["embedding.weight"],
        stack("query"),
        stack("key"),
        stack("value"),
        Wl,
        cls_id=cls_id,
        unk_id=unk_id,
        max_len=max_len,
        pe=pe,
        scale=scale,
    )


def check_out(out: str | Path) -> Path:
    """``--out`` as a path, refused before any work when it cannot name a new ``.npz`` file.

    Args:
        out: the ``--out`` argument.

    Returns:
        It as a :class:`~pathlib.Path`.

    Raises:
        InputError: it does not end in ``.npz``, is a folder, or its folder does not exist.
    """
    out = Path(out)
    if out.suffix != ".npz":
        raise InputError(f"--out {str(out)!r} must end in .npz")
    if out.is_dir():
        raise InputError(f"--out {str(out)!r} is a folder; give a file name ending in .npz")
    if not out.parent.is_dir():
        raise InputError(f"--out {str(out)!r}: folder {str(out.parent)!r} does not exist; create it first")
    return out


def save_atomically(model: Model | Encoder, out: str | Path) -> Path:
    """Write ``model`` (a §2 :class:`Model` or an encoder: anything with ``save(stream)``) to ``out`` at once
    (:func:`theory.atomic.write_file`: a complete file or none, with the mode of a normal new file); a folder
    the user cannot write to is an :class:`InputError`, with nothing left behind.

    Args:
        model: the model to write, in its family's ``.npz`` format.
        out: the ``--out`` path (checked by :func:`check_out`).

    Returns:
        The path written.

    Raises:
        InputError: ``out`` is refused by :func:`check_out`, or its folder cannot be written.
    """
    out = check_out(out)
    buffer = io.BytesIO()
    model.save(buffer)
    try:
        write_file(out, buffer.getvalue())
    except OSError as error:
        raise InputError(
            f"cannot write --out {str(out)!r}: {error.strerror or error}; nothing was written (choose "
            "a folder you can write to)"
        ) from None
    return out
