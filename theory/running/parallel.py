"""Claims and extras run elsewhere than in the calling process: in local worker processes (``attnverify run
--jobs N``) or as tasks on a Dask cluster (``--scheduler ADDRESS``, optional extra ``distributed``).

A task is one claim on one population, or one extra, named by its id: the worker imports the registry and
runs it exactly as the serial loop of ``attnverify run`` does (:func:`theory.running.runner.run_claim` with the
same profile and seed; Hypothesis draws from that seed, so the instances do not depend on where or in which
order a task runs).  So the records equal those of ``--jobs 1`` apart from their runtimes
(``tests/test_parallel.py`` checks it).  Workers are started with ``spawn`` (no forked numba or BLAS thread
state) and run single-threaded BLAS/torch, so that N workers use N cores.  Tasks are submitted longest
first (the trained population, then extras, then the random population) and reported in the serial order.
"""

from __future__ import annotations

import multiprocessing
import os
import sys
import threading
import time
from concurrent.futures import ProcessPoolExecutor, as_completed

from theory import optional
from theory.errors import InputError
from theory import interrupt
from theory.studies.regimes import use_cell_map

THREAD_VARIABLES = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMBA_NUM_THREADS")


JOBS_VARIABLE = "ATTNVERIFY_JOBS"  # overrides the default of --jobs (the test suite sets 1: xdist runs the workers)


def default_jobs() -> int:
    """``$ATTNVERIFY_JOBS`` when set, else the machine's cores (the processes this one may run on)."""
    if os.environ.get(JOBS_VARIABLE, "").strip():
        try:
            return int(os.environ[JOBS_VARIABLE])
        except ValueError:
            raise InputError(f"${JOBS_VARIABLE}={os.environ[JOBS_VARIABLE]!r} is not an integer number of "
                             "worker processes") from None
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


WORKER_VARIABLE = "ATTNVERIFY_WORKER"  # set in --jobs worker processes (their cells run serially)


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


def _exit_with_parent(poll: float = 1.0) -> None:
    """Let this process end when the one that started it is gone (its parent id changes): a killed
    ``attnverify run --jobs N`` otherwise leaves its workers computing claims nobody will read, for minutes."""
    parent = os.getppid()

    def watch():
        while os.getppid() == parent:
            time.sleep(poll)
        os._exit(1)

    threading.Thread(target=watch, name="attnverify-parent-watch", daemon=True).start()


def _initialize_worker() -> None:
    """Initializer of the ``--jobs`` worker processes: single-threaded, deaf to Ctrl-C (the run stops them),
    and ending with the run."""
    _single_threaded()
    _follow_parent()


def _follow_parent() -> None:
    """Initializer of every worker process: Ctrl-C, sent to the terminal's whole process group, is the
    parent's to handle (:mod:`theory.interrupt`); the worker ends with its parent."""
    interrupt.ignore()
    _exit_with_parent()


def _stop_workers(pool: ProcessPoolExecutor) -> None:
    """Terminate ``pool``'s processes: on an exception in this process (a ``KeyboardInterrupt`` when
    :mod:`theory.interrupt` is not installed), leaving the ``with`` block would otherwise wait for the
    running tasks, which ignore SIGINT."""
    for process in list((pool._processes or {}).values()):
        process.terminate()


def run_task(task: tuple, profile: str, seed: int, given=None):
    """Run one task — ``("claim", id, population)`` or ``("extra", id)`` — and return ``(task, result,
    seconds)``: a :class:`~theory.running.runner.Record`, or an :class:`~theory.studies.ExtraResult`.  ``given`` is
    the population of ``run --model`` (:class:`~theory.checking.population.Population`, shipped to the worker),
    which every claim task then runs on (:func:`theory.running.given.run_given`)."""
    from theory.claims import REGISTRY
    from theory.studies import EXTRAS, all_extras
    from theory.running.runner import run_claim

    _single_threaded()
    all_extras()  # imports every claim module (registers claims and extras)
    started = time.perf_counter()
    if task[0] == "claim" and given is not None:
        from theory.running.given import run_given

        result = run_given(REGISTRY[task[1]], given, profile, seed)
    elif task[0] == "claim":
        result = run_claim(REGISTRY[task[1]], profile, seed, task[2])
    else:
        result = EXTRAS[task[1]].run(profile, seed)
    return task, result, time.perf_counter() - started


def _tasks(runs, extras) -> list[tuple]:
    return [("claim", claim.id, population) for claim, population in runs] + [("extra", e.id) for e in extras]


def _longest_first(tasks: list[tuple]) -> list[tuple]:
    rank = {"trained": 0, "random": 2}
    return sorted(tasks, key=lambda task: rank.get(task[2], 1) if task[0] == "claim" else 1)


def _report(number: int, total: int, task: tuple, result, seconds: float) -> None:
    from theory.running.runner import extra_progress, progress

    if task[0] == "claim":
        print(f"[{number}/{total}] {task[1]} ({task[2]}) … {progress(result)}", file=sys.stderr, flush=True)
    else:
        print(f"[{number}/{total}] {task[1]} … {extra_progress(result, seconds)}", file=sys.stderr, flush=True)


def _collect(tasks, finished, extras):
    """Records in serial order, and ``(extra, result, seconds)`` in the order of ``extras``."""
    by_task = {task: (result, seconds) for task, result, seconds in finished}
    records = [by_task[task][0] for task in tasks if task[0] == "claim"]
    extra_results = [(item, *by_task[("extra", item.id)]) for item in extras]
    return records, extra_results


def run_elsewhere(runs, extras, profile: str, seed: int, jobs: int | None = None, scheduler: str | None = None,
                  given=None):
    """Run ``runs`` (``(claim, population)`` pairs) and ``extras`` on ``jobs`` local worker processes, or on the
    Dask cluster at ``scheduler``; returns ``(records, extra_results)`` as the serial loop builds them.  ``given``:
    the population of ``run --model`` that the claims run on (see :func:`run_task`)."""
    if jobs is not None and jobs < 1:
        raise InputError(f"--jobs must be at least 1, got {jobs}")
    tasks = _tasks(runs, extras)
    if scheduler:
        finished = _on_dask(tasks, profile, seed, scheduler, given)
    else:
        finished = _on_processes(tasks, profile, seed, jobs or default_jobs(), given)
    return _collect(tasks, finished, extras)


def _on_processes(tasks, profile, seed, jobs: int, given=None) -> list:
    finished = []
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(max_workers=min(jobs, len(tasks)) or 1, mp_context=context,
                             initializer=_initialize_worker) as pool:
        try:
            with interrupt.starting_children():  # the workers are spawned by submit
                futures = [pool.submit(run_task, task, profile, seed, given) for task in _longest_first(tasks)]
            for number, future in enumerate(as_completed(futures), 1):
                finished.append(future.result())
                _report(number, len(tasks), *finished[-1])
        except BaseException:
            _stop_workers(pool)
            raise
    return finished


def _on_dask(tasks, profile, seed, scheduler: str, given=None) -> list:
    if missing := optional.missing("distributed"):
        raise InputError(f"--scheduler {optional.needs(missing)}")
    from distributed import Client
    from distributed import as_completed as dask_completed

    try:
        client = Client(scheduler, timeout="20s")
    except (OSError, TimeoutError) as error:
        raise InputError(f"--scheduler {scheduler!r}: cannot reach a Dask scheduler there ({error}); start one "
                         "with `dask scheduler` (or dask-jobqueue on a cluster) and pass its address") from None
    finished = []
    with client:
        futures = [client.submit(run_task, task, profile, seed, given, pure=False, key=f"attnverify-{'-'.join(task)}")
                   for task in _longest_first(tasks)]
        for number, future in enumerate(dask_completed(futures), 1):
            finished.append(future.result())
            _report(number, len(tasks), *finished[-1])
    return finished


def cell_map(function, jobs: list, workers: int):
    """``map(function, jobs)`` for independent cells of a sweep (the regime map), yielding results in order:
    as tasks of the Dask cluster when called inside a Dask task (``--scheduler``; the task secedes while its
    cells run), serially inside a ``--jobs`` worker process (its core is already one of N), otherwise in
    ``workers`` local processes."""
    client = _dask_client()
    if client is not None:
        futures = client.map(function, jobs, pure=False)
        from distributed import rejoin, secede

        secede()
        try:
            results = client.gather(futures)
        finally:
            rejoin()
        yield from results
    elif workers <= 1 or os.environ.get(WORKER_VARIABLE):
        yield from map(function, jobs)
    else:
        with ProcessPoolExecutor(workers, initializer=_follow_parent) as pool:
            try:
                with interrupt.starting_children():  # the workers are forked by the first submit
                    results = pool.map(function, jobs)
                yield from results
            except BaseException:
                _stop_workers(pool)
                raise


use_cell_map(cell_map)  # the regime map's sweeps run their cells here


def _dask_client():
    """The Dask client of the task being run, or None outside a Dask worker."""
    if optional.missing("distributed"):
        return None
    from distributed import get_client, get_worker

    try:
        get_worker()
    except ValueError:
        return None
    return get_client()
