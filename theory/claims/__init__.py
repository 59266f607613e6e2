"""The claim registry: one declaration per claim (docs/claims.md), each with the strategy generating its
instances and the check that measures it.  Tests (``tests/test_claims.py``) and ``attnverify run`` are
both generated from :data:`REGISTRY`, so no claim exists without a test.

Every module of this package is discovered (:func:`modules`), not listed: a claim lives in the module named by
its id's first component (``model.*`` in ``model.py``, ``lime.*`` in the package ``lime/``), and a *family* —
one statement across explainers or models, one row per explainer (:func:`family`) — in the module named by the
statement, which every row's id contains (``attention.blind_to_values.*`` in ``blind_to_values.py``).  The
computations beyond one instance (sweeps, tables, figures) are the *extras* of :mod:`theory.studies`.

Every claim runs on two *populations* of instances: ``random`` (its ``strategy``: random models and
documents) and ``trained`` (its ``trained`` strategy: held-out documents of the committed trained model,
``theory.sentiment``), or says in ``trained`` (a string) why the trained model does not apply.

A check takes one instance and returns an :class:`~theory.checking.compare.Outcome`.  For ``exists=True`` claims
(witnesses of an existence statement) the run searches for an instance whose check holds and shows the
shrunk instance it found; every other claim must hold on every instance.
"""

from __future__ import annotations

import pkgutil
from collections.abc import Callable
from dataclasses import dataclass, field
from importlib import import_module
from typing import Any

from hypothesis.strategies import SearchStrategy

from theory import optional
from theory.checking.compare import Outcome

KINDS = ("identity", "bound", "limit", "approximation", "witness")
SOURCES = ("paper", "consequence", "ours")
SECTION_ORDER = (
    "§2",
    "§3",
    "§4",
    "§5",
    "§6",
    "depth",
    "bert",
)  # the paper's sections, then ours: depth, the BERT family
POPULATIONS = ("random", "trained", "pretrained")  # pretrained: theory.running.runner._run_pretrained (the extra)


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
        """The strategy of ``population`` ("random" or "trained"); None when the claim does not apply.

        Args:
            population: ``"random"`` or ``"trained"`` (:data:`POPULATIONS`).

        Returns:
            A Hypothesis strategy of the claim's instances, or None.
        """
        if population == "random":
            return self.strategy()
        return None if isinstance(self.trained, str) else self.trained()

    def missing(self) -> list[str]:
        """The required optional packages that cannot be imported (:func:`theory.optional.missing`).

        Returns:
            The import names of the missing packages (empty when the claim can run).
        """
        return optional.missing(*self.requires)


REGISTRY: dict[str, Claim] = {}


def claim(
    id,
    *,
    section,
    source,
    kind,
    statement,
    reference,
    strategy,
    exists=False,
    budget=1.0,
    requires=(),
    trained="no trained-model strategy declared",
    given_budget=1.0,
):
    """Register the decorated check as claim ``id``; ``trained`` is the strategy factory of its trained-model
    instances, or a string saying why they do not apply.

    Args:
        id: the claim id; its first component names the module (or, for a family, the statement).
        section: the paper section, one of :data:`SECTION_ORDER`.
        source: ``paper``, ``consequence`` or ``ours`` (:data:`SOURCES`).
        kind: one of :data:`KINDS`.
        statement: the claim, as the report prints it.
        reference: what the check compares against.
        strategy: the factory of the random population's Hypothesis strategy.
        exists: an existence statement: the run searches for one instance whose check holds.
        budget: the share of the profile's ``max_examples`` spent on this claim.
        requires: optional packages of an external oracle (import names of :data:`theory.optional.EXTRA`).
        trained: the factory of the trained population's strategy, or why that population does not apply.
        given_budget: the share of a given population's documents above the ci profile.

    Returns:
        The decorator, which registers the check in :data:`REGISTRY` and returns it unchanged.

    Raises:
        ValueError: for an unknown kind, source, section or optional package, or an id declared twice.
    """
    if kind not in KINDS or source not in SOURCES or section not in SECTION_ORDER:
        raise ValueError(
            f"claim {id}: kind {kind!r} / source {source!r} / section {section!r} not in {KINDS} / "
            f"{SOURCES} / {SECTION_ORDER}"
        )
    if set(requires) - set(optional.EXTRA):
        raise ValueError(
            f"claim {id}: requires {sorted(set(requires) - set(optional.EXTRA))}, not declared in theory.optional.EXTRA"
        )

    def decorator(check):
        if id in REGISTRY:
            raise ValueError(f"claim {id} is declared twice")
        REGISTRY[id] = Claim(
            id,
            section,
            source,
            kind,
            statement,
            reference,
            strategy,
            check,
            exists,
            budget,
            tuple(requires),
            trained,
            given_budget,
        )
        return check

    return decorator


@dataclass(frozen=True)
class Row:
    """One explainer (or model) of a :func:`family`: its claim id, its part of the statement and of the reference,
    its instances and its check; ``options`` are the other keywords of :func:`claim` where the row differs from
    the family (``section``, ``budget``, ``trained``, ...)."""

    id: str
    statement: str
    reference: str
    strategy: Callable[[], SearchStrategy]
    check: Callable[[Any], Outcome]
    options: dict = field(default_factory=dict)


def family(rows: list[Row], **shared) -> None:
    """Register one claim per row of a family — one statement across explainers or models, each row one
    explainer — with the keywords of :func:`claim` that the rows share.

    Args:
        rows: the family's rows, in report order.
        **shared: keywords of :func:`claim` common to every row (a row's ``options`` take precedence).
    """
    for row in rows:
        claim(
            row.id, statement=row.statement, reference=row.reference, strategy=row.strategy, **{**shared, **row.options}
        )(row.check)


def modules() -> list[str]:
    """Every module of this package (imported, so that its claims are registered), in name order.

    Returns:
        Their dotted names.
    """
    names = [info.name for info in pkgutil.walk_packages(__path__, f"{__name__}.")]
    for name in names:
        import_module(name)
    return names


def all_claims() -> list[Claim]:
    """Every registered claim, in report order: by paper section (:data:`SECTION_ORDER`), then by module (name
    order), then as declared — whatever order the modules happened to be imported in.

    Returns:
        The claims.
    """
    order = {name: k for k, name in enumerate(modules())}
    declared = {id: k for k, id in enumerate(REGISTRY)}
    return sorted(
        REGISTRY.values(),
        key=lambda c: (SECTION_ORDER.index(c.section), order.get(c.check.__module__, -1), declared[c.id]),
    )
