"""Benchmarks run in the default test run too, untimed (``--benchmark-disable``), as checks of what they time;
the comparisons that take seconds per call ask for ``long_benchmark`` instead and run only when timed."""

import pytest

LONG = "seconds-long comparison: run with --benchmark-enable"


@pytest.fixture
def long_benchmark(benchmark):
    """``benchmark``, skipped unless the run is timed (``--benchmark-enable``)."""
    if benchmark.disabled:
        pytest.skip(LONG)
    return benchmark
