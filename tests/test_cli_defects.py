"""Defects of issue 16: an unwritable --out is refused before any claim runs, a corrupt summary.json is
named by ``list`` (and ``compare``), and a closed stdout pipe ends ``list`` quietly."""

import subprocess
import sys
from pathlib import Path

import pytest

from theory.cli.main import main

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
def no_claim_may_run(monkeypatch):
    def forbidden(*args, **kwargs):
        raise AssertionError("a claim ran before the output folder was checked")

    monkeypatch.setattr("theory.running.runner.run_claim", forbidden)


@pytest.mark.parametrize(
    "out, message",
    [
        ("/proc/attnverify-x", "cannot be created (in '/proc')"),
        ("/proc/attnverify-x/deeper", "cannot be created (in '/proc')"),
        ("/proc/self/status", "is a file"),
        ("{file}", "is a file"),
        ("{file}/sub", "is a file, not a folder"),
    ],
)
def test_unwritable_out_is_refused_before_any_claim(tmp_path, capsys, no_claim_may_run, out, message):
    (tmp_path / "a_file").write_text("x")
    out = out.format(file=tmp_path / "a_file")
    assert main(["run", "--only", "model.simplex", "--population", "random", "--out", out]) == 2
    err = capsys.readouterr().err
    assert message in err and "[1/" not in err
    assert (tmp_path / "a_file").read_text() == "x" and sorted(p.name for p in tmp_path.iterdir()) == ["a_file"]


def test_probe_leaves_nothing_behind(tmp_path, capsys, no_claim_may_run):
    # a valid folder passes the check (the claim then runs: here it is forbidden, so the run crashes)
    with pytest.raises(AssertionError, match="a claim ran"):
        main(["run", "--only", "model.simplex", "--population", "random", "--out", str(tmp_path / "new" / "out")])
    assert sorted(p.name for p in (tmp_path / "new" / "out").iterdir()) == [".attnverify.lock"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["new"]


CORRUPT = [
    '{"schema_version": 1, "claims": [{"id": "model.forward"',
    "",
    "\x00\xff garbage",
    '{"claims": []}',
    '{"schema_version": 1, "claims": {"a": 1}}',
    "[1, 2]",
]


@pytest.mark.parametrize("content", CORRUPT)
def test_list_names_a_corrupt_summary(tmp_path, monkeypatch, capsys, content):
    (tmp_path / "reports").mkdir()
    (tmp_path / "reports" / "summary.json").write_text(content, errors="surrogateescape")
    monkeypatch.chdir(tmp_path)
    assert main(["list"]) == 0  # the claims are still listed; the missing verdicts are explained
    captured = capsys.readouterr()
    assert "warning: reports/summary.json is corrupt" in captured.err
    assert "model.forward" in captured.out and "unreadable (corrupt summary.json)" in captured.out


@pytest.mark.parametrize("content", CORRUPT)
def test_compare_names_a_corrupt_summary(tmp_path, capsys, content):
    path = tmp_path / "summary.json"
    path.write_text(content, errors="surrogateescape")
    assert main(["compare", str(ROOT / "reports" / "summary.json"), str(path)]) == 2
    assert str(path) in capsys.readouterr().err


def test_list_into_a_closed_pipe_ends_quietly():
    child = subprocess.Popen(
        [sys.executable, "-m", "theory.cli.main", "list"], cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    child.stdout.close()  # the reader is gone before the first line is written, as after `| head -0`
    err = child.stderr.read().decode()
    assert child.wait() == 141 and err == ""


# --- found by the fuzz suite (tests/test_fuzz_cli.py) ------------------------------------------------------


def _model(tmp_path):
    from theory.checking.strategies.models import ModelSpec

    path = tmp_path / "m.npz"
    ModelSpec(K=2, d_e=4, d_att=3, d_out=2, V=20, T=8, pe=True, seed=5).build().save(path)
    return path


@pytest.mark.parametrize(
    "make, tokens, message",
    [
        (lambda tmp: tmp, "5", "is a folder; pass the path of a .npz model file"),
        (lambda tmp: _npy(tmp), "5", "holds a single array (a .npy file), not a .npz archive"),
        (_model, "5," + "9" * 30, "word id 999999999999999999999999999999 is out of range"),
        (_model, "5,-" + "9" * 30, "word id -999999999999999999999999999999 is out of range"),
    ],
)
def test_fuzz_findings_are_named(tmp_path, capsys, make, tokens, message):
    path = make(tmp_path)
    assert main(["explain", str(path), "--tokens", tokens, "--method", "attention-avg"]) == 2
    assert message in capsys.readouterr().err


def _npy(tmp_path):
    import numpy as np

    path = tmp_path / "m.npz"
    with open(path, "wb") as handle:
        np.save(handle, np.zeros((3, 2)))
    return path


@pytest.mark.parametrize(
    "argv, hint", [(["frobnicate"], "see `attnverify --help`"), (["run", "--seed", "x"], "see `attnverify run --help`")]
)
def test_usage_hint_names_the_command(capsys, argv, hint):
    assert main(argv) == 2
    assert hint in capsys.readouterr().err


@pytest.mark.parametrize(
    "content",
    [
        '{"benchmarks": [{"name": "x"}]}',
        '{"benchmarks": [1]}',
        "[]",
        '{"benchmarks": [{"name": "x", "stats": {"median": 0, "rounds": 1}}]}',
    ],
)
def test_malformed_benchmarks_are_noted_before_any_claim(tmp_path, capsys, content):
    (tmp_path / "benchmarks.json").write_text(content)
    assert main(["run", "--only", "lime.sampling_law", "--population", "trained", "--out", str(tmp_path)]) == 0
    err = capsys.readouterr().err
    assert "is not a pytest-benchmark JSON file" in err
    assert err.index("is not a pytest-benchmark") < err.index("[1/1]")


def test_error_message_stays_one_line_whatever_the_input(capsys):
    assert main(["run", "--only", "a\nb\x1ec\u2028d"]) == 2
    err = capsys.readouterr().err
    assert len(err.splitlines()) == 1 and "unknown claim id a\\nb\\x1ec\\u2028d" in err


@pytest.mark.parametrize(
    "change, field",
    [
        (lambda d: d["extras"][0]["data"]["regimes"][0].pop("error"), "not a record with claim, regime, error"),
        (lambda d: d["extras"][0].update(data=[1]), "each with a 'data' object"),
        (lambda d: d["claims"][0].update(verdict=None), "verdict of claims[0] is None, not a string"),
        (lambda d: d["claims"][0].update(population=[1]), "population of claims[0] is [1], not a string"),
        (lambda d: d.update(extras=5), "'extras' list"),
    ],
)
def test_compare_names_a_malformed_field(tmp_path, capsys, change, field):
    import json

    data = json.loads((ROOT / "reports" / "summary.json").read_text())
    data["extras"] = [e for e in data["extras"] if "regimes" in e["data"]]
    change(data)
    path = tmp_path / "summary.json"
    path.write_text(json.dumps(data))
    for argv in (
        ["compare", str(ROOT / "reports" / "summary.json"), str(path)],
        ["compare", str(path), str(ROOT / "reports" / "summary.json")],
    ):
        assert main(argv) == 2
        err = capsys.readouterr().err
        assert "has a malformed" in err and field in err and len(err.splitlines()) == 1
