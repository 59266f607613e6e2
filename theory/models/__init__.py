"""The classifiers the claims are about, in float64 numpy, behind one interface
(:class:`~theory.models.protocol.AttentionClassifier`): :mod:`~theory.models.one_layer` is the paper's §2 model
(one layer, K heads, CLS readout) with its public ``.npz`` format, :mod:`~theory.models.encoder` the encoder family
(§11.1), :mod:`~theory.models.bert` the BERT family (§8: BERT, DistilBERT, RoBERTa, an encoder with a probe),
read from a Hugging Face folder by :mod:`~theory.models.huggingface`; :func:`load` reads a model file of any
family, or such a folder.  :mod:`~theory.models.from_torch` and
:mod:`~theory.models.import_encoder` convert PyTorch state_dicts; :mod:`~theory.models.tokenizer` (torchtext's
``basic_english``) and :mod:`~theory.models.vocabulary` turn a user's texts into documents;
:mod:`~theory.models.perturb` and :mod:`~theory.models.removal` give ``f`` on documents with words removed.

**Adding a family**: one module with a frozen dataclass implementing the protocol, and its entry in
:data:`FAMILIES` (the ``arch`` string its ``.npz`` files carry, and the reader of their arrays)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from theory.errors import InputError
from theory.models.bert import ARCH as BERT_ARCH
from theory.models.bert import Bert
from theory.models.encoder import ARCH as ENCODER_ARCH
from theory.models.encoder import Encoder
from theory.models.one_layer import Model, read_npz
from theory.models.protocol import AttentionClassifier

#: the model families by the ``arch`` their ``.npz`` files carry ("" — no ``arch`` key — is the §2 format), each
#: with the reader of the file's arrays: ``reader(arrays, where)``
FAMILIES: dict[str, Callable[[dict, str], AttentionClassifier]] = {
    "": Model.from_arrays,
    ENCODER_ARCH: Encoder.from_arrays,
    BERT_ARCH: Bert.from_arrays,
}


def load(path: str | Path, probe: str | Path | None = None) -> AttentionClassifier:
    """The model of a ``.npz`` file of any family, told apart by its ``arch`` (:data:`FAMILIES`), or of a Hugging
    Face model folder (the BERT family, :func:`theory.models.huggingface.read_folder`).

    Args:
        path: the model file, or a folder with ``config.json``, the weights and the tokenizer.
        probe: a ``probe.npz`` (``w``, ``b``) making a folder's readout mean pooling + the probe (a bare encoder).

    Returns:
        The model; an :class:`~theory.errors.InputError` names what is wrong with a missing, corrupt or
        inconsistent file or folder.
    """
    if Path(path).is_dir():
        from theory.models.huggingface import read_folder

        if not (Path(path) / "config.json").is_file():
            raise InputError(
                f"model file {str(path)!r} is a folder; pass the path of a .npz model file, or a Hugging "
                "Face model folder (this one has no config.json)"
            )

        return read_folder(path, probe).model
    if probe is not None:
        raise InputError(
            f"--probe is for a Hugging Face model folder (a bare encoder); {str(path)!r} is a model "
            "file, whose readout is its own"
        )
    arrays = read_npz(path)
    arch = str(arrays["arch"]) if "arch" in arrays else ""
    if arch not in FAMILIES:
        known = ", ".join(repr(name) for name in FAMILIES if name)
        raise InputError(f"model file {str(path)!r} has arch={arch!r}; known: {known} (or no arch: the §2 model)")
    return FAMILIES[arch](arrays, str(path))
