"""The output folder of ``attnverify run``: checked before any claim runs, and held by one run at a time.

:func:`check_folder` proves that the folder can be written by doing it: it creates and removes a probe file
in the folder or, when the folder does not exist yet, in its nearest existing parent (which is where the
folder would be created), and refuses a path that is, or runs through, a file.  Nothing is left behind.

:func:`exclusive` holds an advisory lock (``fcntl.flock``) on ``LOCK_FILE`` inside the folder for the whole
run, so that two concurrent runs into the same folder cannot interleave their reports: the second one is
refused with the first one's pid.  The lock file is never removed (removing it would let a third run lock a
new file while the second still holds the old one); it only holds the pid of the last run.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

from theory import interrupt
from theory.errors import InputError

LOCK_FILE = ".attnverify.lock"


def check_folder(out: Path, option: str = "--out") -> None:
    """Refuse ``out`` unless it is a folder, or can be created as one, and files can be written in it.

    Args:
        out: The output folder (it may not exist yet).
        option: The command-line option that gave it, for the message.

    Raises:
        InputError: ``out`` is a file, runs through one, or cannot be written.
    """
    out = Path(out)
    shown = f"{option} {str(out)!r}"
    if out.exists() and not out.is_dir():
        raise InputError(f"{shown} is a file; give a folder for the reports")
    parent = out.absolute()
    while not parent.exists():
        parent = parent.parent
    if not parent.is_dir():
        raise InputError(
            f"{shown} cannot be created: {str(parent)!r} is a file, not a folder; give another folder for the reports"
        )
    try:
        with interrupt.deferred():  # the probe never stays behind
            fd, probe = tempfile.mkstemp(dir=parent, prefix=".attnverify-probe-")
            os.close(fd)
            os.unlink(probe)
    except OSError as error:
        what = "written" if parent == out.absolute() else f"created (in {str(parent)!r})"
        raise InputError(
            f"{shown} cannot be {what}: {error.strerror or error}; give a folder you can write to"
        ) from None


@contextlib.contextmanager
def exclusive(out: Path) -> Iterator[None]:
    """Hold the run lock of folder ``out`` (created if needed) for the duration of the block.

    Args:
        out: The output folder.

    Yields:
        Nothing: the lock is held while the block runs.

    Raises:
        InputError: Another run holds the lock (the message gives its pid).
    """
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    fd = os.open(out / LOCK_FILE, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(fd, 32, 0).decode(errors="replace").strip() or "unknown"
            raise InputError(
                f"another attnverify run is writing {str(out)!r} (pid {holder}); wait for it to finish or use --out"
            ) from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        yield
    finally:
        os.close(fd)  # releases the lock
