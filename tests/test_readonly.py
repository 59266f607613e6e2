"""``explain`` and ``run`` from a read-only installation (:mod:`theory.models.jit`).

The package is copied (as a non-editable install is: the source files, no ``__pycache__``) into a folder
that is then mounted read-only, with a read-only HOME, in a private mount namespace (``unshare -rm``: root
ignores permission bits, a read-only mount stops it too).  The test first shows the condition is real: there
a plain ``numba.njit(cache=True)`` fails on import with numba's "no locator available".  Then:

- ``explain --method lime`` and ``--method lime-inf`` give the same scores as outside, and numba's cache goes
  to the private folder ``TMPDIR/attnverify-numba-UID``;
- with every temporary folder read-only too, they still work (compiled without a cache);
- ``run`` imports every claim (all the compiled loops) and writes its reports, with ``--jobs 1`` and 2.
"""

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from theory.cli.main import main

ROOT = Path(__file__).resolve().parents[1]
MODEL = ROOT / "theory" / "sentiment" / "data" / "sentiment_model.npz"
TOKENS = "5,9,12,9,30,5"
# bind each folder of $READ_ONLY onto itself, read-only, then run the command
MOUNT = 'set -e; for d in $READ_ONLY; do mount --bind "$d" "$d"; mount -o remount,ro,bind "$d" "$d"; done; exec "$@"'
PROBE = "import numba\n\n\n@numba.njit(cache=True)\ndef one():\n    return 1\n"


def _read_only(folders, command, cwd, **env):
    """``command`` with ``folders`` read-only (a private mount namespace), in ``cwd``, with ``env`` added."""
    environment = {
        name: value
        for name, value in os.environ.items()  # numba's other cache locations
        if name not in ("NUMBA_CACHE_DIR", "XDG_CACHE_HOME")
    }
    environment.update(READ_ONLY=" ".join(str(f) for f in folders), **env)
    return subprocess.run(
        ["unshare", "-rm", "sh", "-c", MOUNT, "sh", *command],
        cwd=cwd,
        env=environment,
        capture_output=True,
        text=True,
        timeout=300,
    )


@pytest.fixture(scope="module")
def install(tmp_path_factory):
    """``(site, home)``: the package copied into ``site``, and an empty HOME; skips without mount namespaces."""
    if shutil.which("unshare") is None:
        pytest.skip("needs unshare (util-linux) for a read-only mount")
    base = tmp_path_factory.mktemp("readonly")
    site, home = base / "site", base / "home"
    home.mkdir()
    for package in ("theory", "reference"):
        shutil.copytree(ROOT / package, site / package, ignore=shutil.ignore_patterns("__pycache__"))
    (site / "probe.py").write_text(PROBE)
    check = _read_only([site], ["sh", "-c", f"! touch {site}/x 2>/dev/null"], base)
    if check.returncode != 0:
        pytest.skip(f"cannot make a read-only mount here (unshare -rm: {check.stderr.strip() or 'writable'})")
    return site, home


def _explain(method: str) -> list[float]:
    """The scores of ``explain`` in this process (a writable installation)."""
    from contextlib import redirect_stdout
    from io import StringIO

    text = StringIO()
    with redirect_stdout(text):
        assert main(["explain", str(MODEL), "--tokens", TOKENS, "--method", method, "--json"]) == 0
    return json.loads(text.getvalue())["scores"]


def _run(install, folders, argv, cwd, **env):
    site, home = install
    return _read_only(
        [site, home, *folders],
        [sys.executable, "-m", "theory.cli.main", *argv],
        cwd,
        PYTHONPATH=str(site),
        HOME=str(home),
        **env,
    )


def test_numba_cache_fails_there(install):
    site, home = install
    probe = _run(install, [], ["--help"], site)  # the CLI starts
    assert probe.returncode == 0, probe.stderr
    plain = _read_only([site, home], [sys.executable, "-c", "import probe"], site, PYTHONPATH=str(site), HOME=str(home))
    assert plain.returncode != 0 and "no locator available" in plain.stderr, plain.stderr


@pytest.mark.parametrize("method", ["lime", "lime-inf"])
def test_explain_caches_in_a_private_temporary_folder(install, tmp_path, method):
    site, _ = install
    result = _run(
        install,
        [],
        ["explain", str(MODEL), "--tokens", TOKENS, "--method", method, "--json"],
        site,
        TMPDIR=str(tmp_path),
    )
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["scores"] == _explain(method)
    cached = list(tmp_path.glob("attnverify-numba-*/*/*.nbi"))
    assert cached, f"no numba cache in {tmp_path}: {list(tmp_path.rglob('*'))}"
    assert (os.stat(cached[0].parents[1]).st_mode & 0o777) == 0o700


def test_explain_without_any_writable_cache(install):
    site, _ = install
    temporary = [d for d in ("/tmp", "/var/tmp", "/usr/tmp") if os.path.isdir(d)]
    result = _run(
        install,
        temporary,
        ["explain", str(MODEL), "--tokens", TOKENS, "--method", "lime", "--json"],
        site,
        TMPDIR=str(site),
    )
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["scores"] == _explain("lime")


@pytest.mark.parametrize("jobs", ["1", "2"])
def test_run_writes_its_reports(install, tmp_path, jobs):
    site, _ = install
    out = tmp_path / "reports"
    result = _run(
        install,
        [],
        ["run", "--only", "lime.sampling_law", "--population", "trained", "--out", str(out), "--jobs", jobs],
        site,
        TMPDIR=str(tmp_path),
    )
    assert result.returncode == 0, result.stderr
    assert json.loads((out / "summary.json").read_text())["claims"][0]["id"] == "lime.sampling_law"
