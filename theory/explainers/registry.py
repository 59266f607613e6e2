"""The explanation methods, one registry: ``explain(model, text, method, *, semantics=…, samples=…, seed=…)`` and
:data:`METHODS`, each a :class:`Method` callable as ``method(model, text, *, semantics=…, samples=…, seed=…)``
(``text``: a string read with ``vocabulary``, word ids, or a :class:`~theory.models.protocol.Document`) that
returns an :class:`~theory.explainers.explanation.Explanation`.  ``attnverify explain`` calls :func:`explain` once
per method (:mod:`theory.cli.explain`; :mod:`theory.cli.explain_view` shows them).

**Units.**  Position methods score the positions ``0..L`` (CLS and the words; padding is not explained): attention
(§3), gradients (§4), Integrated Gradients, SmoothGrad, C-LIME.  Word methods score the ``d`` distinct words in
order of first appearance (lime's feature order): LIME, its population limit ``β^∞`` and its approximations (§5),
Shapley values, KernelSHAP, occlusion (docs/theory.md §11.2).

**Words over pieces** (a ``"word-pieces"`` model, the BERT family of docs/theory.md §13): every method scores the
``d`` distinct words of the text (by their text, all occurrences switched together); a position method's scores of
a word's pieces are aggregated so that the method's identity survives (:data:`PIECE_AGGREGATES`), the special
tokens are never explained nor removed (their scores stay in ``piece_scores``).

**Options.**  ``semantics``, ``samples`` and ``seed`` (in that order, keyword-only), and the method's own
(``baseline`` for IG, ``sigma`` for SmoothGrad and C-LIME): a method takes the ones listed in its
:attr:`Method.options`; an option left at None keeps the method's default, an option the method does not take is
an :class:`~theory.errors.InputError` naming the methods that take it.

**Default removal semantics, one per kind** (:data:`DEFAULT_SEMANTICS`): LIME's kind (``lime``, ``lime-inf``)
removes words by ``delete`` — what lime 0.2.0.1 does with ``bow=True`` (the words removed, the rest shifted left,
UNK re-padding), so that ``lime`` reproduces the package; the game-theoretic kind (``shapley``, ``kernelshap``,
``occlusion``) by ``replace`` — UNK at the removed word's own position, shap's text masker (a mask token in place)
and Eq. (19)'s assumption, which keeps every other word at its position.  The approximations of ``β^∞``
(``eq19``, ``lime-large-d``) are formulas under ``replace`` and take no semantics.  These are the defaults the
committed reports were computed with.

**Methods a family does not have.**  A method may require a capability of the model
(:data:`theory.models.protocol.CAPABILITIES`): ``eq19`` and ``lime-large-d`` the §2 structure
(``"cls-only-attention"``), ``rollout`` layers of full attention (``"layers"``); :func:`methods_of` lists the
methods a model has and :attr:`Method.not_defined` says in one line why the others are not defined for it.

**Refusals.**  A sampled method refuses, before it starts, a ``samples`` whose work would take longer than
:data:`theory.memory.TIME_LIMIT` (:func:`theory.memory.require_time`, measured on one block of its own work) or
whose arrays would not fit in memory (:func:`theory.memory.require`), with the estimate.  A forward pass that
overflows, or a non-finite number in a result, is refused by :func:`theory.explainers.finite.finite_result`.

**Zeros by LayerNorm** (the model's ``layer_norm_zeros``, docs/theory.md §11.1).  In a pre-norm encoder
``Σ_k ∇_{t,k} f = 0`` exactly at every word position, at every input.  So ``grad-avg`` and ``smoothgrad`` (scores
``Σ_k``, resp. their mean, of gradients) are 0 there; their float64 values are rounding noise, kept in ``scores``
and flagged by the extra ``"exactly_zero": {"positions", "reason"}``.  ``clime`` estimates SmoothGrad's population
value (Stein's lemma), so its ``"population_zero"`` names the same positions: its estimates there are sampling noise.

**Shapley and KernelSHAP** are exact (enumeration of the ``2^d`` subsets of words) for ``d ≤`` :data:`EXACT_D`;
beyond, Shapley is estimated by antithetic permutations (as many as needed for a 1% relative standard error) and
KernelSHAP by paired sampling (4096 patterns).  With ``samples`` (Shapley: pairs of orders, ``2 + 2·pairs·(d − 1)``
evaluations of ``f``; KernelSHAP: ``samples + 2`` patterns) they sample, unless the exact enumeration costs no more
evaluations (``2^d`` of them): then they enumerate and record ``requested_samples``.  Their ``intercept`` is
``v(∅)``, the value of the empty text (shap's base value).  IG takes ``baseline`` (``replace | mask:ID | zero``,
default replace) and no samples; SmoothGrad and C-LIME take ``sigma`` (default 0.1) and ``samples`` antithetic
pairs (default 256).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from theory.errors import InputError
from theory.explainers.attention import alpha_avg, alpha_max
from theory.explainers.explanation import Explanation
from theory.explainers.finite import finite_result
from theory.explainers.gradient import g_avg, g_l1, g_l2, g_x_input
from theory.explainers.rollout import rollout
from theory.memory import beta_inf_bytes, kernelshap_bytes, lime_bytes, require, require_time
from theory.models.perturb import distinct_words, evaluator, single_threaded_blas
from theory.models.protocol import AttentionClassifier, Document
from theory.models.removal import PIECES

#: the default removal semantics of each kind of word method (module docstring)
DEFAULT_SEMANTICS = {"lime": "delete", "game": "replace"}
EXACT_D = 12
ENCODER_IG_RTOL = 1e-3
TARGET_RSE = 0.01
_BLOCK = 64  # evaluations timed to estimate a sampled method's run time
FEWER = "use fewer --samples"


@dataclass(frozen=True)
class Method:
    """A registered explanation method: ``compute(model, doc, length, **options) -> dict`` (``"f"``, ``"scores"``,
    ``"words"`` for a word method, then its extras) for the document's ids and length, with the options it takes,
    its kind (the default semantics of :data:`DEFAULT_SEMANTICS`), its unit, the capability it requires and, for
    a position method, how its scores of a word's pieces make the word's (:data:`PIECE_AGGREGATES`)."""

    name: str
    kind: str  # attention, gradient, lime, approximation, game, embedded
    unit: str  # position or word
    compute: Callable[..., dict]
    options: tuple[str, ...] = ()
    requires: str | None = None  # a capability of the model (theory.models.protocol.CAPABILITIES)
    not_defined: str = ""  # why the method is not defined for a model without that capability
    pieces: str = "sum"  # a position method's word score from its pieces' (PIECE_AGGREGATES)

    def __call__(
        self,
        model: AttentionClassifier,
        text: str | Sequence[int] | Document,
        *,
        semantics: str | None = None,
        samples: int | None = None,
        seed: int | None = None,
        allow_unk: bool = False,
        vocabulary=None,
        **own: Any,
    ) -> Explanation:
        """Explain ``text`` with this method.

        Args:
            model: a model of any family that has this method (:func:`methods_of`).
            text: a string (read with ``vocabulary``), word ids, or a Document.
            semantics: the removal semantics (word methods; default: the kind's, :data:`DEFAULT_SEMANTICS`).
            samples: the sample size of a sampled method (default: the method's).
            seed: the seed of a sampled method (default 0).
            allow_unk: whether the words may hold UNK (``--oov unk``).
            vocabulary: the vocabulary that reads a string.
            **own: the method's own options (``baseline``, ``sigma``).

        Returns:
            The :class:`~theory.explainers.explanation.Explanation`.
        """
        if self.requires is not None and self.requires not in model.capabilities:
            raise InputError(f"method {self.name!r} is not defined for {model.noun}: {self.not_defined}")
        options = {
            key: value
            for key, value in {"semantics": semantics, "samples": samples, "seed": seed, **own}.items()
            if value is not None
        }
        unknown = [key for key in options if key not in self.options]
        if unknown:
            takers = sorted(name for name, method in METHODS.items() if unknown[0] in method.options)
            raise InputError(
                f"--{unknown[0]} does not apply to method {self.name!r}"
                + (f"; it applies to {', '.join(takers)}" if takers else "")
            )
        if "seed" in options and not 0 <= options["seed"] < 2**32:
            raise InputError(f"--seed {options['seed']} is out of range; use an integer in 0..{2**32 - 1}")
        if "semantics" in self.options:
            options.setdefault("semantics", DEFAULT_SEMANTICS[self.kind])
        doc = model.document(text, vocabulary=vocabulary, allow_unk=allow_unk)
        pieces = doc.names is not None  # words over pieces: word methods read the Document's word structure
        target = doc if pieces and self.unit == "word" else doc.ids
        result = finite_result(self.name, model, doc.ids, lambda: self.compute(model, target, doc.length, **options))
        f, scores = result.pop("f"), result.pop("scores")
        if pieces:
            return _per_word(self, doc, f, scores, result, _zeros(model, self.name, doc.length))
        features = result.pop("words") if self.unit == "word" else doc.positions
        return Explanation(
            self.name,
            f,
            self.unit,
            features,
            scores,
            doc.positions,
            doc.ids[: doc.length + 1].tolist(),
            {**result, **_zeros(model, self.name, doc.length)},
        )


#: how a position method's scores of a word's pieces ``P_w`` (all its occurrences) make the word's score
#: (docs/theory.md §13.4): ``sum`` — attention, G×I, IG (completeness per word), SmoothGrad and
#: C-LIME (sums over coordinates), G-l1 (the l1 norm of the concatenated gradients); ``mean`` — G-avg, the mean over
#: all the word's coordinates (the pieces' means averaged); ``l2`` — G-l2, the norm of the concatenated gradients
PIECE_AGGREGATES = ("sum", "mean", "l2")


def word_scores(aggregate: str, scores: np.ndarray, word_of: np.ndarray, d: int) -> np.ndarray:
    """The words' scores from their pieces' (:data:`PIECE_AGGREGATES`).

    Args:
        aggregate: ``sum``, ``mean`` or ``l2``.
        scores: the pieces' scores, positions ``1..L`` (shape ``(L,)``).
        word_of: the word of each piece (shape ``(L,)``, values ``0..d−1``).
        d: the number of distinct words.

    Returns:
        Shape ``(d,)``.
    """
    if aggregate == "l2":
        return np.sqrt(np.bincount(word_of, weights=np.square(scores), minlength=d))
    total = np.bincount(word_of, weights=scores, minlength=d)
    return total / np.bincount(word_of, minlength=d) if aggregate == "mean" else total


def _per_word(method: Method, doc: Document, f: float, scores, result: dict, zeros: dict) -> Explanation:
    """The explanation of a document whose words span pieces: every method scores the distinct words (a position
    method's piece scores aggregated, :func:`word_scores`; its scores of CLS and the pieces kept as
    ``piece_scores``, its standard errors as ``piece_stderr``); the positions are CLS and the words of the text in
    order, ``tokens`` the CLS id then each word's index in ``words``; ``token_strings`` and ``word_strings`` name
    them.  ``zeros`` (:func:`_zeros`, in pieces) become the words all of whose pieces are zero, at their
    positions."""
    assert doc.names is not None and doc.occurrences is not None  # a word-pieces document carries both
    d = doc.words.size
    if method.unit == "position":
        pieces = np.asarray(scores, dtype=np.float64)
        extra = {"piece_scores": pieces.tolist()}
        if "stderr" in result:  # (of correlated estimates: no per-word error follows from them)
            extra["piece_stderr"] = result.pop("stderr")
        scores = word_scores(method.pieces, pieces[1 : doc.length + 1], doc.word_of, d).tolist()
        result = {**result, **extra}
    for key, value in zeros.items():
        zero_pieces = np.isin(np.arange(1, doc.length + 1), value["positions"])
        zero_words = np.bincount(doc.word_of, weights=~zero_pieces, minlength=d) == 0
        result[key] = {**value, "positions": (np.flatnonzero(zero_words[doc.occurrences]) + 1).tolist()}
    return Explanation(
        method.name,
        f,
        "word",
        doc.words.tolist(),
        list(scores),
        list(range(doc.occurrences.size + 1)),
        [int(doc.ids[0]), *doc.occurrences.tolist()],
        {**result, "token_strings": ["CLS", *(doc.names[j] for j in doc.occurrences)], "word_strings": list(doc.names)},
    )


def _output(model: AttentionClassifier, doc) -> float:
    """``f`` of one document (its ids, or a Document)."""
    ids = doc.ids if isinstance(doc, Document) else doc
    return float(model.output(ids[None])[0])


def methods_of(model: AttentionClassifier) -> dict[str, Method]:
    """The explanation methods defined for ``model`` (those whose required capability it has), by name, in
    :data:`METHODS`' order.

    Args:
        model: a model of any family.

    Returns:
        The methods by name.
    """
    return {
        name: method
        for name, method in METHODS.items()
        if method.requires is None or method.requires in model.capabilities
    }


def method_names(model: AttentionClassifier, requested: Sequence[str]) -> list[str]:
    """The methods named by ``requested``, without repeats.

    Args:
        model: the model to explain.
        requested: strings, each one name, a comma-separated list, or ``all`` (every method of
            :func:`methods_of`, in its order).

    Returns:
        The names; an unknown name, or one not defined for the model, is an :class:`~theory.errors.InputError`
        saying why.
    """
    known = methods_of(model)
    names = [name.strip() for item in requested for name in item.split(",")]
    if not names or any(not name for name in names):
        raise InputError(f"--method needs method names (comma-separated) or all; choose from {', '.join(known)}")
    chosen: list[str] = []
    for name in names:
        for method in known if name == "all" else [name]:
            if method not in known:
                if method in METHODS:
                    raise InputError(
                        f"method {method!r} is not defined for {model.noun}: {METHODS[method].not_defined}"
                    )
                raise InputError(f"unknown method {method!r}; choose one of {', '.join(known)}, or all")
            if method not in chosen:
                chosen.append(method)
    return chosen


def explain(
    model: AttentionClassifier,
    text: str | Sequence[int] | Document,
    method: str,
    *,
    semantics: str | None = None,
    samples: int | None = None,
    seed: int | None = None,
    **options: Any,
) -> Explanation:
    """Explain ``text`` with ``method`` (the public entry point: :class:`Method` of :data:`METHODS`).

    Args:
        model: a model of any family.
        text: a string (with ``vocabulary=``), word ids, or a Document.
        method: a name of :data:`METHODS` defined for the model.
        semantics: the removal semantics of a word method (default: its kind's).
        samples: the sample size of a sampled method (default: the method's).
        seed: the seed of a sampled method (default 0).
        **options: ``allow_unk``, ``vocabulary`` and the method's own options (``baseline``, ``sigma``).

    Returns:
        The :class:`~theory.explainers.explanation.Explanation`.
    """
    if method not in METHODS:
        method_names(model, [method])  # raises, saying why
    return METHODS[method](model, text, semantics=semantics, samples=samples, seed=seed, **options)


# --- zeros by LayerNorm -------------------------------------------------------------------------------------------

#: position methods whose score at ``t`` is ``Σ_k`` (or the mean over ``k``) of gradients ``∇_{t,k} f``
COORDINATE_SUMS = ("grad-avg", "smoothgrad")

LAYER_NORM_REASON = (
    "pre-norm encoder: the residual stream carries e_t unchanged and every sublayer reads it through "
    "a LayerNorm, whose input gradient sums to 0 over the coordinates, so Σ_k ∇_{t,k} f = 0 at "
    "every input (docs/theory.md §11.1, coordinate sums under pre-norm)"
)


EMBEDDING_NORM_REASON = (
    "the embedding LayerNorm: h^(0)_t = LN_emb(E[ξ_t] + P[π(t)] + T_y[0]) reads the word "
    "embedding only through a LayerNorm, whose input gradient sums to 0 over the coordinates, so "
    "Σ_k ∇_{t,k} f = 0 at every position and every input (docs/theory.md §13.4)"
)


def _zeros(model: AttentionClassifier, method: str, length: int) -> dict:
    """``exactly_zero`` (a gradient sum) or ``population_zero`` (C-LIME) of the model's ``layer_norm_zeros``."""
    zeros = model.layer_norm_zeros(length)
    key = "exactly_zero" if method in COORDINATE_SUMS else "population_zero" if method == "clime" else None
    if not zeros or key is None:
        return {}
    why = EMBEDDING_NORM_REASON if PIECES in model.capabilities else LAYER_NORM_REASON
    reason = (
        why
        if key == "exactly_zero"
        else (
            why + "; C-LIME's population value equals SmoothGrad's (Stein's lemma), so its estimates "
            "there are sampling noise"
        )
    )
    return {key: {"positions": zeros, "reason": reason}}


# --- attention and gradients (§3, §4) -----------------------------------------------------------------------------


def _attention(explanation: Callable[[np.ndarray], np.ndarray]):
    """An attention explanation of the readout attention (the CLS row of the last layer, ``(K, T)``) aggregated
    over heads."""

    def compute(model: AttentionClassifier, doc: np.ndarray, length: int) -> dict:
        return {
            "f": float(model.output(doc[None])[0]),
            "scores": explanation(model.readout_attention(doc[None])[0])[: length + 1].tolist(),
        }

    return compute


def _rollout(model: AttentionClassifier, doc: np.ndarray, length: int) -> dict:
    """Attention rollout over the layers (Abnar & Zuidema 2020), the CLS row."""
    scores = rollout(model.attention(doc[None]))[0]
    return {"f": float(model.output(doc[None])[0]), "scores": scores[: length + 1].tolist()}


def _gradient(aggregate: Callable[[np.ndarray, np.ndarray], np.ndarray]):
    """Gradient aggregates (§4) of the exact ``∇_t`` (CLS query path included at position 0): the closed form of
    the §2 model, backpropagation for an encoder."""

    def compute(model: AttentionClassifier, doc: np.ndarray, length: int) -> dict:
        scores = aggregate(model.gradient(doc[None])[0], model.embed(doc[None])[0])
        return {"f": float(model.output(doc[None])[0]), "scores": scores[: length + 1].tolist()}

    return compute


# --- LIME (§5) ----------------------------------------------------------------------------------------------------


def affordable_evaluations(
    model: AttentionClassifier, doc, length: int, semantics: str, count: float, what: str, nbytes: float = 0
) -> None:
    """Refuse ``what`` when its arrays (``nbytes``) would not fit in memory (:func:`theory.memory.require`), or
    when ``count`` evaluations of ``f`` on perturbed documents would take too long (:func:`theory.memory.require_time`,
    timed on a block of :data:`_BLOCK` documents with every word kept).

    Args:
        model: the model.
        doc: the document's ids.
        length: its number of words.
        semantics: the removal semantics of the perturbed documents.
        count: the evaluations of ``f`` the method would run.
        what: the method and its options, for the message.
        nbytes: the bytes of its arrays.
    """
    require(nbytes, what, FEWER)
    evaluate = evaluator(model, doc, length, semantics)
    block = np.ones((_BLOCK, distinct_words(doc, length).size))
    require_time(count, "evaluations of f", _BLOCK, lambda: evaluate(block), what, FEWER)


def _lime(
    model: AttentionClassifier, doc: np.ndarray, length: int, *, semantics: str, samples: int = 5000, seed: int = 0
) -> dict:
    """Empirical LIME (lime 0.2.0.1 defaults, §5) under the chosen removal semantics."""
    from theory.explainers.lime import lime

    if isinstance(samples, int) and samples >= 2:
        d = distinct_words(doc, length).size
        affordable_evaluations(
            model,
            doc,
            length,
            semantics,
            samples,
            f"LIME with --samples {samples} and d = {d} distinct words",
            lime_bytes(samples, d),
        )
    result = lime(model, doc, length, semantics=semantics, samples=samples, seed=seed)
    return {
        "f": float(result.f[0]),
        "scores": result.coef.tolist(),
        "words": result.words.tolist(),
        "intercept": result.intercept,
        "semantics": semantics,
        "samples": int(samples),
        "seed": int(seed),
    }


def _lime_inf(
    model: AttentionClassifier,
    doc: np.ndarray,
    length: int,
    *,
    semantics: str,
    samples: int | None = None,
    seed: int = 0,
) -> dict:
    """LIME's population limit ``β^∞`` (§5): exact for ``d ≤ 10``, stratified Monte Carlo with standard errors
    otherwise (``samples`` evaluations, default 100 000)."""
    from theory.explainers.lime_inf import EXACT_UP_TO, MC_SAMPLES, beta_inf_model

    d = distinct_words(doc, length).size
    count = samples or MC_SAMPLES
    if d > EXACT_UP_TO and isinstance(count, int) and count >= 1:  # (exact: at most 2^10 evaluations)
        affordable_evaluations(
            model,
            doc,
            length,
            semantics,
            count,
            f"β^∞ by Monte Carlo with --samples {count} and d = {d} words",
            beta_inf_bytes(count, d),
        )
    result = beta_inf_model(model, doc, length, semantics=semantics, samples=samples, seed=seed)
    out = {
        "f": _output(model, doc),
        "scores": result.beta[1:].tolist(),
        "words": result.words.tolist(),
        "intercept": float(result.beta[0]),
        "semantics": semantics,
        "samples": result.samples,
        "seed": result.seed,
        "exact": result.exact,
    }
    if result.stderr is not None:  # (not exact)
        out["stderr"] = result.stderr[1:].tolist()
        out["intercept_stderr"] = float(result.stderr[0])
    return out


def _approximation(name: str):
    """An approximation of ``β^∞`` under ``replace`` (§5: the paper's Eq. (19), the suite's large-d limit;
    ``theory.explainers.lime_approx.<name>``), per distinct word in lime's feature order, as ``lime-inf`` reports
    them (no intercept: neither formula has one)."""

    def compute(model: AttentionClassifier, doc: np.ndarray, length: int) -> dict:
        import theory.explainers.lime_approx as approximations

        scores = getattr(approximations, name)(model, doc, length)
        return {
            "f": _output(model, doc),
            "scores": scores.tolist(),
            "words": distinct_words(doc, length).tolist(),
            "semantics": "replace",
        }

    return compute


# --- the word games: Shapley, KernelSHAP, occlusion (§11.2) -------------------------------------------------------


def _words(model, doc, length, semantics, scores, samples, seed, **extra) -> dict:
    return {
        "f": _output(model, doc),
        "scores": np.asarray(scores).tolist(),
        "words": distinct_words(doc, length).tolist(),
        "intercept": float(evaluator(model, doc, length, semantics)(np.zeros((1, len(scores))))[0]),
        "semantics": semantics,
        "samples": samples,
        "seed": seed,
        **extra,
    }


def _enumerate(model, doc, length, semantics, samples, evaluations) -> bool:
    """Whether Shapley/KernelSHAP enumerate the ``2^d`` subsets of words exactly: by default for ``d ≤``
    :data:`EXACT_D`; with ``samples``, whenever the enumeration costs no more evaluations of ``f`` than the
    sampling asked for (``2^d ≤ evaluations``, ``d ≤`` :data:`~theory.explainers.lime_inf.MAX_EXACT_D`), after the
    time and memory check of ``2^d`` evaluations beyond ``EXACT_D`` words."""
    from theory.explainers.lime_inf import MAX_EXACT_D

    d = distinct_words(doc, length).size
    if samples is None:
        return d <= EXACT_D
    if not (isinstance(samples, int) and d <= MAX_EXACT_D and 2**d <= evaluations):
        return False
    if d > EXACT_D:
        affordable_evaluations(
            model, doc, length, semantics, 2**d, f"exact enumeration of 2^{d} subsets of words", 2**d * d * 8
        )
    return True


def _exact(samples) -> dict:
    """The extras of an exact enumeration: ``requested_samples`` when it replaced the sampling asked for."""
    return {"exact": True} if samples is None else {"exact": True, "requested_samples": samples}


def _shapley(model, doc, length, *, semantics: str, samples: int | None = None, seed: int = 0) -> dict:
    """Shapley values of the words (exact for small d, antithetic permutations otherwise)."""
    from theory.explainers.shapley import shapley_exact, shapley_mc

    d = distinct_words(doc, length).size
    pairs = samples or 32  # without samples: 32 pairs, then more until the relative SE is 1%
    if _enumerate(model, doc, length, semantics, samples, 2 + 2 * pairs * (d - 1)):
        return _words(
            model,
            doc,
            length,
            semantics,
            shapley_exact(model, doc, length, semantics=semantics),
            2**d,
            seed,
            **_exact(samples),
        )
    if isinstance(pairs, int) and pairs >= 2:
        affordable_evaluations(
            model,
            doc,
            length,
            semantics,
            2 + 2 * pairs * (d - 1),
            f"Shapley with {pairs} antithetic pairs of orders and d = {d} distinct words",
        )
    est = shapley_mc(
        model,
        doc,
        length,
        semantics=semantics,
        samples=pairs,
        seed=seed,
        target=TARGET_RSE if samples is None else None,
    )
    return _words(
        model,
        doc,
        length,
        semantics,
        est.phi,
        est.evaluations,
        seed,
        exact=False,
        stderr=est.stderr.tolist(),
        pairs=est.pairs,
    )


def _kernelshap(model, doc, length, *, semantics: str, samples: int | None = None, seed: int = 0) -> dict:
    """KernelSHAP: the population fit over the full enumeration for small d, paired sampling otherwise."""
    from theory.explainers.kernelshap import kernelshap_sampled, kernelshap_table
    from theory.explainers.lime_inf import table

    d = distinct_words(doc, length).size
    n = samples or 4096
    if _enumerate(model, doc, length, semantics, samples, n + 2):
        values = table(model, doc, length, semantics=semantics)
        return _words(model, doc, length, semantics, kernelshap_table(values, d), 2**d, seed, **_exact(samples))
    if isinstance(n, int) and n >= 2:
        affordable_evaluations(
            model,
            doc,
            length,
            semantics,
            n + 2,
            f"KernelSHAP with --samples {n} and d = {d} distinct words",
            kernelshap_bytes(n, d),
        )
    with single_threaded_blas():
        beta = kernelshap_sampled(evaluator(model, doc, length, semantics), d, n, seed)
    return _words(model, doc, length, semantics, beta, n, seed, exact=False)


def _occlusion(model, doc, length, *, semantics: str) -> dict:
    """Leave-one-word-out occlusion."""
    from theory.explainers.occlusion import occlusion

    d = distinct_words(doc, length).size
    return _words(model, doc, length, semantics, occlusion(model, doc, length, semantics=semantics), d + 1, None)


# --- on embedded inputs: IG, SmoothGrad, C-LIME (§11.2) -----------------------------------------------------------


def _ig(model, doc, length, *, baseline: str = "replace") -> dict:
    """Integrated Gradients to a completeness gap of 1e-10 × the value scale for a model with the §2 structure
    (whose integrand is analytic along the path), or :data:`ENCODER_IG_RTOL` × the readout's scale otherwise: with
    ReLU feed-forwards an encoder's integrand has kinks, Gauss–Legendre's gap falls slowly and unevenly (bundled
    encoder, 8 words: 0.27, 0.17, 0.0084, 0.041, 0.017, 0.0036 at 8, 32, 64, 128, 256, 512 nodes; 6e-4 at 4096
    nodes, about a minute), so a tighter target would only spend time.  The result carries the gap reached and the
    nodes."""
    from theory.explainers.ig import RTOL, integrated_gradients

    analytic = "cls-only-attention" in model.capabilities
    r = integrated_gradients(model, doc, length, baseline=baseline, rtol=RTOL if analytic else ENCODER_IG_RTOL)
    return {
        "f": r.f,
        "scores": r.scores[: length + 1].tolist(),
        "baseline": r.baseline,
        "f_baseline": r.f_baseline,
        "completeness_gap": r.gap,
        "nodes": r.nodes,
    }


def _noise(estimator, name: str, unit: str, work):
    """A noise method (``estimator`` of :mod:`theory.explainers.smoothgrad`/``clime``); ``work(model, X)`` is the
    unit of its cost on a batch of embedded documents (a gradient, resp. an evaluation of ``f``)."""

    def compute(model, doc, length, *, sigma: float = 0.1, samples: int = 256, seed: int = 0) -> dict:
        if isinstance(samples, int) and samples >= 2:
            X = np.repeat(model.embed(doc[None]), _BLOCK, axis=0)
            require_time(
                2 * samples,
                unit,
                _BLOCK,
                lambda: work(model, X),
                f"{name} with --samples {samples} antithetic pairs of noise draws",
                FEWER,
            )
        try:
            r = estimator(model, doc, sigma=sigma, samples=samples, seed=seed)
            finite = bool(np.all(np.isfinite(r.scores)) and np.all(np.isfinite(r.scores_stderr)))
        except OverflowError:  # C-LIME's σ² as a Python float
            finite = False
        if not finite:  # the document's own forward pass is finite (finite_result checks it first): σ did it
            X = model.embed(doc[None])
            raise InputError(
                f"--sigma {sigma:g} takes {name} outside float64's range: its noise σ·N(0, 1) is added "
                f"to embeddings whose entries are at most {np.abs(X).max():.3g} in size"
                + (" (and it divides by σ²)" if name == "C-LIME" else "")
                + "; choose --sigma on that scale (default 0.1)"
            )
        return {
            "f": float(model.output(doc[None])[0]),
            "scores": r.scores[: length + 1].tolist(),
            "stderr": r.scores_stderr[: length + 1].tolist(),
            "sigma": r.sigma,
            "samples": r.pairs,
            "seed": r.seed,
        }

    return compute


def _smoothgrad(model, doc, length, **options) -> dict:
    """SmoothGrad (Σ_k of the noise-averaged gradient), antithetic Monte Carlo."""
    from theory.explainers.smoothgrad import smoothgrad

    return _noise(smoothgrad, "SmoothGrad", "gradients", lambda model, X: model.gradient_embedded(X))(
        model, doc, length, **options
    )


def _clime(model, doc, length, **options) -> dict:
    """Continuous LIME (Agarwal et al. 2021), antithetic Monte Carlo."""
    from theory.explainers.clime import clime

    return _noise(clime, "C-LIME", "evaluations of f", lambda model, X: model.output_embedded(X))(
        model, doc, length, **options
    )


_WORD_OPTIONS = ("semantics", "samples", "seed")
_NOISE_OPTIONS = ("sigma", "samples", "seed")

#: every explanation method, by name, in the order ``--method all`` runs them
METHODS: dict[str, Method] = {
    method.name: method
    for method in (
        Method("attention-avg", "attention", "position", _attention(alpha_avg)),
        Method("attention-max", "attention", "position", _attention(alpha_max)),
        Method("grad-avg", "gradient", "position", _gradient(lambda grad, X: g_avg(grad)), pieces="mean"),
        Method("grad-l1", "gradient", "position", _gradient(lambda grad, X: g_l1(grad))),
        Method("grad-l2", "gradient", "position", _gradient(lambda grad, X: g_l2(grad)), pieces="l2"),
        Method("grad-x-input", "gradient", "position", _gradient(g_x_input)),
        Method("lime", "lime", "word", _lime, _WORD_OPTIONS),
        Method("lime-inf", "lime", "word", _lime_inf, _WORD_OPTIONS),
        Method(
            "eq19",
            "approximation",
            "word",
            _approximation("eq19"),
            requires="cls-only-attention",
            not_defined="eq19 is the paper's Eq. (19), a formula in the one-layer model's CLS attention and value "
            "scores (§5); an encoder has no such closed form (its last-layer analogue is measured by claim "
            "encoder.eq19_last_layer, not offered as an explanation): use lime-inf for the exact β^∞",
        ),
        Method(
            "lime-large-d",
            "approximation",
            "word",
            _approximation("large_d_limit"),
            requires="cls-only-attention",
            not_defined="lime-large-d is the large-d limit of LIME for the one-layer model (docs/theory.md §8.4), "
            "built from its per-head sufficient statistics, which an encoder does not have: use lime-inf "
            "for the exact β^∞",
        ),
        Method("shapley", "game", "word", _shapley, _WORD_OPTIONS),
        Method("kernelshap", "game", "word", _kernelshap, _WORD_OPTIONS),
        Method("occlusion", "game", "word", _occlusion, ("semantics",)),
        Method("ig", "embedded", "position", _ig, ("baseline",)),
        Method("smoothgrad", "embedded", "position", _smoothgrad, _NOISE_OPTIONS),
        Method("clime", "embedded", "position", _clime, _NOISE_OPTIONS),
        Method(
            "rollout",
            "attention",
            "position",
            _rollout,
            requires="layers",
            not_defined="rollout multiplies every layer's attention matrices of all positions (Abnar & Zuidema 2020); "
            "the one-layer model has one layer in which only CLS queries: use attention-avg (at one layer "
            "rollout ranks the words as attention-avg does, docs/theory.md §11.1)",
        ),
    )
}
