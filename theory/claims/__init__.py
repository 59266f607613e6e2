"""The claim registry: one declaration per claim (docs/claims.md), each with the strategy generating its
instances and the check that measures it.  Tests (``tests/test_claims.py``) and ``attnverify run`` are
both generated from :data:`REGISTRY`, so no claim exists without a test.

Sections can also register *extras* (:func:`extra`): computations that are not a property of one
instance — a sweep, a figure, a benchmark table — run by ``attnverify run`` and rendered under their paper
section, with their data kept in ``summary.json``.

Every claim runs on two *populations* of instances: ``random`` (its ``strategy``: random models and
documents) and ``trained`` (its ``trained`` strategy: held-out documents of the committed trained model,
``theory.sentiment``), or says in ``trained`` (a string) why the trained model does not apply.

A check takes one instance and returns an :class:`~theory.checking.compare.Outcome`.  For ``exists=True`` claims
(witnesses of an existence statement) the run searches for an instance whose check holds and shows the
shrunk instance it found; every other claim must hold on every instance.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from importlib import import_module
from typing import Any, Callable

from hypothesis.strategies import SearchStrategy

from theory import optional
from theory.checking.compare import Outcome

KINDS = ("identity", "bound", "limit", "approximation", "witness")
SOURCES = ("paper", "consequence", "ours")
MODULES = ("model", "attention", "gradient", "lime_empirical", "lime_inf", "lime_approx", "trained", "explainers",
           "reference", "encoder", "encoder_survival", "bert")  # theory.claims.<module>, in report order
POPULATIONS = ("random", "trained")


@dataclass(frozen=True)
class Claim:
    id: str
    section: str  # section of the paper, e.g. "§2"
    source: str  # paper / consequence / ours
    kind: str
    statement: str
    reference: str  # what the claim is checked against
    strategy: Callable[[], SearchStrategy]
    check: Callable[[Any], Outcome]
    exists: bool = False
    budget: float = 1.0  # share of the profile's max_examples (slow references use fewer)
    requires: tuple = ()  # optional packages of an external oracle (import names of theory.optional.EXTRA)
    trained: Callable[[], SearchStrategy] | str = "no trained-model strategy declared"
    # share of a given population's documents under a profile above ci (TRAINED_SHARE × max_examples, never
    # fewer than under ci), for the claims whose reference costs seconds per document at the authors' widths
    given_budget: float = 1.0

    def strategy_for(self, population: str) -> SearchStrategy | None:
        """The strategy of ``population`` ("random" or "trained"); None when the claim does not apply."""
        if population == "random":
            return self.strategy()
        return None if isinstance(self.trained, str) else self.trained()

    def missing(self) -> list[str]:
        """The required optional packages that cannot be imported (:func:`theory.optional.missing`)."""
        return optional.missing(*self.requires)


REGISTRY: dict[str, Claim] = {}


def claim(id, *, section, source, kind, statement, reference, strategy, exists=False, budget=1.0, requires=(),
          trained="no trained-model strategy declared", given_budget=1.0):
    """Register the decorated check as claim ``id``; ``trained`` is the strategy factory of its trained-model
    instances, or a string saying why they do not apply."""
    if kind not in KINDS or source not in SOURCES:
        raise ValueError(f"claim {id}: kind {kind!r} / source {source!r} not in {KINDS} / {SOURCES}")
    if set(requires) - set(optional.EXTRA):
        raise ValueError(f"claim {id}: requires {sorted(set(requires) - set(optional.EXTRA))}, not declared in "
                         "theory.optional.EXTRA")

    def decorator(check):
        if id in REGISTRY:
            raise ValueError(f"claim {id} is declared twice")
        REGISTRY[id] = Claim(id, section, source, kind, statement, reference, strategy, check, exists, budget,
                             tuple(requires), trained, given_budget)
        return check

    return decorator


def all_claims() -> list[Claim]:
    """Every registered claim, in report order: by module in :data:`MODULES` order, then as declared (whatever
    order the modules happened to be imported in)."""
    for module in MODULES:
        import_module(f"theory.claims.{module}")
    return sorted(REGISTRY.values(), key=lambda claim: _rank(claim.check))


def _rank(function) -> int:
    module = function.__module__.removeprefix("theory.claims.")
    return MODULES.index(module) if module in MODULES else len(MODULES)


@dataclass
class ExtraResult:
    """What an extra produced: Markdown for its section, JSON-able data, files (e.g. PNG figures) by path
    relative to the output folder, and what it skipped for want of an optional package (one line each: what,
    then :func:`theory.optional.needs`)."""

    markdown: str
    data: dict = field(default_factory=dict)
    files: dict = field(default_factory=dict)
    skipped: list = field(default_factory=list)


@dataclass(frozen=True)
class Extra:
    id: str
    section: str
    title: str
    run: Callable[[str, int], ExtraResult]  # (profile, seed) -> result


EXTRAS: dict[str, Extra] = {}


def extra(id, *, section, title):
    """Register the decorated ``run(profile, seed) -> ExtraResult`` as extra ``id`` of ``section``."""
    def decorator(run):
        if id in EXTRAS or id in REGISTRY:
            raise ValueError(f"extra {id} is declared twice")
        EXTRAS[id] = Extra(id, section, title, run)
        return run
    return decorator


def all_extras() -> list[Extra]:
    """Every registered extra, in report order (as :func:`all_claims`)."""
    all_claims()
    return sorted(EXTRAS.values(), key=lambda item: _rank(item.run))
