"""Hypothesis settings profiles: ``ci`` (the default: 100 examples, Hypothesis' own default) and ``thorough``
(ten times the examples).  Each claim runs ``budget × max_examples`` examples (trained-model claims
``TRAINED_SHARE × max_examples`` held-out documents, see ``theory.running.runner``)."""

from hypothesis import HealthCheck, Verbosity, settings
from hypothesis.internal.conjecture import providers as _providers
from hypothesis.internal.floats import float_to_int
from sortedcontainers import SortedSet

# Hypothesis (≥ 6.131.9, the pin in pyproject.toml) draws, with probability 5% (floats 15%), a constant found in the
# source of any *local* module (any file outside site-packages) loaded at the time.  So a seed's instances depended on
# where the code was installed (a working tree or a wheel) and, under pytest-xdist, on which tests a worker had imported
# before (attention.blind_to_values.gradient took 1.3 s in one run and 34 s in another).  An empty pool makes them
# depend on the seed alone.  Private API: tests/test_runner.py checks that it still applies.
_NO_LOCAL_CONSTANTS = _providers.Constants(
    integers=SortedSet(), floats=SortedSet(key=float_to_int), bytes=SortedSet(), strings=SortedSet()
)
_providers._get_local_constants = lambda: _NO_LOCAL_CONSTANTS
_providers.CONSTANTS_CACHE.cache.clear()

PROFILES = {"ci": 100, "thorough": 1000}

for _name, _examples in PROFILES.items():
    settings.register_profile(
        _name,
        max_examples=_examples,
        deadline=None,
        database=None,
        print_blob=False,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.filter_too_much],
        verbosity=Verbosity.quiet,
    )
