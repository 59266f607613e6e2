"""The classifiers the claims are about, in float64 numpy, behind one interface
(:class:`~theory.models.protocol.AttentionClassifier`): :mod:`~theory.models.one_layer` is the paper's §2 model
(one layer, K heads, CLS readout) with its public ``.npz`` format, :mod:`~theory.models.encoder` the encoder family
(§11.1); :func:`load` reads a model file of any family.  :mod:`~theory.models.from_torch` and
:mod:`~theory.models.import_encoder` convert PyTorch state_dicts; :mod:`~theory.models.tokenizer` (torchtext's
``basic_english``) and :mod:`~theory.models.vocabulary` turn a user's texts into documents;
:mod:`~theory.models.perturb` and :mod:`~theory.models.removal` give ``f`` on documents with words removed.

**Adding a family**: one module with a frozen dataclass implementing the protocol, and its entry in
:data:`FAMILIES` (the ``arch`` string its ``.npz`` files carry, and the reader of their arrays)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from theory.errors import InputError
from theory.models.encoder import ARCH as ENCODER_ARCH
from theory.models.encoder import Encoder
from theory.models.one_layer import Model, read_npz
from theory.models.protocol import AttentionClassifier

#: the model families by the ``arch`` their ``.npz`` files carry ("" — no ``arch`` key — is the §2 format), each
#: with the reader of the file's arrays: ``reader(arrays, where)``
FAMILIES: dict[str, Callable[[dict, str], AttentionClassifier]] = {
    "": Model.from_arrays,
    ENCODER_ARCH: Encoder.from_arrays,
}


def load(path: str | Path) -> AttentionClassifier:
    """The model of a ``.npz`` file of any family, told apart by its ``arch`` (:data:`FAMILIES`).

    Args:
        path: the model file.

    Returns:
        The model; an :class:`~theory.errors.InputError` names what is wrong with a missing, corrupt or
        inconsistent file.
    """
    arrays = read_npz(path)
    arch = str(arrays["arch"]) if "arch" in arrays else ""
    if arch not in FAMILIES:
        known = ", ".join(repr(name) for name in FAMILIES if name)
        raise InputError(f"model file {str(path)!r} has arch={arch!r}; known: {known} (or no arch: the §2 model)")
    return FAMILIES[arch](arrays, str(path))
