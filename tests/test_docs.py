"""The README and ``docs/`` stay true: the README is a front door (≤ 200 lines), every relative link leads to a
file (and heading) that exists, every ``attnverify COMMAND --option`` they show is one the command line accepts,
``docs/command-line.md`` documents every option of every command, and ``docs/benchmarks.md`` is the rendering
of the committed ``reports/benchmarks.json``."""

from __future__ import annotations

import difflib
import json
import re
import shlex
import subprocess
import sys
from functools import cache
from pathlib import Path

import pytest

from theory.reporting.benchmarks import render

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
PAGES = [README, *sorted((ROOT / "docs").glob("*.md"))]
OPTION = re.compile(r"(?<![\w-])--[a-z][a-z0-9-]*")
LINK = re.compile(r"!?\[[^\]]*\]\(([^)\s]+)\)")
FENCE = re.compile(r"^```.*?$(.*?)^```", re.S | re.M)
INLINE = re.compile(r"`(attnverify [^`]*)`")
# a shell command starting a line (after an optional prompt) or following &&, ||, ; or a pipe
COMMAND_START = re.compile(r"(?:^|&&|\|\||;|\||\$)\s*(attnverify\s.*)$")
SHELL_END = {"|", "\\|", "||", "&&", ";", ">", ">>", "2>"}


@cache
def accepted_options(command: str) -> frozenset[str]:
    """The options ``attnverify COMMAND`` accepts, read from its ``--help``.

    Args:
        command: a subcommand, or ``""`` for the top-level parser.

    Returns:
        The option names; for the top level, the subcommands instead.
    """
    argv = [sys.executable, "-m", "theory.cli.main", *([command] if command else []), "--help"]
    result = subprocess.run(argv, capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert result.returncode == 0, f"attnverify {command} --help: {result.stderr}"
    if not command:
        return frozenset(re.search(r"\{([a-z,]+)\}", result.stdout).group(1).split(","))
    return frozenset(OPTION.findall(result.stdout))


def shown_commands(text: str) -> list[tuple[str, list[str]]]:
    """Every ``attnverify COMMAND …`` shown in ``text``'s fenced code blocks (continuation lines joined) and
    inline code spans, with the options written after the command (up to the end of that shell command).

    Args:
        text: a Markdown page.

    Returns:
        ``(command, options)`` pairs, in order of appearance.
    """
    snippets = [m.group(1) for m in INLINE.finditer(text)]
    for block in FENCE.findall(text):
        for line in block.replace("\\\n", " ").splitlines():
            match = COMMAND_START.search(line.split(" # ")[0].split("  #")[0])
            if match:
                snippets.append(match.group(1))
    shown = []
    for snippet in snippets:
        tokens = shlex.split(snippet.replace("\\|", "|"), comments=True, posix=True)[1:]
        if not tokens:
            continue
        options = []
        for token in tokens[1:]:
            if token in SHELL_END:
                break
            options += OPTION.findall(token.split("=")[0]) if token.lstrip("[").startswith("--") else []
        shown.append((tokens[0], options))
    return shown


def test_readme_is_a_front_door():
    lines = README.read_text().splitlines()
    assert len(lines) <= 200, f"README.md has {len(lines)} lines; move detail to docs/ (at most 200)"


def _slug(heading: str) -> str:
    """GitHub's anchor of a Markdown heading: lower case, punctuation dropped, spaces as hyphens."""
    return re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")


def _anchors(page: Path) -> set[str]:
    text = FENCE.sub("", page.read_text())
    return {_slug(m.group(1)) for m in re.finditer(r"^#{1,6}\s+(.*)$", text, re.M)}


@pytest.mark.parametrize("page", PAGES, ids=lambda p: p.relative_to(ROOT).as_posix())
def test_every_relative_link_resolves(page):
    broken = []
    for target in LINK.findall(FENCE.sub("", page.read_text())):
        if re.match(r"[a-z]+:", target):  # https:, mailto:
            continue
        path, _, anchor = target.partition("#")
        file = (page.parent / path).resolve() if path else page
        if not file.exists():
            broken.append(f"{target}: no file {file.relative_to(ROOT) if file.is_relative_to(ROOT) else file}")
        elif anchor and file.suffix == ".md" and anchor not in _anchors(file):
            broken.append(f"{target}: no heading #{anchor} in {file.relative_to(ROOT)}")
    assert not broken, f"{page.relative_to(ROOT)}: broken links:\n" + "\n".join(broken)


@pytest.mark.parametrize("page", PAGES, ids=lambda p: p.relative_to(ROOT).as_posix())
def test_every_shown_command_is_accepted(page):
    commands = accepted_options("")
    wrong = []
    for command, options in shown_commands(page.read_text()):
        if command not in commands:
            wrong.append(f"attnverify {command}: no such command (the commands: {', '.join(sorted(commands))})")
            continue
        wrong += [
            f"attnverify {command} {option}: not an option of `attnverify {command}`"
            for option in options
            if option not in accepted_options(command)
        ]
    assert not wrong, f"{page.relative_to(ROOT)}:\n" + "\n".join(wrong)


def test_shown_commands_are_found():
    """The parsing above sees the commands of a page (a check that found nothing would pass vacuously)."""
    shown = shown_commands((ROOT / "docs" / "command-line.md").read_text())
    assert {command for command, _ in shown} == set(accepted_options(""))
    assert ("explain", ["--tokens", "--method", "--semantics", "--samples", "--seed", "--json"]) in shown
    assert shown_commands("```bash\npip install . && attnverify run --profil ci  # x --y\n```") == [
        ("run", ["--profil"])
    ]


def test_command_line_page_documents_every_option():
    text = (ROOT / "docs" / "command-line.md").read_text()
    sections = dict(re.findall(r"^## `attnverify (\w+)`\n(.*?)(?=^## |\Z)", text, re.S | re.M))
    assert set(sections) == set(accepted_options("")), "docs/command-line.md: one section per command"
    for command, section in sections.items():
        mentioned, accepted = set(OPTION.findall(section)), accepted_options(command) - {"--help"}
        assert mentioned <= accepted, f"attnverify {command}: documented but not accepted: {mentioned - accepted}"
        assert accepted <= mentioned, f"attnverify {command}: accepted but not documented: {accepted - mentioned}"


def test_benchmarks_page_is_current():
    committed, rendered = (ROOT / "docs" / "benchmarks.md").read_text(), render()
    diff = "\n".join(list(difflib.unified_diff(committed.splitlines(), rendered.splitlines(), lineterm=""))[:12])
    assert committed == rendered, (
        f"docs/benchmarks.md is stale: regenerate it with `python -m theory.reporting.benchmarks > "
        f"docs/benchmarks.md`\n{diff}"
    )


def test_benchmarks_page_refuses_what_it_cannot_render(tmp_path, capsys):
    (tmp_path / "none.json").write_text("{}")
    with pytest.raises(ValueError, match="holds no pytest-benchmark results"):
        render(tmp_path / "none.json")
    assert "not a pytest-benchmark JSON file" in capsys.readouterr().err
    stray = {
        "benchmarks": [
            {
                "group": "g",
                "name": "test_x",
                "fullname": "tests/benchmarks/test_elsewhere.py::test_x",
                "stats": {"median": 1.0, "rounds": 1},
            }
        ]
    }
    (tmp_path / "stray.json").write_text(json.dumps(stray))
    with pytest.raises(ValueError, match="test_elsewhere.py, which FILES does not describe"):
        render(tmp_path / "stray.json")
