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
    model: Encoder
    w_classes: np.ndarray  # (2, d)
    b_classes: np.ndarray  # (2,)
    docs: tuple  # held-out documents (word ids, no CLS, no padding)
    labels: np.ndarray
    training: dict

    def held_out_accuracy(self, batch: int = 100) -> float:
        """Share of held-out documents whose larger class logit is the label (numpy forward)."""
        hits = 0
        for start in range(0, len(self.docs), batch):
            padded = np.array([document(self.model, d) for d in self.docs[start: start + batch]])
            h = forward(self.model, padded).hidden[:, -1, 0]
            hits += int(((h @ self.w_classes.T + self.b_classes).argmax(axis=1) == self.labels[start: start + batch]).sum())
        return hits / len(self.docs)


def available() -> bool:
    return (DATA / ENCODER_FILE).is_file()


@cache
def load_encoder_fixture() -> EncoderFixture:
    arrays = read_npz(DATA / ENCODER_FILE)
    model = Encoder.from_arrays(arrays, str(DATA / ENCODER_FILE))
    base = load_fixture()
    indices = arrays["test_indices"].astype(np.int64)
    return EncoderFixture(model, arrays["w_classes"], arrays["b_classes"], tuple(base.docs[i] for i in indices),
                          base.labels[indices], json.loads(str(arrays["training"])))


@dataclass(frozen=True)
class TrainedEncoderCase:
    """Held-out document ``index`` of the trained encoder (the interface of ``EncoderCase``)."""

    index: int

    @property
    def model(self) -> Encoder:
        return load_encoder_fixture().model

    @cached_property
    def tokens(self) -> tuple:
        return load_encoder_fixture().docs[self.index]

    @cached_property
    def doc(self) -> np.ndarray:
        return document(self.model, self.tokens)

    def __repr__(self) -> str:
        return f"TrainedEncoderCase(index={self.index})"


def trained_encoder_cases():
    return st.integers(0, len(load_encoder_fixture().docs) - 1).map(TrainedEncoderCase)
