"""attnverify from Python — a notebook or a script: load a model, explain a text, check claims on the model.

The command line (``attnverify explain``, ``attnverify run --model``) is built on the same functions: a
model of any family (:func:`load`), one explanation method by name (:func:`explain`, the registry of
:mod:`theory.explainers.registry`), one claim on one population (:func:`check`, the runner of
:mod:`theory.running.runner`).  docs/python.md walks through them; its examples run as tests
(``tests/test_api.py``), as do the ones below.

Example:
    >>> from theory import api
    >>> model, vocabulary = api.load("bundled")  # the trained §2 sentiment model and its vocabulary
    >>> explanation = api.explain(model, "a brilliant film", "attention-avg", vocabulary=vocabulary)
    >>> explanation.unit, len(explanation.scores)  # CLS and the three words
    ('position', 4)
    >>> record = api.check("model.forward", model, texts=["a brilliant film", "boring"], vocabulary=vocabulary)
    >>> record.verdict
    'holds'
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from theory.checking.population import Population
from theory.claims import Claim, all_claims
from theory.errors import InputError
from theory.explainers.explanation import Explanation
from theory.explainers.registry import explain as _explain
from theory.explainers.registry import methods_of
from theory.models import load as _load
from theory.models.protocol import AttentionClassifier
from theory.models.vocabulary import Vocabulary, encode, load_vocabulary
from theory.running.runner import Record, run_claim

#: the bundled models by name (what ``attnverify explain`` calls them) — file names in ``theory/sentiment/data``
BUNDLED = {"bundled": "MODEL_FILE", "bundled-encoder": "ENCODER_FILE"}


def load(model: str | Path, vocabulary: str | Path | None = None) -> tuple[AttentionClassifier, Vocabulary | None]:
    """A model of any family and the vocabulary that reads its texts.

    Args:
        model: a model file (``.npz`` of any family: docs/file-formats.md) or a bundled model's name:
            ``"bundled"`` (the trained §2 sentiment model) or ``"bundled-encoder"`` (the trained 6-layer encoder).
        vocabulary: a vocabulary file (one token per line, line n = id n); a bundled model's is the default.

    Returns:
        ``(model, vocabulary)``: the vocabulary is None when neither given nor bundled (texts are then given as
        word ids).

    Raises:
        InputError: the model or the vocabulary cannot be read, or they do not fit each other.
    """
    from theory.sentiment import encoder_fixture, fixture

    bundled = str(model) in BUNDLED
    if bundled:
        module = encoder_fixture if str(model) == "bundled-encoder" else fixture
        model = fixture.DATA / getattr(module, BUNDLED[str(model)])
    loaded = _load(model)
    if vocabulary is None and bundled:
        vocabulary = fixture.DATA / fixture.VOCAB_FILE
    if vocabulary is None:
        return loaded, None
    return loaded, load_vocabulary(vocabulary, loaded, tokenize=fixture.vocabulary_tokenizer(str(vocabulary)))


def methods(model: AttentionClassifier) -> list[str]:
    """The explanation methods defined for ``model``'s family.

    Args:
        model: a model of any family.

    Returns:
        The method names, in the registry's order.
    """
    return list(methods_of(model))


def explain(
    model: AttentionClassifier,
    text: str | Sequence[int],
    method: str,
    *,
    semantics: str | None = None,
    samples: int | None = None,
    seed: int | None = None,
    vocabulary: Vocabulary | None = None,
    **options: Any,
) -> Explanation:
    """Explain one text with one method.

    Args:
        model: a model of any family (:func:`load`).
        text: a string (needs ``vocabulary``) or word ids.
        method: a method name of :func:`methods`.
        semantics: the removal semantics of a perturbation method (default: the one of its kind, documented in
            :mod:`theory.explainers.registry`).
        samples: the sample size of a sampled method (default: the method's own).
        seed: the seed of a sampled method (default 0).
        vocabulary: the vocabulary that reads a string (:func:`load` returns it).
        **options: a method's own options (``baseline`` of ``ig``, ``sigma`` of ``smoothgrad`` and ``clime``).

    Returns:
        The explanation: scores per position or per word (``unit``), ``f``, and the method's extras;
        ``to_json()`` gives what ``attnverify explain --json`` prints.

    Raises:
        InputError: an unknown method, one not defined for the model's family, or a text the model cannot read.
    """
    if vocabulary is not None:
        options["vocabulary"] = vocabulary
    return _explain(model, text, method, semantics=semantics, samples=samples, seed=seed, **options)


def claims() -> list[Claim]:
    """Every claim, in report order.

    Returns:
        The registered claims (docs/claims.md lists them with their statements).
    """
    return all_claims()


def check(
    claim: str | Claim,
    model: AttentionClassifier | None = None,
    *,
    texts: Sequence[str | Sequence[int]] = (),
    vocabulary: Vocabulary | None = None,
    oov: str = "error",
    profile: str = "ci",
    seed: int = 0,
) -> Record:
    """Run one claim under Hypothesis: on random models, or on a given model and its documents.

    Args:
        claim: a claim id (``"model.forward"``) or a :class:`~theory.claims.Claim` of :func:`claims`.
        model: the model the claim is checked on; None checks it on random models (the ``random`` population).
        texts: the model's documents (strings with ``vocabulary``, or word ids); none: Hypothesis draws texts
            from the model's vocabulary.
        vocabulary: the vocabulary that reads string texts.
        oov: what out-of-vocabulary words of a string become: ``"error"`` (refused), ``"drop"`` (left out) or
            ``"unk"`` (UNK, the authors' behaviour) — the ``--oov`` option of the command line.
        profile: ``"ci"`` or ``"thorough"`` (the example budgets of :mod:`theory.checking.profiles`).
        seed: the seed of Hypothesis's draws (the record's numbers are reproducible from it).

    Returns:
        The claim's record: ``verdict`` (holds, fails, witness found, measured, n/a, skipped, error),
        ``max_error``, the worst or failing instance and its diagnosis — what ``summary.json`` holds.

    Raises:
        InputError: an unknown claim id, or texts the model cannot read.
    """
    if isinstance(claim, str):
        known = {item.id: item for item in all_claims()}
        if claim not in known:
            raise InputError(f"unknown claim {claim!r}; `attnverify list` shows the claims")
        claim = known[claim]
    if model is None:
        return run_claim(claim, profile, seed, "random")
    docs = tuple(_tokens(model, text, vocabulary, oov) for text in texts) or None
    # an in-memory model has no file to hash: the record's model_sha256 stays empty
    population = Population(
        "model:python", model, docs, allow_unk=oov == "unk", vocabulary=vocabulary.tokens if vocabulary else None
    )
    return run_claim(claim, profile, seed, population)


def _tokens(
    model: AttentionClassifier, text: str | Sequence[int], vocabulary: Vocabulary | None, oov: str
) -> tuple[int, ...]:
    """The word ids of one text (a string read with ``vocabulary`` under the ``oov`` policy, or ids as given)."""
    if isinstance(text, str):
        if vocabulary is None:
            raise InputError("texts given as strings need vocabulary= (api.load returns it)")
        return tuple(encode(text, vocabulary, model, oov, False).tokens)
    return tuple(int(token) for token in text)
