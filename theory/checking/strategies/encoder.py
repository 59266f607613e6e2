"""Hypothesis strategies for the encoder claims (docs/theory.md §11.1).

An instance is an :class:`EncoderCase`: an :class:`EncoderSpec` (sizes, switches, scales and the seed of the
numpy generator that draws the weights) plus the words of a text, so that counterexamples are small, readable
and reproducible from their repr, and shrink toward ``L = 1``, ``K = 1``, small widths, seed 0.

Sizes stay small so that the mpmath reference (plain loops; the gradient reference costs two forward passes
per entry) stays fast: L 1–3, K 1–2, d 2–6, d_att, d_out 1–3, d_ff 0–6, V ≤ 9, T ≤ 6.  Score scales stop at 10
(the attention of every layer from flat to peaked; the reference's precision grows with the digits of the
smallest attention weight).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from functools import cached_property
from typing import Any

import numpy as np
from hypothesis import strategies as st

from theory.checking.strategies.models import texts
from theory.models.encoder import Encoder
from theory.models.one_layer import document

SCORE_SCALES = (0.3, 1.0, 3.0, 10.0)


@dataclass(frozen=True)
class EncoderSpec:
    """A random encoder: weights ``~ N(0, ·)`` from ``numpy.random.default_rng(seed)``; CLS is id 0, UNK id 1.

    ``score_scale`` scales ``W_q`` and ``W_k`` by its square root; ``biases`` draws every bias (and LayerNorm's
    ``γ − 1``, ``β``) from ``N(0, 0.5²)``, otherwise they are 0 (``γ = 1``).  ``final_norm`` adds the final
    LayerNorm (``nn.TransformerEncoder(norm=…)``), its ``γ − 1``, ``β`` drawn as the other norms' and after every
    other weight (a spec without it builds the same weights as before it existed)."""

    L: int = 1
    K: int = 1
    d: int = 2
    d_att: int = 1
    d_out: int = 1
    d_ff: int = 0
    V: int = 3
    T: int = 2
    pe: bool = False
    residual: bool = False
    norm: str = "none"
    activation: str = "relu"
    biases: bool = False
    score_scale: float = 1.0
    seed: int = 0
    final_norm: bool = False

    def build(self) -> Encoder:
        """The encoder of this spec, its weights drawn from ``numpy.random.default_rng(seed)`` in a fixed order.

        Returns:
            The encoder (``theory.models.encoder``): ``E`` ``(V, d)`` ~ N(0, 1); per layer ``W_q``, ``W_k``
            ``(L, K, d_att, d)`` ~ N(0, score_scale/d), ``W_v`` ~ N(0, 1/d), ``W_o`` ``(L, d, K d_out)``
            ~ N(0, 1/(K d_out)), the feed-forward ``W_1`` ``(L, d_ff, d)``, ``W_2`` ``(L, d, d_ff)``; the readout
            ``w`` ``(d,)``, ``b``; biases and LayerNorm offsets per the class docstring.
        """
        rng = np.random.default_rng(self.seed)
        L, K, d, da, do, dff = self.L, self.K, self.d, self.d_att, self.d_out, self.d_ff
        root = np.sqrt(self.score_scale / d)

        def normal(*shape: int, scale: float = 1.0) -> np.ndarray:
            return rng.standard_normal(shape) * scale

        def bias(*shape: int) -> np.ndarray:
            return normal(*shape, scale=0.5) if self.biases else np.zeros(shape)

        weights: dict[str, Any] = dict(
            E=normal(self.V, d),
            Wq=normal(L, K, da, d, scale=root),
            Wk=normal(L, K, da, d, scale=root),
            Wv=normal(L, K, do, d, scale=d**-0.5),
            Wo=normal(L, d, K * do, scale=(K * do) ** -0.5),
            w=normal(d),
            b=float(bias(1)[0]),
            cls_id=0,
            unk_id=1,
            max_len=self.T,
            pe=self.pe,
            residual=self.residual,
            norm=self.norm,
            activation=self.activation,
            bq=bias(L, K, da),
            bk=bias(L, K, da),
            bv=bias(L, K, do),
            bo=bias(L, d),
            norm1_weight=1.0 + bias(L, d),
            norm1_bias=bias(L, d),
            norm2_weight=1.0 + bias(L, d),
            norm2_bias=bias(L, d),
            W1=normal(L, dff, d, scale=d**-0.5),
            b1=bias(L, dff),
            W2=normal(L, d, dff, scale=max(dff, 1) ** -0.5),
            b2=bias(L, d),
        )
        if self.final_norm:
            weights.update(final_norm_weight=1.0 + bias(d), final_norm_bias=bias(d))
        return Encoder(**weights)


@dataclass(frozen=True)
class EncoderCase:
    """One encoder and one text; ``doc`` is the padded document; ``positions`` (when given) are the positions a
    claim whose reference costs per position (the gradient) checks."""

    spec: EncoderSpec
    tokens: tuple
    positions: tuple | None = None

    @cached_property
    def model(self) -> Encoder:
        """The case's encoder, built once from :attr:`spec`.

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
        extra = "" if self.positions is None else f", positions={self.positions!r}"
        return f"EncoderCase(spec={self.spec!r}, tokens={self.tokens!r}{extra})"


@st.composite
def encoder_specs(
    draw: st.DrawFn,
    min_L: int = 1,
    max_L: int = 3,
    max_K: int = 2,
    max_d: int = 6,
    max_T: int = 6,
    min_T: int = 2,
    torch_compatible: bool = False,
    L: int | None = None,
    final_norm: bool = True,
) -> EncoderSpec:
    """Random specs; ``torch_compatible`` draws what ``nn.TransformerEncoderLayer`` expresses (residual, a
    post/pre norm, ``d_att = d_out = d/K``, a feed-forward, biases); ``L`` fixes the depth; ``final_norm`` lets
    the final LayerNorm be drawn (about one spec in two; ``False``: never).

    Args:
        draw: supplied by ``@st.composite`` (callers omit it).
        min_L: the fewest layers (when ``L`` is not given).
        max_L: the most layers (when ``L`` is not given).
        max_K: the most heads.
        max_d: the largest model width ``d``.
        max_T: the largest document length.
        min_T: the smallest document length (at least 2).
        torch_compatible: draw only what ``nn.TransformerEncoderLayer`` expresses.
        L: the depth, fixed; ``None`` draws it in ``min_L..max_L``.
        final_norm: whether the final LayerNorm may be drawn.

    Returns:
        An :class:`EncoderSpec`; V 3..9, activation relu or gelu, the seed in ``0..2³²−1``.
    """
    depth = draw(st.integers(min_L, max_L)) if L is None else L
    K = draw(st.integers(1, max_K))
    if torch_compatible:
        width = draw(st.integers(1, max(1, max_d // K)))
        d, d_att, d_out = K * width, width, width
        d_ff = draw(st.integers(1, 6))
        residual, norm, biases = True, draw(st.sampled_from(("post", "pre"))), True
    else:
        d = draw(st.integers(2, max_d))
        d_att, d_out, d_ff = draw(st.integers(1, 3)), draw(st.integers(1, 3)), draw(st.integers(0, 6))
        residual, norm = draw(st.booleans()), draw(st.sampled_from(("none", "post", "pre")))
        biases = draw(st.booleans())
    return EncoderSpec(
        L=depth,
        K=K,
        d=d,
        d_att=d_att,
        d_out=d_out,
        d_ff=d_ff,
        V=draw(st.integers(3, 9)),
        T=draw(st.integers(min_T, max_T)),
        pe=draw(st.booleans()),
        residual=residual,
        norm=norm,
        activation=draw(st.sampled_from(("relu", "gelu"))),
        biases=biases,
        score_scale=draw(st.sampled_from(SCORE_SCALES)),
        seed=draw(st.integers(0, 2**32 - 1)),
        final_norm=final_norm and draw(st.booleans()),
    )


@st.composite
def encoder_cases(draw: st.DrawFn, positions: int = 0, min_words: int = 1, **spec_ranges: Any) -> EncoderCase:
    """A spec from :func:`encoder_specs` (keyword arguments narrow it) and a text with ≥ ``min_words`` words;
    with ``positions > 0``, that many distinct positions to check, CLS always among them.

    Args:
        draw: supplied by ``@st.composite`` (callers omit it).
        positions: how many positions to draw (capped at ``T``); 0 draws none (``positions`` is ``None``).
        min_words: the fewest words of the text.
        **spec_ranges: keyword arguments of :func:`encoder_specs`.

    Returns:
        An :class:`EncoderCase`, its ``positions`` sorted and starting with 0 (CLS) when drawn.
    """
    spec = draw(encoder_specs(min_T=min_words + 1, **spec_ranges))
    tokens = draw(texts(spec, min_len=min_words))
    if positions <= 0:
        return EncoderCase(spec, tokens)
    others = draw(
        st.lists(
            st.integers(1, spec.T - 1),
            min_size=min(positions - 1, spec.T - 1),
            max_size=min(positions - 1, spec.T - 1),
            unique=True,
        )
    )
    return EncoderCase(spec, tokens, tuple(sorted([0, *others])))


def at_depth(case: EncoderCase, L: int) -> EncoderCase:
    """The same instance with ``L`` layers (the survival table's depth sweep).

    Args:
        case: the instance.
        L: the new number of layers; the weights are drawn anew from the spec's seed at that depth.

    Returns:
        ``case`` with ``spec.L = L``.
    """
    return replace(case, spec=replace(case.spec, L=L))


@st.composite
def encoder_lime_cases(
    draw: st.DrawFn,
    max_words: int = 4,
    min_words: int = 2,
    distinct_only: bool = False,
    final_norm: bool = False,
    **spec_ranges: Any,
) -> EncoderCase:
    """An encoder case whose text has ``min_words..max_words`` distinct words (the exact ``β^∞`` enumerates ``2^d``
    perturbed documents, the reference LIME runs one mpmath forward pass per distinct sample); with
    ``distinct_only`` every word occurs once (positions and LIME's features then correspond one to one).  No final
    norm unless ``final_norm`` (the depth measures of ``encoder.eq19_last_layer`` and ``encoder.rollout_vs_posthoc``
    keep the population they were measured on).

    Args:
        draw: supplied by ``@st.composite`` (callers omit it).
        max_words: the most distinct words.
        min_words: the fewest distinct words.
        distinct_only: every word once (no repeats).
        final_norm: whether the final LayerNorm may be drawn.
        **spec_ranges: keyword arguments of :func:`encoder_specs`.

    Returns:
        An :class:`EncoderCase` whose spec has ``V ≥ max_words + 2``.
    """
    from theory.checking.strategies.lime import few_word_texts

    spec = draw(encoder_specs(min_T=min_words + 1, final_norm=final_norm, **spec_ranges))
    spec = replace(spec, V=max(spec.V, max_words + 2))
    if distinct_only:
        length = draw(st.integers(min_words, min(max_words, spec.T - 1)))
        tokens = tuple(draw(st.permutations(range(2, spec.V)))[:length])
    else:
        tokens = draw(few_word_texts(spec, max_words=max_words, min_words=min_words))
    return EncoderCase(spec, tokens)
