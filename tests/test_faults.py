"""Faults: ``attnverify run`` killed with SIGKILL at random moments leaves the previous reports byte-identical
(or, killed after its commit point, the complete new set once the journal is finished); two concurrent runs
into one folder never mix their reports (the second is refused while the first holds the lock).

The killed runs are real processes: most are forked from this test process (the modules are already
imported, so the random moments fall inside the run itself, claim checks and report writing, rather than in
the interpreter's start-up), a few are ``python -m theory.cli.main run`` subprocesses.
"""

import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from theory.atomic import JOURNAL, SUFFIX, recover
from theory.claims import all_claims
from theory.cli.main import main
from theory.reporting.report import render_markdown, write_reports
from theory.running.output import LOCK_FILE, exclusive

ROOT = Path(__file__).resolve().parents[1]
# a claim whose random population runs (0.2–0.5 s of Hypothesis) and one whose trained population is n/a
# (instant: the run is almost only the writing of its reports)
SLOW = ["--only", "model.simplex", "--population", "random"]
INSTANT = ["--only", "lime.sampling_law", "--population", "trained"]
FORKED_TRIALS = {"slow": 5, "instant": 16}  # killed runs of each kind
SUBPROCESS_TRIALS = 3


def _reports(out: Path) -> dict:
    """The files a reader sees: everything but the lock, the journal and staged temporary files."""
    return {
        p.name: p.read_bytes()
        for p in sorted(out.iterdir())
        if p.is_file() and p.name not in (LOCK_FILE, JOURNAL) and not p.name.endswith(SUFFIX)
    }


def _consistent(files: dict) -> bool:
    """A complete report set: summary.json parses and REPORT.md is rendered from exactly it."""
    try:
        data = json.loads(files["summary.json"])
    except (KeyError, ValueError):
        return False
    return files.get("REPORT.md") == render_markdown(data).encode()


def _fork_run(argv) -> int:
    all_claims()  # imported once here, not in every child: the random moments fall inside the run itself
    pid = os.fork()
    if pid == 0:  # the child: a whole `attnverify run`, its output discarded
        code = 3
        try:
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, 1)
            os.dup2(devnull, 2)
            code = main(argv)
        finally:
            os._exit(code)
    return pid


def _kill_at(pid: int, delay: float) -> bool:
    """SIGKILL ``pid`` after ``delay`` seconds; True if it was still running (killed), False if it ended."""
    time.sleep(delay)
    done, status = os.waitpid(pid, os.WNOHANG)
    if done:
        assert os.waitstatus_to_exitcode(status) == 0
        return False
    os.kill(pid, signal.SIGKILL)
    os.waitpid(pid, 0)
    return True


def _check_after(out: Path, previous: dict) -> tuple[dict, str]:
    """The state after a killed (or finished) run: the previous reports byte-identical, or — when the run
    passed its commit point — the complete new set once the journal is finished (as the next run does)."""
    if (out / JOURNAL).exists():
        recover(out)  # what the next run does first (under the lock)
        now = _reports(out)
        assert _consistent(now), "a committed write did not complete into a consistent set"
        return now, "committed"
    now = _reports(out)
    if now == previous:
        return previous, "untouched"
    assert _consistent(now), "the reports are neither the previous ones nor a complete new set"
    return now, "new"


def _duration(argv) -> float:
    started = time.perf_counter()
    pid = _fork_run(argv)
    assert os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1]) == 0
    return time.perf_counter() - started


def test_sigkill_at_random_moments_never_corrupts_the_reports(tmp_path):
    out = tmp_path / "reports"
    assert main(["run", *SLOW, "--out", str(out), "--seed", "0"]) == 0
    previous = _reports(out)
    assert _consistent(previous)
    rng = random.Random(16)
    outcomes = []
    for kind, trials in FORKED_TRIALS.items():
        argv = SLOW if kind == "slow" else INSTANT
        duration = _duration(["run", *argv, "--out", str(out), "--seed", "1"])
        previous = _reports(out)
        for trial in range(3 * trials):  # until `trials` runs were killed (a few end before their moment)
            if sum(1 for o in outcomes if o[0] == kind and o[1]) == trials:
                break
            pid = _fork_run(["run", *argv, "--out", str(out), "--seed", str(2 + trial)])
            killed = _kill_at(pid, rng.uniform(0, duration))
            previous, state = _check_after(out, previous)
            outcomes.append((kind, killed, state))
    killed = [o for o in outcomes if o[1]]
    print(
        f"\nforked kill trials: {len(outcomes)} ({len(killed)} killed, states {sorted({(k, s) for k, _, s in killed})})"
    )
    assert len(killed) == sum(FORKED_TRIALS.values()) >= 20
    assert any(state == "untouched" for _, _, state in killed)
    # the next complete run removes every staged file a killed run left behind
    assert main(["run", *INSTANT, "--out", str(out)]) == 0
    assert not [p.name for p in out.iterdir() if p.name.endswith(SUFFIX) or p.name == JOURNAL]


def test_sigkill_of_the_command_line_subprocess(tmp_path):
    out = tmp_path / "reports"
    assert main(["run", *INSTANT, "--out", str(out)]) == 0
    previous = _reports(out)
    rng = random.Random(161)
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    for trial in range(SUBPROCESS_TRIALS):
        child = subprocess.Popen(
            [sys.executable, "-m", "theory.cli.main", "run", *INSTANT, "--out", str(out), "--seed", str(trial + 1)],
            cwd=ROOT,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        time.sleep(rng.uniform(0.3, 2.5))
        child.send_signal(signal.SIGKILL)
        child.wait()
        previous, _ = _check_after(out, previous)


@pytest.mark.parametrize("step", range(9))  # 4 fsyncs, the commit, a folder fsync, 3 renames
def test_kill_at_every_step_of_the_commit(tmp_path, monkeypatch, step):
    """SIGKILL injected at each write, fsync and rename of the commit protocol: before the journal's rename
    nothing visible changes; after it, finishing the journal gives the complete new set."""
    out = tmp_path / "reports"
    old = {
        "schema_version": 1,
        "claims": [],
        "command": "old",
        "profile": "ci",
        "seed": 0,
        "versions": {},
        "extras": [],
        "performance": {},
        "_files": {"figures/a.txt": "old figure"},
    }
    write_reports(out, old)
    previous = _reports(out)
    new = {**old, "command": "new", "_files": {"figures/a.txt": "new figure"}}
    calls = {"n": 0}
    real_replace, real_fsync = os.replace, os.fsync

    def fault(real):
        def wrapped(*args):
            calls["n"] += 1
            if calls["n"] == step + 1:
                os.kill(os.getpid(), signal.SIGKILL)
            return real(*args)

        return wrapped

    pid = os.fork()
    if pid == 0:
        try:
            monkeypatch.setattr(os, "replace", fault(real_replace))
            monkeypatch.setattr(os, "fsync", fault(real_fsync))
            write_reports(out, new)
        finally:
            os._exit(0)
    status = os.waitpid(pid, 0)[1]
    if not os.WIFSIGNALED(status):
        pytest.skip(f"the commit has fewer than {step + 1} steps")
    _, state = _check_after(out, previous)
    figure = (out / "figures" / "a.txt").read_text()
    assert (state, figure) in (("untouched", "old figure"), ("committed", "new figure"))


def test_a_run_is_refused_while_another_holds_the_folder(tmp_path, capsys):
    out = tmp_path / "reports"
    locked_r, locked_w = os.pipe()
    release_r, release_w = os.pipe()
    pid = os.fork()
    if pid == 0:  # the other run: holds the folder's lock until told to let go
        try:
            with exclusive(out):
                os.write(locked_w, b"1")
                os.read(release_r, 1)
        finally:
            os._exit(0)
    assert os.read(locked_r, 1) == b"1"
    try:
        assert main(["run", *INSTANT, "--out", str(out)]) == 2
        err = capsys.readouterr().err
        assert f"another attnverify run is writing {str(out)!r} (pid {pid}); wait for it to finish or use --out" in err
        assert sorted(p.name for p in out.iterdir()) == [LOCK_FILE]  # nothing else was written
    finally:
        os.write(release_w, b"1")
        os.waitpid(pid, 0)
    assert main(["run", *INSTANT, "--out", str(out)]) == 0  # the lock is free again


def test_many_simultaneous_runs_leave_one_complete_report(tmp_path):
    """Five real runs started at once into one folder: each either writes or is refused; the folder ends
    with one complete report, never a mix."""
    out = tmp_path / "reports"
    pids = [_fork_run(["run", *INSTANT, "--out", str(out), "--seed", str(k)]) for k in range(5)]
    codes = [os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1]) for pid in pids]
    assert set(codes) <= {0, 2} and 0 in codes
    files = _reports(out)
    assert _consistent(files) and sorted(files) == ["REPORT.md", "summary.json"]
