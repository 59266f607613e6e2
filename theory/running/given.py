"""What of the suite applies to a *given* model: the user's model and documents (docs/theory.md §11.3), run through
the one run path (:func:`theory.running.runner.run_claim` with the population; serial, or in workers:
:mod:`theory.running.parallel` ships the population to them).

The population is ``model:<file stem>`` (:class:`theory.checking.population.Population`): the user's model — the
one-layer §2 model, an encoder (docs/theory.md §11.1) or a BERT-family model (§13: the bert.* claims on its
documents of word pieces, :data:`BERT`) — and documents, or, without ``--texts``, word sequences Hypothesis draws
from the model's vocabulary.  For each claim :func:`given_strategy` decides what applies
to *this* model: the claim's given-model strategy (the one the trained population runs), a strategy sized for this
model where the trained population's is sized for the fixture, or the reason — about this model's family,
size or premise — why it does not apply.  The runner then guarantees three things with what this module gives it:

* every instance is drawn from the population (:func:`guarded`: each holds a
  :class:`~theory.checking.population.GivenCase` of it, and no other model): an instance of another model is an
  error (:class:`ForeignInstance`), never a verdict about the user's model; every record carries the model file's
  SHA-256;
* a population with no instance inside the claim's domain makes the claim ``n/a`` with that reason
  (:class:`~theory.checking.population.NotApplicable`, :data:`UNSATISFIABLE`), never a failure of the model;
* what part of each document the claim used (a prefix, drawn positions or coordinates, the documents left
  out of its domain) is the record's ``scope`` (:class:`Scope`), shown in the report.

Before any claim runs, :func:`refuse_overflow` refuses a model whose forward pass overflows float64.  The report
is :mod:`theory.reporting.user_report`'s.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from functools import cached_property
from typing import TYPE_CHECKING, Any, cast

import numpy as np
from hypothesis import strategies as st

from theory.checking.population import GivenCase, Population, given_cases
from theory.checking.strategies.bert import reference_weights
from theory.models.bert import Bert
from theory.models.encoder import Encoder
from theory.models.huggingface import to_state_dict
from theory.models.one_layer import Model, document, embed
from theory.models.protocol import AttentionClassifier
from theory.models.removal import PIECES

if TYPE_CHECKING:
    from theory.models.bert import Bert

UNSATISFIABLE = (
    "Hypothesis found no instance of this claim's domain among this population's documents "
    "(see the claim's strategy); give documents inside it to run it"
)
SECONDS_PER_INSTANCE = 3.0  # the most a claim's reference may cost per instance on a user's model (ci budget)

#: what a claim runs on a given population: a strategy factory, or why it does not apply (about that model)
Applies = Callable[[], st.SearchStrategy] | str
NUMBERS_PER_PASS = 2**24  # documents per forward pass of the overflow check keep its attention ≤ 128 MB


def refuse_overflow(population: Population) -> None:
    """Refuse, before any claim runs or any file is written, a model whose forward pass overflows float64 (as
    ``attnverify import`` does, :mod:`theory.models.import_check`): its scores, value scores, attention and ``f``
    (an encoder's queries, keys, values, attention, hidden states and ``f``) on every document of the population
    (without ``--texts``: texts holding every word id of the vocabulary) and on the all-UNK document that LIME's
    removals lead to.  Overflowing weights otherwise make every claim an ``error`` and the report fail.

    Args:
        population: The user's model and documents.

    Raises:
        NonFiniteError: A quantity overflows; the message names it and the first document it overflows on.
    """
    from theory.explainers.finite import FIX, NonFiniteError
    from theory.explainers.lime_approx import unk_document

    model = population.model
    if population.docs is not None:
        texts = {f"document {k + 1}": words for k, words in enumerate(population.docs)}
    else:
        ids, n = model.word_ids.tolist(), model.T - (2 if PIECES in model.capabilities else 1)
        texts = {f"the text of word ids {ids[i : i + n]}": ids[i : i + n] for i in range(0, len(ids), n)}
    if PIECES in model.capabilities:  # [CLS] pieces [SEP] of their own lengths, no padding: one pass each
        tokens = cast("Bert", model).tokenizer  # a word-pieces model carries its tokenizer
        names = list(texts)
        blocks = [(k, np.array([[tokens.cls_id, *words, tokens.sep_id]])) for k, words in enumerate(texts.values())]
    else:
        names = [*texts, "the all-UNK document (CLS, then UNK everywhere: every word removed)"]
        docs = np.stack(
            [*(document(model, words, allow_unk=population.allow_unk) for words in texts.values()), unk_document(model)]
        )
        chunk = max(1, NUMBERS_PER_PASS // (getattr(model, "L", 1) * model.K * model.T * model.T))
        blocks = [(start, docs[start : start + chunk]) for start in range(0, len(docs), chunk)]
    for start, block in blocks:
        for name, values in _forward_quantities(model, block):
            finite = np.isfinite(values.reshape(len(values), -1)).all(axis=1)
            if not finite.all():
                raise NonFiniteError(
                    f"{population.name}: the {name} overflow float64 on "
                    f"{names[start + int(np.argmin(finite))]}; {FIX}; nothing was run or written"
                )


def _forward_quantities(model: AttentionClassifier, docs: np.ndarray) -> list[tuple[str, np.ndarray]]:
    """The quantities of the forward pass, with overflow silenced.

    Args:
        model: The model, of any family.
        docs: Documents, one row of token ids each.

    Returns:
        ``(name, values)`` pairs, one row of ``values`` per document.
    """
    with np.errstate(all="ignore"):
        return model.forward_quantities(docs)


# --- what applies to this model ---------------------------------------------------------------------------------


def sizes(model: AttentionClassifier) -> str:
    """The sizes of ``model``, for the reasons of its ``n/a`` records.

    Args:
        model: The model, of any family.

    Returns:
        Its dimensions in the family's notation (:meth:`~theory.models.protocol.AttentionClassifier.sizes`).
    """
    return model.sizes()


def _affordable(
    population: Population,
    passes: int,
    what: str,
    strategy: Callable[[], st.SearchStrategy],
    tokens: int | None = None,
) -> Applies:
    """A strategy if its reference affords this model.

    Args:
        population: The given population.
        passes: The reference forward passes one instance costs.
        what: What those passes are, for the reason.
        strategy: The strategy factory.
        tokens: The BERT family's document length the passes run on (the model's ``reference_seconds``).

    Returns:
        ``strategy`` when ``passes`` passes fit :data:`SECONDS_PER_INSTANCE` on this model, else the reason (about
        its size).
    """
    seconds = passes * population.model.reference_seconds(tokens)
    if seconds <= SECONDS_PER_INSTANCE:
        return strategy
    length = "" if tokens is None else f" of {tokens} tokens"
    return (
        f"{population.name} ({sizes(population.model)}): the claim's reference needs {what} per document"
        f"{length}, ~{seconds:.3g} s at this size, beyond the {SECONDS_PER_INSTANCE:g} s an instance may take"
    )


def _one_layer(population: Population) -> Model:
    """The population's model as the §2 model, for the plans of :data:`ONE_LAYER`, which :func:`given_strategy`
    asks for on a population of that family only.

    Args:
        population: A given population of the one-layer §2 model.

    Returns:
        Its model.
    """
    return cast(Model, population.model)


def _semantics(model: Model) -> st.SearchStrategy[str]:
    """Every removal semantics for ``model``.

    Args:
        model: The §2 model.

    Returns:
        delete, replace, zero and ``mask:ID`` with any id but CLS.
    """
    mask = st.sampled_from([i for i in range(model.V) if i != model.cls_id]).map(lambda i: f"mask:{i}")
    return st.one_of(st.sampled_from(("delete", "replace", "zero")), mask)


def _removal(population: Population, games: int = 1) -> Applies:
    """The first 5 words of each document under every removal semantics, when their references fit (Shapley's
    statements hold for any model: on this one they are checked, as cheap as the removal identities at this size).

    Args:
        population: The given population.
        games: The games of the ``2^d`` perturbed documents' mpmath forward passes one instance costs.

    Returns:
        The strategy factory, or why the claim does not apply.
    """
    from theory.checking.strategies.lime import SemanticsCase

    passes = "2^d mpmath forward passes" if games == 1 else f"{games} games of 2^d mpmath forward passes"
    return _affordable(
        population,
        games * 2**5,
        f"{passes} (d ≤ 5 distinct words)",
        lambda: st.builds(SemanticsCase, given_cases(max_words=5, min_distinct=2), _semantics(_one_layer(population))),
    )


def _monte_carlo(population: Population) -> str:
    """Why the heavy-tails counterexample is not run on this model, and what of it concerns this model.

    Args:
        population: The given population.

    Returns:
        The reason, saying whether any of its documents has its ``β^∞`` estimated by the stratified Monte Carlo
        (more than 10 distinct words).
    """
    from theory.explainers.lime_inf import EXACT_UP_TO

    name, model = population.name, population.model
    claim = (
        "the claim is one fixed instance, a counterexample to the universal form of lime.beta_inf_monte_carlo "
        f"(a model, a 12-word document and a Monte Carlo seed found by a search), not {name}"
    )
    if population.docs is None:
        most = min(model.T - 1, model.word_ids.size)
        many = most > EXACT_UP_TO
        where = f"the texts drawn from {name}'s vocabulary have at most {most} distinct words"
    else:
        count = sum(len(set(words)) > EXACT_UP_TO for words in population.docs)
        many = count > 0
        where = (
            f"{count} of {name}'s {len(population.docs)} documents have more than {EXACT_UP_TO} distinct words"
            if many
            else f"every document of {name} has at most {EXACT_UP_TO} distinct words"
        )
    if not many:
        return (
            f"{where}, so every β^∞ on it is enumerated exactly and no Monte Carlo standard error enters its "
            f"report; {claim}"
        )
    return (
        f"{where}: their β^∞ is estimated by the stratified Monte Carlo, whose standard errors can be wrong in a "
        f"rare run (the report's ± is per run); {claim}"
        + ("" if population.encoder else f"; lime.beta_inf_monte_carlo checks the standard errors on {name}")
    )


def _integrated(population: Population) -> Applies:
    """Integrated gradients' completeness on the models its quadrature affords.

    Args:
        population: The given population.

    Returns:
        The strategy factory (the documents under every substitution semantics), or why the claim does not apply.
    """
    from theory.checking.strategies.lime import SemanticsCase

    model = population.model
    if model.K <= 2 and model.d_e <= 3 and model.T <= 5:
        substitutions = st.sampled_from(("replace", "zero", f"mask:{model.unk_id}"))
        return lambda: st.builds(SemanticsCase, given_cases(), substitutions)
    return (
        f"{population.name} ({sizes(model)}): the mpmath Gauss–Legendre quadrature of the brute-force "
        "gradient (up to 384 nodes, each 2·T·d_e mpmath forward passes at 60 digits) is run for K ≤ 2, d_e ≤ 3, "
        "T ≤ 5 only"
    )


def _noise(population: Population) -> Applies:
    """C-LIME against SmoothGrad on the models whose Gauss–Hermite populations are affordable.

    Args:
        population: The given population.

    Returns:
        The strategy factory (documents, noise scales and seeds), or why the claim does not apply.
    """
    from theory.checking.strategies.explainers import NoiseCase

    model = population.model
    if model.T * model.d_e <= 4:
        return lambda: st.builds(NoiseCase, given_cases(), st.sampled_from((0.1, 0.3)), st.integers(0, 2**31))
    return (
        f"{population.name} has T·d_e = {model.T}·{model.d_e} = {model.T * model.d_e} noise coordinates; the "
        "tensor Gauss–Hermite populations of SmoothGrad and C-LIME (5^(T·d_e) mpmath gradients) are computed "
        "for T·d_e ≤ 4 only"
    )


def _value_spread(model: Model) -> float:
    """The largest spread, over one head's words and UNK, of the value scores ``c = W_ℓ W_v e`` (token part).

    Args:
        model: The §2 model.

    Returns:
        The spread (zero is the premise of the constant-values claims).
    """
    c = np.einsum("ko,kod,vd->kv", model.Wl, model.Wv, model.E[np.append(model.word_ids, model.unk_id)])
    return float(np.ptp(c, axis=1).max())


def _constant_values(population: Population) -> str:
    """Why a claim whose premise is constant value scores does not apply.

    Args:
        population: The given population.

    Returns:
        The reason, with this model's spread of value scores.
    """
    return (
        f"its premise, constant value scores c_t within every head, does not hold on {population.name}: over its "
        f"words and UNK one head's value scores W_ℓW_v e span {_value_spread(_one_layer(population)):.3g}; the "
        "claim's instances are models constructed to meet it"
    )


def _unk_shift(model: Model) -> float:
    """The largest ``|⟨W_kᵀq_i, e_w − e_UNK⟩|`` (times the score factor) over the heads and words: how far from
    UNK a word's score is at the same position (zero for every word is the premise of the equal-scores claims).

    Args:
        model: The §2 model.

    Returns:
        The largest difference.
    """
    x0 = embed(model, np.array([[model.cls_id]]))[0, 0]  # CLS at position 0
    u = np.einsum("kad,ka->kd", model.Wk, np.einsum("kad,d->ka", model.Wq, x0))
    return float(np.abs((model.E[model.word_ids] - model.E[model.unk_id]) @ u.T).max() * model.score_factor)


def _equal_scores(population: Population) -> str:
    """Why a claim whose premise is UNK scored like every word does not apply.

    Args:
        population: The given population.

    Returns:
        The reason, with this model's largest score difference.
    """
    return (
        f"its premise, UNK scored exactly like every word (s̃_t = s_t), does not hold on {population.name}: a "
        f"word's score differs from UNK's at the same position by up to {_unk_shift(_one_layer(population)):.3g}; "
        "the claim's instances are models constructed to meet it"
    )


def _without_pe(population: Population) -> Applies:
    """``delete`` equals ``replace`` on models without positional encoding.

    Args:
        population: The given population.

    Returns:
        The trained population's strategy factory, or why the claim does not apply (the model has one).
    """
    from theory.checking.strategies.trained import trained_perturbed_cases

    if not _one_layer(population).pe:
        return trained_perturbed_cases
    return (
        f"{population.name} uses positional encoding (pe = 1); the claim is about models without it (with it, "
        "delete moves the later words to other positions and differs from replace)"
    )


def _disagreement(population: Population) -> Applies:
    """The documents on which the gradient's top word is compared with attention's.

    Args:
        population: The given population.

    Returns:
        Whole documents when the reference gradient at every word position affords it (T − 1 positions, d_e
        coordinates, two forward passes each), else their first 4 words (the trained population's choice).
    """
    model = population.model
    whole = _affordable(
        population,
        2 * (model.T - 1) * model.d_e,
        "the reference gradient at every word position",
        lambda: given_cases(min_distinct=2),
    )
    return whole if callable(whole) else (lambda: given_cases(max_words=4, min_distinct=2))


def _reduction(population: Population) -> Applies:
    """The encoder of a §2 model against the model, on the models whose references are affordable.

    Args:
        population: The given population.

    Returns:
        The strategy factory (documents under a semantics, with LIME seeds), or why the claim does not apply.
    """
    from theory.checking.strategies.trained import trained_semantics_cases

    return _affordable(
        population,
        2 * 2**5 + 60,
        "the mpmath LIME (60 samples) and 2^d β^∞ enumerations, d ≤ 5",
        lambda: st.builds(lambda case, seed: (case, seed), trained_semantics_cases(), st.integers(0, 2**32 - 1)),
    )


def _torch_compatible(population: Population) -> Applies:
    """The user's documents when torch's ``nn.TransformerEncoderLayer`` expresses the encoder (as
    :func:`reference.oracles.torch_encoder.build` requires), else what it lacks.

    Args:
        population: The given population (an encoder).

    Returns:
        The strategy factory, or why the claim does not apply.
    """
    model = cast(Encoder, population.model)  # ENCODER's plans are asked for on encoders only (given_strategy)
    if (
        model.residual
        and model.norm in ("post", "pre")
        and model.d_att * model.K == model.d_e
        and model.d_out == model.d_att
        and model.d_ff > 0
    ):
        return lambda: given_cases()
    return (
        f"{population.name} ({sizes(model)}, residual {model.residual}, norm {model.norm}) is not expressible "
        "as torch's nn.TransformerEncoderLayer, which needs a residual, a post/pre norm, d_att = d_out = d/K and "
        "a feed-forward"
    )


def _encoder(
    passes: Callable[[Any], int], what: str, factory: Callable[[], st.SearchStrategy]
) -> Callable[[Population], Applies]:
    """A depth claim's plan on a user's encoder: ``factory`` when its reference affords the encoder.

    Args:
        passes: The reference forward passes one instance costs on an encoder.
        what: What those passes are, for the reason.
        factory: The strategy factory.

    Returns:
        A function of the population giving the strategy factory or why the claim does not apply.
    """
    return lambda population: _affordable(population, passes(population.model), what, factory)


def _encoder_triples() -> st.SearchStrategy[tuple]:
    """Instances of ``encoder.blind_to_values``: a document's first 3 words, a LIME seed and a semantics.

    Returns:
        The strategy.
    """
    return st.builds(
        lambda case, seed, sem: (case, seed, sem),
        given_cases(max_words=3, min_distinct=2),
        st.integers(0, 2**32 - 1),
        st.sampled_from(("delete", "replace")),
    )


LARGE_D = (
    "the claim needs one model's texts at growing d with everything else fixed, which a given model's documents "
    "do not offer; lime.large_d_limit measures the limit on this model's documents"
)

#: claims whose given-model strategy (or reason) on a user's one-layer §2 model differs from the trained
#: population's (sized for, or explained by, the committed fixture)
ONE_LAYER = {
    "removal.fast_evaluators": _removal,
    "shapley.exact": _removal,
    "occlusion.closed_form": _removal,
    "shapley.efficiency": _removal,
    "kernelshap.is_shapley": _removal,
    "shapley.linear_in_model": lambda p: _removal(p, games=p.model.K + 1),
    "attention.blind_to_values.shapley": lambda p: _removal(p, games=2),
    "ig.completeness": _integrated,
    "clime.equals_smoothgrad": _noise,
    "gradient.constant_values": _constant_values,
    "lime.affine_in_attention": _constant_values,
    "lime.equal_scores_exact": _equal_scores,
    "shapley.equal_scores_exact": _equal_scores,
    "model.delete_equals_replace_without_pe": _without_pe,
    "lime.large_d_limit.convergence": lambda p: LARGE_D,
    "gradient.disagrees_with_attention": _disagreement,
    "encoder.reduces_to_one_layer": _reduction,
}

#: the depth claims on a user's encoder: its documents, sized by the cost of their references
ENCODER = {
    "encoder.forward": _encoder(lambda m: 1, "one mpmath forward pass", lambda: given_cases()),
    "encoder.gradient": _encoder(
        lambda m: 6 * m.d_e,
        "central differences at CLS and one drawn position (4·d forward passes at ≥ 60 digits)",
        lambda: given_cases(positions=2, cls=True),
    ),
    "encoder.blind_to_values": _encoder(
        lambda m: 40 + 6 * m.d_e,
        "mpmath LIME, β^∞ and gradients of both readouts (d ≤ 3 distinct words)",
        _encoder_triples,
    ),
    "encoder.matches_torch": _torch_compatible,
    "encoder.eq19_last_layer": lambda p: lambda: given_cases(max_words=10, min_distinct=2),
    "encoder.rollout_vs_posthoc": lambda p: lambda: given_cases(max_words=10, min_distinct=3, repeats=False),
}


#: depth claims whose instances are constructed encoders, whatever the user's model
CONSTRUCTED = {
    "encoder.attention_bound": "the instance is a construction (an encoder whose last layer's CLS query attends to "
    "CLS alone, λ = 60); a given encoder is not one",
}


@dataclass(frozen=True)
class BertDocument:
    """A document of a given BERT-family population as an instance of the bert.* claims (the interface of
    :class:`~theory.checking.strategies.bert.BertCase`): ``[CLS] pieces… [SEP]`` of ``given`` (its piece ids, cut
    to its first ``max_words`` pieces when the case says so), then ``pads`` pad tokens with attention mask 0; the
    model is the population's (its explained class), its reference input that model's own weights under their
    Hugging Face names (:func:`~theory.models.huggingface.to_state_dict`).  ``engine`` names the reference the
    claim checks it against: ``mpmath`` (:mod:`reference.models.bert`), or ``arb`` (the certified balls of
    :mod:`reference.models.bert_arb`, at the real widths: :data:`PRETRAINED`); ``direction``, when given, is the
    seed of the unit direction ``v`` of a certified directional derivative ``⟨∇f, v⟩`` (``bert.gradient`` on
    Arb)."""

    given: GivenCase
    pads: int = 0
    engine: str = "mpmath"
    direction: int | None = None

    @property
    def model(self) -> Bert:
        """The population's model (:data:`BERT` plans are asked for on BERT-family populations only)."""
        return cast(Bert, self.given.model)

    @property
    def tokens(self) -> tuple:
        """The real tokens' ids: CLS, the document's pieces, SEP."""
        t = self.model.tokenizer
        return (t.cls_id, *self.given.tokens, t.sep_id)

    @property
    def klass(self) -> int:
        """The explained class (``f`` is its logit)."""
        return self.model.klass

    @property
    def positions(self) -> tuple | None:
        """The positions the per-position references check (CLS and drawn real ones), or None for all."""
        return self.given.positions

    @property
    def ids(self) -> np.ndarray:
        """The token ids ``(T,)``, padding (the config's ``pad_token_id``) included."""
        return np.array([*self.tokens, *[self.model.config.pad_token_id] * self.pads], dtype=np.int64)

    @property
    def mask(self) -> np.ndarray:
        """The attention mask ``(T,)``: 1 for the real tokens, 0 for the pads."""
        return np.array([1.0] * len(self.tokens) + [0.0] * self.pads)

    @cached_property
    def _hugging_face(self) -> tuple[dict, dict, dict | None]:
        return to_state_dict(self.model)

    def reference_weights(self, sign: float = 1.0) -> dict:
        """The model's weights in :mod:`reference.models.bert`'s input format.

        Args:
            sign: the factor of the output layer's weight and bias (1 or −1).

        Returns:
            Name → float64 array.
        """
        hf, weights, probe = self._hugging_face
        return reference_weights(weights, probe, hf["model_type"], sign)

    def reference_config(self) -> dict:
        """The model's config in :mod:`reference.models.bert`'s input format.

        Returns:
            The Hugging Face config's keys and ``readout`` (``head`` or ``mean``).
        """
        hf, _, probe = self._hugging_face
        return {**hf, "readout": "head" if probe is None else "mean"}


def _bert(
    passes: Callable[[Bert], int], what: str, positions: int = 0, pads: tuple[int, int] = (0, 2)
) -> Callable[[Population], Applies]:
    """A bert.* claim's plan on a user's BERT-family model: its documents (each cut to the longest prefix whose
    reference fits :data:`SECONDS_PER_INSTANCE`, and leaves room for the pads in the position table), with
    ``pads`` pad tokens appended, or why the claim does not apply (a logit difference, or a model on which even a
    one-piece document's reference is too slow).

    Args:
        passes: The reference forward passes one instance costs on the model (0: no mpmath reference).
        what: What those passes are, for the reason.
        positions: How many positions the claim's per-position reference checks: CLS and ``positions − 1`` drawn
            real ones (0: every position).
        pads: The fewest and most pad tokens (attention mask 0) appended to a document.

    Returns:
        A function of the population giving the strategy factory or why the claim does not apply.
    """

    def plan(population: Population) -> Applies:
        model = cast(Bert, population.model)
        if model.contrast is not None:
            return (
                f"f of {population.name} is a difference of two logits (--contrast); the references of the bert.* "
                "claims compute one class's logit: run with --class C alone"
            )
        room = model.T - 2 - pads[1]  # pieces a padded document may hold
        longest = room if population.docs is None else max(len(doc) for doc in population.docs)
        fits = [
            n
            for n in range(1, min(longest, room) + 1)
            if passes(model) * model.reference_seconds(n + 2 + pads[1]) <= SECONDS_PER_INSTANCE
        ]
        words = max(fits, default=1)
        cut = None if population.docs is not None and words >= longest else words

        def strategy() -> st.SearchStrategy[BertDocument]:
            cases = given_cases(max_words=cut, positions=positions, cls=positions > 0)
            return st.builds(BertDocument, cases, st.integers(*pads))

        return _affordable(population, passes(model), what, strategy, tokens=words + 2 + pads[1])

    return plan


#: the bert.* claims on a user's BERT-family model: its documents, sized by the cost of their references, or why a
#: claim does not apply
BERT: dict[str, Callable[[Population], Applies]] = {
    "bert.forward": _bert(lambda m: 1, "one mpmath forward pass (40 digits)"),
    "bert.gradient": _bert(
        lambda m: 4 * m.d,
        "central differences at CLS and one drawn position (4·d forward passes at 60 digits)",
        positions=2,
    ),
    "bert.padding_invariance": _bert(
        lambda m: 2 + 8 * m.d,
        "forward passes and central differences at CLS and one drawn real position of the padded and the unpadded "
        "document (2 + 8·d passes)",
        positions=2,
        pads=(1, 2),
    ),
    "bert.blind_to_values": _bert(
        lambda m: 2 + 8 * m.d,
        "forward passes and central differences at CLS and one drawn position under both readouts (2 + 8·d passes)",
        positions=2,
    ),
    "bert.matches_transformers": _bert(lambda m: 0, "no mpmath pass (transformers runs in float64)"),
    "bert.tokenize": lambda p: (
        "a construction: random texts over a written 30-piece WordPiece vocabulary against transformers' "
        f"pure-Python tokenizer; {p.name}'s documents are pieces already tokenized"
    ),
    "bert.attention_bound": lambda p: (
        "the instance is a construction (a model whose last layer's attention to word position 1 is ≤ e^{−60}, "
        "λ = 60); a given model is not one"
    ),
}


#: the ``pretrained`` population's plans (docs/theory.md §13.8, THEORY.md §8 "certified at the real widths"): the
#: prefix length (pieces), the pads and the engine of each bert.* claim it runs, sized by measured cost on this
#: 2-core machine (all-MiniLM-L6-v2, 256 bits): an Arb forward pass takes ≈ 2.4 s at T = 6 tokens, 3.3 s at T = 8,
#: 4.5 s at T = 10, 7.6 s at T = 18 (≈ 0.4 s per token above a fixed ≈ 0.4 s); a forward-mode directional
#: derivative ≈ 2.5 × a forward pass (the tangent rows double the ball products); transformers' float64 forward and
#: autograd on 32 pieces, and the comparison of every attention weight and hidden state, ≈ 1.5 s.  Under ci each
#: claim checks 16 documents (:func:`theory.running.runner.given_examples`), 160 under thorough.
#: (the claims' reference texts in theory/claims/bert.py state these prefix lengths: change both together)
PRETRAINED_PLANS = {
    "bert.forward": (8, (0, 1), "arb"),
    "bert.gradient": (4, (0, 1), "arb"),
    "bert.matches_transformers": (16, (0, 2), "mpmath"),
}
PRETRAINED = "pretrained"  # the population's name (theory.checking.population.pretrained_population)


def _pretrained(claim_id: str) -> Applies:
    """The plan of a bert.* claim on the ``pretrained`` population (:data:`PRETRAINED_PLANS`): held-out documents
    cut to their first pieces, pad tokens appended, checked against the claim's engine; ``bert.gradient`` with a
    drawn direction seed (a certified directional derivative, two-sided balls, no step).

    Args:
        claim_id: a claim of :data:`PRETRAINED_PLANS`.

    Returns:
        The strategy factory.
    """
    pieces, pads, engine = PRETRAINED_PLANS[claim_id]
    directions = st.integers(0, 2**32 - 1) if claim_id == "bert.gradient" else st.none()

    def strategy() -> st.SearchStrategy[BertDocument]:
        return st.builds(BertDocument, given_cases(max_words=pieces), st.integers(*pads), st.just(engine), directions)

    return strategy


def given_strategy(claim: Any, population: Population) -> Applies:
    """What ``claim`` runs on ``population``.

    Args:
        claim: A :class:`~theory.claims.Claim`.
        population: The given population.

    Returns:
        A strategy factory, or the reason (a string, about this model) why the claim does not apply.
    """
    depth = claim.section == "depth"
    if claim.id in CONSTRUCTED:
        return CONSTRUCTED[claim.id]
    if claim.id == "lime.beta_inf_monte_carlo.heavy_tails":
        return _monte_carlo(population)
    if population.model.family == "bert" and claim.section != "bert":
        return (
            f"{population.name} is {population.model.noun} ({sizes(population.model)}); this claim's statement "
            "and reference are those of the one-layer §2 model or the encoder family; the bert.* claims are "
            "its statements (docs/theory.md §13)"
        )
    if claim.section == "bert" and population.model.family != "bert":
        return (
            f"this claim is about the BERT family (docs/theory.md §13); {population.name} is "
            f"{population.model.noun} ({sizes(population.model)}): give a Hugging Face model folder or a BERT-family "
            ".npz (attnverify import DIR) to run it"
        )
    if claim.section == "bert" and claim.id not in BERT:
        return (
            f"checked on random BERT-family models only: its reference on {population.name} "
            f"({sizes(population.model)}) is not wired to a given model's documents"
        )
    if claim.section == "bert" and population.name == PRETRAINED and claim.id in PRETRAINED_PLANS:
        return _pretrained(claim.id)
    if claim.section == "bert":
        return BERT[claim.id](population)
    if population.encoder and claim.id == "encoder.reduces_to_one_layer":
        return (
            f"the claim builds the encoder of a one-layer §2 model (L = 1, no residual, no LayerNorm); "
            f"{population.name} is an encoder already ({sizes(population.model)}): encoder.forward, "
            "encoder.gradient and encoder.matches_torch check it directly"
        )
    if population.encoder:
        if depth:
            return ENCODER[claim.id](population) if claim.id in ENCODER else claim.trained
        if isinstance(claim.trained, str) and claim.id not in ONE_LAYER:  # not about a model: the claim's reason
            return claim.trained
        return (
            f"{population.name} is an encoder ({sizes(population.model)}); this claim's statement and reference "
            "are those of the one-layer §2 model (docs/theory.md §2); the encoder.* claims are its statements "
            "at depth"
        )
    if claim.id in ONE_LAYER:
        return ONE_LAYER[claim.id](population)
    if depth:
        return (
            f"{population.name} is a one-layer §2 model ({sizes(population.model)}); this claim is about the "
            "encoder family (layers, residual, LayerNorm, feed-forward): give an encoder .npz (attnverify import "
            "--arch encoder) to run it"
        )
    return claim.trained


# --- the instances of a claim on the population -----------------------------------------------------------------


class ForeignInstance(AssertionError):
    """An instance of a given population's claim that is not drawn from that population."""


def _parts(instance: Any) -> Iterator[Any]:
    """The :class:`GivenCase` objects and the models that ``instance`` holds.

    Args:
        instance: An instance of a claim (tuples and dataclasses are searched through).

    Returns:
        An iterator over the cases and the models found.
    """
    if isinstance(instance, GivenCase):
        yield instance
    elif isinstance(instance, AttentionClassifier):
        yield instance
    elif isinstance(instance, tuple):
        for item in instance:
            yield from _parts(item)
    elif dataclasses.is_dataclass(instance) and not isinstance(instance, type):
        for item in dataclasses.fields(instance):
            yield from _parts(getattr(instance, item.name))


class Scope:
    """What of each document the instances of one claim used, gathered while it runs (:func:`guarded`).

    Args:
        population: The given population the instances are drawn from.
    """

    def __init__(self, population: Population) -> None:
        self.population = population
        self.cut: dict[Any, int] = {}  # a document (its index, or the drawn text) → the words used
        self.documents: set[Any] = set()
        self.positions: set[int] = set()
        self.coordinates: set[int] = set()
        self.pads: set[int] = set()  # pad tokens appended to a BERT-family document (BertDocument)

    def add(self, case: GivenCase) -> None:
        """Note what of its document ``case`` uses.

        Args:
            case: A case of the population.
        """
        key: Any = case.index if case.index is not None else case.drawn
        if case.index is None:  # words drawn from the vocabulary (a population without documents)
            whole = case.drawn
        else:
            assert self.population.docs is not None, "a case with an index is a document of its population"
            whole = self.population.docs[case.index]
        assert whole is not None, "a drawn case holds its words"
        self.documents.add(key)
        if case.max_words is not None and len(whole) > case.max_words:
            self.cut[key] = case.max_words
        if case.positions is not None:
            self.positions.add(len(case.positions))
        if case.coordinates is not None:
            self.coordinates.add(len(case.coordinates))

    def describe(self, domain: list[str]) -> str:
        """The record's ``scope``, in plain words.

        Args:
            domain: The domain notes of the claim's strategy (what of the population it left out,
                :func:`theory.checking.population.using`).

        Returns:
            ``domain``, then the prefixes, positions and coordinates used and the pad tokens appended, joined by
            "; " (empty when the claim used every document whole).
        """
        model, parts = self.population.model, list(domain)
        kind = "document" if self.population.docs is not None else "drawn text"
        if self.cut:
            words, one = _either(self.cut.values()), len(self.cut) == 1
            which = (
                f"the one {kind} used was"
                if len(self.documents) == 1
                else f"{len(self.cut)} of the {len(self.documents)} {kind}s used {'was' if one else 'were'}"
            )
            parts.append(
                f"{which} cut to {'its' if one else 'their'} first {words} words, and the model ran on "
                f"{'that prefix' if one else 'each prefix'} as a document of its own"
            )
        elif self.population.docs is None and self.documents:
            longest = max(len(d) for d in self.documents if isinstance(d, tuple))
            if longest < model.T - 1:
                parts.append(f"texts drawn with at most {longest} words (T − 1 = {model.T - 1} possible)")
        if self.positions:
            parts.append(f"{_either(self.positions)} of the T = {model.T} positions checked in each document")
        if self.coordinates:
            parts.append(
                f"{_either(self.coordinates)} of the d_e = {model.d_e} embedding coordinates checked at each "
                "checked position"
            )
        if any(self.pads):
            parts.append(f"{_either(self.pads)} pad tokens (attention mask 0) appended to each document")
        return "; ".join(parts)


def _either(counts: Iterable[int]) -> str:
    """The counts a claim used, in order: ``{3, 4}`` → ``"3 or 4"``.

    Args:
        counts: The counts.

    Returns:
        The distinct counts, ascending, the last one after "or".
    """
    ordered = [str(count) for count in sorted(set(counts))]
    return " or ".join(ordered) if len(ordered) <= 2 else f"{', '.join(ordered[:-1])} or {ordered[-1]}"


def guarded(check: Callable[[Any], Any], population: Population, scope: Scope) -> Callable[[Any], Any]:
    """A claim's check on a given population, refusing any instance not drawn from it.

    Args:
        check: The claim's check.
        population: The given population.
        scope: Where to note what of each document the instances use.

    Returns:
        ``check``, raising :class:`ForeignInstance` on an instance that holds no case of ``population`` or a case
        or model of another population.
    """

    def checked(instance: Any) -> Any:
        parts = list(_parts(instance))
        cases = [p for p in parts if isinstance(p, GivenCase)]
        foreign = [
            p
            for p in parts
            if (isinstance(p, GivenCase) and p.population is not population)
            or (not isinstance(p, GivenCase) and p is not population.model)
        ]
        if foreign or not cases:
            raise ForeignInstance(
                f"instance {instance!r} is not drawn from {population.name}: a bug of the claim's given-model strategy"
            )
        for case in cases:
            scope.add(case)
        if isinstance(instance, BertDocument):
            scope.pads.add(instance.pads)
        return check(instance)

    return checked
