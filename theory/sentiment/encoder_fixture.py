"""The committed trained encoder (``theory/sentiment/data/sentiment_encoder.npz``, the Appendix-F analog written by
``python -m theory.sentiment.train_encoder``) and its held-out documents, numpy only.

The file is an encoder ``.npz`` (explained output: the positive-class logit) with extra keys ``w_classes`` (2, d),
``b_classes`` (2,) (both classes' readouts, so predictions can be recomputed), ``test_indices`` (the held-out
documents used: those of ``sentiment_test.npz`` with at most ``T − 1`` words) and ``training`` (JSON).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cache, cached_property

import numpy as np
from hypothesis import strategies as st

from theory.models.encoder import Encoder, forward
from theory.models.one_layer import document, read_npz
from theory.sentiment.fixture import DATA, load_fixture

ENCODER_FILE = "sentiment_encoder.npz"


@dataclass(frozen=True, eq=False)
class EncoderFixture:
    """The trained encoder, both classes' readouts and the held-out documents it was measured on."""

    model: Encoder
    w_classes: np.ndarray  # (2, d)
    b_classes: np.ndarray  # (2,)
    docs: tuple[tuple[int, ...], ...]  # held-out documents (word ids, no CLS, no padding)
    labels: np.ndarray
    training: dict

    def held_out_accuracy(self, batch: int = 100) -> float:
        """Share of held-out documents whose larger class logit is the label (numpy forward).

        Args:
            batch: how many documents one forward pass takes (bounds the memory, not the result).

        Returns:
            The accuracy in [0, 1] over all of :attr:`docs`, the class logits read from the last layer's CLS state.
        """
        hits = 0
        for start in range(0, len(self.docs), batch):
            padded = np.array([document(self.model, d) for d in self.docs[start : start + batch]])
            h = forward(self.model, padded).hidden[:, -1, 0]
            predicted = (h @ self.w_classes.T + self.b_classes).argmax(axis=1)
            hits += int((predicted == self.labels[start : start + batch]).sum())
        return hits / len(self.docs)


def available() -> bool:
    """Whether the trained encoder's file is present in ``theory/sentiment/data/``.

    Returns:
        True when ``sentiment_encoder.npz`` exists (it is optional: claims on it are skipped without it).
    """
    return (DATA / ENCODER_FILE).is_file()


@cache
def load_encoder_fixture() -> EncoderFixture:
    """The committed trained encoder with its readouts and held-out documents, loaded once.

    Returns:
        The encoder (positive-class logit as ``f``), both classes' readouts ``(2, d)`` and ``(2,)``, the
        held-out documents of ``sentiment_test.npz`` it was measured on with their labels, and its training record.
    """
    arrays = read_npz(DATA / ENCODER_FILE)
    model = Encoder.from_arrays(arrays, str(DATA / ENCODER_FILE))
    base = load_fixture()
    indices = arrays["test_indices"].astype(np.int64)
    return EncoderFixture(
        model,
        arrays["w_classes"],
        arrays["b_classes"],
        tuple(base.docs[i] for i in indices),
        base.labels[indices],
        json.loads(str(arrays["training"])),
    )


@dataclass(frozen=True)
class TrainedEncoderCase:
    """Held-out document ``index`` of the trained encoder (the interface of ``EncoderCase``)."""

    index: int

    @property
    def model(self) -> Encoder:
        return load_encoder_fixture().model

    @cached_property
    def tokens(self) -> tuple[int, ...]:
        """The held-out document's word ids.

        Returns:
            Its word ids, without CLS or padding.
        """
        return load_encoder_fixture().docs[self.index]

    @cached_property
    def doc(self) -> np.ndarray:
        """The held-out document as the encoder reads it.

        Returns:
            ``(T,)`` int64 token ids ``(CLS, w_1, …, w_L, UNK, …)``.
        """
        return document(self.model, self.tokens)

    def __repr__(self) -> str:
        return f"TrainedEncoderCase(index={self.index})"


def trained_encoder_cases() -> st.SearchStrategy[TrainedEncoderCase]:
    """The held-out documents of the trained encoder, by index.

    Returns:
        A strategy of :class:`TrainedEncoderCase` over every held-out document.
    """
    return st.integers(0, len(load_encoder_fixture().docs) - 1).map(TrainedEncoderCase)
