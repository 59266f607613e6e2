"""Hypothesis profiles: ``ci`` by default, ``pytest --hypothesis-profile=thorough`` for the long run."""

import os

import pytest
from hypothesis import settings

from theory.checking.profiles import PROFILES

settings.load_profile("ci")
os.environ.setdefault("ATTNVERIFY_JOBS", "1")  # `attnverify run` in-process under pytest (xdist already uses the cores)


@pytest.fixture
def profile(request) -> str:
    name = request.config.getoption("hypothesis_profile", default=None) or "ci"
    if name not in PROFILES:
        raise pytest.UsageError(f"unknown Hypothesis profile {name!r}; use one of {', '.join(PROFILES)}")
    return name
