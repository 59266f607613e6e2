"""Hypothesis strategies for the LIME claims (§5): removal patterns, LIME instances, kernels, test functions
of ``z``, the semantics, consistency and Monte Carlo instances, and the instances of the approximation claims
(Eq. (19), the large-d limit: growing ``d``, a word pushed out of attention, constant value scores).

Every instance wraps a :class:`~theory.checking.strategies.models.Case` (a model drawn from a seed and a text).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import cached_property
from typing import Any

import numpy as np
from hypothesis import strategies as st

from theory.checking.strategies.models import (
    SCORE_SCALES,
    VALUE_SCALES,
    Case,
    ConstantValueCase,
    Instance,
    ModelSpec,
    Sizes,
    model_specs,
    seeded_scale,
)
from theory.models.one_layer import Model, head_vectors

# --- LIME (§5): perturbation patterns and LIME instances ------------------------------------------------


@dataclass(frozen=True)
class PerturbedCase:
    """A case and removal patterns ``z ∈ {0,1}^d`` over its ``d`` distinct words (lime's feature order)."""

    case: Instance
    Z: tuple  # tuple of tuples of 0/1

    def __repr__(self) -> str:
        return f"PerturbedCase(case={self.case!r}, Z={self.Z!r})"


@st.composite
def perturbed_cases(draw: st.DrawFn, max_patterns: int = 3, pe: bool | None = None) -> PerturbedCase:
    """A case from :func:`lime_texts` (up to 10 distinct words, K ≤ 4, d_e ≤ 16; ``pe`` forces the positional
    encoding on/off) and 1..max_patterns removal patterns, all-ones and all-zeros included.

    Args:
        draw: supplied by ``@st.composite`` (callers omit it).
        max_patterns: the most removal patterns drawn (at least 1).
        pe: positional encoding forced on (True) or off (False); ``None`` draws it.

    Returns:
        A :class:`PerturbedCase`: the case and its patterns ``z ∈ {0,1}^d``, one tuple of ``d`` bits each.
    """
    case = draw(lime_texts(max_d=10, max_repeats=5, max_K=4, max_d_e=16, max_dim=8, pe=pe))
    d = len(dict.fromkeys(case.tokens))
    Z = draw(st.lists(st.tuples(*[st.sampled_from((0, 1))] * d), min_size=1, max_size=max_patterns))
    return PerturbedCase(case, tuple(Z))


@dataclass(frozen=True)
class LimeCase:
    """A case and the seed of LIME's ``RandomState``."""

    case: Instance
    seed: int

    def __repr__(self) -> str:
        return f"LimeCase(case={self.case!r}, seed={self.seed!r})"


@st.composite
def lime_texts(
    draw: st.DrawFn,
    max_d: int = 8,
    max_repeats: int = 3,
    max_K: int = 3,
    max_d_e: int = 8,
    max_dim: int = 4,
    pe: bool | None = None,
) -> Case:
    """A small model and a text with ``d`` distinct words, ``d`` drawn uniformly in ``1..max_d`` (so that LIME
    instances are not dominated by one-word texts), some of them repeated, plus 0–2 padding positions.

    Args:
        draw: supplied by ``@st.composite`` (callers omit it).
        max_d: the most distinct words.
        max_repeats: the most extra occurrences of already drawn words.
        max_K: the most heads.
        max_d_e: the largest embedding dimension (at least 2).
        max_dim: the largest ``d_att`` and ``d_out``.
        pe: positional encoding forced on (True) or off (False); ``None`` draws it.

    Returns:
        A :class:`~theory.checking.strategies.models.Case` whose ``T`` is the text's length plus 1–3.
    """
    d = draw(st.integers(1, max_d))
    repeats = draw(st.integers(0, max_repeats))
    T = d + repeats + 1 + draw(st.integers(0, 2))
    V = d + 2 + draw(st.integers(0, 6))
    spec = ModelSpec(
        K=draw(st.integers(1, max_K)),
        d_e=draw(st.integers(2, max_d_e)),
        d_att=draw(st.integers(1, max_dim)),
        d_out=draw(st.integers(1, max_dim)),
        V=V,
        T=T,
        pe=draw(st.booleans()) if pe is None else pe,
        score_scale=draw(st.sampled_from(SCORE_SCALES)),
        value_scale=draw(st.sampled_from(VALUE_SCALES)),
        seed=draw(st.integers(0, 2**32 - 1)),
    )
    spec = seeded_scale(spec)
    words = draw(st.permutations(range(2, V)))[:d]
    text = list(words) + draw(st.lists(st.sampled_from(words), min_size=repeats, max_size=repeats))
    return Case(spec, tuple(draw(st.permutations(text))))


@st.composite
def lime_cases(draw: st.DrawFn, **text_ranges: Any) -> LimeCase:
    """A small case from :func:`lime_texts` (a reference LIME of ~100 mpmath forward passes stays quick)
    and a LIME seed.

    Args:
        draw: supplied by ``@st.composite`` (callers omit it).
        **text_ranges: keyword arguments of :func:`lime_texts`.

    Returns:
        A :class:`LimeCase`: the case and a seed in ``0..2³²−1`` for LIME's ``RandomState``.
    """
    return LimeCase(draw(lime_texts(**text_ranges)), draw(st.integers(0, 2**32 - 1)))


# --- LIME's population limit β^∞ (§5): generic functions of z, equal-score models ------------------------

KERNEL_NUS = (0.25, 0.25, 0.15, 0.5, 1.0, 5.0, 100.0)  # ν = w/100; lime's default 0.25 twice as likely
FUNCTION_SHAPES = ("gaussian", "offset", "sparse", "linear", "interaction")


@dataclass(frozen=True)
class FunctionSpec:
    """A function ``f`` of ``z ∈ {0,1}^d`` given by its values on the ``2^d`` patterns (pattern ``k`` has
    ``z_j = (k >> j) & 1``), drawn from ``numpy.random.default_rng(seed)``, and a kernel width ``ν``.

    Shapes: ``gaussian`` (i.i.d. values), ``offset`` (a constant 1000× larger than the variation: the
    closed form must cancel it), ``sparse`` (90% zeros), ``linear`` (``λ_0 + ⟨λ, z⟩``, see :meth:`linear`),
    ``interaction`` (a product of two words plus noise)."""

    d: int = 2
    nu: float = 0.25
    seed: int = 0
    shape: str = "gaussian"
    scale: float = 1.0

    def linear(self) -> tuple[float, np.ndarray]:
        """``(λ_0, λ)`` of the ``linear`` shape (and of the linear part of the others).

        Returns:
            The intercept ``λ_0`` and the ``(d,)`` slopes ``λ``, drawn from ``default_rng([seed, 1])`` times ``scale``.
        """
        rng = np.random.default_rng([self.seed, 1])
        return float(rng.standard_normal() * self.scale), rng.standard_normal(self.d) * self.scale

    def values(self) -> np.ndarray:
        """The values of ``f`` on the ``2^d`` patterns, by the spec's shape (class docstring).

        Returns:
            ``(2^d,)`` float64: entry ``k`` is ``f`` at the pattern with ``z_j = (k >> j) & 1``.
        """
        rng = np.random.default_rng(self.seed)
        k = np.arange(2**self.d)
        Z = ((k[:, None] >> np.arange(self.d)) & 1).astype(np.float64)
        noise = rng.standard_normal(2**self.d) * self.scale
        lam0, lam = self.linear()
        if self.shape == "gaussian":
            return noise
        if self.shape == "offset":
            return 1000.0 * self.scale + noise
        if self.shape == "sparse":
            return noise * (rng.random(2**self.d) < 0.1)
        if self.shape == "linear":
            return lam0 + Z @ lam
        return lam0 + Z @ lam + 3 * self.scale * Z[:, 0] * Z[:, -1] + 0.1 * noise  # interaction


@st.composite
def function_specs(
    draw: st.DrawFn, min_d: int = 2, max_d: int = 10, shapes: Sequence[str] = FUNCTION_SHAPES
) -> FunctionSpec:
    """``d`` in ``min_d..max_d`` (2^d patterns enumerated by the mpmath reference), ``ν`` from
    :data:`KERNEL_NUS` (down to 0.15, where the weighted normal matrix of ``d = 2`` has lost 9 digits;
    smaller ``ν`` makes it singular in float64), a shape and a scale.

    Args:
        draw: supplied by ``@st.composite`` (callers omit it).
        min_d: the fewest features.
        max_d: the most features.
        shapes: the shapes to choose from (a subset of :data:`FUNCTION_SHAPES`).

    Returns:
        A :class:`FunctionSpec`; scale 1, 1e-3 or 1e3.
    """
    return FunctionSpec(
        d=draw(st.sampled_from(range(min_d, max_d + 1))),
        nu=draw(st.sampled_from(KERNEL_NUS)),
        seed=draw(st.integers(0, 2**32 - 1)),
        shape=draw(st.sampled_from(shapes)),
        scale=draw(st.sampled_from((1.0, 1e-3, 1e3))),
    )


def linear_specs() -> st.SearchStrategy[FunctionSpec]:
    """Linear functions ``f(z) = λ_0 + ⟨λ, z⟩`` (:class:`FunctionSpec` of shape ``linear``).

    Returns:
        A strategy of linear :class:`FunctionSpec`.
    """
    return function_specs(shapes=("linear",))


@dataclass(frozen=True)
class SemanticsCase:
    """A small case whose text has ``2 ≤ d ≤ 5`` distinct words (the reference runs ``2^d`` mpmath forward
    passes) and a removal semantics."""

    case: Instance
    semantics: str

    def __repr__(self) -> str:
        return f"SemanticsCase(case={self.case!r}, semantics={self.semantics!r})"


BETA_INF_SIZES = dict(max_K=3, max_d_e=6, max_d=4, max_V=12, min_T=4, max_T=9)


@st.composite
def two_word_specs(draw: st.DrawFn, **ranges: Any) -> ModelSpec:
    """A :func:`model_specs` spec with room for several distinct words (``V ≥ 8``).

    Args:
        draw: supplied by ``@st.composite`` (callers omit it).
        **ranges: keyword arguments of :func:`~theory.checking.strategies.models.model_specs`.

    Returns:
        A :class:`~theory.checking.strategies.models.ModelSpec` with ``V`` raised to at least 8.
    """
    spec = draw(model_specs(**ranges))
    return ModelSpec(**{**spec.__dict__, "V": max(spec.V, 8)})


@st.composite
def few_word_texts(draw: st.DrawFn, spec: Sizes, max_words: int = 5, min_words: int = 2) -> tuple[int, ...]:
    """A text of ``d..T−1`` words with ``d`` distinct ids, ``d`` drawn uniformly from
    ``min_words..min(max_words, V−2, T−1)`` (repeats allowed).

    Args:
        draw: supplied by ``@st.composite`` (callers omit it).
        spec: the model the text is for.
        max_words: the most distinct words.
        min_words: the fewest distinct words.

    Returns:
        The word ids in text order, each of the ``d`` distinct ids at least once.

    Raises:
        ValueError: ``spec`` has no room for ``min_words`` distinct words (``V < min_words + 2`` or
            ``T < min_words + 1``).
    """
    if spec.V < min_words + 2 or spec.T < min_words + 1:
        raise ValueError(f"few_word_texts needs V >= {min_words + 2} and T >= {min_words + 1}")
    d = draw(st.sampled_from(range(min_words, min(max_words, spec.V - 2, spec.T - 1) + 1)))
    length = draw(st.integers(d, spec.T - 1))
    pool = draw(st.lists(st.sampled_from(range(2, spec.V)), min_size=d, max_size=d, unique=True))
    words = draw(st.lists(st.sampled_from(pool), min_size=length - len(pool), max_size=length - len(pool)))
    order = draw(st.permutations(pool + words))  # every pooled id occurs at least once
    return tuple(order)


@st.composite
def semantics_cases(draw: st.DrawFn, semantics: Sequence[str] = ("delete", "replace")) -> SemanticsCase:
    """A small case (:data:`BETA_INF_SIZES`, 2..5 distinct words) and a removal semantics.

    Args:
        draw: supplied by ``@st.composite`` (callers omit it).
        semantics: the removal semantics to choose from (names of :mod:`theory.models.removal`).

    Returns:
        A :class:`SemanticsCase`.
    """
    spec = draw(two_word_specs(**BETA_INF_SIZES))
    return SemanticsCase(Case(spec, draw(few_word_texts(spec))), draw(st.sampled_from(semantics)))


@dataclass(frozen=True)
class EqualScoresCase(Case):
    """A case whose model scores UNK exactly like every word (``s̃_t = s_t`` at each word position, every head).

    Built from ``spec``: every word embedding agrees with ``E[UNK]`` outside the first ``rank`` coordinates,
    and every ``W_k`` is zero on those coordinates, so ``W_k E[w] = W_k E[UNK]`` exactly in float64 and in
    mpmath.  This is the general case up to a rotation: ``s̃_t = s_t`` for all words of a text means
    ``⟨W_kᵀq, E[w] − E[UNK]⟩ = 0`` for each of them, so a word's score depends on its position only.  The
    value path (``W_v``, ``W_ℓ``) is untouched, so ``c̃_t ≠ c_t``."""

    rank: int = 1

    @cached_property
    def model(self) -> Model:
        """The model of ``spec`` changed as the class docstring says, so UNK scores exactly like every word.

        Returns:
            The §2 model with ``E``'s word rows equal to ``E[UNK]`` beyond the first ``rank`` coordinates and
            ``W_k`` zero on those.
        """
        base = self.spec.build()
        r = self.rank
        E = base.E.copy()
        words = np.array([i for i in range(base.V) if i not in (base.cls_id, base.unk_id)])
        E[np.ix_(words, np.arange(r, base.d_e))] = base.E[base.unk_id, r:]
        Wk = base.Wk.copy()
        Wk[:, :, :r] = 0.0
        return base.replace(E=E, Wk=Wk)

    def __repr__(self) -> str:
        return f"EqualScoresCase(spec={self.spec!r}, tokens={self.tokens!r}, rank={self.rank!r})"


@st.composite
def equal_scores_cases(draw: st.DrawFn) -> EqualScoresCase:
    """Equal-score models (:class:`EqualScoresCase`) at :data:`BETA_INF_SIZES` with 2..5 distinct words.

    Args:
        draw: supplied by ``@st.composite`` (callers omit it).

    Returns:
        An :class:`EqualScoresCase` with ``rank`` in ``1..d_e−1``.
    """
    spec = draw(two_word_specs(**BETA_INF_SIZES))
    return EqualScoresCase(spec, draw(few_word_texts(spec)), draw(st.integers(1, spec.d_e - 1)))


@dataclass(frozen=True)
class ConsistencyCase:
    """A case (``2 ≤ d ≤ 6``), a removal semantics and the first seed of the repeated LIME runs."""

    case: Instance
    semantics: str
    seed: int

    def __repr__(self) -> str:
        return f"ConsistencyCase(case={self.case!r}, semantics={self.semantics!r}, seed={self.seed!r})"


@st.composite
def consistency_cases(draw: st.DrawFn) -> ConsistencyCase:
    """Cases of 2..6 distinct words (K ≤ 3, d_e ≤ 8, T 4..12), a semantics (delete or replace) and a LIME seed.

    Args:
        draw: supplied by ``@st.composite`` (callers omit it).

    Returns:
        A :class:`ConsistencyCase`; the seed in ``0..2³¹``.
    """
    spec = draw(two_word_specs(max_K=3, max_d_e=8, max_d=4, max_V=12, min_T=4, max_T=12))
    return ConsistencyCase(
        Case(spec, draw(few_word_texts(spec, max_words=6))),
        draw(st.sampled_from(("delete", "replace"))),
        draw(st.integers(0, 2**31)),
    )


@st.composite
def monte_carlo_cases(draw: st.DrawFn) -> ConsistencyCase:
    """A case with ``11 ≤ d ≤ 13`` distinct words (beyond :func:`theory.explainers.lime_inf.beta_inf_model`'s
    exact range, still cheap to enumerate), a semantics and a Monte Carlo seed.

    Args:
        draw: supplied by ``@st.composite`` (callers omit it).

    Returns:
        A :class:`ConsistencyCase` (``V ≥ 16``, T 14..24); the seed in ``0..2³¹``.
    """
    spec = draw(model_specs(max_K=3, max_d_e=8, max_d=4, max_V=30, min_T=14, max_T=24))
    spec = ModelSpec(**{**spec.__dict__, "V": max(spec.V, 16)})
    return ConsistencyCase(
        Case(spec, draw(few_word_texts(spec, max_words=13, min_words=11))),
        draw(st.sampled_from(("delete", "replace"))),
        draw(st.integers(0, 2**31)),
    )


# --- approximations of β^∞ (§5, issue 5): Eq. (19), the large-d limit, zero attention, affine form ------

APPROX_DS = tuple(range(2, 11)) + (20, 40, 80)  # exact β^∞ up to 10, stratified Monte Carlo beyond


@dataclass(frozen=True)
class ApproxCase:
    """A case, a removal semantics, LIME's kernel width ``ν`` and the Monte Carlo seed of ``β^∞`` (unused when
    the text has ``d ≤ 10`` distinct words: ``β^∞`` is then enumerated exactly)."""

    case: Instance
    semantics: str
    nu: float
    seed: int

    def __repr__(self) -> str:
        return f"ApproxCase(case={self.case!r}, semantics={self.semantics!r}, nu={self.nu!r}, seed={self.seed!r})"


@st.composite
def approximation_cases(draw: st.DrawFn, semantics: Sequence[str] = ("replace", "delete")) -> ApproxCase:
    """Models of :func:`model_specs`' ranges (K ≤ 4, d_e ≤ 16, all score scales) and texts with ``d`` distinct
    words, ``d`` from :data:`APPROX_DS` (2..10, 20, 40, 80), up to ``d/2`` repeats and up to 8 padding positions;
    ``ν`` 0.25 (twice as likely), 0.5 or 1.

    Args:
        draw: supplied by ``@st.composite`` (callers omit it).
        semantics: the removal semantics to choose from (names of :mod:`theory.models.removal`).

    Returns:
        An :class:`ApproxCase`; the Monte Carlo seed in ``0..2³¹``.
    """
    d = draw(st.sampled_from(APPROX_DS))
    repeats = draw(st.integers(0, d // 2))
    T = d + repeats + 1 + draw(st.integers(0, 8))
    V = d + 2 + draw(st.integers(0, 6))
    spec = ModelSpec(
        K=draw(st.integers(1, 4)),
        d_e=draw(st.integers(2, 16)),
        d_att=draw(st.integers(1, 8)),
        d_out=draw(st.integers(1, 8)),
        V=V,
        T=T,
        pe=draw(st.booleans()),
        score_scale=draw(st.sampled_from(SCORE_SCALES)),
        value_scale=draw(st.sampled_from(VALUE_SCALES)),
        seed=draw(st.integers(0, 2**32 - 1)),
    )
    spec = seeded_scale(spec)
    words = draw(st.permutations(range(2, V)))[:d]
    text = list(words) + draw(st.lists(st.sampled_from(words), min_size=repeats, max_size=repeats))
    return ApproxCase(
        Case(spec, tuple(draw(st.permutations(text)))),
        draw(st.sampled_from(semantics)),
        draw(st.sampled_from((0.25, 0.25, 0.5, 1.0))),
        draw(st.integers(0, 2**31)),
    )


@dataclass(frozen=True)
class GrowingCase:
    """A family of ``models`` random models (``spec`` with seeds ``spec.seed + k``; its ``T`` is ignored), each
    explained on texts of growing length: for each ``d`` of ``ds`` the text is the first ``d`` words of
    ``order`` (distinct, each once), followed by ``padding`` UNK positions (``T = d + 1 + padding``; the weights
    do not depend on ``T``)."""

    spec: ModelSpec
    order: tuple  # a permutation of the word ids 2..V-1
    padding: int
    ds: tuple = (4, 6, 8, 11, 16)
    models: int = 8

    def instance(self, d: int, k: int = 0) -> tuple[Model, np.ndarray, int]:
        """Model ``k`` of the family and its text of ``d`` distinct words.

        Args:
            d: the number of distinct words (the first ``d`` of :attr:`order`).
            k: which model of the family: seed ``spec.seed + k`` (mod 2³²), ``0 ≤ k < models``.

        Returns:
            ``(model, doc, d)``: the §2 model with ``T = d + 1 + padding``, the ``(T,)`` padded document, and ``d``.
        """
        from theory.models.one_layer import document

        model = ModelSpec(
            **{**self.spec.__dict__, "T": d + 1 + self.padding, "seed": (self.spec.seed + k) % 2**32}
        ).build()
        tokens = self.order[:d]
        return model, document(model, tokens), d

    def __repr__(self) -> str:
        return (
            f"GrowingCase(spec={self.spec!r}, order={self.order!r}, padding={self.padding!r}, ds={self.ds!r}, "
            f"models={self.models!r})"
        )


@st.composite
def growing_cases(draw: st.DrawFn) -> GrowingCase:
    """Flat to moderate attention (score scales 0.3 and 1: no word keeps a fixed share of the attention as
    ``d`` grows), K ≤ 4, d_e ≤ 16, positional encoding on or off, 0–4 padding positions.

    Args:
        draw: supplied by ``@st.composite`` (callers omit it).

    Returns:
        A :class:`GrowingCase` with ``V = 18`` (16 words to order).
    """
    V = 18
    spec = ModelSpec(
        K=draw(st.integers(1, 4)),
        d_e=draw(st.integers(2, 16)),
        d_att=draw(st.integers(1, 8)),
        d_out=draw(st.integers(1, 8)),
        V=V,
        T=2,
        pe=draw(st.booleans()),
        score_scale=draw(st.sampled_from((0.3, 1.0))),
        value_scale=draw(st.sampled_from(VALUE_SCALES)),
        seed=draw(st.integers(0, 2**32 - 1)),
    )
    return GrowingCase(seeded_scale(spec), tuple(draw(st.permutations(range(2, V)))), draw(st.integers(0, 4)))


@dataclass(frozen=True)
class VanishingCase:
    """A case whose word ``target`` (an index into the distinct words) is pushed out of every head's attention:
    ``E[w]`` moves along the least-norm ``v`` with ``⟨u_i, v⟩ = −1`` and ``⟨w_c^(i), v⟩ = 0`` for every head
    (``u_i = W_k^(i)ᵀ q_i/√d_att``, ``w_c^(i) = W_v^(i)ᵀ W_ℓ^(i)ᵀ``), so :meth:`model` at ``λ`` lowers that word's
    scores by exactly ``λ`` in every head and leaves its value scores unchanged (needs ``d_e ≥ 2K``)."""

    case: Case  # a random §2 model's case (vanishing_cases): the construction moves its E
    target: int

    def model(self, lam: float) -> Model:
        """The model with the target word's embedding moved by ``lam`` along ``v`` (class docstring).

        Args:
            lam: ``λ``, how far the word's scores are lowered in every head (in score units).

        Returns:
            The §2 model with ``E[w] + λ v`` in place of the target word's row.
        """
        base = self.case.model
        C = np.concatenate(head_vectors(base))
        v = np.linalg.lstsq(C, np.concatenate([-np.ones(base.K), np.zeros(base.K)]), rcond=None)[0]
        word = list(dict.fromkeys(self.case.tokens))[self.target]
        E = base.E.copy()
        E[word] = E[word] + lam * v
        return base.replace(E=E)

    def __repr__(self) -> str:
        return f"VanishingCase(case={self.case!r}, target={self.target!r})"


@st.composite
def vanishing_cases(draw: st.DrawFn) -> VanishingCase:
    """K ≤ 3, ``d_e`` from ``2K`` to 12, 2..6 distinct words each once (plus 0–2 padding), score scales
    0.3–10, and the index of the word to push out of the attention.

    Args:
        draw: supplied by ``@st.composite`` (callers omit it).

    Returns:
        A :class:`VanishingCase`.
    """
    K = draw(st.integers(1, 3))
    d = draw(st.integers(2, 6))
    spec = ModelSpec(
        K=K,
        d_e=draw(st.integers(2 * K, 12)),
        d_att=draw(st.integers(1, 4)),
        d_out=draw(st.integers(1, 4)),
        V=d + 2 + draw(st.integers(0, 4)),
        T=d + 1 + draw(st.integers(0, 2)),
        pe=draw(st.booleans()),
        score_scale=draw(st.sampled_from((0.3, 1.0, 3.0, 10.0))),
        value_scale=draw(st.sampled_from(VALUE_SCALES)),
        seed=draw(st.integers(0, 2**32 - 1)),
    )
    words = tuple(draw(st.permutations(range(2, spec.V)))[:d])
    return VanishingCase(Case(spec, words), draw(st.integers(0, d - 1)))


@dataclass(frozen=True)
class AffineCase(ConstantValueCase):
    """A :class:`ConstantValueCase` whose UNK row is then moved (least norm) so that UNK's value score is
    ``c̃^(i) = c^(i) + unk_offsets[i]`` in every head and at every position (otherwise ``c̃ = c``, ``f`` is constant
    in ``z`` and ``β^∞ = 0``)."""

    unk_offsets: tuple = ()

    @cached_property
    def model(self) -> Model:
        """The :class:`ConstantValueCase` model with UNK's row moved as the class docstring says.

        Returns:
            The §2 model whose UNK value score is ``c^(i) + unk_offsets[i]`` in every head.
        """
        base = self._projected()
        wc = head_vectors(base)[1]
        E = base.E.copy()
        E[base.unk_id] += np.linalg.lstsq(wc, np.asarray(self.unk_offsets, dtype=float), rcond=None)[0]
        return base.replace(E=E)

    def __repr__(self) -> str:
        return (
            f"AffineCase(spec={self.spec!r}, tokens={self.tokens!r}, constants={self.constants!r}, "
            f"unk_offsets={self.unk_offsets!r})"
        )


@st.composite
def affine_cases(draw: st.DrawFn) -> AffineCase:
    """:class:`AffineCase` models (value scores constant within each head, UNK's different by a non-zero
    offset) and texts of 2..6 distinct words, each once (the premise of ``lime.affine_in_attention``);
    ``K = 1`` with positional encoding off one time in three.

    Args:
        draw: supplied by ``@st.composite`` (callers omit it).

    Returns:
        An :class:`AffineCase`; constants and offsets ``±0.25 … ±4``.
    """
    simple = draw(st.integers(0, 2)) == 0
    K = 1 if simple else draw(st.integers(1, 3))
    d = draw(st.integers(2, 6))
    T = d + 1 + draw(st.integers(0, 2))
    pe = False if simple else draw(st.booleans())
    low = K + T - 1 if pe else max(2, K)
    spec = ModelSpec(
        K=K,
        d_e=draw(st.integers(low, low + 2)),
        d_att=draw(st.integers(1, 4)),
        d_out=draw(st.integers(1, 4)),
        V=d + 2 + draw(st.integers(0, 4)),
        T=T,
        pe=pe,
        score_scale=draw(st.sampled_from(SCORE_SCALES[:-1])),
        value_scale=draw(st.sampled_from(VALUE_SCALES)),
        seed=draw(st.integers(0, 2**32 - 1)),
    )

    def values() -> tuple[float, ...]:
        return tuple(
            draw(st.sampled_from((1, -1))) * draw(st.sampled_from((0.25, 0.5, 1.0, 1.5, 4.0))) for _ in range(K)
        )

    constants, offsets = values(), values()
    words = tuple(draw(st.permutations(range(2, spec.V)))[:d])
    return AffineCase(spec, words, constants, offsets)
