"""Studies: what the suite measures beyond one instance of one claim — the regime map of LIME's approximations,
agreement and faithfulness of the explainers, the survival table across depth, the figures of the paper — and
the registry of these *extras*.  Above the claims (a study may run a claim's check), below the runner.

An extra is a computation that is not a property of one instance (a sweep, a figure, a table), registered with
:func:`extra`, run by ``attnverify run`` and rendered under its paper section, with its data kept in
``summary.json``.  Every module of this package is imported by :func:`all_extras` (discovered, not listed)."""

from __future__ import annotations

import pkgutil
from collections.abc import Callable
from dataclasses import dataclass, field
from importlib import import_module

from theory.claims import REGISTRY, SECTION_ORDER, all_claims


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


def extra(id: str, *, section: str, title: str) -> Callable:
    """Register the decorated ``run(profile, seed) -> ExtraResult`` as extra ``id`` of ``section``.

    Args:
        id: the extra's id (unique among claims and extras).
        section: its paper section (one of :data:`theory.claims.SECTION_ORDER`).
        title: the heading it is rendered under.

    Returns:
        The decorator, which returns the function unchanged.
    """
    if section not in SECTION_ORDER:
        raise ValueError(f"extra {id}: section {section!r} not in {SECTION_ORDER}")

    def decorator(run):
        if id in EXTRAS or id in REGISTRY:
            raise ValueError(f"extra {id} is declared twice")
        EXTRAS[id] = Extra(id, section, title, run)
        return run

    return decorator


def modules() -> list[str]:
    """Every module of this package (imported), in name order.

    Returns:
        Their dotted names.
    """
    names = [info.name for info in pkgutil.walk_packages(__path__, f"{__name__}.")]
    for name in names:
        import_module(name)
    return names


def all_extras() -> list[Extra]:
    """Every registered extra, in report order: by paper section, then by module (name order), then as
    declared.  Every claim is registered too (:func:`theory.claims.all_claims`): a worker looks both up by id.

    Returns:
        The extras.
    """
    all_claims()
    order = {name: k for k, name in enumerate(modules())}
    declared = {id: k for k, id in enumerate(EXTRAS)}
    return sorted(
        EXTRAS.values(), key=lambda e: (SECTION_ORDER.index(e.section), order.get(e.run.__module__, -1), declared[e.id])
    )
