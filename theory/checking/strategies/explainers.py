"""Hypothesis strategies for the claims of docs/theory.md §11.2 (Shapley, KernelSHAP, occlusion, Integrated
Gradients, SmoothGrad, C-LIME): small models and texts under every removal semantics, tiny models for the
mpmath quadratures, and the zero-attention constructions (reusing
:class:`~theory.checking.strategies.lime.VanishingCase`).
"""

from __future__ import annotations

from dataclasses import dataclass

from hypothesis import strategies as st

from theory.checking.strategies.lime import (
    BETA_INF_SIZES,
    SemanticsCase,
    VanishingCase,
    few_word_texts,
    two_word_specs,
    vanishing_cases,
)
from theory.checking.strategies.models import VALUE_SCALES, Case, ModelSpec


@st.composite
def semantics(draw: st.DrawFn, spec: ModelSpec, substitutions_only: bool = False) -> str:
    """A removal semantics of :mod:`theory.models.removal` for ``spec``: ``mask:ID`` with any id but CLS (0).

    Args:
        draw: supplied by ``@st.composite`` (callers omit it).
        spec: the model (its ``V`` bounds the mask id).
        substitutions_only: leave out ``delete`` (for methods that need a baseline document of the same length).

    Returns:
        ``"delete"``, ``"replace"``, ``"zero"`` or ``"mask:ID"`` with ``ID`` in ``1..V−1``.
    """
    choices = ["replace", "zero", f"mask:{draw(st.integers(1, spec.V - 1))}"]
    return draw(st.sampled_from(choices if substitutions_only else ["delete"] + choices))


@st.composite
def removal_cases(draw: st.DrawFn, substitutions_only: bool = False) -> SemanticsCase:
    """A small case (2..5 distinct words, repeats allowed; :data:`BETA_INF_SIZES`) and any removal semantics.

    Args:
        draw: supplied by ``@st.composite`` (callers omit it).
        substitutions_only: leave out ``delete`` (see :func:`semantics`).

    Returns:
        A :class:`~theory.checking.strategies.lime.SemanticsCase`.
    """
    spec = draw(two_word_specs(**BETA_INF_SIZES))
    return SemanticsCase(Case(spec, draw(few_word_texts(spec))), draw(semantics(spec, substitutions_only)))


@st.composite
def integrated_cases(draw: st.DrawFn) -> SemanticsCase:
    """Tiny models for the mpmath quadrature of the brute-force gradient (K ≤ 2, d_e ≤ 3, T ≤ 5, score scales
    ≤ 3) and a baseline (replace, zero or mask:ID).

    Args:
        draw: supplied by ``@st.composite`` (callers omit it).

    Returns:
        A :class:`~theory.checking.strategies.lime.SemanticsCase` whose semantics is a substitution.
    """
    spec = ModelSpec(
        K=draw(st.integers(1, 2)),
        d_e=draw(st.integers(2, 3)),
        d_att=draw(st.integers(1, 2)),
        d_out=draw(st.integers(1, 2)),
        V=draw(st.integers(4, 8)),
        T=draw(st.integers(2, 5)),
        pe=draw(st.booleans()),
        score_scale=draw(st.sampled_from((0.3, 1.0, 3.0))),
        value_scale=draw(st.sampled_from(VALUE_SCALES)),
        seed=draw(st.integers(0, 2**32 - 1)),
    )
    length = draw(st.integers(1, spec.T - 1))
    tokens = tuple(draw(st.lists(st.integers(2, spec.V - 1), min_size=length, max_size=length)))
    return SemanticsCase(Case(spec, tokens), draw(semantics(spec, substitutions_only=True)))


@dataclass(frozen=True)
class NoiseCase:
    """A case for the Gauss–Hermite populations (T = 2: CLS and one word; d_e = 2: four noise dimensions), a
    noise level and the Monte Carlo seed."""

    case: Case
    sigma: float
    seed: int

    def __repr__(self) -> str:
        return f"NoiseCase(case={self.case!r}, sigma={self.sigma!r}, seed={self.seed!r})"


@st.composite
def noise_cases(draw: st.DrawFn) -> NoiseCase:
    """Cases for the Gauss–Hermite populations (:class:`NoiseCase`: T = 2, d_e = 2, K ≤ 2, one of two words), a noise
    level ``σ`` (0.1 or 0.3) and a Monte Carlo seed.

    Args:
        draw: supplied by ``@st.composite`` (callers omit it).

    Returns:
        A :class:`NoiseCase`; the seed in ``0..2³¹``.
    """
    spec = ModelSpec(
        K=draw(st.integers(1, 2)),
        d_e=2,
        d_att=draw(st.integers(1, 2)),
        d_out=draw(st.integers(1, 2)),
        V=4,
        T=2,
        pe=draw(st.booleans()),
        score_scale=draw(st.sampled_from((0.3, 1.0, 3.0))),
        value_scale=1.0,
        seed=draw(st.integers(0, 2**32 - 1)),
    )
    return NoiseCase(
        Case(spec, (draw(st.integers(2, 3)),)), draw(st.sampled_from((0.1, 0.3))), draw(st.integers(0, 2**31))
    )


@dataclass(frozen=True)
class VanishingNoiseCase:
    """A :class:`VanishingCase` and a SmoothGrad noise level and seed."""

    vanishing: VanishingCase
    sigma: float
    seed: int

    def __repr__(self) -> str:
        return f"VanishingNoiseCase(vanishing={self.vanishing!r}, sigma={self.sigma!r}, seed={self.seed!r})"


@st.composite
def vanishing_noise_cases(draw: st.DrawFn) -> VanishingNoiseCase:
    """A :func:`~theory.checking.strategies.lime.vanishing_cases` instance, a SmoothGrad noise level ``σ`` (0.3 or 1)
    and a seed.

    Args:
        draw: supplied by ``@st.composite`` (callers omit it).

    Returns:
        A :class:`VanishingNoiseCase`; the seed in ``0..2³¹``.
    """
    return VanishingNoiseCase(draw(vanishing_cases()), draw(st.sampled_from((0.3, 1.0))), draw(st.integers(0, 2**31)))
