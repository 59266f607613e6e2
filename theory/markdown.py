"""Markdown tables, the one helper every table of the reports is built with (ground floor: imports nothing of
``theory``)."""

from __future__ import annotations

from collections.abc import Sequence

_RULES = {"l": ":---", "r": "---:", "c": ":---:", "-": "---"}


def table(header: Sequence[str], rows: Sequence[Sequence[object]], align: str | None = None) -> str:
    """A GitHub-flavoured Markdown table, one line per row, lines joined by ``\\n`` (no trailing newline).

    Args:
        header: the column titles.
        rows: the cells of each row, already formatted (``str()`` is applied; a cell must not contain ``|``
            unless escaped).
        align: one letter per column, ``l``, ``r``, ``c`` or ``-`` (the renderer's default); ``None`` for the
            default in every column.

    Returns:
        ``| h1 | h2 |``, the rule line (``|---|---|`` by default) and ``| c1 | c2 |`` per row.

    Raises:
        ValueError: a row, or ``align``, does not have one entry per column.
    """
    width = len(header)
    align = "-" * width if align is None else align
    if len(align) != width or set(align) - set(_RULES):
        raise ValueError(f"align {align!r}: one of l, r, c, - per column ({width} columns)")
    for row in rows:
        if len(row) != width:
            raise ValueError(f"a row has {len(row)} cells, the header {width}: {row!r}")
    lines = [_line(header), "|" + "|".join(_RULES[a] for a in align) + "|"]
    lines += [_line(row) for row in rows]
    return "\n".join(lines)


def _line(cells: Sequence[object]) -> str:
    return "| " + " | ".join(str(cell) for cell in cells) + " |"
