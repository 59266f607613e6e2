"""The committed trained model, its vocabulary and its held-out documents (``theory/sentiment/data/``), numpy only.

Files (written by :func:`save_fixture`, from ``python -m theory.sentiment.train``):

* ``sentiment_model.npz`` — the model in the public format (docs/file-formats.md); the explained
  output is the *positive*-class logit.  Extra key ``Wl_classes`` (K, 2, d_out): both classes' output rows
  (negative, positive), so that predictions — and the held-out accuracy — can be recomputed with the numpy
  forward pass (a prediction compares the two classes' logits).
* ``vocab.txt`` — the vocabulary in the public format (docs/file-formats.md): one token per line, line ``n + 1``
  holds token id ``n`` (``[CLS]`` is id 0, ``[UNK]`` id 1).  It is shared by the bundled encoder
  (``sentiment_encoder.npz``, :mod:`theory.sentiment.encoder_fixture`), trained on the same corpus.
* ``ratings.tsv`` — ``word<TAB>rating``, one line per rated word in id order: VADER's mean human rating (the
  dataset's labels come from them, :mod:`theory.sentiment.dataset`); ``[CLS]``, ``[UNK]``, filler and negation
  words have none and are not listed.
* ``sentiment_test.npz`` — the held-out documents: ``words`` (all word ids, concatenated), ``offsets``
  (document ``i`` is ``words[offsets[i]:offsets[i+1]]``; no CLS, no padding), ``labels`` (1 = positive)
  and ``totals`` (the lexicon score that defines the label).
* ``training.json`` — seed, sizes, widths, epochs, train/held-out accuracy and dataset parameters.

**Out-of-vocabulary words** (:func:`encode`).  A word outside the vocabulary is never mapped to UNK: UNK is
the padding token, texts may not contain it, and LIME's removal would then confuse a word with its absence.
Nor is it mapped to a reserved OOV id: no training document contains such an id, so its embedding would be
its random initialisation and every explanation of it meaningless.  So by default an OOV word is an
error naming the words; with ``drop_oov=True`` OOV words are dropped (with a warning listing them) and the
remaining words keep their order — note that with positional encoding the later words then sit at other
positions than in the original text.
"""

from __future__ import annotations

import json
import re
import warnings
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from functools import cache, cached_property
from pathlib import Path

import numpy as np

from theory.errors import InputError
from theory.models.one_layer import Model, document, forward, read_npz

DATA = Path(__file__).resolve().parent / "data"
MODEL_FILE, VOCAB_FILE, RATINGS_FILE, TEST_FILE, TRAINING_FILE = (
    "sentiment_model.npz",
    "vocab.txt",
    "ratings.tsv",
    "sentiment_test.npz",
    "training.json",
)


@dataclass(frozen=True, eq=False)
class Fixture:
    """The trained model, its vocabulary and the held-out documents with their labels."""

    model: Model
    class_rows: np.ndarray  # (K, 2, d_out): W_ℓ of the negative and the positive class
    words: tuple[str, ...]  # by token id
    ratings: dict[int, float]  # lexicon rating of each rated word id
    docs: tuple[tuple[int, ...], ...]  # held-out documents: word ids, no CLS, no padding
    labels: np.ndarray  # (n,) 1 = positive
    totals: np.ndarray  # (n,) lexicon score defining the label
    training: dict  # training.json

    @cached_property
    def ids(self) -> dict[str, int]:
        """The vocabulary inverted: word -> token id.

        Returns:
            Each word of :attr:`words` mapped to its id (its line number in ``vocab.txt`` minus one).
        """
        return {word: i for i, word in enumerate(self.words)}

    def logits(self, docs: Sequence[Sequence[int]]) -> np.ndarray:
        """Both classes' logits ``(n, 2)`` of texts given as word-id sequences, by the numpy forward pass.

        Args:
            docs: ``n`` texts, each a sequence of word ids without CLS or padding.

        Returns:
            ``(n, 2)`` float64: the negative- and the positive-class logit of each text (its ``f`` under each
            class's ``W_ℓ`` rows of :attr:`class_rows`).
        """
        padded = np.array([document(self.model, d) for d in docs])
        return np.stack([forward(self.model.with_Wl(self.class_rows[:, c]), padded).f for c in (0, 1)], axis=1)

    def held_out_accuracy(self, batch: int = 250) -> float:
        """Share of held-out documents whose larger logit is the labelled class (numpy forward).

        Args:
            batch: how many documents one forward pass takes (bounds the memory, not the result).

        Returns:
            The accuracy in [0, 1] over all of :attr:`docs`.
        """
        predicted = np.concatenate(
            [self.logits(self.docs[i : i + batch]).argmax(axis=1) for i in range(0, len(self.docs), batch)]
        )
        return float(np.mean(predicted == self.labels))


@cache
def load_fixture(data_dir: str | Path = DATA) -> Fixture:
    """The fixture in ``data_dir`` (default: the committed one), loaded once.

    Args:
        data_dir: the folder holding the five files of the module docstring.

    Returns:
        The model, both classes' output rows, the vocabulary, the ratings, the held-out documents with their
        labels and lexicon totals, and ``training.json``; cached per ``data_dir``.

    Raises:
        InputError: the model file lacks ``Wl_classes`` or the vocabulary's length is not the model's ``V``.
    """
    data_dir = Path(data_dir)
    arrays = read_npz(data_dir / MODEL_FILE)  # the §2 format (module docstring), plus Wl_classes
    model = Model.from_arrays(arrays, str(data_dir / MODEL_FILE))
    if "Wl_classes" not in arrays:
        raise InputError(
            f"{data_dir / MODEL_FILE} lacks Wl_classes (K, 2, d_out); regenerate it with "
            "python -m theory.sentiment.train"
        )
    class_rows = arrays["Wl_classes"].astype(np.float64)
    words = (data_dir / VOCAB_FILE).read_text(encoding="utf-8").splitlines()
    if len(words) != model.V:
        raise InputError(f"{data_dir / VOCAB_FILE} has {len(words)} words but the model has V={model.V}")
    ids = {word: i for i, word in enumerate(words)}
    ratings = {}
    for line in (data_dir / RATINGS_FILE).read_text(encoding="utf-8").splitlines():
        word, rating = line.split("\t")
        ratings[ids[word]] = float(rating)
    with np.load(data_dir / TEST_FILE, allow_pickle=False) as test:
        flat, offsets = test["words"].astype(np.int64), test["offsets"]
        docs = tuple(tuple(flat[a:b].tolist()) for a, b in zip(offsets[:-1], offsets[1:]))
        labels, totals = test["labels"].astype(np.int64), test["totals"].astype(np.float64)
    training = json.loads((data_dir / TRAINING_FILE).read_text(encoding="utf-8"))
    return Fixture(model, class_rows, tuple(words), ratings, docs, labels, totals, training)


def save_fixture(
    data_dir: str | Path,
    arrays: dict,
    class_rows: np.ndarray,
    words: Sequence[str],
    ratings: dict[int, float],
    docs: Sequence[np.ndarray],
    labels: np.ndarray,
    totals: np.ndarray,
    training: dict,
) -> None:
    """Write the five fixture files (format in the module docstring); ``arrays`` are the public ``.npz``
    arrays of the model.

    Args:
        data_dir: the folder to write into (created if absent).
        arrays: the model's public ``.npz`` arrays (``E``, ``Wq``, ``Wk``, ``Wv``, ``Wl``, ids, ``max_len``, ``pe``);
            validated by building the :class:`~theory.models.one_layer.Model`.
        class_rows: ``(K, 2, d_out)``, both classes' ``W_ℓ`` rows (negative, positive), stored as ``Wl_classes``.
        words: the vocabulary by token id.
        ratings: token id -> lexicon mean rating, for the rated words.
        docs: the held-out documents, each a word-id array without CLS or padding.
        labels: ``(n,)`` their labels, 1 = positive.
        totals: ``(n,)`` their lexicon totals (negation applied), which define the labels.
        training: the run's parameters and results, written as ``training.json``.
    """
    data_dir = Path(data_dir)
    data_dir.mkdir(parents=True, exist_ok=True)
    Model(**{k: arrays[k] for k in ("E", "Wq", "Wk", "Wv", "Wl", "cls_id", "unk_id", "max_len", "pe")})  # validates
    np.savez_compressed(data_dir / MODEL_FILE, **arrays, Wl_classes=np.asarray(class_rows, dtype=np.float64))
    (data_dir / VOCAB_FILE).write_text("".join(f"{w}\n" for w in words), encoding="utf-8")
    (data_dir / RATINGS_FILE).write_text(
        "".join(f"{words[i]}\t{ratings[i]}\n" for i in sorted(ratings)), encoding="utf-8"
    )
    offsets = np.concatenate([[0], np.cumsum([len(d) for d in docs])])
    np.savez_compressed(
        data_dir / TEST_FILE,
        words=np.concatenate(docs).astype(np.int16),
        offsets=offsets,
        labels=np.asarray(labels, dtype=np.int8),
        totals=np.asarray(totals, dtype=np.float64),
    )
    (data_dir / TRAINING_FILE).write_text(json.dumps(training, indent=2) + "\n", encoding="utf-8")


def tokenize(text: str) -> list[str]:
    """Lower-cased runs of letters a–z (punctuation, digits and apostrophes separate words).

    Args:
        text: any text.

    Returns:
        Its words in order, lower-cased; empty when it has no letter.
    """
    return re.findall("[a-z]+", text.lower())


def encode(text: str, drop_oov: bool = False, fixture: Fixture | None = None) -> list[int]:
    """Word ids of ``text`` in the fixture's vocabulary; out-of-vocabulary words raise an
    :class:`~theory.errors.InputError`, or with ``drop_oov=True`` are dropped with a warning (module docstring).

    Args:
        text: the text, split by :func:`tokenize`.
        drop_oov: drop out-of-vocabulary words (with a warning) instead of refusing the text.
        fixture: the vocabulary's fixture; ``None`` loads the committed one.

    Returns:
        The word ids in text order, without CLS or padding (at least one).

    Raises:
        InputError: an out-of-vocabulary word without ``drop_oov``, or no word of the text in the vocabulary.
    """
    fixture = fixture or load_fixture()
    words = tokenize(text)
    oov = [w for w in words if w not in fixture.ids]  # "[CLS]", "[UNK]" cannot come out of tokenize()
    if oov and not drop_oov:
        raise InputError(
            f"out-of-vocabulary words {oov}: the trained model has no embedding for them; "
            "rephrase, or pass drop_oov=True to drop them"
        )
    if oov:
        warnings.warn(f"dropped out-of-vocabulary words {oov}", stacklevel=2)
    ids = [fixture.ids[w] for w in words if w not in oov]
    if not ids:
        raise InputError(f"no word of {text!r} is in the trained model's vocabulary")
    return ids


def vocabulary_tokenizer(path: str | Path) -> Callable[[str], list[str]]:
    """The tokenizer of the vocabulary file at ``path``: :func:`tokenize` (the corpus's, letters only) for the bundled
    ``vocab.txt`` — its words were never split by torchtext's rules, and a comma is no word of it — and
    :func:`theory.models.tokenizer.basic_english` (the authors') for any other file.

    Args:
        path: a vocabulary file (one token per line).

    Returns:
        A function from a text to its list of words.
    """
    from theory.models.tokenizer import basic_english

    path = Path(path)
    return tokenize if path.is_file() and path.resolve() == (DATA / VOCAB_FILE).resolve() else basic_english


def decode(ids: Iterable[int], fixture: Fixture | None = None) -> str:
    """The words of token ids, separated by spaces.

    Args:
        ids: token ids of the fixture's vocabulary.
        fixture: the vocabulary's fixture; ``None`` loads the committed one.

    Returns:
        The words of ``ids`` joined by single spaces.
    """
    fixture = fixture or load_fixture()
    return " ".join(fixture.words[i] for i in ids)
