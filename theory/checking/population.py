"""Populations of *given* instances: a given model with given documents (docs/theory.md §11.3).

A claim that is a statement about a given model (not about a constructed one) runs on a population: the
``trained`` population is the committed fixture (:mod:`theory.sentiment`: its model and its held-out
documents); ``attnverify run --model M.npz [--texts FILE --vocab V]`` makes the population ``model:M`` of the
user's model and documents.  Without documents, Hypothesis draws word sequences from the model's vocabulary
(every id but CLS and UNK, 1..T−1 words).

The claims' ``trained=`` strategies draw :class:`GivenCase` instances from the *active* population
(:func:`active`: the trained fixture unless a run is inside :func:`using`), so one declaration serves every
given model.  A case keeps the population it was drawn from.  A claim's domain (e.g. two distinct words for
``β^∞``) is part of the strategy (:func:`given_cases`): a population is never drawn outside it, and a population
with no instance inside it makes the claim not applicable (:class:`NotApplicable`), with the reason; what of the
population a claim's domain leaves out is noted in the ``with using(...)`` block's notes, for its record.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import cache, cached_property

import numpy as np
from hypothesis import strategies as st

from theory.errors import InputError
from theory.models.one_layer import document
from theory.models.protocol import AttentionClassifier


@dataclass(frozen=True, eq=False)
class Population:
    """A given model and its documents (word-id tuples without CLS or padding), or ``docs=None`` to draw texts."""

    name: str  # "trained", "pretrained", or "model:<file stem>"
    model: AttentionClassifier
    docs: tuple[tuple[int, ...], ...] | None = None
    allow_unk: bool = False  # documents may hold UNK (--oov unk)
    vocabulary: tuple[str, ...] | None = None  # token strings by id, for the report
    sha256: str | None = None  # of the model file (a user's model), carried by every record computed on it
    options: str = ""  # the options of `attnverify run` that rebuild it (--model M --texts F …), for the records

    @property
    def encoder(self) -> bool:
        """Whether the model is of the encoder family (docs/theory.md §11.1) rather than the one-layer §2 model."""
        return self.model.family == "encoder"


#: the active populations (innermost last), each with the notes of what :func:`given_cases` left out of it to stay
#: inside a claim's domain (the list :func:`using` yields)
_ACTIVE: list[tuple[Population, list[str]]] = []


@cache
def trained_population() -> Population:
    """The committed fixture: its model and its held-out documents.

    Returns:
        The ``trained`` :class:`Population` (cached: loaded once per process).
    """
    from theory.sentiment.fixture import load_fixture

    fixture = load_fixture()
    return Population("trained", fixture.model, fixture.docs, vocabulary=fixture.words)


#: the pretrained population's documents: the first held-out documents, those whose f the probe's record holds
#: (``held_out_f``, ``n_test`` of minilm_probe.json), at most this many: twice the 160 of a thorough claim (tokenized
#: once per process, ≈ 3.6 ms each)
PRETRAINED_DOCUMENTS = 320


@cache
def pretrained_population() -> Population:
    """The pretrained fixture (docs/theory.md §13.8): the probe-topped all-MiniLM-L6-v2
    (:func:`theory.sentiment.pretrained.load_pretrained`, its weights' hash checked) and held-out documents of the
    sentiment corpus — never used to fit the probe, which :mod:`theory.sentiment.train_probe` fits on training
    documents only —, the first ``n_test`` of them (the probe's record measured its held-out accuracy on these), as
    the piece ids between ``[CLS]`` and ``[SEP]`` that the model's own tokenizer gives their texts: what
    ``attnverify run --model DIR --texts FILE`` holds for a BERT-family model
    (:func:`theory.cli.model_options.piece_texts`: ``model.document(text)``, the ids without the special tokens).

    Returns:
        The ``pretrained`` :class:`Population` (cached: loaded once per process), carrying the weights' SHA-256 and
        ``--population pretrained``, the option that rebuilds it.

    Raises:
        InputError: the ``pretrained`` extra is not installed (the message names it), or the weights' hash differs.
    """
    from theory.sentiment.pretrained import SHA256, load_pretrained

    fixture = load_pretrained()
    model = fixture.model
    texts = fixture.texts[: min(PRETRAINED_DOCUMENTS, fixture.record["n_test"])]
    docs = tuple(tuple(doc.ids[1 : doc.length + 1].tolist()) for doc in map(model.document, texts))
    return Population("pretrained", model, docs, sha256=SHA256, options="--population pretrained")


def active() -> Population:
    """The population the ``trained=`` strategies draw from now.

    Returns:
        The population of the innermost :func:`using` block, else the trained fixture.
    """
    return _ACTIVE[-1][0] if _ACTIVE else trained_population()


@contextmanager
def using(population: Population) -> Iterator[list[str]]:
    """Make ``population`` the active one inside the ``with`` block.

    Args:
        population: The population the ``trained=`` strategies built inside the block draw from.

    Returns:
        A context manager yielding the block's domain notes: one line per strategy built inside it
        (:func:`given_cases`) that left part of ``population`` out to stay inside its claim's domain.
    """
    notes: list[str] = []
    _ACTIVE.append((population, notes))
    try:
        yield notes
    finally:
        _ACTIVE.pop()


def _note(line: str) -> None:
    """Add ``line`` to the domain notes of the innermost :func:`using` block (none outside one: the fixture's
    runs record no scope)."""
    if _ACTIVE:
        _ACTIVE[-1][1].append(line)


@dataclass(frozen=True)
class GivenCase:
    """Document ``index`` of a population (or the ``drawn`` words of a population without documents), its
    first ``max_words`` words when given, with the interface of :class:`theory.checking.strategies.models.Case`:
    ``.model``, ``.tokens``, ``.doc``.  ``positions`` (when given) are the positions that claims whose
    reference costs per position (gradients) check, and ``coordinates`` (when given) the embedding
    coordinates that claims stated per entry check there.  The population is not part of the repr or of
    equality."""

    index: int | None = None
    max_words: int | None = None
    positions: tuple | None = None
    drawn: tuple | None = None
    population: Population | None = field(default=None, compare=False)
    coordinates: tuple | None = None

    def __post_init__(self):
        if self.population is None:
            object.__setattr__(self, "population", active())

    @property
    def _given(self) -> Population:
        """The population (``__post_init__`` sets it when it is not given: never None afterwards)."""
        assert self.population is not None
        return self.population

    @property
    def model(self) -> AttentionClassifier:
        """The population's model, of any family."""
        return self._given.model

    @cached_property
    def tokens(self) -> tuple:
        """The document's words (at most ``max_words``), without CLS or padding.

        Returns:
            The word ids, a tuple.
        """
        if self.index is None:
            words = self.drawn
        else:
            docs = self._given.docs
            assert docs is not None  # an index names a document of a population that has documents
            words = docs[self.index]
        assert words is not None  # without an index, the case carries its drawn words
        return tuple(words[: self.max_words])

    @cached_property
    def doc(self) -> np.ndarray:
        """The token document of :attr:`tokens`: CLS first, padded with UNK to the model's T.

        Returns:
            The token ids, shape ``(T,)``.
        """
        return document(self.model, self.tokens, allow_unk=self._given.allow_unk)

    def __repr__(self) -> str:
        parts = [f"index={self.index}"] if self.index is not None else [f"drawn={self.drawn}"]
        parts += [] if self.max_words is None else [f"max_words={self.max_words}"]
        parts += [] if self.positions is None else [f"positions={self.positions}"]
        parts += [] if self.coordinates is None else [f"coordinates={self.coordinates}"]
        return f"GivenCase({', '.join(parts)})"

    def _repr_pretty_(self, printer, cycle) -> None:
        """Hypothesis prints a dataclass field by field, the population's model arrays included (a 1 MB text
        per trained counterexample): it gets the repr above instead."""
        printer.text(repr(self))


def checked_coordinates(case) -> list[int] | slice:
    """The embedding coordinates a claim stated entry by entry checks: the instance's ``coordinates`` when it
    names some, otherwise all of them (a slice, for indexing arrays).

    Args:
        case: an instance (it may carry ``coordinates``).

    Returns:
        The coordinates, a list, or ``slice(None)`` for all.
    """
    coordinates = getattr(case, "coordinates", None)
    return slice(None) if coordinates is None else list(coordinates)


class NotApplicable(Exception):
    """A claim's domain holds no instance of the active population (e.g. no document with two distinct words
    for ``β^∞``, or a model too small for the claim's text); the message says why, about that population."""


def given_cases(
    max_words: int | None = None,
    positions: int = 0,
    cls: bool = False,
    coordinates: int = 0,
    min_distinct: int = 1,
    repeats: bool = True,
) -> st.SearchStrategy[GivenCase]:
    """Documents of the active population inside a claim's domain: each truncated to ``max_words`` words when
    given (for claims whose reference cost grows with the number of words), only those whose (truncated) words
    hold at least ``min_distinct`` distinct words (``β^∞`` needs ``d ≥ 2``), and with ``repeats=False`` only
    those whose words are pairwise distinct; with ``positions`` distinct positions to check when that is
    positive (word positions ``1..L`` and the first padding position, drawn; with ``cls=True`` CLS, position 0,
    and ``positions − 1`` drawn ones) and ``coordinates`` distinct drawn embedding coordinates when that is
    positive and below d_e; shrinks toward the first such document.  A population without documents draws
    texts of ``min_distinct``..T−1 (at most ``max_words``) words of its vocabulary meeting the same conditions.
    Raises :class:`NotApplicable` when the population has no instance in that domain.

    Args:
        max_words: cut each document after this many words (None: whole documents).
        positions: how many positions to draw for the per-position claims (0: none).
        cls: make CLS one of the ``positions``.
        coordinates: how many embedding coordinates to draw (0, or ``≥ d_e``: all).
        min_distinct: the fewest distinct words a document must hold.
        repeats: allow repeated words (False: only documents of pairwise distinct words).

    Returns:
        The Hypothesis strategy of :class:`GivenCase` instances.

    Raises:
        NotApplicable: when the population has no instance in the domain.
        InputError: when ``max_words`` is below 1.
    """
    if max_words is not None and max_words < 1:
        raise InputError(f"max_words={max_words} must be at least 1 (or None for whole documents)")
    population = active()
    model = population.model
    if population.docs is not None:

        def inside(words) -> bool:
            words = words[:max_words]
            return len(set(words)) >= min_distinct and (repeats or len(set(words)) == len(words))

        eligible = [k for k, words in enumerate(population.docs) if inside(words)]
        if not eligible:
            raise NotApplicable(_no_document(population, max_words, min_distinct, repeats))
        if len(eligible) < len(population.docs):
            _note(
                f"{len(population.docs) - len(eligible)} of the {len(population.docs)} documents left out: "
                f"{_domain(max_words, min_distinct, repeats)} is the claim's domain"
            )
        index = (
            st.integers(0, len(population.docs) - 1)
            if len(eligible) == len(population.docs)
            else st.sampled_from(eligible)
        )
        cases = index.map(lambda k: GivenCase(k, max_words, population=population))
    else:
        limit = model.T - 1 if max_words is None else min(model.T - 1, max_words)
        words = model.word_ids.tolist()
        if min(limit, len(words)) < min_distinct:
            raise NotApplicable(
                f"{population.name} cannot hold a text of {min_distinct} distinct words (T − 1 = "
                f"{model.T - 1} word positions, {len(words)} word ids besides CLS and UNK"
                + (f", texts cut at {max_words} words" if max_words is not None else "")
                + ")"
            )
        if min_distinct > 1 or not repeats:
            _note(f"texts drawn with {_domain(max_words, min_distinct, repeats)}, the claim's domain")
        cases = _drawn_texts(
            population, max(1, min_distinct), min(limit, len(words)) if not repeats else limit, min_distinct, repeats
        )
    if positions <= 0 and not 0 < coordinates < model.d_e:
        return cases
    return _with_checked(cases, positions, cls, coordinates)


def _domain(max_words, min_distinct: int, repeats: bool) -> str:
    wanted = [f"at least {min_distinct} distinct words"] if min_distinct > 1 else []
    wanted += [] if repeats else ["no repeated word"]
    return " and ".join(wanted) + ("" if max_words is None else f" among the first {max_words} words")


def _no_document(population: Population, max_words, min_distinct: int, repeats: bool) -> str:
    return (
        f"none of the {len(population.docs or ())} documents of {population.name} has "
        f"{_domain(max_words, min_distinct, repeats)}, the claim's domain; give such documents to run it"
    )


def _drawn_texts(population: Population, shortest: int, longest: int, min_distinct: int, repeats: bool):
    """Texts of ``shortest..longest`` words of the population's vocabulary, ``min_distinct`` of them distinct (all
    distinct without ``repeats``)."""
    words = st.sampled_from(population.model.word_ids.tolist())

    @st.composite
    def texts(draw):
        length = draw(st.integers(shortest, longest))
        drawn = st.lists(words, min_size=length, max_size=length, unique=not repeats)
        if min_distinct > 1 and repeats:
            drawn = drawn.filter(lambda text: len(set(text)) >= min_distinct)
        return GivenCase(drawn=tuple(draw(drawn)), population=population)

    return texts()


@st.composite
def _with_checked(draw, cases, positions: int, cls: bool, coordinates: int) -> GivenCase:
    """A case of ``cases`` with the positions and coordinates that its claim checks (:func:`given_cases`)."""
    case = draw(cases)
    chosen_positions = None
    if positions > 0:
        last = min(len(case.tokens) + 1, case.model.T - 1)
        drawn = min(positions - cls, last)
        chosen = sorted(draw(st.lists(st.integers(1, last), min_size=drawn, max_size=drawn, unique=True)))
        chosen_positions = (0, *chosen) if cls else tuple(chosen)
    chosen_coordinates = None
    if 0 < coordinates < case.model.d_e:
        chosen_coordinates = tuple(
            sorted(
                draw(
                    st.lists(
                        st.integers(0, case.model.d_e - 1), min_size=coordinates, max_size=coordinates, unique=True
                    )
                )
            )
        )
    return GivenCase(case.index, case.max_words, chosen_positions, case.drawn, case.population, chosen_coordinates)
