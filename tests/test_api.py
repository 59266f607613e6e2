"""The Python API's documented examples run: the module docstring of :mod:`theory.api` and docs/python.md."""

from __future__ import annotations

import doctest
from pathlib import Path

import pytest

import theory.api

ROOT = Path(__file__).resolve().parent.parent


def test_the_module_examples_run():
    failures, tried = doctest.testmod(theory.api, optionflags=doctest.NORMALIZE_WHITESPACE)
    assert tried > 0 and failures == 0


def test_the_python_page_runs():
    failures, tried = doctest.testfile(
        str(ROOT / "docs" / "python.md"), module_relative=False, optionflags=doctest.NORMALIZE_WHITESPACE
    )
    assert tried >= 10 and failures == 0


def test_an_unknown_claim_is_refused_with_the_way_to_list_them():
    from theory.errors import InputError

    with pytest.raises(InputError, match="attnverify list"):
        theory.api.check("model.no_such_claim")
