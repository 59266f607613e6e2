"""Populations of *given* instances: a given model with given documents (docs/theory.md §11.3).

A claim that is a statement about a given model (not about a constructed one) runs on a population: the
``trained`` population is the committed fixture (:mod:`theory.sentiment`: its model and its held-out
documents); ``attnverify run --model M.npz [--texts FILE --vocab V]`` makes the population ``model:M`` of the
user's model and documents.  Without documents, Hypothesis draws word sequences from the model's vocabulary
(every id but CLS and UNK, 1..T−1 words).

The claims' ``trained=`` strategies draw :class:`GivenCase` instances from the *active* population
(:func:`active`: the trained fixture unless a run is inside :func:`using`), so one declaration serves every
given model.  A case keeps the population it was drawn from.
"""

from __future__ import annotations

from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import cache, cached_property

import numpy as np
from hypothesis import strategies as st

from theory.errors import InputError
from theory.models.one_layer import Model, document


@dataclass(frozen=True, eq=False)
class Population:
    """A given model and its documents (word-id tuples without CLS or padding), or ``docs=None`` to draw texts."""

    name: str  # "trained", or "model:<file stem>"
    model: Model
    docs: tuple[tuple[int, ...], ...] | None = None
    allow_unk: bool = False  # documents may hold UNK (--oov unk)
    vocabulary: tuple[str, ...] | None = None  # token strings by id, for the report


_ACTIVE: list[Population] = []


@cache
def trained_population() -> Population:
    """The committed fixture: its model and its held-out documents."""
    from theory.sentiment.fixture import load_fixture

    fixture = load_fixture()
    return Population("trained", fixture.model, fixture.docs, vocabulary=fixture.words)


def active() -> Population:
    """The population the ``trained=`` strategies draw from now."""
    return _ACTIVE[-1] if _ACTIVE else trained_population()


@contextmanager
def using(population: Population):
    """Make ``population`` the active one inside the ``with`` block."""
    _ACTIVE.append(population)
    try:
        yield population
    finally:
        _ACTIVE.pop()


@dataclass(frozen=True)
class GivenCase:
    """Document ``index`` of a population (or the ``drawn`` words of a population without documents), its
    first ``max_words`` words when given, with the interface of :class:`theory.suite.strategies.models.Case`:
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
    def model(self) -> Model:
        return self.population.model

    @cached_property
    def tokens(self) -> tuple:
        words = self.drawn if self.index is None else self.population.docs[self.index]
        return tuple(words[: self.max_words])

    @cached_property
    def doc(self) -> np.ndarray:
        return document(self.model, self.tokens, allow_unk=self.population.allow_unk)

    def __repr__(self) -> str:
        parts = [f"index={self.index}"] if self.index is not None else [f"drawn={self.drawn}"]
        parts += [] if self.max_words is None else [f"max_words={self.max_words}"]
        parts += [] if self.positions is None else [f"positions={self.positions}"]
        parts += [] if self.coordinates is None else [f"coordinates={self.coordinates}"]
        return f"GivenCase({', '.join(parts)})"


def checked_coordinates(case) -> list[int] | slice:
    """The embedding coordinates a claim stated entry by entry checks: the instance's ``coordinates`` when it
    names some, otherwise all of them (a slice, for indexing arrays)."""
    coordinates = getattr(case, "coordinates", None)
    return slice(None) if coordinates is None else list(coordinates)


@st.composite
def given_cases(draw, max_words: int | None = None, positions: int = 0, cls: bool = False,
                coordinates: int = 0) -> GivenCase:
    """Documents of the active population, each truncated to ``max_words`` words when given (for claims whose
    reference cost grows with the number of words), with ``positions`` distinct positions to check when that
    is positive (word positions ``1..L`` and the first padding position, drawn; with ``cls=True`` CLS,
    position 0, and ``positions − 1`` drawn ones) and ``coordinates`` distinct drawn embedding coordinates
    when that is positive and below d_e; shrinks toward document 0.  A
    population without documents draws 1..T−1 (at most ``max_words``) words of its vocabulary."""
    if max_words is not None and max_words < 1:
        raise InputError(f"max_words={max_words} must be at least 1 (or None for whole documents)")
    population = active()
    if population.docs is not None:
        case = GivenCase(draw(st.integers(0, len(population.docs) - 1)), max_words, population=population)
    else:
        model = population.model
        limit = model.T - 1 if max_words is None else min(model.T - 1, max_words)
        length = draw(st.integers(1, limit))
        words = st.sampled_from(model.word_ids.tolist())
        case = GivenCase(drawn=tuple(draw(st.lists(words, min_size=length, max_size=length))), population=population)
    chosen_positions = None
    if positions > 0:
        last = min(len(case.tokens) + 1, case.model.T - 1)
        drawn = min(positions - cls, last)
        chosen = sorted(draw(st.lists(st.integers(1, last), min_size=drawn, max_size=drawn, unique=True)))
        chosen_positions = (0, *chosen) if cls else tuple(chosen)
    chosen_coordinates = None
    if 0 < coordinates < case.model.d_e:
        chosen_coordinates = tuple(sorted(draw(st.lists(st.integers(0, case.model.d_e - 1), min_size=coordinates,
                                                        max_size=coordinates, unique=True))))
    if chosen_positions is None and chosen_coordinates is None:
        return case
    return GivenCase(case.index, case.max_words, chosen_positions, case.drawn, population, chosen_coordinates)
