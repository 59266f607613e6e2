"""Refuse, before allocating, work that needs more memory than the machine has (or, :func:`require_time`, more
time than :data:`TIME_LIMIT`).

A model file can ask for absurd sizes that are cheap to state and impossible to hold: ``max_len = 10^12``,
``V × d_e`` arrays whose (compressed) archive is tiny, or ``--samples 10^12``.  numpy would then fail deep
inside a computation with a ``MemoryError`` traceback, or the machine would swap.  Each estimate below counts
the float64 arrays the computation holds at once (a lower bound of its footprint); :func:`require` compares
it with the machine's physical memory (``os.sysconf``) and raises an :class:`~theory.errors.InputError` with
the estimate when it does not fit.
"""

from __future__ import annotations

import os
from collections.abc import Callable

from theory.errors import InputError

FLOAT = 8  # bytes per float64 (and per int64 token id)


def physical_memory() -> int:
    """Total physical memory of the machine, in bytes.

    Returns:
        The page size times the number of physical pages (``os.sysconf``), in bytes.
    """
    return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")


def human(nbytes: float) -> str:
    """``nbytes`` in binary units, e.g. ``7.3 TiB``.

    Args:
        nbytes: a size in bytes (an estimate: need not be an integer).

    Returns:
        ``"N B"`` below 1 KiB, else the size in the largest binary unit up to EiB, one decimal.
    """
    if nbytes < 1024:
        return f"{int(nbytes)} B"
    for unit in ("KiB", "MiB", "GiB", "TiB", "PiB"):
        nbytes /= 1024
        if nbytes < 1024:
            return f"{nbytes:.1f} {unit}"
    return f"{nbytes / 1024:.1f} EiB"


def require(nbytes: float, what: str, fix: str) -> None:
    """Refuse ``what`` when its estimated ``nbytes`` exceed the machine's physical memory.

    Args:
        nbytes: the estimated footprint in bytes (one of the ``*_bytes`` estimates below).
        what: the work being refused, as the message names it
            (e.g. ``"LIME with --samples N and d = 5 distinct words"``).
        fix: how the user can make it fit, appended to the message.

    Raises:
        InputError: ``nbytes`` exceeds :func:`physical_memory`; the message gives both sizes and ``fix``.
    """
    total = physical_memory()
    if nbytes > total:
        raise InputError(
            f"{what} would need about {human(nbytes)} ({int(nbytes)} bytes) of memory but this "
            f"machine has {human(total)}; {fix}"
        )


def forward_bytes(T: int, d_e: int, K: int) -> int:
    """One document's forward pass (§2): the embedded tokens and positional encodings ``(T, d_e)`` twice, and
    the scores, attention weights, value scores and their products ``(K, T)`` four times.

    Args:
        T: the document's length in tokens.
        d_e: the embedding dimension.
        K: the number of attention heads.

    Returns:
        The float64 footprint ``8 T (2 d_e + 4 K)``, in bytes.
    """
    return FLOAT * T * (2 * d_e + 4 * K)


def lime_bytes(n: int, d: int) -> int:
    """Empirical LIME with ``n`` samples of ``d`` words (``theory.explainers.lime``): the sample matrix ``Z``
    ``(n, d)``, the numbers of words switched off, the kernel weights, ``f`` and its sums (``(n,)`` each).

    Args:
        n: the number of perturbed samples.
        d: the number of distinct words of the document (LIME's features).

    Returns:
        The float64 footprint ``8 n (d + 4)``, in bytes.
    """
    return FLOAT * n * (d + 4)


def beta_inf_bytes(samples: int, d: int) -> int:
    """Stratified Monte Carlo ``β^∞`` (``theory.explainers.lime_inf``): its pilot holds the patterns and their
    features (``3 d`` numbers) and ``f`` for a fifth of the samples; the main run works in bounded chunks.

    Args:
        samples: the total number of Monte Carlo samples (the pilot draws a fifth of them).
        d: the number of distinct words of the document.

    Returns:
        The float64 footprint of the pilot ``8 ⌊samples/5⌋ (3 d + 4)``, in bytes.
    """
    return FLOAT * (samples // 5) * (3 * d + 4)


# --- time: the same refusal for work that would run for hours ---------------------------------------------------

#: the longest an ``explain`` method may be estimated to run before it is refused, in seconds
TIME_LIMIT = 600.0


def duration(seconds: float) -> str:
    """``seconds`` in the largest fitting unit, e.g. ``3.2 h``.

    Args:
        seconds: a duration in seconds.

    Returns:
        The duration in days, hours, minutes or seconds (the largest unit it reaches), one decimal.
    """
    for unit, size in (("d", 86400), ("h", 3600), ("min", 60)):
        if seconds >= size:
            return f"{seconds / size:.1f} {unit}"
    return f"{seconds:.1f} s"


def require_time(units: float, unit: str, block: int, run_block: Callable[[], object], what: str, fix: str) -> None:
    """Refuse ``what`` — ``units`` units of work (``unit`` names them, e.g. ``"evaluations of f"``), of which
    ``run_block()`` does ``block`` — when it would take longer than :data:`TIME_LIMIT` at the speed measured here:
    ``run_block`` is timed on its second call (the first compiles and warms caches), and the estimate is
    ``units × (that time / block)``.

    Args:
        units: how many units of work the whole computation needs.
        unit: what one unit is, for the message (e.g. ``"evaluations of f"``).
        block: how many units one call of ``run_block`` does.
        run_block: a representative piece of the work; called twice, its result discarded.
        what: the work being refused, as the message names it.
        fix: how the user can make it shorter, appended to the message.

    Raises:
        InputError: the estimate exceeds :data:`TIME_LIMIT`; the message gives it and the measured rate.
    """
    import time

    run_block()
    started = time.perf_counter()
    run_block()
    seconds = units * (time.perf_counter() - started) / block
    if seconds > TIME_LIMIT:
        raise InputError(
            f"{what} would take about {duration(seconds)} on this machine ({units:.3g} {unit} "
            f"at {1e3 * seconds / units:.3g} ms each, measured), more than the "
            f"{duration(TIME_LIMIT)} limit; {fix}"
        )


def kernelshap_bytes(n: int, d: int) -> int:
    """Sampled KernelSHAP with ``n`` patterns of ``d`` words (``theory.explainers.kernelshap``): the draws' keys
    and their two ranks ``(n/2, d)`` each, the patterns ``Z`` and the scaled design ``(n, d)`` each, and ``f``,
    the weights and the response ``(n,)``.

    Args:
        n: the number of sampled coalition patterns.
        d: the number of distinct words of the document (the players).

    Returns:
        The float64 footprint ``8 n (4 d + 3)``, in bytes.
    """
    return FLOAT * n * (4 * d + 3)
