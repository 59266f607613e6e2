"""``attnverify run --jobs N`` and ``--scheduler ADDRESS`` (theory.running.parallel): the records equal those of
the serial run apart from their runtimes."""

from __future__ import annotations

import json
import subprocess
import sys
import time

import pytest

from theory.cli.main import main

ONLY = ["model.forward", "attention.aggregates", "model.convex"]


def _records(out) -> list[dict]:
    records = json.loads((out / "summary.json").read_text())["claims"]
    return [{k: v for k, v in r.items() if k != "runtime"} for r in records]


def _run(out, *extra) -> list[dict]:
    assert main(["run", "--only", *ONLY, "--population", "random", "--out", str(out), "--seed", "7", *extra]) == 0
    return _records(out)


@pytest.fixture(scope="module")
def serial(tmp_path_factory):
    return _run(tmp_path_factory.mktemp("serial"), "--jobs", "1")


def test_jobs_records_equal_serial(tmp_path, serial):
    parallel = _run(tmp_path, "--jobs", "2")
    assert [r["id"] for r in parallel] == [r["id"] for r in serial]
    assert parallel == serial


def test_dask_records_equal_serial(tmp_path, serial):
    distributed = pytest.importorskip("distributed", reason="pip install '.[distributed]'")
    from theory.pool import cell_map

    with distributed.LocalCluster(n_workers=2, processes=True, threads_per_worker=1, dashboard_address=None) as cluster:
        assert _run(tmp_path, "--scheduler", cluster.scheduler_address) == serial
        # inside a task, a sweep's cells (the regime map's) become tasks of the same cluster, results in order
        with distributed.Client(cluster) as client:
            assert client.submit(lambda: list(cell_map(abs, [-3, 1, -2], 2))).result() == [3, 1, 2]


def test_bad_jobs_rejected(tmp_path, capsys):
    assert main(["run", "--only", "model.forward", "--jobs", "0", "--out", str(tmp_path / "o")]) == 2
    assert "--jobs must be at least 1" in capsys.readouterr().err and not (tmp_path / "o").exists()


def _alive(pid: int) -> bool:
    """Whether process ``pid`` exists and is not a zombie (an orphan's zombie may linger unreaped)."""
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().rsplit(")", 1)[1].split()[0] != "Z"
    except FileNotFoundError:
        return False


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
def test_a_worker_ends_when_its_run_is_killed():
    """A process that runs the worker's parent watch outlives its parent by at most a poll period."""
    worker = "from theory.pool import exit_with_parent; import time; exit_with_parent(0.05); time.sleep(60)"
    parent = (
        f"import subprocess, sys, os; p = subprocess.Popen([sys.executable, '-c', {worker!r}], "
        "stdout=subprocess.DEVNULL); "
        "print(p.pid, flush=True); import time; time.sleep(1.0); os._exit(0)"
    )
    run = subprocess.run([sys.executable, "-c", parent], capture_output=True, text=True, timeout=30)
    pid = int(run.stdout.split()[0])
    deadline = time.monotonic() + 10
    while _alive(pid) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not _alive(pid), "the worker outlived its parent"
