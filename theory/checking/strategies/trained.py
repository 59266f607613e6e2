"""Hypothesis strategies over a given model (the ``trained`` population, or a user's ``model:<name>``): the LIME
instances of :mod:`theory.checking.strategies.lime` wrapped around documents of the active population
(:mod:`theory.checking.population`; by default the committed fixture's held-out documents, :mod:`theory.sentiment`)."""

from __future__ import annotations

from hypothesis import strategies as st

from theory.checking.population import GivenCase, given_cases
from theory.checking.strategies.lime import (
    ApproxCase,
    ConsistencyCase,
    LimeCase,
    PerturbedCase,
    SemanticsCase,
)

# --- Trained-model instances: the same wrappers around held-out documents of the committed fixture ---------


def _distinct(case: GivenCase) -> int:
    return len(dict.fromkeys(case.tokens))


@st.composite
def trained_perturbed_cases(draw: st.DrawFn, max_patterns: int = 3) -> PerturbedCase:
    """A held-out document's first 8 words and 1..max_patterns removal patterns.

    Args:
        draw: supplied by ``@st.composite`` (callers omit it).
        max_patterns: the most removal patterns drawn (at least 1).

    Returns:
        A :class:`~theory.checking.strategies.lime.PerturbedCase`: the document and its patterns ``z ∈ {0,1}^d``.
    """
    case = draw(given_cases(max_words=8))
    Z = draw(st.lists(st.tuples(*[st.sampled_from((0, 1))] * _distinct(case)), min_size=1, max_size=max_patterns))
    return PerturbedCase(case, tuple(Z))


def trained_lime_cases() -> st.SearchStrategy[LimeCase]:
    """A held-out document's first 4 words (at most 16 distinct perturbed documents for the mpmath reference
    LIME) and a LIME seed.

    Returns:
        A strategy of :class:`~theory.checking.strategies.lime.LimeCase`; the seed in ``0..2³²−1``.
    """
    return st.builds(LimeCase, given_cases(max_words=4), st.integers(0, 2**32 - 1))


def trained_semantics_cases() -> st.SearchStrategy[SemanticsCase]:
    """A held-out document's first 5 words (2^d ≤ 32 mpmath forward passes) and a removal semantics.

    Returns:
        A strategy of :class:`~theory.checking.strategies.lime.SemanticsCase` (at least 2 distinct words; delete
        or replace).
    """
    return st.builds(SemanticsCase, given_cases(max_words=5, min_distinct=2), st.sampled_from(("delete", "replace")))


def trained_consistency_cases(min_words: int = 2, max_words: int = 6) -> st.SearchStrategy[ConsistencyCase]:
    """A held-out document's first ``max_words`` words (at least ``min_words`` distinct), a semantics and a seed.

    Args:
        min_words: the fewest distinct words, among those kept, of a drawn document.
        max_words: how many of its first words are kept.

    Returns:
        A strategy of :class:`~theory.checking.strategies.lime.ConsistencyCase`; the seed in ``0..2³¹``.
    """
    return st.builds(
        ConsistencyCase,
        given_cases(max_words=max_words, min_distinct=min_words),
        st.sampled_from(("delete", "replace")),
        st.integers(0, 2**31),
    )


def trained_approximation_cases() -> st.SearchStrategy[ApproxCase]:
    """Whole held-out documents with at least two distinct words (``β^∞`` is not identified for ``d = 1``; the
    authors' pipeline: T = 256, UNK padding), both semantics, lime's default ``ν = 0.25``, and the Monte Carlo
    seed of ``β^∞``.

    Returns:
        A strategy of :class:`~theory.checking.strategies.lime.ApproxCase`; the seed in ``0..2³¹``.
    """
    return st.builds(
        ApproxCase,
        given_cases(min_distinct=2),
        st.sampled_from(("delete", "replace")),
        st.just(0.25),
        st.integers(0, 2**31),
    )
