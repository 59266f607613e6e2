"""``numba.njit`` for the explainers' compiled loops, with an on-disk cache wherever one can be written.

numba keeps compiled machine code (``cache=True``) in the first writable folder among ``$NUMBA_CACHE_DIR``,
the ``__pycache__`` beside the source file and the user's cache folder (``~/.cache/numba``); when none is
writable — a read-only site-packages and a read-only HOME — ``numba.njit(cache=True)`` raises ``RuntimeError``
when the function is defined, so importing the explainers failed.  :func:`cached_njit` then caches in a
private folder of the temporary directory (``attnverify-numba-UID``, mode 0700: numba's cache files are
pickles, so a folder another user can write is never read), and when that is not writable either, compiles
without a cache (about a second more per process).  ``tests/test_readonly.py`` runs ``explain`` and ``run``
with read-only installs.
"""

from __future__ import annotations

import os
import stat
import tempfile
from collections.abc import Callable
from typing import Any

import numba

_NO_LOCATION = "no locator available"  # numba's message when no cache folder is writable


def cached_njit(function: Callable[..., Any]) -> Any:
    """``numba.njit(cache=True, nogil=True)(function)``, cached in the temporary directory or not at all when
    numba's own cache locations are read-only.

    Args:
        function: the plain Python function to compile (numba's ``nopython`` subset).

    Returns:
        numba's dispatcher of ``function``, called as the function is.
    """
    compiled = _with_cache(function)
    folder = private_temporary_folder() if compiled is None else None
    if folder is not None:
        config: Any = numba.config  # its settings are set at import from the environment, unseen by type checkers
        saved = config.CACHE_DIR
        config.CACHE_DIR = folder  # read once, when the dispatcher picks its cache location
        try:
            compiled = _with_cache(function)
        finally:
            config.CACHE_DIR = saved
    return numba.njit(nogil=True)(function) if compiled is None else compiled


def _with_cache(function: Callable[..., Any]) -> Any:
    """``function`` compiled with numba's cache, or None when numba finds no writable cache location."""
    try:
        return numba.njit(cache=True, nogil=True)(function)
    except RuntimeError as error:
        if _NO_LOCATION not in str(error):
            raise
        return None


def private_temporary_folder() -> str | None:
    """``TMPDIR/attnverify-numba-UID``, created with mode 0700; None unless it is a folder of this user that
    nobody else can write and this process can.

    Returns:
        The folder's path, or None.
    """
    uid = os.getuid() if hasattr(os, "getuid") else None
    try:
        folder = os.path.join(tempfile.gettempdir(), f"attnverify-numba-{uid if uid is not None else 'user'}")
        os.makedirs(folder, mode=0o700, exist_ok=True)
        info = os.lstat(folder)
        if not stat.S_ISDIR(info.st_mode) or info.st_mode & 0o022 or (uid is not None and info.st_uid != uid):
            return None
        tempfile.TemporaryFile(dir=folder).close()
    except OSError:
        return None
    return folder
