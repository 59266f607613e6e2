"""Public functions document their interface: a Google-style ``Args:`` section when they take parameters and
``Returns:`` (or ``Yields:``) when they return a value.  A claim's check and a study's ``run`` are exempt: their
declaration (``@claim`` / ``@extra``) is their documentation, and nothing calls them by name."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
REGISTERED = {"claim", "extra"}  # decorators whose declaration documents the function


def _public_functions(tree: ast.Module):
    """Module-level public functions and the public methods of public classes."""
    for node in tree.body:
        if isinstance(node, ast.FunctionDef) and not node.name.startswith("_"):
            yield node.name, node
        elif isinstance(node, ast.ClassDef) and not node.name.startswith("_"):
            for item in node.body:
                if isinstance(item, ast.FunctionDef) and not item.name.startswith("_"):
                    yield f"{node.name}.{item.name}", item


def _decorators(function: ast.FunctionDef) -> set[str]:
    names = set()
    for decorator in function.decorator_list:
        target = decorator.func if isinstance(decorator, ast.Call) else decorator
        names.add(target.attr if isinstance(target, ast.Attribute) else getattr(target, "id", ""))
    return names


def _parameters(function: ast.FunctionDef) -> list[str]:
    args = function.args
    names = [a.arg for a in args.posonlyargs + args.args + args.kwonlyargs]
    names += [a.arg for a in (args.vararg, args.kwarg) if a is not None]
    return [name for name in names if name not in ("self", "cls")]


def _returns_value(function: ast.FunctionDef) -> bool:
    if function.returns is not None:
        return not (isinstance(function.returns, ast.Constant) and function.returns.value is None)
    return any(isinstance(node, ast.Return) and node.value is not None for node in ast.walk(function))


def undocumented(path: Path) -> list[str]:
    """What ``path``'s public functions leave undocumented, one line each."""
    missing = []
    for name, function in _public_functions(ast.parse(path.read_text())):
        decorators = _decorators(function)
        if decorators & REGISTERED or "property" in decorators or "overload" in decorators:
            continue
        text = ast.get_docstring(function) or ""
        if _parameters(function) and "Args:" not in text:
            missing.append(f"{path.relative_to(ROOT)}:{function.lineno} {name}: no Args section")
        if _returns_value(function) and not ("Returns:" in text or "Yields:" in text):
            missing.append(f"{path.relative_to(ROOT)}:{function.lineno} {name}: no Returns section")
    return missing


def test_public_functions_have_args_and_returns():
    missing = [
        line
        for package in ("theory", "reference")
        for path in sorted((ROOT / package).rglob("*.py"))
        for line in undocumented(path)
    ]
    assert not missing, f"{len(missing)} undocumented:\n" + "\n".join(missing)


def test_the_check_sees_a_missing_section(tmp_path):
    module = ROOT / "tests" / "_docstring_probe.py"
    try:
        module.write_text('def f(x):\n    """Doubles."""\n    return 2 * x\n')
        assert [line.split(": ", 1)[1] for line in undocumented(module)] == ["no Args section", "no Returns section"]
    finally:
        module.unlink()
