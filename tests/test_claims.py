"""One property test per registered claim (docs/claims.md), generated from the registry, and the regression
check against the committed baseline ``reports/summary.json`` (same profile, same seed)."""

from pathlib import Path

import pytest

from theory.claims import POPULATIONS, all_claims
from theory.reporting.baseline import compare_records, compare_regimes, load_summary
from theory.running.runner import NOT_APPLICABLE, PASSING, run_claim
from theory.studies import all_extras

SEED = 0
BASELINE_PATH = Path(__file__).resolve().parents[1] / "reports" / "summary.json"
BASELINE = load_summary(BASELINE_PATH) if BASELINE_PATH.is_file() else {"claims": [], "extras": []}
BASELINE_RECORDS = {(r["id"], r.get("population", "random")): r for r in BASELINE["claims"]}
RUNS = [
    (claim, population)
    for claim in all_claims()
    for population in POPULATIONS
    if population == "random" or (population == "trained" and not isinstance(claim.trained, str))
]  # the pretrained population costs minutes: .ci/run's attnverify run, and tests/test_pretrained_population.py


@pytest.mark.parametrize("claim, population", RUNS, ids=[f"{c.id}-{p}" for c, p in RUNS])
def test_claim(claim, population, profile):
    if claim.missing():
        pytest.skip(f"{claim.id} needs {', '.join(claim.missing())} (pip install '.[oracles]')")
    record = run_claim(claim, profile, SEED, population)
    assert record.examples > 0
    assert record.verdict in PASSING, (
        f"{claim.id}: {record.verdict}\ninstance: {record.counterexample}\n{record.diagnosis}\n"
        f"reproduce: {record.command}"
    )
    if (claim.id, population) in BASELINE_RECORDS:
        baseline = BASELINE_RECORDS[claim.id, population]
        regressions = [c for c in compare_records(baseline, record.as_dict()) if c.regression]
        assert not regressions, f"{claim.id} regressed against {BASELINE_PATH}: {regressions}"


#: the extras that run on the pretrained MiniLM for minutes under ci: `attnverify run` runs them (.ci/run's pretrained
#: step, with the extra); here their computations are checked on tiny models (tests/test_pretrained_study.py,
#: tests/test_faithfulness.py), and the whole extra only under the thorough profile
ON_THE_PRETRAINED_MODEL = ("theory.studies.pretrained", "theory.studies.faithfulness")


@pytest.mark.parametrize("item", all_extras(), ids=lambda item: item.id)
def test_extra(item, profile):
    if item.run.__module__ in ON_THE_PRETRAINED_MODEL and profile == "ci":
        pytest.skip(f"{item.id} runs on the pretrained MiniLM for minutes: run by attnverify run (.ci/run)")
    result = item.run(profile, SEED)
    assert result.markdown.strip()
    new = {"extras": [{"data": result.data}]}
    old = {"extras": [e for e in BASELINE.get("extras", []) if e["id"] == item.id]}
    regressions = [c for c in compare_regimes(old, new) if c.regression]
    assert not regressions, f"{item.id} regressed against {BASELINE_PATH}: {regressions}"


@pytest.mark.parametrize("claim", [c for c in all_claims() if isinstance(c.trained, str)], ids=lambda c: c.id)
def test_trained_model_not_applicable_is_explained(claim):
    record = run_claim(claim, "ci", SEED, "trained")
    assert record.verdict == NOT_APPLICABLE and len(record.diagnosis) > 20


def test_no_baseline_claim_disappeared():
    known = {c.id for c in all_claims()} | {e.id for e in all_extras()}
    missing = [r["id"] for r in BASELINE["claims"]] + [e["id"] for e in BASELINE.get("extras", [])]
    assert not [i for i in missing if i not in known], f"claims of {BASELINE_PATH} no longer registered"


def test_every_claim_lives_in_its_prefix_module_or_its_family_module():
    """``model.*`` in claims/model.py, ``lime.*`` under claims/lime/; a family's rows in the module named by the
    statement, which each row's id contains (``shapley.zero_attention`` in claims/zero_attention.py)."""
    misplaced = []
    for claim in all_claims():
        module = claim.check.__module__.removeprefix("theory.claims.").split(".")
        if module[0] != claim.id.split(".")[0] and module[-1] not in claim.id:
            misplaced.append(f"{claim.id} in {claim.check.__module__}")
    assert not misplaced, misplaced


def test_families_register_one_claim_per_row_with_the_shared_keywords():
    from theory.claims import REGISTRY

    blind = [c for c in all_claims() if c.id.startswith("attention.blind_to_values")]
    assert [c.id.rpartition(".")[2] for c in blind] == ["blind_to_values", "gradient", "lime", "beta_inf", "shapley"]
    assert {(c.source, c.kind) for c in blind} == {("consequence", "witness")}
    assert [c.section for c in blind] == ["§3"] * 4 + ["§6"]  # a row's options override the family's keywords
    zero = [REGISTRY[f"{prefix}.zero_attention"] for prefix in ("shapley", "occlusion", "ig", "smoothgrad")]
    assert all(c.exists and c.check.__module__ == "theory.claims.zero_attention" for c in zero)
    linear = [REGISTRY[i] for i in ("lime.linear_in_model", "lime.linear_in_model.beta_inf", "shapley.linear_in_model")]
    assert {c.check.__module__ for c in linear} == {"theory.claims.linear_in_model"}
    assert [c.source for c in linear] == ["paper", "paper", "consequence"]


def test_report_order_is_by_section_then_module_then_declaration():
    from theory.claims import SECTION_ORDER
    from theory.reporting.report import SECTIONS

    assert tuple(SECTIONS) == SECTION_ORDER
    claims, extras = all_claims(), all_extras()
    assert [c.section for c in claims] == sorted((c.section for c in claims), key=SECTION_ORDER.index)
    assert [e.section for e in extras] == sorted((e.section for e in extras), key=SECTION_ORDER.index)
    ids = [c.id for c in claims]
    assert ids.index("model.forward") < ids.index("model.sufficient_stats") < ids.index("reference.engines_agree")


def test_claims_and_extras_are_discovered():
    from theory import claims, studies

    assert "theory.claims.lime.limit" in claims.modules() and "theory.studies.survival" in studies.modules()
    assert {e.run.__module__.split(".")[1] for e in all_extras()} == {"studies"}
