"""The committed trained encoder (the Appendix-F analog): it loads in CI, is 6 layers × 6 heads, is small, and its
recorded held-out accuracy is what the numpy forward pass gives on the exported float64 weights."""

import pytest

from theory.sentiment.encoder_fixture import (
    ENCODER_FILE,
    available,
    load_encoder_fixture,
)
from theory.sentiment.fixture import DATA

pytestmark = pytest.mark.skipif(not available(), reason=f"{ENCODER_FILE} is not committed")


def test_fixture_loads_and_is_the_appendix_f_shape():
    fixture = load_encoder_fixture()
    assert (fixture.model.L, fixture.model.K) == (6, 6)
    assert fixture.model.residual and fixture.model.norm in ("post", "pre")
    assert (DATA / ENCODER_FILE).stat().st_size < 500_000
    assert len(fixture.docs) == fixture.training["n_test"] > 100
    assert all(len(d) <= fixture.model.T - 1 for d in fixture.docs)


def test_recorded_held_out_accuracy_is_reproduced():
    fixture = load_encoder_fixture()
    assert fixture.held_out_accuracy() == fixture.training["test_accuracy"]
    assert fixture.training["test_accuracy"] > 0.6  # above chance (0.5 ± 0.02 for ~450 documents)
