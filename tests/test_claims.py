"""One property test per registered claim (THEORY.md §3), generated from the registry, and the regression
check against the committed baseline ``reports/summary.json`` (same profile, same seed)."""

from pathlib import Path

import pytest

from theory.claims import all_claims, all_extras
from theory.regression import compare_records, compare_regimes, load_summary
from theory.runner import PASSING, run_claim

SEED = 0
BASELINE_PATH = Path(__file__).resolve().parents[1] / "reports" / "summary.json"
BASELINE = load_summary(BASELINE_PATH) if BASELINE_PATH.is_file() else {"claims": [], "extras": []}
BASELINE_RECORDS = {record["id"]: record for record in BASELINE["claims"]}


@pytest.mark.parametrize("claim", all_claims(), ids=lambda claim: claim.id)
def test_claim(claim, profile):
    if claim.missing():
        pytest.skip(f"{claim.id} needs {', '.join(claim.missing())} (pip install '.[oracles]')")
    record = run_claim(claim, profile, SEED)
    assert record.examples > 0
    assert record.verdict in PASSING, (
        f"{claim.id}: {record.verdict}\ninstance: {record.counterexample}\n{record.diagnosis}\n"
        f"reproduce: {record.command}")
    if claim.id in BASELINE_RECORDS:
        regressions = [c for c in compare_records(BASELINE_RECORDS[claim.id], record.as_dict()) if c.regression]
        assert not regressions, f"{claim.id} regressed against {BASELINE_PATH}: {regressions}"


@pytest.mark.parametrize("item", all_extras(), ids=lambda item: item.id)
def test_extra(item, profile):
    result = item.run(profile, SEED)
    assert result.markdown.strip()
    new = {"extras": [{"data": result.data}]}
    old = {"extras": [e for e in BASELINE.get("extras", []) if e["id"] == item.id]}
    regressions = [c for c in compare_regimes(old, new) if c.regression]
    assert not regressions, f"{item.id} regressed against {BASELINE_PATH}: {regressions}"


def test_no_baseline_claim_disappeared():
    known = {c.id for c in all_claims()} | {e.id for e in all_extras()}
    missing = [r["id"] for r in BASELINE["claims"]] + [e["id"] for e in BASELINE.get("extras", [])]
    assert not [i for i in missing if i not in known], f"claims of {BASELINE_PATH} no longer registered"
