"""The claim catalogue (``docs/claims.md``), generated from the registry by ``attnverify list --format markdown``.

One row per claim: its id, paper section, source, kind, statement and reference, and where it lives — the
check function in ``theory/claims/``, the ``theory`` functions it checks, the ``reference`` functions it checks
them against, and its test — so that a reader goes from the catalogue to each of them in one hop.

The ``theory`` and ``reference`` functions are read off the check's bytecode (and that of the helpers it calls
in its own claims module and in :mod:`theory.checking.engines`, which asks the reference engine of an instance
through :func:`reference.engines.engine`): every global it loads, or attribute of a global module (``ref.forward``),
that resolves to a function or class of :mod:`theory.models`, :mod:`theory.explainers` or :mod:`reference`.
``tests/test_catalogue.py`` fails when the committed catalogue is stale.
"""

from __future__ import annotations

import dis
import inspect
from collections.abc import Callable, Iterable, Iterator
from types import CodeType, FunctionType, ModuleType
from typing import TYPE_CHECKING, Any, cast

from theory.reporting.report import SECTIONS

if TYPE_CHECKING:
    from theory.claims import Claim
    from theory.studies import Extra

THEORY_PACKAGES = ("theory.models.", "theory.explainers.")
REFERENCE_PACKAGES = ("reference.",)
HELPERS = "theory.checking.engines"  # followed like the claims module's own helpers
TEST_FILE = "tests/test_claims.py"


def _globals_used(code: CodeType) -> Iterator[tuple[str, str | None]]:
    """``(name, attribute or None)`` for every global the code loads (and the attribute read right after it)."""
    instructions = list(dis.get_instructions(code))
    for k, ins in enumerate(instructions):
        if ins.opname == "LOAD_GLOBAL":
            after = instructions[k + 1] if k + 1 < len(instructions) else None
            attribute = after.argval if after is not None and after.opname in ("LOAD_ATTR", "LOAD_METHOD") else None
            yield ins.argval, attribute
    for const in code.co_consts:
        if isinstance(const, CodeType):
            yield from _globals_used(const)


def _qualified(obj: object) -> str | None:
    module = getattr(obj, "__module__", None)
    return f"{module}.{obj.__qualname__}" if module and hasattr(obj, "__qualname__") else None


def implementations(check: FunctionType) -> tuple[list[str], list[str]]:
    """The ``theory`` and the ``reference`` functions (dotted names) that ``check`` calls, directly or through
    the helpers of its own module.

    Args:
        check: A claim's check function.

    Returns:
        ``(theory, reference)``: the dotted names found in :data:`THEORY_PACKAGES` and in
        :data:`REFERENCE_PACKAGES`, each sorted.
    """
    found: set[str] = set()
    seen: set[FunctionType] = set()
    todo = [check]
    while todo:
        function = todo.pop()
        if function in seen:
            continue
        seen.add(function)
        namespace = function.__globals__
        for name, attribute in _globals_used(function.__code__):
            obj = namespace.get(name)
            if isinstance(obj, ModuleType) and attribute is not None:
                obj = getattr(obj, attribute, None)
            if isinstance(obj, FunctionType) and (
                obj.__module__.startswith("theory.claims") or obj.__module__ == HELPERS
            ):
                todo.append(obj)
            elif callable(obj) and (qualified := _qualified(obj)):
                found.add(qualified)
    theory = sorted(n for n in found if n.startswith(THEORY_PACKAGES))
    reference = sorted(n for n in found if n.startswith(REFERENCE_PACKAGES))
    return theory, reference


def _cell(text: str) -> str:
    return " ".join(str(text).split()).replace("|", "\\|")


def _location(function: Callable[..., Any]) -> str:
    """``theory/<package>/<module>.py::<function>``, relative to the repository."""
    source = inspect.getsourcefile(function)
    assert source is not None, f"{function!r} is defined in a source file"
    path = source[source.rindex("theory/") :] if "theory/" in source else source
    return f"`{path}::{function.__name__}`"


def _where(claim: Claim) -> str:
    """The catalogue's "where" cell of ``claim``: its check, the ``theory`` and ``reference`` functions it calls
    (:func:`implementations`) and its test."""
    theory, reference = implementations(cast(FunctionType, claim.check))  # a check is a plain function (@claim)
    lines = [f"check: {_location(claim.check)}"]
    lines.append("theory: " + (", ".join(f"`{n}`" for n in theory) or "—"))
    lines.append("reference: " + (", ".join(f"`{n}`" for n in reference) or "—"))
    lines.append(f"test: `{TEST_FILE}::test_claim[{claim.id}-random]`")
    return "<br>".join(lines)


def catalogue_markdown(claims: Iterable[Claim], extras: Iterable[Extra]) -> str:
    """``docs/claims.md``: the claims in registry order, grouped by paper section, then the extras.

    Args:
        claims: The claims, in registry order.
        extras: The extras.

    Returns:
        The Markdown text: one table per paper section (id, kind, source, statement, reference, where), then the
        extras' table.
    """
    out = [
        "# Claim catalogue",
        "",
        "Generated from the claim registry by `attnverify list --format markdown > docs/claims.md`; do not "
        "edit by hand (`tests/test_catalogue.py` fails when this file is stale). The mathematics behind each "
        "claim is derived in [theory.md](theory.md); verdicts are in `reports/REPORT.md`.",
        "",
    ]
    sections: dict[str, list[Claim]] = {}
    for claim in claims:
        sections.setdefault(claim.section, []).append(claim)
    for section, members in sections.items():
        out += [
            f"## {SECTIONS.get(section, section)}",
            "",
            "| id | kind | source | statement | reference | where |",
            "|---|---|---|---|---|---|",
        ]
        out += [
            f"| `{c.id}` | {c.kind}{' (existence)' if c.exists else ''} | {c.source} | {_cell(c.statement)} | "
            f"{_cell(c.reference)} | {_where(c)} |"
            for c in members
        ]
        out.append("")
    out += [
        "## Extras",
        "",
        "Section-level computations (sweeps, figures, tables) run by `attnverify run`.",
        "",
        "| id | section | title | where |",
        "|---|---|---|---|",
    ]
    out += [f"| `{e.id}` | {e.section} | {_cell(e.title)} | {_location(e.run)} |" for e in extras]
    return "\n".join(out) + "\n"
