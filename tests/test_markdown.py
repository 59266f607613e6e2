"""theory.markdown.table: the one Markdown-table helper."""

import pytest

from theory.markdown import table


def test_table_renders_header_rule_and_rows():
    assert table(["a", "b"], [[1, "x"], ["y", 2.5]]) == "| a | b |\n|---|---|\n| 1 | x |\n| y | 2.5 |"
    assert table(["a", "b", "c"], [], align="lrc") == "| a | b | c |\n|:---|---:|:---:|"


@pytest.mark.parametrize("rows, align", [([[1]], None), ([[1, 2]], "l"), ([[1, 2]], "lx")])
def test_table_rejects_a_row_or_alignment_of_the_wrong_width(rows, align):
    with pytest.raises(ValueError):
        table(["a", "b"], rows, align)
