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
from pathlib import Path

import mpmath
import numpy as np
from hypothesis import strategies as st
from mpmath import mpf

import reference.models.bert as ref_bert
from reference.central_difference import central_differences, moved_rows
from reference.models.one_layer import DPS, to_mp
from theory.checking.compare import Outcome, check_mp, combine, compare, nstr
from theory.checking.strategies.bert import BertCase, bert_cases, layer_keys
from theory.claims import claim
from theory.errors import InputError
from theory.models.bert import Bert, BertForward, forward, gradient
from theory.models.wordpieces import read_tokenizer

SECTION = "bert"  # the BERT family, docs/theory.md §13
NO_FIXTURE = (
    "the pretrained fixture (all-MiniLM-L6-v2 with a probe, docs/theory.md §9) is the next issue's: these "
    "claims run on the random population of small BERT / DistilBERT / RoBERTa / probe models"
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
    word = weights[f"{case.spec.base_prefix}embeddings.word_embeddings.weight"]
    pi = ref_bert.position_ids(ref_bert.config_of(config), ids=ids)

    def f(rows):
        return ref_bert.forward_embedded(weights, config, rows, mask, pi, case.klass, GRADIENT_DPS).f

    with mpmath.workdps(GRADIENT_DPS):
        X = [to_mp(word[t]) for t in ids]
        coordinates = range(case.spec.d) if coordinates is None else coordinates
        return central_differences(moved_rows(f, X), positions, coordinates, mpf(10) ** STEP_EXPONENT)


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
    reference="reference.models.bert: plain mpmath loops at 40 digits on the same Hugging Face state dict",
    strategy=bert_cases,
    trained=NO_FIXTURE,
)
def check_forward(case: BertCase) -> Outcome:
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
    "(bert.matches_transformers)",
    strategy=bert_cases,
    budget=0.15,
    trained=NO_FIXTURE,
)
def check_gradient(case: BertCase) -> Outcome:
    grad = gradient(case.model, case.ids, case.mask).grad
    want = reference_gradient(case, range(len(case.ids)))
    at_padding = grad[0, len(case.tokens) :]
    return combine(
        compare("∇_t", grad[0], want, gradient_scale(grad)[0]),
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
    "load_state_dict(strict=True))",
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
    "attention matrix of every layer unchanged and negates f and every ∇_t (the explainers' part of the contract's "
    "statement — LIME, β^∞, Shapley, occlusion, IG — comes with the explainers on this family)",
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
