"""Claims and extras run elsewhere than in the calling process: in local worker processes (``attnverify run
--jobs N``) or as tasks on a Dask cluster (``--scheduler ADDRESS``, optional extra ``distributed``).

A task is one claim on one population, or one extra, named by its id: the worker imports the registry and
runs it exactly as the serial loop of ``attnverify run`` does (:func:`theory.running.runner.run_claim` with the
same profile and seed; Hypothesis draws from that seed, so the instances do not depend on where or in which
order a task runs).  So the records equal those of ``--jobs 1`` apart from their runtimes
(``tests/test_parallel.py`` checks it).  Workers are started with ``spawn`` (no forked numba or BLAS thread
state) and run single-threaded BLAS/torch, so that N workers use N cores.  Tasks are submitted longest
first (the trained and pretrained populations, then extras and a user's model, then the random population) and
reported in the serial order.  The pretrained population travels by its name, ``"pretrained"``, as the trained one
does: the worker builds it (:func:`~theory.checking.population.pretrained_population`, once per worker process).  A
user's model (``run --model``) is a population like the others: its claim tasks carry it to the worker.
"""

from __future__ import annotations

import multiprocessing
import os
import sys
import time
from concurrent.futures import ProcessPoolExecutor, as_completed
from typing import TYPE_CHECKING

from theory import interrupt, optional
from theory.errors import InputError
from theory.pool import WORKER_VARIABLE, follow_parent, stop_workers
from theory.running import runner
from theory.running.runner import Record, extra_progress, population_name, progress

if TYPE_CHECKING:
    from theory.checking.population import Population
    from theory.claims import Claim
    from theory.studies import Extra, ExtraResult

THREAD_VARIABLES = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMBA_NUM_THREADS")


JOBS_VARIABLE = "ATTNVERIFY_JOBS"  # overrides the default of --jobs (the test suite sets 1: xdist runs the workers)


def default_jobs() -> int:
    """The default of ``--jobs``.

    Returns:
        ``$ATTNVERIFY_JOBS`` when set, else the machine's cores (the processes this one may run on).

    Raises:
        InputError: ``$ATTNVERIFY_JOBS`` is not an integer.
    """
    if os.environ.get(JOBS_VARIABLE, "").strip():
        try:
            return int(os.environ[JOBS_VARIABLE])
        except ValueError:
            raise InputError(
                f"${JOBS_VARIABLE}={os.environ[JOBS_VARIABLE]!r} is not an integer number of worker processes"
            ) from None
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def _single_threaded() -> None:
    """Worker initializer: one BLAS / OpenMP / torch thread per worker process."""
    os.environ[WORKER_VARIABLE] = "1"
    for name in THREAD_VARIABLES:
        os.environ[name] = "1"
    try:
        from threadpoolctl import threadpool_limits

        threadpool_limits(1)
    except ImportError:
        pass
    if "torch" in sys.modules:
        sys.modules["torch"].set_num_threads(1)


def _initialize_worker() -> None:
    """Initializer of the ``--jobs`` worker processes: single-threaded, deaf to Ctrl-C (the run stops them),
    and ending with the run (:func:`theory.pool.follow_parent`)."""
    _single_threaded()
    follow_parent()


#: one task: ``("claim", claim id, population)`` — the population's name (``"random"``, ``"trained"``,
#: ``"pretrained"``) or a given
#: :class:`~theory.checking.population.Population`, shipped to the worker — or ``("extra", extra id)``
Task = tuple


def run_task(task: Task, profile: str, seed: int) -> tuple[Record | ExtraResult, float]:
    """Run one task in this process, as the serial loop of ``attnverify run`` does.

    Args:
        task: ``("claim", id, population)`` or ``("extra", id)`` (:data:`Task`).
        profile: The Hypothesis profile.
        seed: The seed of every random draw.

    Returns:
        ``(result, seconds)``: a :class:`~theory.running.runner.Record` (of
        :func:`~theory.running.runner.run_claim`) or an :class:`~theory.claims.ExtraResult`, and its runtime.
    """
    from theory.claims import REGISTRY
    from theory.studies import EXTRAS, all_extras

    _single_threaded()
    all_extras()  # imports every claim module (registers claims and extras)
    started = time.perf_counter()
    result: Record | ExtraResult
    if task[0] == "claim":
        result = runner.run_claim(REGISTRY[task[1]], profile, seed, task[2])
    else:
        result = EXTRAS[task[1]].run(profile, seed)
    return result, time.perf_counter() - started


def _tasks(runs: list[tuple[Claim, str | Population]], extras: list[Extra]) -> list[Task]:
    return [("claim", claim.id, population) for claim, population in runs] + [("extra", e.id) for e in extras]


def _key(task: Task) -> str:
    """The task's name: its kind, its id and (a claim) its population's name, joined by ``-``."""
    return "-".join([*task[:2], *(population_name(p) for p in task[2:])])


def _longest_first(tasks: list[Task]) -> list[int]:
    """The tasks' indices in submission order: the trained and pretrained populations, then extras and given
    populations, then the random population."""
    rank = {"trained": 0, "pretrained": 0, "random": 2}
    return sorted(
        range(len(tasks)), key=lambda k: rank.get(population_name(tasks[k][2]), 1) if tasks[k][0] == "claim" else 1
    )


def _report(number: int, total: int, task: Task, result: Record | ExtraResult, seconds: float) -> None:
    """Print a finished task's progress line on stderr (a claim task's result is its record)."""
    if isinstance(result, Record):
        print(
            f"[{number}/{total}] {task[1]} ({population_name(task[2])}) … {progress(result)}",
            file=sys.stderr,
            flush=True,
        )
    else:
        print(f"[{number}/{total}] {task[1]} … {extra_progress(result, seconds)}", file=sys.stderr, flush=True)


def run_elsewhere(
    runs: list[tuple[Claim, str | Population]],
    extras: list[Extra],
    profile: str,
    seed: int,
    jobs: int | None = None,
    scheduler: str | None = None,
) -> tuple[list, list]:
    """Run claims and extras on local worker processes, or on a Dask cluster.

    Args:
        runs: ``(claim, population)`` pairs; a population is a name or a given population
            (:func:`~theory.running.runner.run_claim`).
        extras: The extras to run.
        profile: The Hypothesis profile.
        seed: The seed of every random draw.
        jobs: Local worker processes (default :func:`default_jobs`).
        scheduler: The address of a Dask scheduler to run the tasks on instead.

    Returns:
        ``(records, extra_results)`` as the serial loop builds them: the records in the order of ``runs``,
        ``(extra, result, seconds)`` in the order of ``extras``.

    Raises:
        InputError: ``jobs`` is below 1, or the scheduler cannot be reached.
    """
    if jobs is not None and jobs < 1:
        raise InputError(f"--jobs must be at least 1, got {jobs}")
    tasks = _tasks(runs, extras)
    if scheduler:
        finished = _on_dask(tasks, profile, seed, scheduler)
    else:
        finished = _on_processes(tasks, profile, seed, jobs or default_jobs())
    records = [finished[k][0] for k, task in enumerate(tasks) if task[0] == "claim"]
    return records, [(item, *finished[len(runs) + k]) for k, item in enumerate(extras)]


def _on_processes(tasks: list[Task], profile: str, seed: int, jobs: int) -> dict[int, tuple]:
    """The tasks' ``(result, seconds)`` by index, computed in ``jobs`` local worker processes."""
    finished: dict[int, tuple] = {}
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(
        max_workers=min(jobs, len(tasks)) or 1, mp_context=context, initializer=_initialize_worker
    ) as pool:
        try:
            with interrupt.starting_children():  # the workers are spawned by submit
                futures = {pool.submit(run_task, tasks[k], profile, seed): k for k in _longest_first(tasks)}
            for number, future in enumerate(as_completed(futures), 1):
                finished[futures[future]] = future.result()
                _report(number, len(tasks), tasks[futures[future]], *finished[futures[future]])
        except BaseException:
            stop_workers(pool)
            raise
    return finished


def _on_dask(tasks: list[Task], profile: str, seed: int, scheduler: str) -> dict[int, tuple]:
    """The tasks' ``(result, seconds)`` by index, computed as tasks of the Dask cluster at ``scheduler``."""
    if missing := optional.missing("distributed"):
        raise InputError(f"--scheduler {optional.needs(missing)}")
    from distributed import Client
    from distributed import as_completed as dask_completed

    try:
        client = Client(scheduler, timeout="20s")
    except (OSError, TimeoutError) as error:
        raise InputError(
            f"--scheduler {scheduler!r}: cannot reach a Dask scheduler there ({error}); start one "
            "with `dask scheduler` (or dask-jobqueue on a cluster) and pass its address"
        ) from None
    finished: dict[int, tuple] = {}
    with client:
        futures = {
            client.submit(run_task, tasks[k], profile, seed, pure=False, key=f"attnverify-{_key(tasks[k])}"): k
            for k in _longest_first(tasks)
        }
        for number, future in enumerate(dask_completed(list(futures)), 1):
            finished[futures[future]] = future.result()
            _report(number, len(tasks), tasks[futures[future]], *finished[futures[future]])
    return finished
