"""The table "which conclusions survive depth" (docs/theory.md §11.1, §13): every §2–§6 claim of the registry ×
(``L = 1..4`` on random encoders, the BERT family, the pretrained MiniLM).

Each row names the *depth analog* that is checked — the same statement with the last layer's readout attention (the
CLS row; for mean pooling the pooled row) in the role of α, the backpropagated gradient (``∂f/∂e_t``; the BERT
family's ``∂f/∂E[ξ_t]``) in the role of ∇ and the model's ``f`` inside LIME, ``β^∞`` and Shapley (through
``model.evaluator(doc, length, semantics)``) — or why there is none (n/a: the claim is about the §2 structure, or is
model-free: it holds for any ``f`` and is checked by the claim itself, independently of the model; the BERT family's
own reasons where they differ, e.g. learned positions leave no member without positional encoding).  The analogs are
written once, over the model protocol (:mod:`theory.models.protocol`: ``forward``, ``attention``,
``readout_attention``, ``gradient``, ``output``, ``output_magnitudes``, ``evaluator``), and each family's
reference checks are its claims' own (``encoder.forward`` / ``bert.forward``, ``bert.gradient``,
``bert.lime_matches_lime_package``).

Columns.  ``L = 1..4``: a cell is "holds" only if that analog was checked at that depth on the listed number of
random encoders (seeded draws of every switch: residual, post/pre/no norm, feed-forward ReLU/GELU, biases, positional
encoding).  *BERT family*: seeded random BERT / DistilBERT / RoBERTa / mean-pooling probe models (1–2 layers, every
activation and ``ε``, the ranges of :func:`theory.checking.strategies.bert.bert_specs`) over the oracle claims'
WordPiece vocabulary, texts of 2–4 words (words of 1–3 pieces) and, where the mpmath reference is fed, 0–2 pads
under the attention mask; the perturbation analogs run under every text semantics (delete, mask, unk, pad, zero).
*MiniLM (pretrained)*: the pretrained fixture (:func:`theory.sentiment.pretrained.load_pretrained`: all-MiniLM-L6-v2
with the committed sentiment probe) on seeded held-out documents cut to their first 3–4 words (so that LIME, ``β^∞``
and Shapley stay cheap: ≤ 2^4 perturbed documents for the enumerations), under delete and unk; shown when the
``pretrained`` extra is installed, otherwise its checked cells are ``skipped`` naming ``'.[pretrained]'``.
"fails" shows the first failing instance (a draw, not shrunk; on MiniLM the document prefix, with the numbers in the
note; the shrunk witness of the depth falsification is ``encoder.attention_bound``); witness rows say whether a
witness was found.

References.  mpmath (:mod:`reference.models.encoder`, :mod:`reference.models.bert` and their central differences)
for ``model.forward``, ``model.simplex``, the gradient rows and ``shapley.exact``; float64 elsewhere (exact sign
symmetries are checked bitwise; LIME against the real lime package).  On MiniLM (d = 384, 6 layers, 12 heads) the
plain-loop mpmath reference is too slow: ``model.forward``, the gradient rows and ``shapley.exact`` are n/a there
(``bert.forward`` and ``bert.gradient`` certify them with Arb balls on the pretrained population), ``model.simplex``
is checked in float64 (each row's sum to rounding of its ``T`` terms), and the sign symmetries bitwise.

Cost under ``ci`` (measured on the 2-core machine shared with other jobs, load average 3–7; BLAS single-threaded,
as the checks' matrices are small: MiniLM's one-document forward pass took 1.2 s with OpenBLAS's threads spinning on
busy cores, 0.03 s on one): the BERT column 8–17 s (30 instances per cell), the MiniLM column 13–26 s (3 held-out
prefixes per cell, one for the lime package and the LIME / β^∞ linearity rows; the fixture's loading included);
budgets 30 s and 60 s.  The depth columns take 2–5 s.  ``thorough``: 10× the instances.
"""

from __future__ import annotations

import zlib
from collections.abc import Callable
from dataclasses import dataclass, replace
from functools import cached_property
from itertools import product

import mpmath
import numpy as np

import reference.explainers.encoder_gradient as ref_enc_grad
import reference.explainers.shapley as ref_shap
import reference.models.encoder as ref_enc
import reference.models.one_layer as ref
from theory import optional
from theory.checking.compare import Outcome, check_mp, combine, compare
from theory.checking.strategies import bert as bert_strategies
from theory.checking.strategies.bert import BertCase, BertSpec
from theory.checking.strategies.encoder import SCORE_SCALES, EncoderCase, EncoderSpec
from theory.claims import all_claims
from theory.claims import bert as bert_claims
from theory.claims.encoder import ZeroAttentionCase, _reference_outputs, check_forward, f_scale
from theory.explainers import lime_inf
from theory.explainers.attention import alpha_avg, alpha_max
from theory.explainers.encoder_eq19 import eq19_last_layer, value_scores
from theory.explainers.gradient import g_l2
from theory.explainers.lime import lime
from theory.explainers.occlusion import occlusion
from theory.explainers.shapley import shapley_exact
from theory.markdown import table
from theory.models.encoder import forward
from theory.models.encoder_gradient import gradient, rounding_scale
from theory.models.perturb import distinct_words, f_perturbed, single_threaded_blas
from theory.models.protocol import Document
from theory.sentiment import pretrained
from theory.studies import ExtraResult, extra

DEPTHS = (1, 2, 3, 4)
SECTIONS = ("§2", "§3", "§4", "§5", "§6")  # the registry's sections whose claims are the rows
INSTANCES = {"ci": 3, "thorough": 20}
MODEL_FREE = "model-free: a statement about LIME's law / least squares for any f, checked by the claim itself"
LIME_SAMPLES = 300


def _random_case(rng: np.random.Generator, L: int, pe=None, T=None) -> EncoderCase:
    """A seeded random encoder of depth ``L`` (every switch drawn) and a text with ≥ 2 distinct words."""
    K = int(rng.integers(1, 3))
    T = int(rng.integers(4, 6)) if T is None else T
    spec = EncoderSpec(
        L=L,
        K=K,
        d=int(rng.integers(2, 5)),
        d_att=int(rng.integers(1, 3)),
        d_out=int(rng.integers(1, 3)),
        d_ff=int(rng.integers(0, 4)),
        V=8,
        T=T,
        pe=bool(rng.integers(2)) if pe is None else pe,
        residual=bool(rng.integers(2)),
        norm=str(rng.choice(["none", "post", "pre"])),
        activation=str(rng.choice(["relu", "gelu"])),
        biases=bool(rng.integers(2)),
        score_scale=float(rng.choice(SCORE_SCALES)),
        seed=int(rng.integers(2**32)),
    )
    length = int(rng.integers(2, T))
    pool = rng.choice(np.arange(2, 8), 2 + int(rng.integers(0, 2)), replace=False)
    tokens = rng.choice(pool, length)
    tokens[:2] = pool[:2]
    return EncoderCase(spec, tuple(int(t) for t in tokens))


def _zero_attention_case(rng: np.random.Generator, L: int, T: int = 2) -> ZeroAttentionCase:
    spec = EncoderSpec(
        L=L,
        K=int(rng.integers(1, 3)),
        d=int(rng.integers(2, 4)),
        d_ff=int(rng.integers(0, 3)),
        V=4,
        T=T,
        residual=True,
        activation=str(rng.choice(["relu", "gelu"])),
        biases=bool(rng.integers(2)),
        seed=int(rng.integers(2**32)),
    )
    return ZeroAttentionCase(spec, (2, 3)[: T - 1])


# --- the BERT family's instances -------------------------------------------------------------------------------


@dataclass(frozen=True)
class BertText:
    """A random BERT-family model over the oracle claims' WordPiece vocabulary (a
    :class:`~theory.claims.bert.TextCase`: its spec, words, class and lime's seed) and its text read as
    ``[CLS] pieces… [SEP]`` (:attr:`doc`, words over pieces); ``pads`` pad tokens (mask 0) follow it where the
    mpmath reference is fed (:attr:`bert_case`); with ``zero_attention`` the model is ``bert.attention_bound``'s
    construction (last-layer attention to piece 1 ≤ e^{−60} from every query, so in the readout's row too)."""

    text_case: bert_claims.TextCase
    pads: int = 0
    zero_attention: bool = False

    @cached_property
    def doc(self) -> Document:
        """The text through the oracle tokenizer.

        Returns:
            The :class:`~theory.models.protocol.Document`: the words over their pieces, no padding.
        """
        return self.text_case.model.document(self.text_case.text)

    @cached_property
    def bert_case(self) -> BertCase:
        """The same model and ids as the references' input.

        Returns:
            A :class:`~theory.checking.strategies.bert.BertCase` (``bert.attention_bound``'s construction with
            ``zero_attention``) of the document's ids, ``pads`` pads and the explained class.
        """
        kind = bert_claims.ZeroAttentionCase if self.zero_attention else BertCase
        return kind(self.text_case.spec, tuple(int(i) for i in self.doc.ids), self.pads, self.text_case.klass)

    @cached_property
    def model(self):
        """The float64 model.

        Returns:
            The :class:`~theory.models.bert.Bert` of :attr:`bert_case` (the construction's weights with
            ``zero_attention``) with the oracle tokenizer attached (which names its ``[MASK]`` id).
        """
        return self.bert_case.model.replace(tokenizer=self.text_case.model.tokenizer)


@dataclass(frozen=True)
class HeldOutPrefix:
    """The pretrained fixture (probe-topped MiniLM) on the first ``words`` words of held-out document ``index``;
    ``seed`` is lime's ``random_state`` (``bert.lime_matches_lime_package`` reads ``model``, ``text``, ``seed``)."""

    index: int
    words: int
    seed: int = 0

    @property
    def model(self):
        """The fixture's model (with its tokenizer)."""
        return pretrained.load_pretrained().model

    @cached_property
    def text(self) -> str:
        """The prefix.

        Returns:
            The held-out document's first ``words`` words, joined by single spaces.
        """
        return " ".join(pretrained.load_pretrained().texts[self.index].split()[: self.words])

    @cached_property
    def doc(self) -> Document:
        """The prefix through MiniLM's tokenizer.

        Returns:
            Its :class:`~theory.models.protocol.Document` (``[CLS] pieces… [SEP]``, the words over their pieces).
        """
        return self.model.document(self.text)

    def __repr__(self) -> str:
        return f"held-out document {self.index}, first {self.words} words {self.text!r} ({self.doc.ids.size} pieces)"


def _bert_text(rng: np.random.Generator, _=None, zero_attention: bool = False, one_piece: bool = False) -> BertText:
    """A seeded random model of the BERT family (the ranges of :func:`theory.checking.strategies.bert.bert_specs`:
    architecture × readout × activation × ε, 1–2 layers, 1–2 heads, d 4–8) with the oracle vocabulary, and a text
    of 2–4 words (≥ 2 distinct, ≤ 6 pieces; with ``zero_attention``, 2–3 distinct one-piece words, so that piece 1
    is a whole word) followed by 0–2 pads where the position table has room."""
    architecture = str(rng.choice(bert_strategies.ARCHITECTURES))
    heads = int(rng.integers(1, 3))
    spec = BertSpec(
        architecture=architecture,
        readout=str(rng.choice(["native", "mean"])),
        layers=int(rng.integers(1, 3)),
        heads=heads,
        d=heads * int(rng.integers(-(-4 // heads), 8 // heads + 1)),
        ffn=int(rng.integers(1, 9)),
        activation=str(rng.choice(bert_strategies.ACTIVATIONS)),
        eps=1e-12 if architecture == "distilbert" else float(rng.choice(bert_strategies.EPSILONS)),
        n_classes=int(rng.integers(2, 4)),
        V=bert_strategies.FIRST_WORD + len(bert_claims.ORACLE_PIECES),
        score_scale=float(rng.choice(bert_strategies.SCORE_SCALES)),
        seed=int(rng.integers(2**32)),
    )
    single = [w for w, n in bert_claims.ORACLE_WORDS.items() if n == 1]
    if zero_attention or one_piece:
        words = [str(w) for w in rng.choice(single, int(rng.integers(2, 4)), replace=False)]
    else:
        vocabulary = list(bert_claims.ORACLE_WORDS)
        words = [str(w) for w in rng.choice(vocabulary, 2, replace=False)]
        words += [str(w) for w in rng.choice(vocabulary, int(rng.integers(0, 3)))]
        while sum(bert_claims.ORACLE_WORDS[w] for w in words) > bert_claims.ORACLE_MAX_PIECES:
            words.pop()
        if len(set(words)) < 2:  # a three-piece word and a two-piece word leave one word: take two one-piece words
            words = [str(w) for w in rng.choice(single, 2, replace=False)]
    text = bert_claims.TextCase(spec, tuple(words), int(rng.integers(spec.n_classes)), int(rng.integers(2**32)))
    pieces = sum(bert_claims.ORACLE_WORDS[w] for w in words) + 2
    room = bert_strategies.MAX_REAL + bert_strategies.MAX_PADS - pieces
    pads = 0 if zero_attention else int(rng.integers(0, min(bert_strategies.MAX_PADS, room) + 1))
    return BertText(text, pads, zero_attention)


def _bert_zero_attention(rng: np.random.Generator, _=None) -> BertText:
    """:func:`_bert_text` on ``bert.attention_bound``'s construction."""
    return _bert_text(rng, zero_attention=True)


def _bert_one_piece_text(rng: np.random.Generator, _=None) -> BertText:
    """:func:`_bert_text` with 2–3 distinct one-piece words (the players of the mpmath game are the pieces)."""
    return _bert_text(rng, one_piece=True)


PREFIX_WORDS = (3, 4)  # the held-out documents are cut to prefixes of 3–4 words (β^∞: 2^d perturbed documents)


def _held_out(rng: np.random.Generator, _=None) -> HeldOutPrefix:
    """A seeded held-out document of the pretrained fixture, cut to a short prefix, and lime's seed."""
    count = len(pretrained.load_pretrained().texts)
    return HeldOutPrefix(int(rng.integers(count)), int(rng.choice(PREFIX_WORDS)), int(rng.integers(2**32)))


# --- the analogs, over the model protocol (theory/models/protocol.py) ------------------------------------------

#: family -> the fields of the output layer ``(w, b)`` (the encoder's readout; the BERT classifier or probe)
READOUT = {"encoder": ("w", "b"), "bert": ("classifier_weight", "classifier_bias")}
#: family -> the removal semantics the perturbation analogs run under (docs/theory.md §13.5 for the BERT family)
SEMANTICS = {"encoder": ("delete", "replace"), "bert": bert_claims.TEXT_SEMANTICS}
PRETRAINED_SEMANTICS = ("delete", "unk")  # on MiniLM: lime's and §2's (every semantics ×2^d forwards is too slow)


def _subject(case) -> tuple:
    """``(model, document, number of words or pieces, ids (T,))`` of an encoder case, a BERT text or a held-out
    prefix: what LIME and ``β^∞`` (the document) and the protocol's forward, gradient and readout attention (the ids)
    read."""
    if isinstance(case, EncoderCase):
        return case.model, case.doc, len(case.tokens), case.doc
    return case.model, case.doc, case.doc.length, case.doc.ids


def _with_readout(model, w, b):
    """The model with the output layer ``(w, b)`` (:data:`READOUT`)."""
    names = READOUT[model.family]
    return model.replace(**{names[0]: w, names[1]: b})


def _readout(model) -> tuple:
    """The output layer ``(w, b)`` of the model (:data:`READOUT`)."""
    return tuple(getattr(model, name) for name in READOUT[model.family])


def _semantics(case) -> tuple:
    return PRETRAINED_SEMANTICS if isinstance(case, HeldOutPrefix) else SEMANTICS[case.model.family]


def _simplex_mp(attention, mask) -> Outcome:
    """mpmath: every attention row of every layer sums to 1, positive at the real tokens, exactly 0 at padding."""
    rows = [row for layer in attention for head in layer for row in head]
    real = [bool(m) for m in mask]
    with mpmath.workdps(ref.DPS):
        gap = max(abs(mpmath.fsum(row) - 1) for row in rows)
        smallest = min(a for row in rows for a, r in zip(row, real) if r)
        at_padding = max((abs(a) for row in rows for a, r in zip(row, real) if not r), default=0)
    return combine(
        check_mp("|Σ_u a_{t,u} − 1|", gap),
        check_mp("min a ≤ 0 at a real token", 0 if smallest > 0 else 1),
        check_mp("attention to padding", at_padding),
    )


def _simplex(case) -> Outcome:
    """mpmath (:mod:`reference.models.encoder`): every attention row of every layer is positive and sums to 1."""
    return _simplex_mp(ref_enc.forward(case.model, case.doc).attention, np.ones(len(case.doc)))


def _bert_simplex(case: BertText) -> Outcome:
    """mpmath (:mod:`reference.models.bert`, padding included): rows sum to 1, zero exactly at padding."""
    return _simplex_mp(bert_claims.reference_forward(case.bert_case).attention, case.bert_case.mask)


def _pretrained_simplex(case: HeldOutPrefix) -> Outcome:
    """float64: every attention row of every layer sums to 1 (to rounding, relative to its T terms ≤ 1) and is
    positive."""
    model, _, _, ids = _subject(case)
    attention = model.attention(ids[None])[0]
    return combine(
        compare("Σ_u a_{t,u} − 1", attention.sum(axis=-1) - 1, np.zeros(attention.shape[:-1]).tolist(), ids.size),
        compare("min a ≤ 0", float(attention.min() <= 0), 0, 1.0),
    )


def _head_mean_structure(case) -> Outcome:
    """float64: ``f = (1/K) Σ_i Σ_u a^(i,L)_{0,u} c^(i)_u + wᵀb_o + b`` (the §2 structure behind the convex bound)."""
    model, fw = case.model, forward(case.model, case.doc)
    heads = (fw.alpha * value_scores(model, fw)).sum(axis=-1).mean(axis=-1)
    structure = heads + model.w @ model.bo[-1] + model.b
    return compare("f − (head mean of convex combinations)", fw.f - structure, [0.0], f_scale(model, fw))


def _delete_equals_replace(case) -> Outcome:
    """float64: without positional encoding, delete and replace give the same f on every pattern."""
    model, doc, length = case.model, case.doc, len(case.tokens)
    Z = lime_inf.patterns(distinct_words(doc, length).size)
    a, b = f_perturbed(model, doc, length, Z, "delete"), f_perturbed(model, doc, length, Z, "replace")
    return compare(
        "f(delete) − f(replace)", a - b, np.zeros(len(Z)).tolist(), f_scale(model, forward(model, doc)).max()
    )


def _aggregates(case) -> Outcome:
    """float64: the readout's last-layer α-avg is a probability vector, α-max ≥ α-avg, 1 ≤ Σ α-max ≤ K."""
    model, _, _, ids = _subject(case)
    alpha = model.readout_attention(ids[None])[0]
    avg, amax = alpha_avg(alpha), alpha_max(alpha)
    return combine(
        compare("Σ α-avg − 1", avg.sum() - 1, 0, 1.0),
        compare("(α-avg − α-max)₊", np.maximum(avg - amax, 0).max(), 0, 1.0),
        compare("Σ α-max outside [1, K]", max(1 - amax.sum(), amax.sum() - model.K, 0), 0, 1.0),
    )


#: the perturbation explainers of the negation and linearity analogs: name -> scores(model, doc, length, semantics)
#: (LIME: lime 0.2.0.1's samples, seed 0, coefficients then intercept; β^∞ and Shapley exact by enumeration)
EXPLAINERS = {
    "LIME": lambda model, doc, length, sem: (lambda fit: np.append(fit.coef, fit.intercept))(
        lime(model, doc, length, semantics=sem, samples=100, seed=0)
    ),
    "β^∞": lambda model, doc, length, sem: lime_inf.beta_inf_exact(model, doc, length, semantics=sem),
    "Shapley": lambda model, doc, length, sem: shapley_exact(model, doc, length, semantics=sem),
}


def _negation(*explainers: str) -> Callable:
    """The analog of ``attention.blind_to_values`` and its consequences, for the named :data:`EXPLAINERS`."""

    def check(case) -> Outcome:
        """float64, bitwise: negating (w, b) keeps every attention and exactly negates f, ∇ and the explainers'
        scores (under every removal semantics the column runs)."""
        model, doc, length, ids = _subject(case)
        negated = _with_readout(model, *(-x for x in _readout(model)))
        docs = ids[None]
        same = {
            "attention": np.array_equal(model.attention(docs), negated.attention(docs)),
            "f": np.array_equal(model.output(docs), -negated.output(docs)),
            "∇": np.array_equal(model.gradient(docs), -negated.gradient(docs)),
        }
        for name, sem in product(explainers, _semantics(case)):
            scores = EXPLAINERS[name]
            same[f"{name} ({sem})"] = np.array_equal(
                scores(model, doc, length, sem), -scores(negated, doc, length, sem)
            )
        broken = [name for name, equal in same.items() if not equal]
        return Outcome(
            holds=not broken,
            error=float(len(broken)),
            tolerance=0.0,
            detail=f"{len(same) - len(broken)}/{len(same)} quantities exactly symmetric"
            + (f"; not: {', '.join(broken)}" if broken else ""),
        )

    return check


_blind = _negation("LIME", "β^∞")


def _gradient_entry(t: int) -> Callable:
    def check(case) -> Outcome:
        """mpmath central differences at position ``t``, the float64 gradient's largest coordinate."""
        model, doc = case.model, case.doc
        grad = gradient(model, doc).grad[0, t]
        j = int(np.abs(grad).argmax())
        want = ref_enc_grad.gradient(model, doc, positions=[t], coordinates=[j])[0][0]
        return compare(f"∇_({t},{j})", grad[j], want, float(rounding_scale(model, forward(model, doc))[0]) or 1.0)

    return check


def _bert_gradient_at(t: int) -> Callable:
    def check(case: BertText) -> Outcome:
        """``bert.gradient``'s check at position ``t`` (every coordinate, mpmath central differences; padding 0)."""
        return bert_claims.check_gradient(replace(case.bert_case, positions=(t,)))

    return check


def _zero_attention_gradient(case) -> Outcome:
    """float64 on the construction: ∇_1 vanishes with the readout's last-layer attention (‖∇_1‖ ≤ 10⁶·max_i a)."""
    model, _, _, ids = _subject(case)
    attention = float(model.readout_attention(ids[None])[0, :, 1].max())
    norm = float(np.linalg.norm(model.gradient(ids[None])[0, 1]))
    return Outcome(
        holds=norm <= 1e6 * attention,
        error=norm / attention,
        tolerance=1e6,
        detail=f"max_i a^(i,L)_(0,1) = {attention:.3g}, ‖∇_1‖ = {norm:.3g}",
    )


def _top_tokens_differ(case) -> Outcome:
    """Witness search: the readout's last-layer α-avg and G-l2 rankings of the word (piece) positions have different
    top tokens."""
    model, _, length, ids = _subject(case)
    words = slice(1, length + 1)
    a = alpha_avg(model.readout_attention(ids[None])[0])[words]
    b = g_l2(model.gradient(ids[None])[0])[words]
    return Outcome(
        holds=bool(np.argmax(a) != np.argmax(b)),
        error=0.0,
        tolerance=0.0,
        detail=f"top α-avg position {1 + np.argmax(a)}, top G-l2 position {1 + np.argmax(b)}",
    )


def _matches_lime(case) -> Outcome:
    """The real lime 0.2.0.1 package on the encoder's f (delete) against the generic-path LIME."""
    from reference.oracles.lime_package import run_lime_package

    model, doc, length = case.model, case.doc, len(case.tokens)
    coef, intercept, _ = run_lime_package(
        model.output, doc, length, LIME_SAMPLES, 0, "delete", model.cls_id, model.unk_id, model.T
    )
    fit = lime(model, doc, length, semantics="delete", samples=LIME_SAMPLES, seed=0)
    scale = float(np.abs(fit.f).max()) or 1.0
    return combine(
        compare("LIME coefficients vs lime", fit.coef, coef.tolist(), scale, rtol=1e-10),
        compare("LIME intercept vs lime", fit.intercept, intercept, scale, rtol=1e-10),
    )


def _linear(*explainers: str) -> Callable:
    """The analog of ``lime.linear_in_model`` (and ``shapley.linear_in_model``) for the named :data:`EXPLAINERS`."""

    def check(case) -> Outcome:
        """float64: the scores of the readout (w₁ + w₂, b₁ + b₂) are the sums of the two readouts' (LIME: same
        samples), under the column's first two removal semantics."""
        model, doc, length, ids = _subject(case)
        w, b = _readout(model)
        other = _with_readout(model, np.roll(w, 1) + 0.5, b - 1.0)
        both = _with_readout(model, w + _readout(other)[0], b + _readout(other)[1])
        scale = float(model.output_magnitudes(ids[None])[1][0] + other.output_magnitudes(ids[None])[1][0])
        out = []
        for name, sem in product(explainers, _semantics(case)[:2]):
            parts = [EXPLAINERS[name](m, doc, length, sem) for m in (model, other, both)]
            gap = parts[2] - parts[0] - parts[1]
            out.append(compare(f"{name}(sum) − Σ{name} ({sem})", gap, [0.0] * len(gap), 10 * scale))
        return combine(*out)

    return check


_linear_in_readout = _linear("LIME", "β^∞")


def _beta_closed_form(case) -> Outcome:
    """float64: the closed form of β^∞ on the model's f equals weighted least squares over the enumeration."""
    model, doc, length, _ = _subject(case)
    d = distinct_words(doc, length).size
    Z = lime_inf.patterns(d)
    values = f_perturbed(model, doc, length, Z, "replace")
    weight = lime_inf.law(d) * lime_inf.psi((d - Z.sum(axis=1)) / d)
    X = np.column_stack([np.ones(len(Z)), Z]) * np.sqrt(weight)[:, None]
    direct = np.linalg.lstsq(X, values * np.sqrt(weight), rcond=None)[0]
    closed = lime_inf.beta_inf_table(values, d)
    return compare(
        "closed form − least squares", closed - direct, [0.0] * (d + 1), float(np.abs(values).max()) * 1e3 or 1.0
    )


def _eq19_error(case) -> Outcome:
    model, doc, length = case.model, case.doc, len(case.tokens)
    beta = lime_inf.beta_inf_exact(model, doc, length, semantics="replace")[1:]
    error = float(np.linalg.norm(eq19_last_layer(model, doc, length) - beta) / max(float(np.linalg.norm(beta)), 1e-300))
    return Outcome(holds=True, error=error, tolerance=np.inf, detail=f"relative error {error:.3g}")


def _shapley_exact(case) -> Outcome:
    """mpmath: exact Shapley values (float64 enumeration through the model's evaluator, replace / unk) against the
    Shapley formula (:func:`reference.explainers.shapley.shapley`) over the 2^d values of the mpmath reference on
    every perturbed document (the encoder's :mod:`reference.models.encoder`; the BERT family's
    ``bert.blind_to_values.explainers`` game of :mod:`reference.models.bert`, one-piece words)."""
    model, doc, length, _ = _subject(case)
    d = distinct_words(doc, length).size
    if isinstance(case, BertText):
        game = bert_claims.unk_game(case.text_case, 1.0)
    else:
        outputs = _reference_outputs(model, doc, length, "replace")
        game = {z: outputs(z)[0] for z in product((0, 1), repeat=d)}
    with mpmath.workdps(ref.DPS):
        scale = float(max(abs(v) for v in game.values())) or 1.0
    phi = shapley_exact(model, doc, length, semantics="replace")
    return compare("φ (float64) vs the Shapley formula (mpmath)", phi, ref_shap.shapley(game, d), scale)


#: the scores of the zero-attention witnesses: name -> scores of the distinct words (replace / unk)
ZERO_ATTENTION_SCORES = {
    "β^∞": lambda model, doc, length: lime_inf.beta_inf_exact(model, doc, length, semantics="replace")[1:],
    "φ": lambda model, doc, length: shapley_exact(model, doc, length, semantics="replace"),
    "o": lambda model, doc, length: occlusion(model, doc, length, semantics="replace"),
}


def _zero_attention_score(name: str) -> Callable:
    """The analog of ``lime.zero_attention_not_zero`` (``shapley.zero_attention``, ``occlusion.zero_attention``) for
    the score ``name`` of :data:`ZERO_ATTENTION_SCORES`."""

    def check(case) -> Outcome:
        """Witness search on the construction (two or three words): the word at position 1 gets ~zero last-layer
        readout attention (< 1e-20) but a score (replace) bounded away from 0 (≥ 1e-3 of the largest)."""
        model, doc, length, ids = _subject(case)
        attention = float(model.readout_attention(ids[None])[0, :, 1].max())
        scores = ZERO_ATTENTION_SCORES[name](model, doc, length)
        found = attention < 1e-20 and abs(scores[0]) >= 1e-3 * np.abs(scores).max() > 0
        return Outcome(
            holds=bool(found),
            error=0.0,
            tolerance=0.0,
            detail=f"max_i a^(i,L)_(0,1) = {attention:.3g}, {name} = {np.array2string(scores, precision=3)}",
        )

    return check


_zero_attention_lime = _zero_attention_score("β^∞")


@dataclass(frozen=True)
class Row:
    analog: str
    check: Callable | None = None  # None: n/a
    reason: str = ""
    kind: str = "holds"  # holds (every instance) / witness (one instance) / measured
    draw: Callable = _random_case
    share: float = 1.0  # share of the profile's instances (expensive references: fewer)
    requires: tuple = ()  # optional packages of the check (theory.optional.EXTRA); skipped without them


MODEL_FREE_GAME = "model-free: a statement about Shapley values of any value function v, checked by the claim itself"
MODEL_FREE_PATH = (
    "model-free: completeness holds for any differentiable f along the straight path; the claim checks the suite's "
    "quadrature against mpmath on tiny §2 models (bert.ig_matches_captum checks it per word on the BERT family)"
)
MODEL_FREE_STEIN = "model-free: Stein's lemma holds for any differentiable f, checked by the claim itself"
NO_FAST_PATH = (
    "no fast path at depth: the evaluator builds every perturbed document and runs the forward pass, which "
    "model.forward checks; shapley.exact checks what comes out of it"
)
NOT_MAPPED = "not mapped in this table (the claim's witness is on the §2 model)"
NA_STRUCTURE = "the claim is about the §2 structure (one CLS query, scalar value scores), which depth removes"
ROWS = {
    "model.forward": Row("encoder.forward: float64 = mpmath (f, every attention, every hidden state)", check_forward),
    "model.simplex": Row("every attention row of every layer positive, summing to 1 (mpmath)", _simplex),
    "model.convex": Row(
        "f = head mean of convex combinations of last-layer value scores (+ wᵀb_o + b)", _head_mean_structure
    ),
    "attention.aggregates": Row("last-layer CLS α-avg / α-max aggregates", _aggregates),
    "attention.non_identifiable": Row(
        "—",
        reason="not checked at depth: needs δ with Σ_u δ_u v_u = 0 in the value "
        "space (T ≥ d_out + 2) and an edited attention row inside the layer",
    ),
    "attention.blind_to_values": Row("negating (w, b): attention unchanged, f negated (float64, bitwise)", _blind),
    "gradient.closed_form": Row(
        "∇_1 by backpropagation = mpmath central differences (the depth formula)", _gradient_entry(1), share=0.67
    ),
    "gradient.cls_query_path": Row(
        "∇_0 (CLS, query path included) = mpmath central differences", _gradient_entry(0), share=0.67
    ),
    "gradient.attention_bound": Row(
        "zero last-layer CLS attention ⇒ ∇_t → 0 (ZeroAttentionCase, float64)",
        _zero_attention_gradient,
        draw=lambda rng, L: _zero_attention_case(rng, L),
    ),
    "gradient.aggregates": Row("—", reason=NA_STRUCTURE + " (G×I closed form in α, c, s)"),
    "gradient.constant_values": Row("—", reason=NA_STRUCTURE + " (premise: constant value scores per head)"),
    "gradient.disagrees_with_attention": Row(
        "last-layer α-avg and G-l2 top tokens differ (witness search)", _top_tokens_differ, kind="witness"
    ),
    "gradient.disagrees_with_attention.sign": Row("—", reason="not mapped at depth (the §2 sign construction)"),
    "attention.blind_to_values.gradient": Row("negating (w, b) negates ∇ (float64, bitwise)", _blind),
    "model.sufficient_stats": Row("—", reason=NA_STRUCTURE + ": a perturbed document needs a full forward pass"),
    "model.delete_decomposition": Row("—", reason=NA_STRUCTURE + " (word + position score split)"),
    "model.delete_equals_replace_without_pe": Row(
        "no PE: delete and replace give the same f on every pattern",
        _delete_equals_replace,
        draw=lambda rng, L: _random_case(rng, L, pe=False),
    ),
    "lime.matches_lime_package": Row(
        "the lime package on the encoder's f = generic-path LIME (delete)",
        _matches_lime,
        share=0.67,
        requires=("lime", "sklearn"),
    ),
    "lime.linear_in_model": Row("LIME linear in the readout (w, b), same samples", _linear_in_readout),
    "attention.blind_to_values.lime": Row("negating (w, b) negates LIME (float64, bitwise)", _blind),
    "lime.sampling_law": Row("—", reason=MODEL_FREE),
    "lime.beta_inf_closed_form": Row("closed-form β^∞ of the encoder's f = weighted least squares", _beta_closed_form),
    "lime.exact_on_linear": Row("—", reason=MODEL_FREE),
    "lime.equal_scores_exact": Row("—", reason=NA_STRUCTURE + " (premise: UNK scored like every word)"),
    "lime.linear_in_model.beta_inf": Row("β^∞ linear in the readout (w, b)", _linear_in_readout),
    "attention.blind_to_values.beta_inf": Row("negating (w, b) negates β^∞ (float64, bitwise)", _blind),
    "lime.consistency": Row("—", reason=MODEL_FREE),
    "lime.beta_inf_monte_carlo": Row("—", reason=MODEL_FREE),
    "lime.beta_inf_monte_carlo.heavy_tails": Row("—", reason=MODEL_FREE),
    "lime.eq19": Row("Eq. (19) on the last layer vs exact β^∞ (encoder.eq19_last_layer)", _eq19_error, kind="measured"),
    "lime.large_d_limit": Row("—", reason=NA_STRUCTURE + " (N/D sufficient statistics)"),
    "lime.large_d_limit.convergence": Row("—", reason=NA_STRUCTURE + " (N/D sufficient statistics)"),
    "lime.zero_attention_not_zero": Row(
        "~zero last-layer attention, β^∞ bounded away from 0 (witness search)",
        _zero_attention_lime,
        kind="witness",
        draw=lambda rng, L: _zero_attention_case(rng, L, T=3),
    ),
    "lime.affine_in_attention": Row("—", reason=NA_STRUCTURE + " (premise: constant value scores)"),
    "removal.fast_evaluators": Row("—", reason=NO_FAST_PATH),
    "shapley.exact": Row(
        "exact Shapley (replace, through the encoder's evaluator) = the Shapley formula over mpmath forwards",
        _shapley_exact,
        share=0.67,
    ),
    "shapley.efficiency": Row("—", reason=MODEL_FREE_GAME),
    "kernelshap.is_shapley": Row("—", reason=MODEL_FREE_GAME),
    "shapley.linear_in_model": Row("Shapley linear in the readout (w, b)", _linear("Shapley")),
    "attention.blind_to_values.shapley": Row(
        "negating (w, b) negates Shapley (float64, bitwise)", _negation("Shapley")
    ),
    "occlusion.closed_form": Row("—", reason=NA_STRUCTURE + " (the sufficient statistics of §3.1)"),
    "shapley.equal_scores_exact": Row("—", reason=NA_STRUCTURE + " (premise: UNK scored like every word)"),
    "ig.completeness": Row("—", reason=MODEL_FREE_PATH),
    "clime.equals_smoothgrad": Row("—", reason=MODEL_FREE_STEIN),
    "shapley.zero_attention": Row(
        "~zero last-layer attention, Shapley (replace) bounded away from 0 (witness search)",
        _zero_attention_score("φ"),
        kind="witness",
        draw=lambda rng, L: _zero_attention_case(rng, L, T=3),
    ),
    "occlusion.zero_attention": Row(
        "~zero last-layer attention, occlusion (replace) bounded away from 0 (witness search)",
        _zero_attention_score("o"),
        kind="witness",
        draw=lambda rng, L: _zero_attention_case(rng, L, T=3),
    ),
    "ig.zero_attention": Row("—", reason=NOT_MAPPED),
    "smoothgrad.zero_attention": Row("—", reason=NOT_MAPPED),
}


# --- the BERT family's and the pretrained fixture's columns -----------------------------------------------------

NA_READOUT = (
    "the readout is not a head mean of convex combinations: f passes h^(L) through LayerNorm and the pooler's "
    "tanh / DistilBERT's ReLU, or a LayerNorm'd mean over positions (§13.3)"
)
NA_POSITIONS = (
    "no member without positions: every BERT-family model adds learned absolute positions (RoBERTa's offset), so "
    "delete moves the kept pieces and differs from unk; delete, mask, unk, pad and zero are five semantics (§13.5)"
)
NA_EQ19 = (
    "Eq. (19)'s value scores c_t are the encoder's (encoder.eq19_last_layer); a BERT readout puts the pooler's "
    "tanh / ReLU or a LayerNorm'd mean between them and f — not mapped in this table"
)
NA_REFERENCE = (
    "reference too slow at the real widths (the mpmath loops of reference.models.bert at d = 384, 6 layers, 12 "
    "heads); bert.{what} certifies it with Arb balls (256 bits) on the pretrained population"
)
NA_CONSTRUCTION = (
    "the premise is a construction on the weights (bert.attention_bound's); the fixture's weights are given and "
    "its readout attention is nowhere e^{−60} — bert.zero_attention asks the question on the fixture"
)


def _drawn(draw: Callable, rows: dict) -> dict:
    """A column's rows, each drawing its instances with the column's ``draw`` unless it names its own.

    Args:
        draw: the column's draw, ``draw(rng, _) -> instance``.
        rows: claim id -> :class:`Row`.

    Returns:
        The rows, those with the encoders' default draw (:func:`_random_case`) given ``draw``.
    """
    return {claim: replace(row, draw=draw) if row.draw is _random_case else row for claim, row in rows.items()}


BERT_ROWS = _drawn(
    _bert_text,
    {
        "model.forward": Row(
            "bert.forward's check: float64 = mpmath (f, every attention and hidden state, 0–2 pads)",
            lambda case: bert_claims.check_forward(case.bert_case),
        ),
        "model.simplex": Row(
            "every attention row of every layer sums to 1, positive at the real tokens, exactly 0 at padding (mpmath)",
            _bert_simplex,
        ),
        "model.convex": Row("—", reason=NA_READOUT),
        "attention.aggregates": Row("readout attention (CLS row, or pooled row) α-avg / α-max aggregates", _aggregates),
        "attention.blind_to_values": Row(
            "negating the output layer (w, b): every attention unchanged, f negated (float64, bitwise)", _blind
        ),
        "gradient.closed_form": Row(
            "∇_1 = ∂f/∂E[ξ_1] by backpropagation = mpmath central differences (bert.gradient's check at piece 1)",
            _bert_gradient_at(1),
            share=0.67,
        ),
        "gradient.cls_query_path": Row(
            "∇_0 (CLS) = mpmath central differences (bert.gradient's check at CLS)", _bert_gradient_at(0), share=0.67
        ),
        "gradient.attention_bound": Row(
            "zero last-layer readout attention to piece 1 ⇒ ∇_1 → 0 (bert.attention_bound's construction, float64; "
            "CLS and mean readouts, 1–2 layers)",
            _zero_attention_gradient,
            draw=_bert_zero_attention,
        ),
        "gradient.disagrees_with_attention": Row(
            "readout α-avg and G-l2 top pieces differ (witness search)", _top_tokens_differ, kind="witness"
        ),
        "attention.blind_to_values.gradient": Row("negating (w, b) negates ∇ (float64, bitwise)", _blind),
        "model.delete_equals_replace_without_pe": Row("—", reason=NA_POSITIONS),
        "lime.matches_lime_package": Row(
            "bert.lime_matches_lime_package's check: the lime package on the raw text = the suite's LIME (delete)",
            lambda case: bert_claims.check_lime_matches_lime_package(case.text_case),
            share=0.67,
            requires=("lime", "sklearn"),
        ),
        "lime.linear_in_model": Row(
            "LIME linear in the output layer (w, b), same samples (delete, mask)", _linear_in_readout
        ),
        "attention.blind_to_values.lime": Row(
            "negating (w, b) negates LIME (float64, bitwise; delete, mask, unk, pad, zero)", _blind
        ),
        "lime.beta_inf_closed_form": Row(
            "closed-form β^∞ of the model's f (unk) = weighted least squares", _beta_closed_form
        ),
        "lime.equal_scores_exact": Row("—", reason=NA_STRUCTURE + " (premise: UNK scored like every word)"),
        "lime.linear_in_model.beta_inf": Row(
            "β^∞ linear in the output layer (w, b) (delete, mask)", _linear_in_readout
        ),
        "attention.blind_to_values.beta_inf": Row(
            "negating (w, b) negates β^∞ (float64, bitwise; delete, mask, unk, pad, zero)", _blind
        ),
        "lime.eq19": Row("—", reason=NA_EQ19),
        "lime.zero_attention_not_zero": Row(
            "~zero readout attention to word 1, β^∞ (unk) bounded away from 0 (witness search on the construction)",
            _zero_attention_lime,
            kind="witness",
            draw=_bert_zero_attention,
        ),
        "removal.fast_evaluators": Row("—", reason=NO_FAST_PATH + " (bert.forward's check)"),
        "shapley.exact": Row(
            "exact Shapley (unk, through the model's evaluator) = the Shapley formula over mpmath forwards (one-piece "
            "words)",
            _shapley_exact,
            draw=_bert_one_piece_text,
            share=0.67,
        ),
        "shapley.linear_in_model": Row("Shapley linear in the output layer (w, b) (delete, mask)", _linear("Shapley")),
        "attention.blind_to_values.shapley": Row(
            "negating (w, b) negates Shapley (float64, bitwise; delete, mask, unk, pad, zero)", _negation("Shapley")
        ),
        "shapley.zero_attention": Row(
            "~zero readout attention to word 1, Shapley (unk) bounded away from 0 (witness search on the construction)",
            _zero_attention_score("φ"),
            kind="witness",
            draw=_bert_zero_attention,
        ),
        "occlusion.zero_attention": Row(
            "~zero readout attention to word 1, occlusion (unk) bounded away from 0 (witness search on the "
            "construction)",
            _zero_attention_score("o"),
            kind="witness",
            draw=_bert_zero_attention,
        ),
    },
)

PRETRAINED_ROWS = _drawn(
    _held_out,
    {
        **{claim_id: row for claim_id, row in BERT_ROWS.items() if row.check is None},  # the family's own reasons
        "model.forward": Row("—", reason=NA_REFERENCE.format(what="forward")),
        "model.simplex": Row(
            "every attention row of every layer sums to 1 and is positive (float64: to rounding of its T terms)",
            _pretrained_simplex,
        ),
        "attention.aggregates": Row("pooled readout attention α-avg / α-max aggregates (float64)", _aggregates),
        "attention.blind_to_values": Row("negating the probe (w, b): attention unchanged, f negated (bitwise)", _blind),
        "gradient.closed_form": Row("—", reason=NA_REFERENCE.format(what="gradient (directional derivatives)")),
        "gradient.cls_query_path": Row("—", reason=NA_REFERENCE.format(what="gradient (directional derivatives)")),
        "gradient.attention_bound": Row("—", reason=NA_CONSTRUCTION),
        "gradient.disagrees_with_attention": Row(
            "pooled α-avg and G-l2 top pieces differ on a held-out prefix (witness search)",
            _top_tokens_differ,
            kind="witness",
        ),
        "attention.blind_to_values.gradient": Row("negating (w, b) negates ∇ (bitwise)", _blind),
        "lime.matches_lime_package": Row(
            "bert.lime_matches_lime_package's check on the prefix: lime on the raw text = the suite's LIME (delete)",
            bert_claims.check_lime_matches_lime_package,
            share=0.34,
            requires=("lime", "sklearn"),
        ),
        "lime.linear_in_model": Row(
            "LIME linear in the probe (w, b), same samples (delete, unk)", _linear_in_readout, share=0.34
        ),
        "attention.blind_to_values.lime": Row("negating (w, b) negates LIME (bitwise; delete, unk)", _blind),
        "lime.beta_inf_closed_form": Row(
            "closed-form β^∞ of MiniLM's f (unk) = weighted least squares", _beta_closed_form
        ),
        "lime.linear_in_model.beta_inf": Row(
            "β^∞ linear in the probe (w, b) (delete, unk)", _linear_in_readout, share=0.34
        ),
        "attention.blind_to_values.beta_inf": Row("negating (w, b) negates β^∞ (bitwise; delete, unk)", _blind),
        "lime.zero_attention_not_zero": Row("—", reason=NA_CONSTRUCTION),
        "shapley.exact": Row("—", reason=NA_REFERENCE.format(what="forward")),
        "shapley.linear_in_model": Row("Shapley linear in the probe (w, b) (delete, unk)", _linear("Shapley")),
        "attention.blind_to_values.shapley": Row(
            "negating (w, b) negates Shapley (bitwise; delete, unk)", _negation("Shapley")
        ),
        "shapley.zero_attention": Row("—", reason=NA_CONSTRUCTION),
        "occlusion.zero_attention": Row("—", reason=NA_CONSTRUCTION),
    },
)


@dataclass(frozen=True)
class Column:
    """A column beyond the depths: its heading, its rows (a claim without one keeps the encoder row's n/a reason, or
    says that the analog of the encoder's is the BERT family's — see :func:`_family_row`), the instances per cell
    by profile, the packages the whole column needs, and the key of its random streams."""

    key: str
    heading: str
    rows: dict
    instances: dict
    requires: tuple
    stream: int


BERT = Column("bert", "BERT family", BERT_ROWS, {"ci": 30, "thorough": 300}, ("tokenizers",), 101)
PRETRAINED = Column(
    "pretrained",
    "MiniLM (pretrained)",
    PRETRAINED_ROWS,
    {"ci": 3, "thorough": 30},
    (pretrained.PACKAGE, "safetensors", "tokenizers"),  # the package's files, read as a Hugging Face folder
    102,
)
COLUMNS = (BERT, PRETRAINED)


def _family_row(column: Column, claim_id: str, encoder_row: Row) -> Row:
    """The column's row of a claim: its own, or the encoder's n/a reason (a §2 structure or model-free)."""
    if claim_id in column.rows:
        return column.rows[claim_id]
    if encoder_row.check is None:
        return encoder_row
    return Row("—", reason=f"no {column.heading} analog declared")


def _cell(row: Row, count: int, seed: int, stream: list, arg, cache: dict) -> dict:
    """The verdict of one row in one column on ``count`` seeded instances (``row.draw(rng, arg)``, the generator
    seeded by ``[seed, *stream]``); ``cache`` keeps each (check, instance) outcome for the rows that share both."""
    if row.check is None:
        return {"verdict": "n/a", "reason": row.reason}
    if missing := optional.missing(*row.requires):
        return {"verdict": "skipped", "missing": missing, "reason": optional.needs(missing)}
    rng = np.random.default_rng([seed, *stream])
    cases = [row.draw(rng, arg) for _ in range(max(1, round(count * row.share)))]
    outcomes = []
    for case in cases:
        key = (row.check, repr(case))
        if key not in cache:
            with single_threaded_blas():  # small matrices: BLAS threads only spin (MiniLM's forward: 1.2 s → 0.03 s)
                cache[key] = row.check(case)
        outcome = cache[key]
        outcomes.append(outcome)
        if row.kind == "holds" and not outcome.holds:
            return {
                "verdict": "fails",
                "instances": len(outcomes),
                "counterexample": repr(case),
                "detail": outcome.detail.splitlines()[0],
            }
        if row.kind == "witness" and outcome.holds:
            return {"verdict": "witness found", "instances": len(outcomes), "witness": repr(case)}
    if row.kind == "witness":
        return {"verdict": "no witness", "instances": len(outcomes)}
    if row.kind == "measured":
        errors = [o.error for o in outcomes]
        return {
            "verdict": "measured",
            "instances": len(outcomes),
            "median": float(np.median(errors)),
            "max": float(np.max(errors)),
        }
    return {
        "verdict": "holds",
        "instances": len(outcomes),
        "max_error": float(max(o.error / o.tolerance if o.tolerance else o.error for o in outcomes)),
    }


def _column_cell(column: Column, row: Row, count: int, seed: int, cache: dict) -> dict:
    """A cell of a BERT-family column: skipped when the column's packages are missing (the oracle tokenizer's
    ``tokenizers``; the pretrained fixture's package, :data:`theory.sentiment.pretrained.PACKAGE`), else
    :func:`_cell` with the column's stream (the rows that draw alike share instances)."""
    if row.check is not None and (missing := optional.missing(*column.requires)):
        return {"verdict": "skipped", "missing": missing, "reason": optional.needs(missing), "column": True}
    return _cell(row, count, seed, [column.stream, zlib.crc32(row.draw.__name__.encode())], None, cache)


def _text(entry: dict) -> str:
    if entry["verdict"] == "n/a":
        return "n/a"
    if entry["verdict"] == "skipped":
        return f"skipped (install {optional.target(entry['missing'])}: {', '.join(entry['missing'])})"
    if entry["verdict"] == "measured":
        return f"measured: median rel. error {entry['median']:.2g} (n={entry['instances']})"
    if entry["verdict"] == "fails":
        return f"**fails** (counterexample {entry['counterexample_id']})"
    return f"{entry['verdict']} (n={entry['instances']})"


def _analog_text(analog: str, reason: str) -> str:
    return analog if analog != "—" else f"n/a: {reason}"


def survival_table(profile: str, seed: int, claim_ids: list[str] | None = None) -> ExtraResult:
    """The survival table: every §2–§6 claim × (``L = 1..4`` on random encoders, the BERT family, MiniLM).

    Args:
        profile: ``ci`` or ``thorough`` (the instances per cell: :data:`INSTANCES`, :attr:`Column.instances`).
        seed: the run's seed (every instance is drawn from it, the cell's depth or column and its row).
        claim_ids: only these rows (default: every §2–§6 claim of the registry).

    Returns:
        The extra's markdown (one table of verdicts, one of the BERT family's and MiniLM's analogs, the failing
        instances) and its data (``table``: per claim the encoder's analog and cells by depth, and per column key
        its analog, reason and cell); a column or row whose packages are missing is ``skipped`` with the extra.
    """
    count = INSTANCES.get(profile, INSTANCES["ci"])
    ids = [c.id for c in all_claims() if c.section in SECTIONS]
    ids = ids if claim_ids is None else [i for i in ids if i in claim_ids]
    cells: dict = {}
    notes: list[str] = []
    skipped: list[str] = []
    cache: dict = {}

    def record(claim_id: str, where: str, entry: dict) -> None:
        what = f"the column {where}" if entry.get("column") else f"the row {claim_id}"
        if entry["verdict"] == "skipped" and (line := f"{what}: {entry['reason']}") not in skipped:
            skipped.append(line)
        if entry["verdict"] == "fails":
            entry["counterexample_id"] = len(notes) + 1
            notes.append(f"{len(notes) + 1}. `{claim_id}`, {where}: {entry['detail']} — `{entry['counterexample']}`")

    depth_rows = {claim_id: ROWS.get(claim_id, Row("—", reason="no depth analog declared")) for claim_id in ids}
    for claim_id, row in depth_rows.items():
        cells[claim_id] = {"analog": row.analog, "reason": row.reason, "cells": {}}
    for claim_id, L in product(ids, DEPTHS):
        row = depth_rows[claim_id]
        entry = _cell(row, count, seed, [L, zlib.crc32(row.analog.encode())], L, cache)
        record(claim_id, f"L = {L}", entry)
        cells[claim_id]["cells"][str(L)] = entry
    counts = {column.key: column.instances.get(profile, column.instances["ci"]) for column in (BERT, PRETRAINED)}
    for column in COLUMNS:
        for claim_id in ids:
            row = _family_row(column, claim_id, depth_rows[claim_id])
            entry = _column_cell(column, row, counts[column.key], seed, cache)
            record(claim_id, column.heading, entry)
            cells[claim_id][column.key] = {"analog": row.analog, "reason": row.reason, "cell": entry}
    intro = (
        "Every §2–§6 claim at depth L = 1..4: the *depth analog* checked (or why none applies), and its "
        f"verdict on {count} seeded random encoders per cell (fewer where the mpmath reference is costly, "
        "as listed); every switch is drawn (residual, post/pre/no norm, feed-forward ReLU/GELU, biases, PE). "
        '"holds" means checked at that depth; "fails" lists the first failing draw (not shrunk). '
        f"*BERT family*: the same rows on {counts[BERT.key]} seeded random BERT / DistilBERT / RoBERTa / "
        "mean-pooling probe models (1–2 layers, every activation and ε) with texts over a WordPiece vocabulary; "
        f"*MiniLM (pretrained)*: on {counts[PRETRAINED.key]} held-out documents of the pretrained fixture "
        f"(all-MiniLM-L6-v2 with the sentiment probe) cut to their first {PREFIX_WORDS[0]}–{PREFIX_WORDS[-1]} words; "
        "the second table says which analog each of those two columns checks, or why none applies."
    )
    headings = [column.heading for column in COLUMNS]
    verdicts, analogs = [], []
    for claim_id, entry in cells.items():
        verdicts.append(
            [
                f"`{claim_id}`",
                _analog_text(entry["analog"], entry["reason"]),
                *(_text(entry["cells"][str(L)]) for L in DEPTHS),
                *(_text(entry[column.key]["cell"]) for column in COLUMNS),
            ]
        )
        own = [entry[c.key] for c in COLUMNS]
        if any(o["analog"] != "—" or o["reason"] != entry["reason"] for o in own):
            analogs.append(
                [
                    f"`{claim_id}`",
                    *(
                        "n/a, as at depth"
                        if o["analog"] == "—" and o["reason"] == entry["reason"]
                        else _analog_text(o["analog"], o["reason"])
                        for o in own
                    ),
                ]
            )
    lines = [
        intro,
        "",
        table(["claim", "depth analog", *(f"L = {L}" for L in DEPTHS), *headings], verdicts),
        "",
        "What the BERT-family and MiniLM columns check (docs/theory.md §13; a claim not listed is n/a there for the "
        "reason given at depth):",
        "",
        table(["claim", *headings], analogs),
    ]
    if notes:
        lines += ["", "Counterexamples and failing instances:", "", *notes]
    data = {
        "depths": list(DEPTHS),
        "instances": count,
        "columns": {c.key: {"heading": c.heading, "instances": counts[c.key]} for c in COLUMNS},
        "table": cells,
    }
    return ExtraResult(markdown="\n".join(lines), data=data, skipped=skipped)


@extra("encoder.survival", section="depth", title="Which conclusions survive depth")
def survival_extra(profile, seed):
    return survival_table(profile, seed)
