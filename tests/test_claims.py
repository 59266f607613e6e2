"""One property test per registered claim (THEORY.md §3), generated from the registry."""

import pytest

from theory.claims import all_claims
from theory.runner import PASSING, run_claim

SEED = 0


@pytest.mark.parametrize("claim", all_claims(), ids=lambda claim: claim.id)
def test_claim(claim, profile):
    if claim.missing():
        pytest.skip(f"{claim.id} needs {', '.join(claim.missing())} (pip install '.[oracles]')")
    record = run_claim(claim, profile, SEED)
    assert record.examples > 0
    assert record.verdict in PASSING, (
        f"{claim.id}: {record.verdict}\ninstance: {record.counterexample}\n{record.diagnosis}\n"
        f"reproduce: {record.command}")
