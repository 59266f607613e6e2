"""Regression checks: compare a new ``summary.json`` with a baseline (``attnverify compare``).

A change is a **regression** (exit 1) when
- a claim of the baseline is missing from the new run;
- a claim's verdict got worse: from passing (holds / witness found / measured / not observed) to anything
  else, including ``skipped`` (no longer checked), or from anything to fails / error / no witness found (a new
  claim that fails included);
- an identity's or bound's max error grew past its tolerance (a NaN error counts as past it);
- an approximation's error in a regime grew by more than ``margin`` (absolute, in units of relative error)
  beyond twice the combined Monte Carlo standard error of the two runs.  Regimes are read from the extras'
  ``data["regimes"]``: a list of ``{"claim", "regime", "error", "se"}`` records.
Everything else that changed (new claims, errors that moved within tolerance, runtimes) is listed as
information.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from theory.errors import InputError
from theory.reporting.report import SCHEMA_VERSION
from theory.running.runner import PASSING

FAILING = ("fails", "error", "no witness found")
MARGIN = 0.05
RECORD_KEYS = ("id", "kind", "verdict", "max_error", "tolerance")
REGIME_KEYS = ("claim", "regime", "error")


@dataclass
class Change:
    """One difference between a baseline and a new summary: the claim (or regime), what changed, its two
    values as shown, and whether it is a regression (module docstring)."""

    item: str
    what: str
    baseline: str
    new: str
    regression: bool


def load_summary(path: str | Path) -> dict[str, Any]:
    """Read and validate a ``summary.json``; any problem is an InputError (exit code 2).

    Args:
        path: The ``summary.json`` written by ``attnverify run``.

    Returns:
        The summary, with the schema version this attnverify reads and well-formed claims and regime records.

    Raises:
        InputError: The file is missing, not JSON, not a summary, of another schema version, or malformed.
    """
    path = Path(path)
    if not path.is_file():
        raise InputError(f"{str(path)!r} does not exist; pass the path of a summary.json written by attnverify run")
    try:
        data = json.loads(path.read_text())
    except (ValueError, UnicodeDecodeError) as error:
        raise InputError(
            f"{str(path)!r} is not valid JSON ({error}); it may be truncated — regenerate it with attnverify run"
        ) from None
    if not isinstance(data, dict) or "schema_version" not in data:
        raise InputError(f"{str(path)!r} is not an attnverify summary (no schema_version)")
    if data["schema_version"] != SCHEMA_VERSION:
        raise InputError(
            f"{str(path)!r} has schema version {data['schema_version']!r} but this attnverify "
            f"reads version {SCHEMA_VERSION}; regenerate it with this version's attnverify run"
        )
    problem = _structure_problem(data)
    if problem:
        raise InputError(f"{str(path)!r} has a malformed {problem}; regenerate it with attnverify run")
    return data


def _structure_problem(data: dict) -> str | None:
    """What is wrong with the parts of a summary that ``compare`` and ``list`` read (None if nothing): the
    claims' records (``RECORD_KEYS``, strings and numbers or null) and the extras' regime records."""
    claims = data.get("claims")
    if not isinstance(claims, list):
        return "'claims' list (it is not a list)"
    for k, r in enumerate(claims):
        if not isinstance(r, dict) or not all(key in r for key in RECORD_KEYS):
            return f"'claims' list (each record needs {', '.join(RECORD_KEYS)}; claims[{k}] does not)"
        texts = [
            ("id", r["id"]),
            ("kind", r["kind"]),
            ("verdict", r["verdict"]),
            ("population", r.get("population", "random")),
        ]
        numbers = [("max_error", r["max_error"]), ("tolerance", r["tolerance"])]
        problem = _field_problem(f"claims[{k}]", texts, numbers)
        if problem:
            return f"'claims' list ({problem})"
    extras = data.get("extras", [])
    if not isinstance(extras, list) or not all(
        isinstance(e, dict) and isinstance(e.get("data", {}), dict) for e in extras
    ):
        return "'extras' list (it must be a list of records, each with a 'data' object)"
    for e in extras:
        regimes = e.get("data", {}).get("regimes", [])
        if not isinstance(regimes, list):
            return f"'extras' list (data.regimes of extra {e.get('id')!r} is not a list)"
        for r in regimes:
            if not isinstance(r, dict) or not all(key in r for key in REGIME_KEYS):
                return (
                    f"'extras' list (data.regimes of extra {e.get('id')!r} holds {r!r}, not a record with "
                    f"{', '.join(REGIME_KEYS)})"
                )
            problem = _field_problem(
                f"{r.get('claim')} [{r.get('regime')}]",
                [("claim", r.get("claim")), ("regime", r.get("regime"))],
                [("error", r.get("error")), ("se", r.get("se"))],
            )
            if problem:
                return f"'extras' list ({problem})"
    return None


def _field_problem(item: str, texts: list[tuple[str, Any]], numbers: list[tuple[str, Any]]) -> str | None:
    for key, value in texts:
        if not isinstance(value, str):
            return f"{key} of {item} is {value!r}, not a string"
    for key, value in numbers:
        if value is not None and (isinstance(value, bool) or not isinstance(value, (int, float))):
            return f"{key} of {item} is {value!r}, not a number"
    return None


def _error(value: float | None) -> str:
    return "—" if value is None else f"{value:.2e}"


def _key(record: dict) -> tuple:
    return record["id"], record.get("population", "random")


def _name(record: dict) -> str:
    population = record.get("population", "random")
    return record["id"] if population == "random" else f"{record['id']} ({population})"


def compare_records(base: dict, new: dict) -> list[Change]:
    """What changed for one claim between two records of the same id and population.

    Args:
        base: The baseline's record.
        new: The new run's record.

    Returns:
        The changes of its verdict and (an identity or a bound) of its max error, each marked a regression when
        the verdict got worse or the error grew past its tolerance.
    """
    changes = []
    name = _name(base)
    worse = (base["verdict"] in PASSING and new["verdict"] not in PASSING) or (
        new["verdict"] in FAILING and base["verdict"] not in FAILING
    )
    if base["verdict"] != new["verdict"]:
        changes.append(Change(name, "verdict", base["verdict"], new["verdict"], worse))
    if base["max_error"] != new["max_error"] and base["kind"] in ("identity", "bound"):
        grew_past = (
            new["max_error"] is not None
            and new["tolerance"] is not None
            and not new["max_error"] <= new["tolerance"]  # NaN counts as past
            and (base["max_error"] is None or base["max_error"] <= base["tolerance"])
        )
        changes.append(Change(name, "max error", _error(base["max_error"]), _error(new["max_error"]), grew_past))
    return changes


def _regimes(data: dict) -> dict:
    return {(r["claim"], r["regime"]): r for e in data.get("extras", []) for r in e.get("data", {}).get("regimes", [])}


def _g(value: float | None) -> str:
    return "—" if _missing(value) else f"{value:.3g}"


def _missing(value: float | None) -> bool:
    return value is None or value != value  # None or NaN (a cell without usable instances)


def compare_regimes(base: dict, new: dict, margin: float = MARGIN) -> list[Change]:
    """What changed in the approximations' regimes (the extras' ``data["regimes"]`` records) between two summaries.

    Args:
        base: The baseline summary.
        new: The new summary.
        margin: How much a regime's relative error may grow beyond twice the combined Monte Carlo standard error
            before it is a regression.

    Returns:
        The changes: a regime missing from ``new`` (a regression), an error that appeared, and an error that moved
        (a regression when it grew past ``margin`` and the noise, or became NaN).
    """
    changes = []
    new_regimes = _regimes(new)
    for key, b in _regimes(base).items():
        n = new_regimes.get(key)
        item = f"{key[0]} [{key[1]}]"
        if n is None:
            changes.append(Change(item, "regime", _g(b["error"]), "missing", True))
            continue
        if _missing(b["error"]) and _missing(n["error"]):
            continue
        if _missing(b["error"]):
            changes.append(Change(item, "relative error", "—", _g(n["error"]), False))
        elif n["error"] != b["error"]:
            noise = 2 * math.hypot(b.get("se") or 0.0, n.get("se") or 0.0)
            changes.append(
                Change(
                    item,
                    "relative error",
                    _g(b["error"]),
                    _g(n["error"]),
                    _missing(n["error"]) or not n["error"] <= b["error"] + margin + noise,
                )
            )
    return changes


def compare_summaries(base: dict, new: dict, margin: float = MARGIN) -> list[Change]:
    """Every difference between two summaries that matters for a regression check.

    Args:
        base: The baseline summary (:func:`load_summary`).
        new: The new summary.
        margin: The regimes' margin (:func:`compare_regimes`).

    Returns:
        The records' changes in the baseline's order (a claim missing from ``new`` is a regression), then the
        claims new in ``new`` (a regression when they fail or err), then the regimes' changes.
    """
    new_by_key = {_key(r): r for r in new["claims"]}
    base_keys = {_key(r) for r in base["claims"]}
    changes = []
    for record in base["claims"]:
        if _key(record) not in new_by_key:
            changes.append(Change(_name(record), "claim", record["verdict"], "missing", True))
        else:
            changes += compare_records(record, new_by_key[_key(record)])
    changes += [
        Change(_name(r), "claim", "absent", r["verdict"], r["verdict"] in ("fails", "error"))
        for r in new["claims"]
        if _key(r) not in base_keys
    ]
    return changes + compare_regimes(base, new, margin)


def render(changes: list[Change]) -> str:
    """The changes as the plain-text table ``attnverify compare`` prints.

    Args:
        changes: The changes (:func:`compare_summaries`).

    Returns:
        One aligned row per change under a header, regressions marked ``WORSE``; "no differences" when there are
        none.
    """
    if not changes:
        return "no differences"
    rows = [("", "claim", "what", "baseline", "new")]
    rows += [("WORSE" if c.regression else "", c.item, c.what, c.baseline, c.new) for c in changes]
    widths = [max(len(row[k]) for row in rows) for k in range(5)]
    return "\n".join("  ".join(cell.ljust(w) for cell, w in zip(row, widths)).rstrip() for row in rows)
