"""The command line: exit codes, JSON output, and nothing written on bad input."""

import json
import subprocess
import sys

import numpy as np
import pytest

from theory.checking.strategies.models import ModelSpec
from theory.cli.main import main


@pytest.fixture
def model_path(tmp_path):
    path = tmp_path / "model.npz"
    ModelSpec(K=2, d_e=4, d_att=3, d_out=2, V=20, T=8, pe=True, seed=5).build().save(path)
    return path


def test_run_writes_both_reports(tmp_path, capsys):
    out = tmp_path / "reports"
    assert main(["run", "--only", "model.forward", "--out", str(out), "--seed", "3"]) == 0
    data = json.loads((out / "summary.json").read_text())
    assert data["schema_version"] == 1 and data["seed"] == 3
    random, trained, pretrained = sorted(
        data["claims"],
        key=lambda r: ["random", "trained"].index(r["population"]) if r["population"] != "pretrained" else 2,
    )
    assert random["id"] == trained["id"] == pretrained["id"] == "model.forward"
    assert (random["population"], trained["population"]) == ("random", "trained")
    for record in (random, trained):
        assert record["verdict"] == "holds" and record["examples"] > 0
    assert pretrained["verdict"] in ("n/a", "skipped") and pretrained["examples"] == 0  # a §2 claim: not on MiniLM
    assert random["command"] == "attnverify run --profile ci --seed 3 --population random --only model.forward"
    assert "model.forward" in (out / "REPORT.md").read_text()
    assert "model.forward (trained)" in capsys.readouterr().err


@pytest.mark.parametrize(
    "argv, message",
    [
        (["run", "--only", "no.such.claim"], "unknown claim id no.such.claim"),
        (["run", "--profile", "fast"], "unknown profile"),
        (["run", "--seed", "x"], "invalid int value"),
        (["frobnicate"], "invalid choice"),
    ],
)
def test_bad_run_arguments_exit_2_and_write_nothing(tmp_path, capsys, argv, message):
    out = tmp_path / "out"
    assert main([*argv, "--out", str(out)] if argv[0] == "run" else argv) == 2
    assert message in capsys.readouterr().err
    assert not out.exists()


def test_explain_json_shape(model_path, capsys):
    assert main(["explain", str(model_path), "--tokens", "5,9,12,9", "--method", "attention-avg", "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["method"] == "attention-avg" and result["positions"] == [0, 1, 2, 3, 4]
    assert result["tokens"] == [0, 5, 9, 12, 9] and len(result["scores"]) == 5
    assert isinstance(result["f"], float) and 0 < sum(result["scores"]) <= 1


@pytest.mark.parametrize(
    "tokens, method, message",
    [
        ("5,9,0", "attention-avg", "CLS id 0"),
        ("5,1", "attention-avg", "UNK id 1"),
        ("5,99", "attention-avg", "out of range"),
        ("5,x", "attention-avg", "comma-separated"),
        ("", "attention-avg", "empty"),
        ("2,3,4,5,6,7,8,9", "attention-avg", "room for 7"),
        ("5,9", "integrated-gradients", "unknown method"),
    ],
)
def test_explain_bad_input_exit_2(model_path, capsys, tokens, method, message):
    assert main(["explain", str(model_path), "--tokens", tokens, "--method", method]) == 2
    assert message in capsys.readouterr().err


def test_explain_bad_model_file_exit_2(tmp_path, capsys):
    path = tmp_path / "m.npz"
    np.savez(path, E=np.zeros((3, 2)))
    assert main(["explain", str(path), "--tokens", "2", "--method", "attention-avg"]) == 2
    assert "lacks Wq" in capsys.readouterr().err


def test_console_script_exit_code(tmp_path):
    done = subprocess.run(
        [sys.executable, "-m", "theory.cli.main", "run", "--only", "nope", "--out", str(tmp_path / "o")],
        capture_output=True,
        text=True,
    )
    assert done.returncode == 2 and "unknown claim id nope" in done.stderr


def test_interrupted_run_leaves_previous_reports_untouched(tmp_path, monkeypatch, capsys):
    out = tmp_path / "reports"
    assert main(["run", "--only", "model.convex", "--population", "random", "--out", str(out)]) == 0
    before = {p.name: p.read_bytes() for p in out.iterdir()}

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr("theory.running.runner.run_claim", interrupted)
    assert main(["run", "--only", "model.forward", "--out", str(out)]) == 130
    assert "no report was written" in capsys.readouterr().err
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before


@pytest.mark.parametrize("argv", [["run", "--seed", str(2**32)], ["run", "--seed", "-1"]])
def test_seed_out_of_range_is_rejected_before_running(tmp_path, capsys, argv):
    assert main([*argv, "--out", str(tmp_path / "o")]) == 2
    assert "0..4294967295" in capsys.readouterr().err and not (tmp_path / "o").exists()


def test_explain_seed_out_of_range(model_path, capsys):
    assert main(["explain", str(model_path), "--tokens", "5,9", "--method", "lime", "--seed", "-1"]) == 2
    assert "out of range" in capsys.readouterr().err


def test_crashing_approximation_fails_the_run(tmp_path, monkeypatch):
    from theory.claims import REGISTRY, all_claims

    all_claims()
    claim = REGISTRY["lime.eq19"]

    def crash(case):
        raise RuntimeError("boom")

    monkeypatch.setitem(REGISTRY, "lime.eq19", type(claim)(**{**claim.__dict__, "check": crash}))
    assert main(["run", "--only", "lime.eq19", "--population", "random", "--out", str(tmp_path / "o")]) == 1
