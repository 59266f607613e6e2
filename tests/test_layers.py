"""The import direction (theory/__init__.py): a package imports only the packages before it in :data:`LAYERS`,
and ``reference`` never imports ``theory`` — so the references stay independent of what they check."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

#: theory's packages from the bottom up; the top-level modules (errors, optional, memory) are the ground floor
LAYERS = (
    "",
    "models",
    "explainers",
    "sentiment",
    "checking",
    "claims",
    "studies",
    "running",
    "reporting",
    "api",
    "cli",
)


def _imports(path: Path) -> list[tuple[int, str]]:
    """Every module ``path`` imports (at any depth: function-level imports count), with its line."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found += [(node.lineno, node.module)] + [(node.lineno, f"{node.module}.{a.name}") for a in node.names]
    return found


def _layer(module: str) -> int | None:
    """The rank in :data:`LAYERS` of a ``theory`` module (``None`` for anything else)."""
    parts = module.split(".")
    if parts[0] != "theory":
        return None
    if len(parts) == 1:
        return 0
    return LAYERS.index(parts[1]) if parts[1] in LAYERS else 0


def test_theory_imports_only_downwards():
    upward = []
    for path in sorted((ROOT / "theory").rglob("*.py")):
        own = _layer(".".join(path.relative_to(ROOT).with_suffix("").parts))
        for line, module in _imports(path):
            rank = _layer(module)
            if rank is not None and rank > own:
                upward.append(
                    f"{path.relative_to(ROOT)}:{line} imports {module} ({LAYERS[rank]} is above "
                    f"{LAYERS[own] or 'the ground floor'})"
                )
    assert not upward, "imports against the layer order:\n" + "\n".join(sorted(set(upward)))


def test_reference_never_imports_theory():
    found = [
        f"{path.relative_to(ROOT)}:{line} imports {module}"
        for path in sorted((ROOT / "reference").rglob("*.py"))
        for line, module in _imports(path)
        if module.split(".")[0] == "theory"
    ]
    assert not found, "\n".join(found)


def test_the_layer_check_sees_an_upward_import(tmp_path):
    """The check can fail: an explainer importing the runner is reported."""
    module = tmp_path / "bad.py"
    module.write_text("def f():\n    from theory.running import runner\n")
    assert [_layer(name) for _, name in _imports(module)] == [LAYERS.index("running")] * 2
    assert _layer("theory.explainers.lime") < LAYERS.index("running")
