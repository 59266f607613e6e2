"""CI: is the report of a base install's ``attnverify run`` complete?

Run with the virtualenv's python after ``attnverify run --out DIR`` exited 0:
``python .ci/check_report.py DIR``.  Complete means: ``summary.json`` and ``REPORT.md`` exist; every
registered claim has a record for the random and the trained population; every registered extra has its
result; no record is an ``error``; every ``skipped`` record names the extra that brings what it needs
(``pip install '.[…]'``).  Exits 1 with the list of what is missing.
"""

import json
import sys
from pathlib import Path

from theory.claims import all_claims
from theory.studies import all_extras

out = Path(sys.argv[1])
problems = []
for name in ("summary.json", "REPORT.md"):
    if not (out / name).is_file():
        problems.append(f"{out / name} is missing")
if not problems:
    summary = json.loads((out / "summary.json").read_text(encoding="utf-8"))
    seen = {(r["id"], r["population"]) for r in summary["claims"]}
    for claim in all_claims():
        for population in ("random", "trained"):
            if (claim.id, population) not in seen:
                problems.append(f"no record of {claim.id} ({population})")
    extras = {e["id"] for e in summary["extras"]}
    problems += [f"no result of extra {e.id}" for e in all_extras() if e.id not in extras]
    for r in summary["claims"]:
        if r["verdict"] == "error":
            problems.append(f"{r['id']} ({r['population']}) ended in an error: {r['diagnosis']}")
        if r["verdict"] == "skipped" and "pip install '.[" not in r["diagnosis"]:
            problems.append(f"{r['id']} ({r['population']}) is skipped without naming its extra: {r['diagnosis']}")
    report = (out / "REPORT.md").read_text(encoding="utf-8")
    if "Traceback" in report:
        problems.append("REPORT.md contains a traceback")
print("\n".join(problems) or f"{out}: complete ({len(seen)} records, {len(extras)} extras)")
sys.exit(1 if problems else 0)
