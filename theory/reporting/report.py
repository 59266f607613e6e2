"""The reports: ``summary.json`` (machine-readable, versioned schema) and ``REPORT.md`` rendered from it.

Both are written atomically, as one set with the run's figures: an interrupted or killed run leaves either the
previous reports untouched or the complete new set, never a mix (:mod:`theory.atomic`).
"""

from __future__ import annotations

import json
import platform
import sys
from collections.abc import Iterable, Sequence
from importlib import metadata
from pathlib import Path
from typing import TYPE_CHECKING, Any

from theory.atomic import write_set
from theory.reporting.benchmarks import group_table

if TYPE_CHECKING:
    from theory.running.runner import Record
    from theory.studies import Extra, ExtraResult

SCHEMA_VERSION = 1
SECTIONS = {
    "§2": "§2 The attention-based classifier",
    "§3": "§3 Attention-based explanations",
    "§4": "§4 Gradient-based explanations",
    "§5": "§5 Perturbation-based explanations (LIME)",
    "§6": "§6 The other post-hoc explainers (Shapley, KernelSHAP, occlusion, IG, SmoothGrad, C-LIME)",
    "depth": "Depth: the encoder family (docs/theory.md §11.1, ours)",
    "bert": "The BERT family (docs/theory.md §13, ours)",
}
PACKAGES = (
    "attnverify",
    "numpy",
    "scipy",
    "mpmath",
    "numba",
    "hypothesis",
    "torch",
    "lime",
    "scikit-learn",
    "matplotlib",
)


def package_versions() -> dict[str, str | None]:
    """The versions this run used, for the reports' Environment section.

    Returns:
        Python's version, then each of :data:`PACKAGES`'s (None when it is not installed).
    """
    versions: dict[str, str | None] = {"python": platform.python_version()}
    for name in PACKAGES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = None
    return versions


def summary(
    records: Iterable[Record],
    profile: str,
    seed: int,
    argv: Sequence[str] | None = None,
    extras: Sequence[tuple[Extra, ExtraResult, float]] = (),
    benchmarks: dict | None = None,
) -> dict[str, Any]:
    """The ``summary.json`` content; ``extras`` are ``(Extra, ExtraResult, runtime)`` triples, whose files are
    carried under the private key ``_files`` (written beside the report, not into the JSON).

    Args:
        records: The claims' records.
        profile: The Hypothesis profile of the run.
        seed: The run's seed.
        argv: The command's arguments after ``attnverify`` (default: this process's).
        extras: ``(Extra, ExtraResult, runtime)`` triples.
        benchmarks: The performance tables by group (``reports/benchmarks.json``), if any.

    Returns:
        The summary (schema :data:`SCHEMA_VERSION`, docs/file-formats.md), with the extras' files under ``_files``.
    """
    return {
        "schema_version": SCHEMA_VERSION,
        "command": " ".join(["attnverify", *(sys.argv[1:] if argv is None else argv)]),
        "profile": profile,
        "seed": seed,
        "versions": package_versions(),
        "claims": [record.as_dict() for record in records],
        "extras": [
            {
                "id": item.id,
                "section": item.section,
                "title": item.title,
                "markdown": result.markdown,
                "data": result.data,
                "files": sorted(result.files),
                "skipped": result.skipped,
                "runtime": round(runtime, 3),
            }
            for item, result, runtime in extras
        ],
        "performance": benchmarks or {},
        "_files": {name: content for _, result, _ in extras for name, content in result.files.items()},
    }


def write_atomically(out_dir: Path, files: dict[str, str | bytes]) -> None:
    """Write every ``name -> content`` into ``out_dir`` as one all-or-nothing replacement of the set, which
    survives the process being killed at any moment (see :mod:`theory.atomic`).

    Args:
        out_dir: The output folder.
        files: The contents by file name (relative to ``out_dir``).
    """
    write_set(out_dir, files)


def write_reports(out_dir: Path, data: dict) -> None:
    """Write ``summary.json``, ``REPORT.md`` and the extras' files into ``out_dir``, as one set.

    Args:
        out_dir: The output folder.
        data: The summary (:func:`summary`), its ``_files`` written beside the reports.
    """
    data = dict(data)
    files = data.pop("_files", {})
    write_atomically(
        Path(out_dir),
        {
            **files,
            "summary.json": json.dumps(data, indent=2, ensure_ascii=False) + "\n",
            "REPORT.md": render_markdown(data),
        },
    )


# --- Markdown -------------------------------------------------------------------------------------------


def _number(value: float | None) -> str:
    return "—" if value is None else f"{value:.2e}"


WITNESS_VERDICTS = ("witness found", "no witness found", "not observed")


def _error_cell(record: dict) -> str:
    """The max error against the tolerance; for approximations against the threshold of the regime verdict;
    nothing for existence searches (their checks are yes/no)."""
    if record["max_error"] is None or record["verdict"] in WITNESS_VERDICTS:
        return "—"
    bound = "threshold" if record["kind"] == "approximation" else "tol"
    radius = record.get("certified_radius")
    arb = "" if radius is None else f", Arb radius {_number(radius)}"
    return f"{_number(record['max_error'])} ({bound} {_number(record['tolerance'])}{arb})"


#: the given populations of the main run, in column order, with their titles in a claim's section
GIVEN = {
    "trained": "Trained model (held-out documents)",
    "pretrained": "Pretrained all-MiniLM-L6-v2 + probe (held-out documents)",
}


def _populations(claims: list[dict]) -> list[tuple[dict, dict]]:
    """(random-model record, {given population: its record}) per claim, in report order."""
    given: dict[str, dict] = {}
    for r in claims:
        if r.get("population") in GIVEN:
            given.setdefault(r["id"], {})[r["population"]] = r
    return [(r, given.get(r["id"], {})) for r in claims if r.get("population", "random") == "random"]


def _given_cell(record: dict | None) -> str:
    if record is None:
        return "—"
    if record["verdict"] in ("n/a", "skipped"):
        return record["verdict"]
    error = "" if record["verdict"] in WITNESS_VERDICTS else f"; {_error_cell(record)}"
    return f"{record['verdict']} ({record['examples']}{error})"


def render_markdown(data: dict) -> str:
    """``REPORT.md``: the summary table (random and trained models side by side), what was skipped, each paper
    section's claims and extras, the performance tables and the environment.

    Args:
        data: The summary (:func:`summary`, or a ``summary.json`` read back).

    Returns:
        The Markdown text.
    """
    pairs = _populations(data["claims"])
    columns = [name for name in GIVEN if any(name in given for _, given in pairs)]
    lines = [
        "# attnverify report",
        "",
        "Executable checks of *Attention Meets Post-hoc Interpretability: A Mathematical Perspective* "
        "(Lopardo, Precioso, Garreau, ICML 2024). The paper studies a one-layer multi-head attention classifier "
        "whose output is an attention-weighted average of per-token value scores, and asks how its attention "
        "weights relate to post-hoc explanations (gradients, LIME). Each claim below is a property checked by "
        "Hypothesis on random models and documents, and again on held-out documents of a trained sentiment "
        "model, against an independent reference (mpmath at 40+ digits, brute force, or an external oracle: "
        "torch autograd, the lime package). Errors of identities are relative to the magnitude of the terms "
        "involved; a failing claim shows its minimal (shrunk) counterexample.",
        "",
        f"Command: `{data['command']}` — profile `{data['profile']}`, seed {data['seed']}.",
        "",
        "## Summary",
        "",
        "| claim | section | source | kind | verdict | examples | max error | "
        + "".join(f"{name} model (examples; max error) | " for name in columns).rstrip(),
        "|---|---|---|---|---|---|---|" + "---|" * len(columns),
    ]
    for r, given in pairs:
        lines.append(
            f"| `{r['id']}` | {r['section']} | {r['source']} | {r['kind']} | **{r['verdict']}** | "
            f"{r['examples']} | {_error_cell(r)} | " + "".join(f"{_given_cell(given.get(n))} | " for n in columns)
        )
    lines += _skipped_lines(data)
    for section, title in SECTIONS.items():
        in_section = [(r, t) for r, t in pairs if r["section"] == section]
        extras = [e for e in data.get("extras", []) if e["section"] == section]
        if not in_section and not extras:
            continue
        lines += ["", f"## {title}"]
        for r, given in in_section:
            lines += _claim_section(r, given)
        for e in extras:
            lines += ["", f"### {e['title']}", "", e["markdown"].strip(), ""]
            lines += [part for line in e.get("skipped", []) for part in (f"*Skipped:* {line}", "")]
            lines += [f"Reproduce: `attnverify run --profile {data['profile']} --seed {data['seed']} --only {e['id']}`"]
    if data.get("performance"):
        lines += [
            "",
            "## Performance",
            "",
            "Medians from `pytest tests/benchmarks --benchmark-enable --benchmark-json=reports/benchmarks.json` "
            "(2-core machine); the ratio is to the fastest benchmark of the group.",
            "",
        ]
        for group, rows in data["performance"].items():
            lines += group_table(group, rows)
    versions = ", ".join(f"{k} {v}" for k, v in data["versions"].items() if v)
    lines += ["", "## Environment", "", versions, ""]
    return "\n".join(lines)


def _skipped_lines(data: dict) -> list[str]:
    """What this run skipped for want of an optional package (claims and parts of extras), with what to
    install; nothing when everything ran."""
    claims: dict[tuple, list[str]] = {}
    for r in data["claims"]:
        if r["verdict"] == "skipped":
            claims.setdefault((r["id"], r["diagnosis"]), []).append(r.get("population", "random"))
    shared: dict[tuple, list[str]] = {}  # one line for the claims a population skips for one reason
    for (claim_id, diagnosis), names in claims.items():
        shared.setdefault((tuple(names), diagnosis), []).append(claim_id)
    items = [
        f"- `{ids[0]}` ({', '.join(names)}): {diagnosis}"
        if len(ids) == 1
        else f"- {len(ids)} claims ({', '.join(names)}: `{ids[0]}` … `{ids[-1]}`): {diagnosis}"
        for (names, diagnosis), ids in shared.items()
    ]
    items += [f"- `{e['id']}`: {line}" for e in data.get("extras", []) for line in e.get("skipped", [])]
    if not items:
        return []
    return ["", "Skipped in this run for want of an optional package (install the extra named to run it):", "", *items]


def _claim_section(r: dict, given: dict[str, dict]) -> list[str]:
    lines = [
        "",
        f"### `{r['id']}` — {r['verdict']}",
        "",
        f"*{r['kind']}, source: {r['source']}*" + (" (the suite's own result)" if r["source"] == "ours" else ""),
        "",
        f"**Statement.** {r['statement']}",
        "",
        f"**Checked against.** {r['reference']}",
        "",
    ]
    lines += _population_lines(r, "Random models")
    for name, title in GIVEN.items():
        if name in given:
            lines += [""] + _population_lines(given[name], title)
    return lines


def _population_lines(r: dict, title: str) -> list[str]:
    if r["verdict"] in ("n/a", "skipped"):
        return [f"**{title}.** {r['verdict']}: {r['diagnosis']}"]
    from theory.running.runner import ERROR_MEASURE

    distinct = r["measures"].get(ERROR_MEASURE, {}).get("n")
    counts = (
        f"{r['failing_examples']} of {distinct} distinct instances above the threshold"
        if distinct and r["verdict"] == "measured"
        else f"{r['failing_examples']} failing, {r['shrink_steps']} shrink steps"
    )
    lines = [
        f"**{title}.** {r['verdict']} — {r['examples']} examples ({counts}) in {r['runtime']:.1f} s; max error "
        f"{_error_cell(r)}."
    ]
    if r["measures"]:
        lines += ["", "| measured | n | min | median | max |", "|---|---|---|---|---|"]
        for key, m in r["measures"].items():
            lines.append(f"| {key} | {m['n']} | {m['min']:.3g} | {m['median']:.3g} | {m['max']:.3g} |")
    if r["counterexample"]:
        label = "Witness" if r["verdict"] == "witness found" else "Minimal counterexample"
        lines += ["", f"{label} (shrunk by Hypothesis):", "", "```", r["counterexample"], "```"]
    if r["diagnosis"] and r["verdict"] not in ("holds", "measured"):
        lines += ["", "```", r["diagnosis"], "```"]
    elif r["worst_instance"]:
        lines += ["", f"Largest error at `{r['worst_instance']}`."]
    lines += ["", f"Reproduce: `{r['command']}`"]
    return lines
