"""Replace a set of files in a folder all at once, or not at all, even if the process is killed.

Each new file is first written (and flushed to disk) under a temporary name ``.NAME.XXXX.attnverify.tmp``
beside its target.  Then a *journal* listing the ``temporary → target`` renames is written the same way and
renamed to ``JOURNAL``: that single atomic rename is the commit point.  Only then are the files renamed into
place, and the journal removed.

- Killed before the commit point: the old files are untouched; the temporary files are ignored by every
  reader and removed by the next write (:func:`recover`).
- Killed after it: the journal is complete, and the next write (or :func:`recover`) finishes the renames,
  so the folder holds the complete new set — never a mix of old and new files.

Writers into one folder are serialised by :func:`theory.running.output.exclusive`; :func:`recover` must only
run under that lock (it renames and removes files).

A single file (an imported model) is replaced the same way without a journal (:func:`write_file`): staged,
then renamed onto its target, the one rename being atomic.  Every staged file gets the mode ``open()`` would
give a new file (``0666`` less the umask), not ``mkstemp``'s private ``0600``.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Iterable
from pathlib import Path

from theory import interrupt

JOURNAL = ".attnverify-commit.json"
SUFFIX = ".attnverify.tmp"
_UMASK = os.umask(0)
os.umask(_UMASK)
_MODE = 0o666 & ~_UMASK  # what open() would give a new file


def _stage(target: Path, content: bytes) -> Path:
    """``content`` written and flushed under a temporary name beside ``target``."""
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=SUFFIX)
    try:
        with os.fdopen(fd, "wb") as handle:
            os.fchmod(fd, _MODE)  # mkstemp's 0600 would make the reports private
            handle.write(content)
            handle.flush()
            os.fsync(handle.fileno())
    except BaseException:
        os.unlink(tmp)
        raise
    return Path(tmp)


def _apply(out_dir: Path, renames: list[list[str]]) -> None:
    """Rename each staged file still present onto its target, then drop the journal."""
    for tmp, target in renames:
        if (out_dir / tmp).exists():
            os.replace(out_dir / tmp, out_dir / target)
    (out_dir / JOURNAL).unlink(missing_ok=True)


def recover(out_dir: Path, folders: Iterable[Path] | None = None) -> None:
    """Finish a committed write that was interrupted, and remove the temporary files of uncommitted ones in
    ``folders`` (default: ``out_dir`` itself).

    Args:
        out_dir: the folder whose :data:`JOURNAL`, if present, is replayed.
        folders: the folders swept for stale ``*.attnverify.tmp`` files; ``None`` sweeps ``out_dir`` only.
    """
    out_dir = Path(out_dir)
    journal = out_dir / JOURNAL
    if journal.is_file():
        _apply(out_dir, json.loads(journal.read_text()))
    for folder in folders or [out_dir]:
        for stale in Path(folder).glob(f".*{SUFFIX}"):
            stale.unlink(missing_ok=True)


def write_set(out_dir: Path, files: dict[str, str | bytes]) -> None:
    """Write every ``name -> content`` (names relative to ``out_dir``) as one all-or-nothing replacement; a
    Ctrl-C arriving meanwhile takes effect once the set is complete (:mod:`theory.interrupt`).

    Args:
        out_dir: the folder receiving the set (created if absent).
        files: relative file name (may contain sub-folders) to its new content; text is written as UTF-8.
    """
    with interrupt.deferred():
        _write_set(out_dir, files)
        interrupt.written("the new reports")


def _write_set(out_dir: Path, files: dict[str, str | bytes]) -> None:
    out_dir = Path(out_dir).absolute()
    out_dir.mkdir(parents=True, exist_ok=True)
    targets = {name: out_dir / name for name in files}
    recover(out_dir, sorted({out_dir, *(target.parent for target in targets.values())}))
    staged = []
    try:
        for name, content in files.items():
            staged.append((_stage(targets[name], content.encode() if isinstance(content, str) else content), name))
        renames = [[str(tmp.relative_to(out_dir)), name] for tmp, name in staged]
        journal = _stage(out_dir / JOURNAL, json.dumps(renames).encode())
    except BaseException:
        for tmp, _ in staged:
            tmp.unlink(missing_ok=True)
        raise
    os.replace(journal, out_dir / JOURNAL)  # the commit point
    _fsync_folder(out_dir)  # the commit survives a power loss too
    _apply(out_dir, renames)


def write_file(target: Path, content: bytes) -> None:
    """Replace ``target`` by ``content`` all at once (module docstring); its folder must exist.  ``OSError``
    (an unwritable folder …) leaves no file behind; a Ctrl-C meanwhile takes effect once the file is in place.

    Args:
        target: the file to create or replace.
        content: its complete new content.
    """
    target = Path(target).absolute()
    with interrupt.deferred():
        tmp = _stage(target, content)
        try:
            os.replace(tmp, target)
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise
        _fsync_folder(target.parent)
        interrupt.written(str(target))


def _fsync_folder(folder: Path) -> None:
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
