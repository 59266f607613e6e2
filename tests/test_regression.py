"""``attnverify compare``: regressions exit 1, corrupt or incompatible summaries exit 2, reruns reproduce."""

import json

import pytest

from theory.cli.main import main


@pytest.fixture(scope="module")
def baseline(tmp_path_factory):
    out = tmp_path_factory.mktemp("baseline")
    assert (
        main(
            [
                "run",
                "--only",
                "model.forward",
                "model.convex",
                "--population",
                "random",
                "--out",
                str(out),
                "--seed",
                "4",
            ]
        )
        == 0
    )
    return out / "summary.json"


def write(path, data):
    path.write_text(json.dumps(data))
    return path


def test_rerun_reproduces_the_record_exactly(baseline, tmp_path):
    out = tmp_path / "again"
    assert (
        main(
            [
                "run",
                "--only",
                "model.forward",
                "model.convex",
                "--population",
                "random",
                "--out",
                str(out),
                "--seed",
                "4",
            ]
        )
        == 0
    )
    old, new = (json.loads(p.read_text())["claims"] for p in (baseline, out / "summary.json"))
    for record in old + new:
        record.pop("runtime")
    assert old == new
    assert main(["compare", str(baseline), str(out / "summary.json")]) == 0


@pytest.mark.parametrize(
    "worsen",
    [
        lambda d: d["claims"][0].update(verdict="fails"),
        lambda d: d["claims"][0].update(max_error=1e-6),
        lambda d: d["claims"].pop(),
        lambda d: d["claims"][1].update(verdict="skipped"),
    ],
)
def test_worse_summary_exits_1(baseline, tmp_path, capsys, worsen):
    data = json.loads(baseline.read_text())
    worsen(data)
    assert main(["compare", str(baseline), str(write(tmp_path / "new.json", data))]) == 1
    assert "WORSE" in capsys.readouterr().out


def test_new_claim_and_small_error_change_are_not_regressions(baseline, tmp_path):
    data = json.loads(baseline.read_text())
    data["claims"][0]["max_error"] = data["claims"][0]["tolerance"] / 2
    data["claims"].append({**data["claims"][0], "id": "model.new"})
    assert main(["compare", str(baseline), str(write(tmp_path / "new.json", data))]) == 0


def regimes(error, se=0.0):
    return {
        "extras": [
            {"id": "x", "data": {"regimes": [{"claim": "lime.eq19", "regime": "flat", "error": error, "se": se}]}}
        ]
    }


@pytest.mark.parametrize("new_error, se, code", [(0.10, 0.0, 0), (0.14, 0.0, 0), (0.16, 0.0, 1), (0.16, 0.01, 0)])
def test_regime_error_margin(baseline, tmp_path, new_error, se, code):
    data = json.loads(baseline.read_text())
    old = write(tmp_path / "old.json", {**data, **regimes(0.10, se)})
    new = write(tmp_path / "new.json", {**data, **regimes(new_error, se)})
    assert main(["compare", str(old), str(new)]) == code


@pytest.mark.parametrize(
    "corrupt, message",
    [
        (lambda text: text[: len(text) // 2], "not valid JSON"),
        (lambda text: text.replace('"schema_version": 1', '"schema_version": 99'), "schema version 99"),
        (lambda text: "[]", "not an attnverify summary"),
        (lambda text: json.dumps({"schema_version": 1, "claims": [{"id": "x"}]}), "malformed 'claims'"),
    ],
)
def test_corrupt_or_incompatible_summary_exits_2(baseline, tmp_path, capsys, corrupt, message):
    bad = tmp_path / "bad.json"
    bad.write_text(corrupt(baseline.read_text()))
    assert main(["compare", str(baseline), str(bad)]) == 2
    assert message in capsys.readouterr().err


@pytest.mark.parametrize(
    "change, code",
    [
        (lambda d: d["claims"][0].update(max_error=float("nan")), 1),
        (lambda d: d["claims"].append({**d["claims"][0], "id": "model.new", "verdict": "fails"}), 1),
        (lambda d: d["claims"].append({**d["claims"][0], "id": "model.new", "verdict": "error"}), 1),
        (lambda d: d["claims"][0].update(max_error="small"), 2),
    ],
)
def test_nan_errors_and_new_failures_are_regressions_and_bad_types_are_input_errors(baseline, tmp_path, change, code):
    data = json.loads(baseline.read_text())
    change(data)
    assert main(["compare", str(baseline), str(write(tmp_path / "new.json", data))]) == code


def test_regime_missing_values(baseline, tmp_path):
    data = json.loads(baseline.read_text())
    old = write(tmp_path / "old.json", {**data, **regimes(float("nan"))})
    assert main(["compare", str(old), str(write(tmp_path / "same.json", {**data, **regimes(float("nan"))}))]) == 0
    assert main(["compare", str(old), str(write(tmp_path / "new.json", {**data, **regimes(0.3)}))]) == 0
    assert main(["compare", str(write(tmp_path / "b.json", {**data, **regimes(0.1)})), str(old)]) == 1
