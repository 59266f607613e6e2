"""The optional packages, and the ``pyproject.toml`` extra that brings each one.

``pip install .`` alone installs none of them; every claim, extra, survival-table row or figure that needs one
asks :func:`missing` first and, when it is absent, reports itself ``skipped`` with :func:`needs` (which package,
which ``pip install '.[extra]'``) instead of importing it.  ``tests/test_optional_packages.py`` runs them with
each package made unimportable and checks the extras named here against ``pyproject.toml``.
"""

from __future__ import annotations

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
    "matplotlib": "report",
    "dask": "distributed",
    "distributed": "distributed",
}


def missing(*packages: str) -> list[str]:
    """The ``packages`` (import names, each a key of :data:`EXTRA`) that cannot be imported.

    Importing (not only finding) the package is the test: an installed package that fails to import cannot
    be used either, and a successful import is cached in ``sys.modules`` for the code that asked."""
    absent = []
    for name in packages:
        if name not in EXTRA:
            raise KeyError(f"{name!r} is not a declared optional package: add it to theory.optional.EXTRA")
        try:
            import_module(name)
        except ImportError:
            absent.append(name)
    return absent


def target(packages) -> str:
    """What to install for ``packages``: ``'.[oracles]'`` (several extras: ``'.[oracles,report]'``)."""
    return f"'.[{','.join(sorted({EXTRA[name] for name in packages}))}]'"


def needs(packages) -> str:
    """Why something was skipped: ``needs lime, sklearn: pip install '.[oracles]'``."""
    return f"needs {', '.join(packages)}: pip install {target(packages)}"
