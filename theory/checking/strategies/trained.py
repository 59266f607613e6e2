"""Hypothesis strategies over a given model (the ``trained`` population, or a user's ``model:<name>``): the LIME
instances of :mod:`theory.checking.strategies.lime` wrapped around documents of the active population
(:mod:`theory.checking.population`; by default the committed fixture's held-out documents, :mod:`theory.sentiment`)."""

from __future__ import annotations

from hypothesis import strategies as st

from theory.checking.population import given_cases
from theory.checking.strategies.lime import (
    ApproxCase,
    ConsistencyCase,
    LimeCase,
    PerturbedCase,
    SemanticsCase,
)

# --- Trained-model instances: the same wrappers around held-out documents of the committed fixture ---------

def _distinct(case) -> int:
    return len(dict.fromkeys(case.tokens))


@st.composite
def trained_perturbed_cases(draw, max_patterns=3) -> PerturbedCase:
    """A held-out document's first 8 words and 1..max_patterns removal patterns."""
    case = draw(given_cases(max_words=8))
    Z = draw(st.lists(st.tuples(*[st.sampled_from((0, 1))] * _distinct(case)), min_size=1, max_size=max_patterns))
    return PerturbedCase(case, tuple(Z))


def trained_lime_cases() -> st.SearchStrategy[LimeCase]:
    """A held-out document's first 4 words (at most 16 distinct perturbed documents for the mpmath reference
    LIME) and a LIME seed."""
    return st.builds(LimeCase, given_cases(max_words=4), st.integers(0, 2**32 - 1))


def trained_semantics_cases() -> st.SearchStrategy[SemanticsCase]:
    """A held-out document's first 5 words (2^d ≤ 32 mpmath forward passes) and a removal semantics."""
    return st.builds(SemanticsCase, given_cases(max_words=5, min_distinct=2), st.sampled_from(("delete", "replace")))


def trained_consistency_cases(min_words=2, max_words=6) -> st.SearchStrategy[ConsistencyCase]:
    """A held-out document's first ``max_words`` words (at least ``min_words`` distinct), a semantics and a seed."""
    return st.builds(ConsistencyCase, given_cases(max_words=max_words, min_distinct=min_words),
                     st.sampled_from(("delete", "replace")), st.integers(0, 2**31))


def trained_approximation_cases() -> st.SearchStrategy[ApproxCase]:
    """Whole held-out documents with at least two distinct words (``β^∞`` is not identified for ``d = 1``; the
    authors' pipeline: T = 256, UNK padding), both semantics, lime's default ``ν = 0.25``, and the Monte Carlo
    seed of ``β^∞``."""
    return st.builds(ApproxCase, given_cases(min_distinct=2), st.sampled_from(("delete", "replace")), st.just(0.25),
                     st.integers(0, 2**31))
