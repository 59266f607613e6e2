"""Hypothesis settings profiles: ``ci`` (the default: 100 examples, Hypothesis' own default) and ``thorough``
(ten times the examples).  Each claim runs ``budget × max_examples`` examples (trained-model claims
``TRAINED_SHARE × max_examples`` held-out documents, see ``theory.suite.runner``)."""

from hypothesis import HealthCheck, Verbosity, settings

PROFILES = {"ci": 100, "thorough": 1000}

for _name, _examples in PROFILES.items():
    settings.register_profile(
        _name, max_examples=_examples, deadline=None, database=None, print_blob=False,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.filter_too_much],
        verbosity=Verbosity.quiet)
