"""``reports/summary.schema.json`` (JSON Schema 2020-12) describes what ``attnverify run`` writes: the committed
summaries and a fresh one validate, its enumerations are the code's, and it rejects malformed summaries."""

import json
import re
from pathlib import Path

import jsonschema
import pytest

from theory.checking.profiles import PROFILES
from theory.claims import KINDS, POPULATIONS, SOURCES
from theory.cli.main import main
from theory.reporting.baseline import FAILING
from theory.reporting.report import SCHEMA_VERSION, SECTIONS
from theory.running.runner import NOT_APPLICABLE, PASSING, SKIPPED

REPORTS = Path(__file__).resolve().parents[1] / "reports"
SCHEMA = json.loads((REPORTS / "summary.schema.json").read_text())
VALIDATOR = jsonschema.Draft202012Validator(SCHEMA)


def test_schema_is_valid_2020_12():
    jsonschema.Draft202012Validator.check_schema(SCHEMA)
    assert SCHEMA["$schema"] == "https://json-schema.org/draft/2020-12/schema"


@pytest.mark.parametrize("path", ["summary.json", "thorough/summary.json"])
def test_committed_summaries_validate(path):
    VALIDATOR.validate(json.loads((REPORTS / path).read_text()))


def test_a_fresh_summary_validates(tmp_path):
    assert main(["run", "--only", "lime.sampling_law", "--population", "trained", "--out", str(tmp_path)]) == 0
    VALIDATOR.validate(json.loads((tmp_path / "summary.json").read_text()))


def test_enumerations_are_the_code_s():
    record = SCHEMA["$defs"]["record"]["properties"]
    assert SCHEMA["properties"]["schema_version"]["const"] == SCHEMA_VERSION
    assert set(record["kind"]["enum"]) == set(KINDS) and set(record["source"]["enum"]) == set(SOURCES)
    assert set(record["population"]["enum"]) == set(POPULATIONS)
    assert set(SCHEMA["$defs"]["profile"]["enum"]) == set(PROFILES)
    assert set(record["verdict"]["enum"]) == {*PASSING, *FAILING, SKIPPED, NOT_APPLICABLE}
    assert all(re.fullmatch(SCHEMA["$defs"]["section"]["pattern"], key) for key in SECTIONS)


def _broken(change):
    data = json.loads((REPORTS / "summary.json").read_text())
    change(data)
    return data


@pytest.mark.parametrize(
    "change",
    [
        lambda d: d.update(schema_version=2),
        lambda d: d.pop("claims"),
        lambda d: d["claims"][0].update(verdict="probably"),
        lambda d: d["claims"][0].update(population="both"),
        lambda d: d["claims"][0].update(examples=-1),
        lambda d: d["claims"][0].update(max_error="1e-3"),
        lambda d: d["claims"][0].pop("diagnosis"),
        lambda d: d["claims"][0].update(unexpected=1),
        lambda d: d["extras"][0].update(files="figure.png"),
        lambda d: d.update(seed=2**32),
    ],
    ids=[
        "version",
        "no claims",
        "verdict",
        "population",
        "examples",
        "max_error type",
        "missing key",
        "extra key",
        "files",
        "seed",
    ],
)
def test_malformed_summaries_are_rejected(change):
    with pytest.raises(jsonschema.ValidationError):
        VALIDATOR.validate(_broken(change))
