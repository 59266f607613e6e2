"""Ctrl-C (SIGINT) ends ``attnverify`` at once and cleanly wherever it arrives: one line on stderr, exit status
130, the worker processes stopped, and never a half-written set of reports.

Python's default turns SIGINT into a ``KeyboardInterrupt`` raised in the main thread at whatever bytecode it
is running, and code that is not written for an exception there breaks.  Interrupting ``attnverify run`` at
many moments showed: inside the import of a compiled extension it becomes ``ImportError: initialization
failed`` (scipy's HiGHS) or a crash (python-flint: SIGSEGV); caught anywhere inside an import, CPython still
ends the process by SIGINT instead of with the status ``main`` returned; inside a weak-reference callback
(``concurrent.futures`` keeps its threads in a ``WeakKeyDictionary``) it is printed as "Exception ignored"
and lost, and the run goes on; between the two halves of a lock operation of ``threading`` (just after
``Condition.wait`` released its lock and before its ``try``, or in ``Thread.join`` while the thread ends) it
escapes as ``RuntimeError: release unlocked lock``, a 50-line traceback and exit 1; and the terminal sends
SIGINT to the worker processes too, which print their own tracebacks (one that is still starting:
"Fatal Python error: init_import_site").

So :func:`install` replaces the handler with one that raises nothing: it stops this process's child
processes, prints the line and leaves with ``os._exit(130)``.  Workers ignore SIGINT (:func:`ignore`) and
are started with it blocked (:func:`starting_children`; the mask is inherited), so the terminal's SIGINT
never reaches them.  A report set being written is finished first (:func:`deferred`, used by
:func:`theory.atomic.write_set`), so the folder holds the previous reports or the complete new set —
as after ``kill -9``, without leftovers.  ``tests/test_interrupt.py`` interrupts runs at many moments.
"""

from __future__ import annotations

import multiprocessing
import os
import signal
import sys
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from types import FrameType
from typing import Any

EXIT_INTERRUPTED = 130

_depth = 0  # depth of deferred sections
_pending = False  # SIGINT arrived inside one
_written: str | None = None  # what this process wrote (for the line printed on Ctrl-C)
_owner: int | None = None  # pid of the process that installed the handler (a forked child inherits it)
# multiprocessing's resource tracker (a process started with the first --jobs pool, with this process's -W
# options) removes the named semaphores that os._exit leaves behind, as it is meant to; its warning about
# them is expected after Ctrl-C and not shown
_QUIET_TRACKER = "ignore::UserWarning:multiprocessing.resource_tracker"

#: a SIGINT handler as ``signal.signal`` returns it: a function, ``SIG_DFL``/``SIG_IGN``, or None (not set from Python)
Handler = Callable[[int, FrameType | None], Any] | int | None


def install() -> Handler:
    """Make SIGINT end this process as the module docstring says.

    Returns:
        The previous SIGINT handler (for :func:`restore`), or ``None`` outside the main thread, where Python
        cannot change it.
    """
    global _owner, _written
    if threading.current_thread() is not threading.main_thread():
        return None
    _owner, _written = os.getpid(), None
    if _QUIET_TRACKER not in sys.warnoptions:
        sys.warnoptions.append(_QUIET_TRACKER)
    return signal.signal(signal.SIGINT, _on_interrupt)


def restore(previous: Handler) -> None:
    """Give SIGINT back the handler :func:`install` returned.

    Args:
        previous: what :func:`install` returned; ``None`` (it changed nothing) leaves the handler as it is.
    """
    if previous is not None:
        signal.signal(signal.SIGINT, previous)


def ignore() -> None:
    """Worker processes ignore SIGINT (Ctrl-C reaches the terminal's whole process group): the process that
    started them stops them."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)


@contextmanager
def deferred() -> Iterator[None]:
    """A section that SIGINT does not cut: an interrupt arriving inside it ends the process when it is done.

    Yields:
        Nothing; the ``with`` body runs uninterrupted (sections nest: the outermost one's end leaves).
    """
    global _depth
    _depth += 1
    try:
        yield
    finally:
        _depth -= 1
        if _pending and not _depth:
            _leave()


def written(what: str) -> None:
    """Record that ``what`` (the new reports, a model file) is complete: the line printed on Ctrl-C says so.

    Args:
        what: the words naming what was written, as they appear in ``interrupted; WHAT had been written``.
    """
    global _written
    _written = what


@contextmanager
def starting_children() -> Iterator[None]:
    """Start worker processes inside: SIGINT is blocked in this thread, and a child inherits the mask, so a
    Ctrl-C cannot reach it before it ignores SIGINT (:func:`ignore`, its first act); an interrupt meanwhile
    ends this process when the children are started (:func:`deferred`), never with one half-started.

    Yields:
        Nothing; the ``with`` body starts the workers, and the previous signal mask is restored after it.
    """
    with deferred():
        if not hasattr(signal, "pthread_sigmask"):  # not POSIX
            yield
            return
        previous = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})
        try:
            yield
        finally:
            signal.pthread_sigmask(signal.SIG_SETMASK, previous)


def _on_interrupt(signum: int, frame: FrameType | None) -> None:
    global _pending
    if os.getpid() != _owner:  # a forked worker before it ignores SIGINT: its parent stops it
        return
    if _depth:
        _pending = True
        return
    _leave()


def _leave() -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # a second Ctrl-C does not interrupt the leaving
    for child in multiprocessing.active_children():
        child.terminate()
    try:
        sys.stdout.flush()
    except (OSError, ValueError):  # a closed pipe or stream: nothing more can be said there
        pass
    done = f"{_written} had been written" if _written else "nothing was written"
    try:
        sys.stderr.flush()
        os.write(sys.stderr.fileno(), f"\nattnverify: interrupted; {done}\n".encode())
    except (OSError, ValueError):
        pass
    os._exit(EXIT_INTERRUPTED)
