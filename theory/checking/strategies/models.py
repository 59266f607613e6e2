"""Hypothesis strategies for the instances the claims are about.

An instance is a :class:`Case`: a :class:`ModelSpec` (sizes, scales and the seed of the numpy generator
that draws the weights) plus the words of a text.  Drawing the weights from a seed keeps instances small
and readable, makes every counterexample reproducible from its repr, and lets Hypothesis shrink towards
small models (``K=1``, ``d_e=2``, seed 0) instead of shrinking thousands of floats.

Ranges (issue 2): K 1–4, d_e 2–16, d_att and d_out 1–8, V up to ~50, T up to 32, attention from flat to
very peaked (``score_scale``: the standard deviation of the scores, up to 1000, far past the float64
overflow of ``exp`` at 709.8), positional encoding on and off, scores divided by ``√d_att`` or not (``scale``,
off for a quarter of the models: those whose drawn seed is 3 mod 4 — a function of the seed rather than a draw
of its own, so that every claim's Hypothesis choice sequence, hence every instance but the weights of those
models, is what it was before the key existed; shrinking the seed towards 0 turns it back on), repeated words
and padding.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from functools import cached_property
from typing import Any, Protocol

import numpy as np
from hypothesis import assume
from hypothesis import strategies as st

from theory.models.one_layer import Model, document, forward
from theory.models.protocol import AttentionClassifier

SCORE_SCALES = (0.01, 0.3, 1.0, 3.0, 10.0, 1000.0)
VALUE_SCALES = (1.0, 0.1, 10.0)


class Sizes(Protocol):
    """What a text strategy reads of a spec (:class:`ModelSpec`, the encoder's ``EncoderSpec``): the vocabulary
    size ``V`` and the document length ``T``."""

    @property
    def V(self) -> int: ...

    @property
    def T(self) -> int: ...


class Instance(Protocol):
    """What the instance wrappers (``PerturbedCase``, ``LimeCase`` …) hold: :class:`Case`, or a given population's
    ``GivenCase`` (:mod:`theory.checking.population`), which has the same interface."""

    @property
    def model(self) -> AttentionClassifier: ...

    @property
    def tokens(self) -> tuple: ...

    @property
    def doc(self) -> np.ndarray: ...


@dataclass(frozen=True)
class ModelSpec:
    """A random model: weights ``~ N(0, ·)`` from ``numpy.random.default_rng(seed)``.

    ``score_scale`` is the standard deviation of the attention scores (both ``W_q`` and ``W_k`` are scaled
    by its square root); ``value_scale`` scales ``W_ℓ``; ``scale`` is the model's ``.npz`` key (scores divided by
    ``√d_att`` or not).  CLS is id 0 and UNK is id 1.  The repr leaves ``scale`` out at its default, so that
    the counterexamples recorded before it existed still read as the same instances.
    """

    K: int = 1
    d_e: int = 2
    d_att: int = 1
    d_out: int = 1
    V: int = 3
    T: int = 2
    pe: bool = False
    score_scale: float = 1.0
    value_scale: float = 1.0
    seed: int = 0
    scale: bool = True

    def __repr__(self) -> str:
        fields = [
            f"{name}={getattr(self, name)!r}" for name in self.__dataclass_fields__ if name != "scale" or not self.scale
        ]
        return f"ModelSpec({', '.join(fields)})"

    def build(self) -> Model:
        """The model of this spec, its weights drawn from ``numpy.random.default_rng(seed)`` in a fixed order.

        Returns:
            The §2 model: ``E`` ``(V, d_e)`` ~ N(0, 1); ``W_q``, ``W_k`` ``(K, d_att, d_e)`` ~ N(0, score_scale/d_e);
            ``W_v`` ``(K, d_out, d_e)`` ~ N(0, 1/d_e); ``W_ℓ`` ``(K, d_out)`` ~ N(0, value_scale²/d_out); CLS 0, UNK 1.
        """
        rng = np.random.default_rng(self.seed)
        root = np.sqrt(self.score_scale)
        E = rng.standard_normal((self.V, self.d_e))
        Wq = rng.standard_normal((self.K, self.d_att, self.d_e)) * root / np.sqrt(self.d_e)
        Wk = rng.standard_normal((self.K, self.d_att, self.d_e)) * root / np.sqrt(self.d_e)
        Wv = rng.standard_normal((self.K, self.d_out, self.d_e)) / np.sqrt(self.d_e)
        Wl = rng.standard_normal((self.K, self.d_out)) * self.value_scale / np.sqrt(self.d_out)
        return Model(E, Wq, Wk, Wv, Wl, cls_id=0, unk_id=1, max_len=self.T, pe=self.pe, scale=self.scale)


@dataclass(frozen=True)
class Case:
    """One model and one text; ``doc`` is the padded document ``(CLS, words…, UNK…)``."""

    spec: ModelSpec
    tokens: tuple

    @cached_property
    def model(self) -> Model:
        """The case's model, built once from :attr:`spec`.

        Returns:
            ``spec.build()``.
        """
        return self.spec.build()

    @cached_property
    def doc(self) -> np.ndarray:
        """The padded document of the case's text.

        Returns:
            ``(T,)`` int64 token ids ``(CLS, words…, UNK…)``.
        """
        return document(self.model, self.tokens)

    def __repr__(self) -> str:
        return f"Case(spec={self.spec!r}, tokens={self.tokens!r})"


@st.composite
def model_specs(
    draw: st.DrawFn,
    max_K: int = 4,
    max_d_e: int = 16,
    max_d: int = 8,
    max_V: int = 50,
    min_T: int = 2,
    max_T: int = 32,
    score_scales: Sequence[float] = SCORE_SCALES,
) -> ModelSpec:
    """Random model specs over the module docstring's ranges (keyword arguments narrow them); ``scale`` from the
    seed (:func:`seeded_scale`).

    Args:
        draw: supplied by ``@st.composite`` (callers omit it).
        max_K: the largest number of heads (at least 1).
        max_d_e: the largest embedding dimension (at least 2).
        max_d: the largest ``d_att`` and ``d_out`` (at least 1).
        max_V: the largest vocabulary size (at least 3: CLS, UNK and one word).
        min_T: the smallest document length (at least 2: CLS and one word).
        max_T: the largest document length.
        score_scales: the standard deviations of the attention scores to choose from.

    Returns:
        A :class:`ModelSpec` per draw; ``value_scale`` from :data:`VALUE_SCALES`, the seed in ``0..2³²−1``.
    """
    spec = ModelSpec(
        K=draw(st.integers(1, max_K)),
        d_e=draw(st.integers(2, max_d_e)),
        d_att=draw(st.integers(1, max_d)),
        d_out=draw(st.integers(1, max_d)),
        V=draw(st.integers(3, max_V)),
        T=draw(st.integers(min_T, max_T)),
        pe=draw(st.booleans()),
        score_scale=draw(st.sampled_from(score_scales)),
        value_scale=draw(st.sampled_from(VALUE_SCALES)),
        seed=draw(st.integers(0, 2**32 - 1)),
    )
    return seeded_scale(spec)


def seeded_scale(spec: ModelSpec) -> ModelSpec:
    """``spec`` with the ``scale`` of a random model: off when its seed is 3 mod 4 (module docstring) — no draw
    of its own, so the strategies that use it keep their Hypothesis choice sequence.

    Args:
        spec: a drawn spec.

    Returns:
        ``spec`` with ``scale = (seed % 4 != 3)``.
    """
    return replace(spec, scale=spec.seed % 4 != 3)


@st.composite
def texts(draw: st.DrawFn, spec: Sizes, min_len: int = 1) -> tuple[int, ...]:
    """Words of a text for ``spec``: 1..T-1 words drawn from a pool of distinct ids (so repeats happen,
    down to a single word repeated everywhere); the rest of the document is padding.

    Args:
        draw: supplied by ``@st.composite`` (callers omit it).
        spec: the model the text is for (its ``V`` bounds the ids, its ``T`` the length).
        min_len: the fewest words (at most ``T − 1``).

    Returns:
        The word ids (in ``2..V−1``: neither CLS nor UNK), ``min_len..T−1`` of them.
    """
    length = draw(st.integers(min_len, spec.T - 1))
    words = list(range(2, spec.V))
    pool = draw(st.lists(st.sampled_from(words), min_size=1, max_size=min(length, len(words)), unique=True))
    return tuple(draw(st.lists(st.sampled_from(pool), min_size=length, max_size=length)))


@st.composite
def cases(draw: st.DrawFn, **spec_ranges: Any) -> Case:
    """A model from :func:`model_specs` (keyword arguments narrow its ranges) and a text for it.

    Args:
        draw: supplied by ``@st.composite`` (callers omit it).
        **spec_ranges: keyword arguments of :func:`model_specs`.

    Returns:
        A :class:`Case` per draw.
    """
    spec = draw(model_specs(**spec_ranges))
    return Case(spec, draw(texts(spec)))


# --- gradient claims (issue 3) ------------------------------------------------------------------------------
#: sizes at which the brute-force gradient (two mpmath forward passes per entry) stays well under a second
GRADIENT_SIZES = dict(max_K=3, max_d_e=6, max_d=4, max_V=12, max_T=8)


@st.composite
def gradient_cases(draw: st.DrawFn, min_words: int = 1, **spec_ranges: Any) -> Case:
    """:func:`cases` at :data:`GRADIENT_SIZES` (keyword arguments override them), with at least ``min_words``
    words in the text (the model's ``T`` is drawn large enough).

    Args:
        draw: supplied by ``@st.composite`` (callers omit it).
        min_words: the fewest words of the text.
        **spec_ranges: keyword arguments of :func:`model_specs`, overriding :data:`GRADIENT_SIZES`.

    Returns:
        A :class:`Case` per draw.
    """
    ranges = {**GRADIENT_SIZES, "min_T": min_words + 1, **spec_ranges}
    spec = draw(model_specs(**ranges))
    return Case(spec, draw(texts(spec, min_len=min_words)))


@dataclass(frozen=True)
class ConstantValueCase(Case):
    """A case whose model has, within each head ``i``, the same value score ``c_t^(i)`` at every position.

    Built from ``spec`` by two projections (float64, so "the same" holds up to rounding, ~1e-16):

    1. with positional encoding, each ``W_v^(i)`` is projected so that ``w_c^(i) = W_v^(i)ᵀ W_ℓ^(i)ᵀ`` is orthogonal
       to every ``p_t − p_0`` (then ``⟨w_c, p_t⟩ = ⟨w_c, p_0⟩`` at every position);
    2. every row of ``E`` is moved to the affine subspace ``{x : ⟨w_c^(i), x⟩ = constants[i] ∀ i}`` (least
       change; needs the ``w_c^(i)`` independent, guaranteed generically by ``d_e ≥ K + T − 1``).

    Then ``c_t^(i) = constants[i] + ⟨w_c^(i), p_0⟩`` for every position ``t`` (CLS, words and padding).
    """

    constants: tuple = ()

    @cached_property
    def model(self) -> Model:
        """The model of ``spec`` after the two projections of the class docstring.

        Returns:
            The §2 model with ``W_v`` and ``E`` projected, so that ``c_t^(i) = constants[i] + ⟨w_c^(i), p_0⟩`` at
            every position.
        """
        return self._projected()

    def _projected(self) -> Model:
        """The model of :attr:`model`, built anew (subclasses change it further; uncached)."""
        from theory.models.one_layer import positional_encoding

        base = self.spec.build()
        Wv = base.Wv.copy()
        if base.pe:
            P = positional_encoding(base.T, base.d_e)
            # orthonormal basis of span{p_t − p_0} (all T − 1 directions, however small their singular value)
            Q = np.linalg.svd(P[1:] - P[0], full_matrices=False)[2].T
            Wv = Wv - np.einsum("kod,de,fe->kof", Wv, Q, Q)
        wc = np.einsum("ko,kod->kd", base.Wl, Wv)
        E = base.E - (base.E @ wc.T - np.asarray(self.constants)) @ np.linalg.pinv(wc).T
        return base.replace(E=E, Wv=Wv)

    def __repr__(self) -> str:
        return f"ConstantValueCase(spec={self.spec!r}, tokens={self.tokens!r}, constants={self.constants!r})"


#: the widest spread of a head's scores in a drawn constant-value case (exp(−100) ≈ 4e-44: ~45 extra digits)
MAX_SCORE_SPREAD = 100.0


@st.composite
def constant_value_cases(draw: st.DrawFn) -> ConstantValueCase:
    """Models with constant value scores within each head (:class:`ConstantValueCase`), at gradient sizes;
    the constants are non-zero (``±0.25 … ±4``), so ``c = 0`` (the trivial ``W_ℓ W_v = 0``) never occurs.
    Score scales stop at 10: at 1000 the brute-force gradient needs thousands of digits and these models have
    larger ``d_e`` (peaked attention is exercised by the other gradient claims).  For the same reason a case
    whose least-change projection of ``E`` is ill-conditioned — scores spread over more than
    :data:`MAX_SCORE_SPREAD` within a head — is not drawn (one such case, with ``|E| ≈ 8·10³`` and scores near
    ``9·10⁷``, needed 77 602 digits and four minutes).

    Args:
        draw: supplied by ``@st.composite`` (callers omit it).

    Returns:
        A :class:`ConstantValueCase` per draw: K ≤ 3, T ≤ 7, ``d_e ≥ K + T − 1`` with positional encoding.
    """
    K = draw(st.integers(1, 3))
    T = draw(st.integers(2, 7))
    pe = draw(st.booleans())
    low = K + T - 1 if pe else max(2, K)
    spec = ModelSpec(
        K=K,
        d_e=draw(st.integers(low, low + 2)),
        d_att=draw(st.integers(1, 4)),
        d_out=draw(st.integers(1, 4)),
        V=draw(st.integers(3, 12)),
        T=T,
        pe=pe,
        score_scale=draw(st.sampled_from(SCORE_SCALES[:-1])),
        value_scale=draw(st.sampled_from(VALUE_SCALES)),
        seed=draw(st.integers(0, 2**32 - 1)),
    )
    constants = tuple(
        draw(st.sampled_from((1, -1))) * draw(st.sampled_from((0.25, 0.5, 1.0, 1.5, 4.0))) for _ in range(K)
    )
    case = ConstantValueCase(spec, draw(texts(spec)), constants)
    scores = forward(case.model, case.doc).scores
    assume(np.ptp(scores, axis=-1).max() <= MAX_SCORE_SPREAD)
    return case


def authors_size_document(seed: int, V: int = 2000, words: int = 200, distinct: int = 150) -> tuple[Model, np.ndarray]:
    """A random model at the authors' sizes (T = 256, K = 6, d_e = 128, d_att = d_out = 64; weights ``N(0, 1)``,
    ``W_q, W_k, W_v`` scaled by ``1/√d_e`` and ``W_ℓ`` by ``1/√d_out``, positional encoding on) and a document
    of ``words`` words with ``distinct`` distinct ones, from ``numpy.random.default_rng(seed)``: the
    performance setting of the LIME issue.

    Args:
        seed: the seed of the generator that draws the weights and the text.
        V: the vocabulary size.
        words: the number of words of the text (at most ``T − 1 = 255``).
        distinct: how many of them are distinct (at most ``words`` and ``V − 2``).

    Returns:
        ``(model, doc)``: the §2 model and the ``(256,)`` padded document.
    """
    T, K, d_e, d_att, d_out = 256, 6, 128, 64, 64
    rng = np.random.default_rng(seed)
    model = Model(
        rng.standard_normal((V, d_e)),
        rng.standard_normal((K, d_att, d_e)) / np.sqrt(d_e),
        rng.standard_normal((K, d_att, d_e)) / np.sqrt(d_e),
        rng.standard_normal((K, d_out, d_e)) / np.sqrt(d_e),
        rng.standard_normal((K, d_out)) / np.sqrt(d_out),
        cls_id=0,
        unk_id=1,
        max_len=T,
        pe=True,
    )
    vocabulary = rng.choice(np.arange(2, V), distinct, replace=False)
    tokens = np.concatenate([vocabulary, rng.choice(vocabulary, words - distinct)])
    rng.shuffle(tokens)
    return model, document(model, tokens)
