"""The benchmarks' medians from a pytest-benchmark JSON file (``reports/benchmarks.json``): read per group, and
rendered as Markdown tables — in ``REPORT.md``'s performance section and as ``docs/benchmarks.md``::

    python -m theory.reporting.benchmarks > docs/benchmarks.md

``tests/test_docs.py`` fails when the committed ``docs/benchmarks.md`` is not this rendering of the committed
``reports/benchmarks.json``, so no timing in it is copied by hand.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

BENCHMARKS = Path(__file__).resolve().parents[2] / "reports" / "benchmarks.json"

# What each benchmark file compares (the sizes are in the group names; the numbers come from the JSON).
FILES: dict[str, tuple[str, str]] = {
    "tests/benchmarks/test_bench_gradient.py": (
        "Gradients (§4)",
        "The closed-form gradient (numpy, forward pass included) against torch autograd on the authors' "
        "architecture (forward and backward with respect to the embedded input, the module built outside the "
        "timing) and against the mpmath central-difference reference (small size only: at the authors' size it "
        "takes hours).",
    ),
    "tests/benchmarks/test_bench_lime.py": (
        "LIME (§5)",
        "The fast LIME against lime 0.2.0.1 driving the numpy forward pass (same coefficients: their difference "
        "is in `measured`), and the fast perturbed-document evaluators against the full numpy forward pass on "
        "the same 5000 perturbed documents, at the authors' size (200 words, 150 distinct).",
    ),
    "tests/benchmarks/test_bench_lime_inf.py": (
        "LIME's population limit β^∞ (§5)",
        "The stratified Monte Carlo of β^∞ under both removal semantics (its relative standard error "
        "‖SE‖/‖β‖ in `measured`) and the exact enumeration at d = 10, at the authors' size.",
    ),
    "tests/benchmarks/test_bench_explainers.py": (
        "Shapley values and Integrated Gradients (§6)",
        "Shapley values to 1% relative standard error: ours (antithetic permutations through the fast "
        "evaluator) against shap's PermutationExplainer on the same numpy model, timed at a few pairs and "
        "extrapolated linearly to the pairs ours needed (`measured`). Integrated Gradients at the same "
        "completeness gap: ours (Gauss–Legendre on the closed-form gradient) against captum's "
        "IntegratedGradients with the same number of steps. The authors' size, 200 words, 150 distinct.",
    ),
    "tests/benchmarks/test_bench_reference.py": (
        "Reference engines",
        "The Arb ball engine against the mpmath engine, both at 40 digits: a forward pass at the authors' "
        "widths (100 words) and central-difference gradient entries per second, on the trained fixture "
        "(one position) and at a small size (all positions). Every round builds a fresh model, so no memo "
        "of an earlier round is reused (cold passes).",
    ),
    "tests/benchmarks/test_bench_encoder.py": (
        "Encoders (depth)",
        "The encoder's gradient by hand-written backpropagation (numpy, forward included) against torch "
        "autograd, and `f` on LIME's 5000 perturbed documents (delete) through the numpy batched forward "
        "against torch's batched forward under `no_grad`, at the trained encoder's size (L = 6, K = 6, d = 12, "
        "d_ff = 24, T = 64, 40 words) with random weights.",
    ),
    "tests/benchmarks/test_bench_bert.py": (
        "The BERT family (§8)",
        "The numpy float64 BERT classifier (`f` forward by batched `evaluate`; forward + hand-written "
        "backpropagation to the word embeddings) against Hugging Face transformers' "
        "`BertForSequenceClassification` on the same random weights and documents, in float64 and float32 "
        "(forward under `no_grad`; forward + autograd on `inputs_embeds`; default `sdpa` attention), at MiniLM's "
        "shape (L = 6, d = 384, T = 32, batches of 16) and BERT-base's layer stack (L = 12, d = 768, T = 128, "
        "batches of 4), 12 heads, d_ff = 4d; and `f` on LIME's 500 perturbed documents of one 30-word document "
        "(removal by attention mask 0): numpy's batched `evaluate` against a loop of one transformers call per "
        "document and one batched call. `rel_diff` is each transformers row's largest difference from numpy's "
        "float64 result relative to its largest value.",
    ),
    "tests/benchmarks/test_bench_pretrained.py": (
        "The pretrained MiniLM (§13.8)",
        "The suite's explainers on all-MiniLM-L6-v2 with the committed probe (numpy float64) against the packages "
        "driving Hugging Face transformers (float64 and float32, `sdpa` attention) on the same held-out documents "
        "(the first ones whose first 8 words are distinct one-piece words, cut to them): LIME (delete, 300 "
        "samples) against lime 0.2.0.1 with the same samples and `random_state` (`rel_diff`: the coefficients' "
        "largest difference relative to the largest); exact Shapley (mask, all 2^8 coalitions) against shap's "
        "Exact explainer with its Text masker; sampled Shapley against shap's Permutation explainer at the same "
        "number of antithetic pairs (each shap permutation is evaluated forwards and backwards: the same "
        "estimator of the same game, so the same standard error; the suite's estimated relative SE and both "
        "estimates' errors against the exact values are in `measured`); IG ([PAD] baseline) against captum's "
        "LayerIntegratedGradients at the suite's number of Gauss–Legendre nodes (the same rule, so the same "
        "completeness gap, both recorded; captum is given the nodes, the suite finds them by doubling); and the "
        "gradient against transformers with autograd on `inputs_embeds`. Each benchmark explains every document "
        "once per round; `strings_per_round` is what the package's model function received.",
    ),
}


def performance(path: Path) -> dict[str, list[dict]]:
    """Median times per benchmark group of a pytest-benchmark JSON file, with each benchmark's ratio to the
    fastest of its group.

    Args:
        path: the pytest-benchmark JSON file (``--benchmark-json``).

    Returns:
        ``{group: [{"name", "median_s", "rounds", "extra_info", "ratio_to_fastest"}, …]}`` sorted by
        group; ``{}`` (with a note on stderr) when the file is missing or is not a pytest-benchmark JSON file.
    """
    if not path.is_file():
        return {}
    try:
        benchmarks = json.loads(path.read_text())["benchmarks"]
        groups: dict[str, list] = {}
        for b in benchmarks:
            groups.setdefault(b.get("group") or "ungrouped", []).append(
                {
                    "name": b["name"],
                    "median_s": b["stats"]["median"],
                    "rounds": b["stats"]["rounds"],
                    "extra_info": b.get("extra_info", {}),
                }
            )
        for rows in groups.values():
            fastest = min(row["median_s"] for row in rows)
            for row in rows:
                row["ratio_to_fastest"] = row["median_s"] / fastest
    except (ValueError, KeyError, TypeError, AttributeError, ZeroDivisionError):  # any malformed part
        print(
            f"attnverify: note: {path} is not a pytest-benchmark JSON file; performance not reported", file=sys.stderr
        )
        return {}
    return dict(sorted(groups.items()))


def _extra_info(info: dict) -> str:
    """A benchmark's ``extra_info`` (what it measured besides time) as ``key value`` pairs."""
    return ", ".join(
        f"{key} {value:.3g}" if isinstance(value, float) else f"{key} {value}" for key, value in info.items()
    )


def group_table(group: str, rows: list[dict]) -> list[str]:
    """One benchmark group as a Markdown table, fastest first.

    Args:
        group: the group's name (pytest-benchmark's ``group``), the table's bold title.
        rows: the group's benchmarks as :func:`performance` returns them.

    Returns:
        The lines: the title, the table (benchmark, median, ratio to the group's fastest, ``extra_info``) and a
        blank line.
    """
    lines = [f"**{group}**", "", "| benchmark | median | × fastest | measured |", "|---|---|---|---|"]
    lines += [
        f"| `{row['name']}` | {row['median_s'] * 1e3:.3g} ms | {row['ratio_to_fastest']:.1f} | "
        f"{_extra_info(row.get('extra_info') or {})} |"
        for row in sorted(rows, key=lambda row: row["median_s"])
    ]
    return [*lines, ""]


def render(path: Path = BENCHMARKS) -> str:
    """``docs/benchmarks.md``: the benchmarks of ``path``, one section per benchmark file (what it compares and
    the command that measures it), one table per group.

    Args:
        path: the pytest-benchmark JSON file (default: the committed ``reports/benchmarks.json``).

    Returns:
        The Markdown page.

    Raises:
        ValueError: ``path`` holds no benchmark, or a benchmark of a file that :data:`FILES` does not describe.
    """
    groups = performance(path)
    if not groups:
        raise ValueError(f"{path} holds no pytest-benchmark results")
    data = json.loads(path.read_text())
    files = {(b.get("group") or "ungrouped", b["name"]): b["fullname"].split("::")[0] for b in data["benchmarks"]}
    by_file: dict[str, dict[str, list[dict]]] = {}
    for group, rows in groups.items():
        for row in rows:
            file = files[group, row["name"]]
            if file not in FILES:
                raise ValueError(f"{path}: benchmark {row['name']} is in {file}, which FILES does not describe")
            by_file.setdefault(file, {}).setdefault(group, []).append(row)
    cpu = data.get("machine_info", {}).get("cpu", {})
    machine = ", ".join(
        str(part)
        for part in (
            cpu.get("brand_raw"),
            f"{cpu.get('count')} cores",
            f"Python {data.get('machine_info', {}).get('python_version')}",
        )
    )
    lines = [
        "# Benchmarks",
        "",
        "<!-- generated by `python -m theory.reporting.benchmarks > docs/benchmarks.md` from "
        "reports/benchmarks.json; do not edit by hand -->",
        "",
        "Medians of the committed run `reports/benchmarks.json`, measured with pytest-benchmark on one "
        f"machine ({machine}) in one run started {data.get('datetime', '?')} "
        f"(commit {str(data.get('commit_info', {}).get('id', '?'))[:7]}).",
        *[f"Note: {note.rstrip('.')}." for note in data.get("notes", [])],
        "",
        "Measure them all, and write the file `attnverify run` reports in its performance section:",
        "",
        "```bash",
        "pytest tests/benchmarks -n 0 --benchmark-enable --benchmark-json=reports/benchmarks.json",
        "```",
        "",
        "In each table the ratio is to the fastest benchmark of its group; `measured` is what the benchmark "
        "recorded besides its time (pytest-benchmark's `extra_info`). Under the default `pytest` "
        "(`--benchmark-disable`) each benchmark body runs once as a plain test, and those that take seconds "
        "are skipped.",
        "",
    ]
    for file, (title, what) in FILES.items():
        if file not in by_file:
            continue
        lines += [f"## {title}", "", what, "", "```bash", f"pytest -n 0 {file} --benchmark-enable", "```", ""]
        for group, rows in by_file[file].items():
            lines += group_table(group, rows)
    return "\n".join(lines).rstrip("\n") + "\n"


def main() -> int:
    """Print ``docs/benchmarks.md`` rendered from the committed ``reports/benchmarks.json``.

    Returns:
        The exit code: 0, or 2 when the file holds no benchmark results (one line on stderr).
    """
    try:
        sys.stdout.write(render())
    except ValueError as error:
        print(f"attnverify: error: {error}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
