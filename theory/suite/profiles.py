"""Hypothesis settings profiles: ``ci`` (the default; keeps the whole test run under ~5 minutes on two
cores) and ``thorough`` (ten times the examples).  Each claim runs ``budget × max_examples`` examples."""

from hypothesis import HealthCheck, Verbosity, settings

PROFILES = {"ci": 30, "thorough": 300}

for _name, _examples in PROFILES.items():
    settings.register_profile(
        _name, max_examples=_examples, deadline=None, database=None, print_blob=False,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.filter_too_much],
        verbosity=Verbosity.quiet)
