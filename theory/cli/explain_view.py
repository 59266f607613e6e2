"""What ``attnverify explain`` shows: a table of scores, and the document's words shaded by their scores (PNG with
matplotlib, the optional ``report`` extra; HTML with nothing but the standard library).

**Per position and per word.**  Position methods (attention, gradients, IG, SmoothGrad, C-LIME, rollout) score
each position ``0..L`` (CLS, then the words).  Word methods (LIME, ``β^∞``, Eq. (19), the large-d limit, Shapley,
KernelSHAP, occlusion) score each *distinct* word, all its occurrences switched off together; the table and the
pictures show that one score at every occurrence of the word, and say so.  Word methods give CLS no score (``·``).

**Pictures** (as captum's ``visualize_text`` and shap's text plot): one line per method, the words in order, each
on a background whose colour is its score on a diverging scale centred at 0 — red positive, blue negative, white
0 — and scaled per line to that method's largest ``|score|`` over the words (methods have different units), which
the line's label states.  CLS is left out of the pictures (it is not a word of the text; its score is in the table).

**Exact zeros** (``"exactly_zero"`` of :func:`theory.explainers.registry.explain`: ``grad-avg`` and ``smoothgrad`` of a
pre-norm encoder, 0 by LayerNorm at the word positions): the table prints them :data:`ZERO` with one line saying
why and how large float64's rounding left them; the pictures draw them white and say so in the line's label.
``"population_zero"`` (C-LIME at the same positions) is a note on the estimates, which are shown as they are.
"""

from __future__ import annotations

import html
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from theory import optional
from theory.errors import InputError
from theory.studies import figures

NO_SCORE = "·"
#: a score that is 0 exactly by LayerNorm (``"exactly_zero"``); its float64 value is rounding noise
ZERO = "0 (LN)"


def _labels(result: dict) -> list[str]:
    """The label of each position ``0..L``: the token string when known, else ``id N``."""
    if "token_strings" in result:
        return list(result["token_strings"])
    return [f"id {token}" for token in result["tokens"]]


def position_scores(result: dict) -> list[float | None]:
    """The score shown at each position ``0..L``: a position method's own; a word method's score of the word at
    that position (every occurrence), and None at CLS.

    Args:
        result: One method's explanation, as printed by ``--json``.

    Returns:
        The ``L + 1`` scores, CLS first.
    """
    cls = result["scores"][0] if result["scores_of"] == "positions" else None
    return [cls, *_word_scores(result)]


def _word_scores(result: dict) -> list[float]:
    """The score shown at each word position ``1..L`` (:func:`position_scores` without CLS)."""
    if result["scores_of"] == "positions":
        return list(result["scores"][1:])
    by_word = dict(zip(result["words"], result["scores"]))
    return [by_word[token] for token in result["tokens"][1:]]


def _zero_positions(result: dict) -> set[int]:
    return set(result.get("exactly_zero", {}).get("positions", ()))


def _cells(result: dict) -> list[str]:
    """The table's cell at each position ``0..L``."""
    zeros = _zero_positions(result)
    return [
        ZERO if t in zeros else NO_SCORE if value is None else f"{value:+.3g}"
        for t, value in enumerate(position_scores(result))
    ]


def _span(positions: Iterable[int]) -> str:
    """``1–8`` for consecutive positions, else a comma-separated list."""
    positions = sorted(positions)
    if len(positions) > 2 and positions[-1] - positions[0] == len(positions) - 1:
        return f"{positions[0]}–{positions[-1]}"
    return ", ".join(map(str, positions))


def _zero_notes(results: list[dict]) -> list[str]:
    """One line per kind of LayerNorm zero: which methods, where, why, and what float64 left."""
    notes = []
    exact = [r for r in results if "exactly_zero" in r]
    if exact:
        zeros = exact[0]["exactly_zero"]
        noise = max(abs(position_scores(r)[t]) for r in exact for t in zeros["positions"])
        notes.append(
            f"{ZERO}: {', '.join(r['method'] for r in exact)} at positions {_span(zeros['positions'])} "
            f"are 0 exactly — {zeros['reason']}; float64 rounding left |value| ≤ {noise:.2g} (--json "
            "scores, flagged exactly_zero)."
        )
    for r in results:
        if "population_zero" in r:
            positions = r["population_zero"]["positions"]
            spread = (
                f"standard errors up to {max(r['stderr'][t] for t in positions):.2g},"
                if "stderr" in r
                else "its pieces' standard errors in"
            )
            notes.append(
                f"{r['method']}: its population value at positions {_span(positions)} is 0 (it equals "
                f"smoothgrad's, Stein's lemma), so its estimates there are sampling noise ({spread} --json)."
            )
    return notes


def _details(result: dict) -> str | None:
    """One line on what a method's numbers depend on (its options, exactness, intercept, quadrature)."""
    parts = []
    if "semantics" in result:
        parts.append(f"removal {result['semantics']}")
    if "baseline" in result:
        parts.append(
            f"baseline {result['baseline']} (f = {result['f_baseline']:+.4g}), completeness gap "
            f"{result['completeness_gap']:.2g} at {result['nodes']} nodes"
        )
    if "sigma" in result:
        parts.append(f"σ = {result['sigma']:g}")
    if result.get("exact") is True:
        d = len(result["words"])
        parts.append(
            f"exact, 2^{d} = {2**d} subsets of words"
            + (
                f" (cheaper than the --samples {result['requested_samples']} asked for)"
                if "requested_samples" in result
                else ""
            )
        )
    elif "samples" in result and result.get("seed") is None:
        parts.append(f"exact ({result['samples']} evaluations)")
    elif "samples" in result:
        parts.append(
            f"{result['samples']} samples, seed {result['seed']}"
            + ("; standard errors in --json" if "stderr" in result else "")
        )
    if "intercept" in result:
        parts.append(f"intercept {result['intercept']:+.4g}")
    return f"{result['method']}: {', '.join(parts)}" if parts else None


def table(results: list[dict], what: str) -> str:
    """The explanations of one document (one result per method, as printed by ``--json``) as a text table: one
    row per position, one column per method, and notes on the methods.

    Args:
        results: One explanation per method, of the same document.
        what: What ``f`` is, for the first line (e.g. the model's output and its class).

    Returns:
        The table: ``f``, the text when known, a header of methods with their kind (``(word)``, ``(pos)``), one
        row per position, then the notes (word scores, LayerNorm zeros, each method's options).
    """
    first = results[0]
    labels = _labels(first)
    header = ["pos", "word", *(r["method"] for r in results)]
    kinds = ["", "", *("(word)" if r["scores_of"] == "words" else "(pos)" for r in results)]
    columns = [_cells(r) for r in results]
    rows = [[str(t), labels[t], *(column[t] for column in columns)] for t in range(len(labels))]
    widths = [max(len(row[k]) for row in [header, kinds, *rows]) for k in range(len(header))]

    def line(cells: list[str]) -> str:
        return "  ".join(
            cell.ljust(width) if k == 1 else cell.rjust(width) for k, (cell, width) in enumerate(zip(cells, widths))
        ).rstrip()

    out = [f"f = {first['f']:+.6g} ({what})"]
    if "text" in first:
        out.append(f"text: {first['text']}")
    out += ["", line(header), line(kinds), *(line(row) for row in rows), ""]
    if any(r["scores_of"] == "words" for r in results):
        out.append(
            "(word): a score per distinct word — all its occurrences switched off together — shown at each "
            f"occurrence ({NO_SCORE} at CLS); (pos): a score per position."
        )
    out += _zero_notes(results)
    out += [d for d in map(_details, results) if d]
    return "\n".join(out)


# --- pictures -------------------------------------------------------------------------------------------------------


def _lines(results: list[dict]) -> tuple[list[str], list[tuple[str, float, list[float]]]]:
    """The words (positions ``1..L``) and, per method, its label, its largest ``|score|`` over the words and the
    words' scores scaled by it to ``[−1, 1]``."""
    words = _labels(results[0])[1:]
    out = []
    for result in results:
        zeros = _zero_positions(result)
        scores = [0.0 if t in zeros else s for t, s in enumerate(_word_scores(result), 1)]
        largest = max((abs(s) for s in scores), default=0.0)
        kind = "per word" if result["scores_of"] == "words" else "per position"
        if largest == 0:
            out.append(
                (
                    f"{result['method']} ({kind}, every word {'exactly 0 by LayerNorm' if zeros else '0'})",
                    0.0,
                    [0.0] * len(words),
                )
            )
            continue
        noise = "; population value 0 at the words: sampling noise" if "population_zero" in result else ""
        out.append((f"{result['method']} ({kind}, ±{largest:.3g}{noise})", largest, [s / largest for s in scores]))
    return words, out


def _rgb(value: float) -> tuple[float, float, float]:
    """A diverging colour for ``value ∈ [−1, 1]``: white at 0, red (0.84, 0.19, 0.15) at +1, blue (0.13, 0.40,
    0.67) at −1, linear in between (the ends of ColorBrewer's RdBu)."""
    end = (0.84, 0.19, 0.15) if value >= 0 else (0.13, 0.40, 0.67)
    a = min(abs(value), 1.0)
    red, green, blue = (1 - a + a * c for c in end)
    return red, green, blue


def require_matplotlib() -> None:
    """Refuse ``--plot`` when matplotlib (the ``report`` extra) is not installed."""
    if not figures.available():
        raise InputError(f"--plot {optional.needs(['matplotlib'])} (or use --html FILE.html, which needs nothing more)")


def write_png(results: list[dict], path: str | Path, what: str) -> None:
    """The words of one document shaded by each method's scores, one line per method (module docstring).

    Args:
        results: One explanation per method, of the same document.
        path: The PNG file to write.
        what: What ``f`` is, for the title.

    Raises:
        InputError: matplotlib is not installed.
    """
    require_matplotlib()
    plt = figures.pyplot()

    words, lines = _lines(results)
    size, pad = 11.0, 3.0  # font size and box padding, in points
    fig = plt.figure(dpi=150)
    renderer = fig.canvas.get_renderer()

    def width(text: str, **style: Any) -> float:  # in inches
        probe = fig.text(0, 0, text, fontsize=size, **style)
        inches = probe.get_window_extent(renderer).width / fig.dpi
        probe.remove()
        return inches

    label_width = max(width(label) for label, _, _ in lines) + 0.45
    word_widths = [width(word) + 2 * pad / 72 + 0.06 for word in words]
    page = max(6.0, min(16.0, label_width + sum(word_widths) + 0.3))
    rows = []  # per method: the (x, y-line) of each word, wrapping at the page width
    for _ in lines:
        x, line, placed = label_width, 0, []
        for w in word_widths:
            if x + w > page - 0.15 and x > label_width:
                x, line = label_width, line + 1
            placed.append((x, line))
            x += w
        rows.append(placed)
    step = size * 2.0 / 72  # inches per text line
    total_lines = sum(placed[-1][1] + 1 for placed in rows) if words else len(lines)
    title_h, legend_h = 0.75, 0.55
    height = title_h + step * (total_lines + 0.6 * len(lines)) + legend_h
    fig.set_size_inches(page, height)
    inch = fig.dpi_scale_trans
    fig.text(
        0.15,
        height - 0.3,
        f"f = {results[0]['f']:+.4g}  ({what})",
        fontsize=size + 1,
        weight="bold",
        transform=inch,
        va="center",
    )
    y = height - title_h
    for (label, _, scaled), placed in zip(lines, rows):
        fig.text(0.15, y, label, fontsize=size, transform=inch, va="center")
        for word, value, (x, line) in zip(words, scaled, placed):
            colour = _rgb(value)
            fig.text(
                x,
                y - line * step,
                word,
                fontsize=size,
                transform=inch,
                va="center",
                color="white" if abs(value) > 0.6 else "black",
                bbox={"boxstyle": "round,pad=0.25", "facecolor": colour, "edgecolor": "none"},
            )
        y -= step * ((placed[-1][1] if placed else 0) + 1.6)
    legend = (
        "colour: the score, red positive, blue negative, white 0; each line scaled to its own largest |score|\n"
        "(after the method's name); per word: all occurrences of a word share its score"
    )
    fig.text(0.15, 0.3, legend, fontsize=size - 3, transform=inch, va="center", color="0.3", linespacing=1.4)
    fig.savefig(path, dpi=150)
    plt.close(fig)


def write_html(results: list[dict], path: str | Path, what: str) -> None:
    """The picture of :func:`write_png` as a self-contained HTML page (inline styles, no script).

    Args:
        results: One explanation per method, of the same document.
        path: The HTML file to write.
        what: What ``f`` is, for the title.
    """
    words, lines = _lines(results)

    def css(value: float) -> str:
        r, g, b = (round(255 * c) for c in _rgb(value))
        return f"background:rgb({r},{g},{b});color:{'white' if abs(value) > 0.6 else 'black'}"

    rows = []
    for (label, _, scaled), result in zip(lines, results):
        raw = _cells(result)[1:]
        spans = " ".join(
            f'<span class="w" style="{css(v)}" title="{html.escape(s)}">{html.escape(w)}</span>'
            for w, v, s in zip(words, scaled, raw)
        )
        rows.append(f"<tr><th>{html.escape(label)}</th><td>{spans}</td></tr>")
    title = f"f = {results[0]['f']:+.4g} ({what})"
    text = f"<p>text: {html.escape(results[0]['text'])}</p>" if "text" in results[0] else ""
    page = f"""<!DOCTYPE html>
<html><head><meta charset="utf-8"><title>attnverify explain</title>
<style>body{{font-family:sans-serif}} th{{text-align:left;font-weight:normal;padding-right:1em;white-space:nowrap}}
td{{line-height:2.2}} .w{{padding:0.15em 0.3em;border-radius:0.3em}} .note{{color:#555;font-size:small}}</style>
</head><body>
<h3>{html.escape(title)}</h3>{text}
<table>
{chr(10).join(rows)}
</table>
<p class="note">colour: the score, red positive, blue negative, white 0; each line scaled to its own largest |score|
(after the method's name); hover a word for its score; per word: all occurrences of a word share its score.</p>
</body></html>
"""
    Path(path).write_text(page, encoding="utf-8")
