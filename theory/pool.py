"""Worker processes that end with their run: the process-pool machinery below the suite.

:func:`cell_map` maps a function over the independent cells of a sweep (the regime map,
:mod:`theory.studies.regimes`) in local processes, or as tasks of the Dask cluster a run was sent to; the workers
of ``attnverify run --jobs N`` (:mod:`theory.running.parallel`) start the same way (:func:`follow_parent`) and are
stopped the same way (:func:`stop_workers`).  Nothing here knows claims or populations: it sits on the ground
floor, beside :mod:`theory.interrupt`, which it uses, so that the studies and the runner both use it.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ProcessPoolExecutor
from typing import Any

from theory import interrupt, optional

WORKER_VARIABLE = "ATTNVERIFY_WORKER"  # set in --jobs worker processes (their cells run serially)


def exit_with_parent(poll: float = 1.0) -> None:
    """Let this process end when the one that started it is gone (its parent id changes): a killed
    ``attnverify run --jobs N`` otherwise leaves its workers computing claims nobody will read, for minutes.

    Args:
        poll: Seconds between two looks at the parent id (a daemon thread looks).
    """
    parent = os.getppid()

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(poll)
        os._exit(1)

    threading.Thread(target=watch, name="attnverify-parent-watch", daemon=True).start()


def follow_parent() -> None:
    """Initializer of every worker process: Ctrl-C, sent to the terminal's whole process group, is the
    parent's to handle (:mod:`theory.interrupt`); the worker ends with its parent (:func:`exit_with_parent`)."""
    interrupt.ignore()
    exit_with_parent()


def stop_workers(pool: ProcessPoolExecutor) -> None:
    """Terminate ``pool``'s processes: on an exception in this process (a ``KeyboardInterrupt`` when
    :mod:`theory.interrupt` is not installed), leaving the ``with`` block would otherwise wait for the
    running tasks, which ignore SIGINT.

    Args:
        pool: The pool whose processes to terminate.
    """
    for process in list((pool._processes or {}).values()):
        process.terminate()


def cell_map(function: Callable[[Any], Any], jobs: list, workers: int) -> Iterator[Any]:
    """``map(function, jobs)`` for independent cells of a sweep (the regime map), yielding results in order.

    Args:
        function: A picklable function of one cell.
        jobs: The cells.
        workers: Local worker processes to use (1 or fewer: this process).

    Yields:
        ``function(job)`` for each job, in order: computed as tasks of the Dask cluster when
        called inside a Dask task (``--scheduler``; the task secedes while its cells run), serially inside a
        ``--jobs`` worker process (its core is already one of N), otherwise in ``workers`` local processes.
    """
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
        with ProcessPoolExecutor(workers, initializer=follow_parent) as pool:
            try:
                with interrupt.starting_children():  # the workers are forked by the first submit
                    mapped = pool.map(function, jobs)
                yield from mapped
            except BaseException:
                stop_workers(pool)
                raise


def _dask_client() -> Any:
    """The Dask client of the task being run.

    Returns:
        The ``distributed.Client``, or None outside a Dask worker (or without ``distributed``).
    """
    if optional.missing("distributed"):
        return None
    from distributed import get_client, get_worker

    try:
        get_worker()
    except ValueError:
        return None
    return get_client()
