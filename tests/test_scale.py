"""The ``.npz`` key ``scale`` (docs/theory.md §11.3): optional, default 1 (scores divided by √d_att), 0 = not divided
(the authors' ``SCALE = False``); honoured by the float64 forward pass and the mpmath reference alike."""

import mpmath
import numpy as np
import pytest
from hypothesis import given, settings

import reference.models.one_layer as ref
from theory.checking.strategies.lime import approximation_cases, lime_texts
from theory.checking.strategies.models import ModelSpec, model_specs
from theory.errors import InputError
from theory.models import load
from theory.models.one_layer import document, forward


def test_scale_is_optional_and_round_trips(tmp_path):
    model = ModelSpec(K=2, d_e=4, d_att=3, V=8, T=5, pe=True, seed=2).build()
    arrays = {k: getattr(model, k) for k in ("E", "Wq", "Wk", "Wv", "Wl", "cls_id", "unk_id", "max_len")}
    np.savez(tmp_path / "old.npz", **arrays, pe=1)  # a file written before the key existed
    assert load(tmp_path / "old.npz").scale is True
    model.replace(scale=False).save(tmp_path / "off.npz")
    assert load(tmp_path / "off.npz").scale is False
    np.savez(tmp_path / "bad.npz", **arrays, pe=1, scale=3)
    with pytest.raises(InputError, match="scale must be 0 or 1"):
        load(tmp_path / "bad.npz")


@pytest.mark.parametrize("scale", [True, False])
def test_scores_follow_the_scale_key(scale):
    """s_t = ⟨q, W_k e_t⟩ / √d_att with scale on, ⟨q, W_k e_t⟩ with it off: float64 vs mpmath, and the two
    settings differ by exactly the factor √d_att."""
    model = ModelSpec(K=2, d_e=5, d_att=4, d_out=3, V=9, T=6, pe=True, seed=4, scale=scale).build()
    doc = document(model, (2, 5, 7))
    fw, mp = forward(model, doc), ref.forward(model, doc)
    with mpmath.workdps(ref.DPS):
        exact = np.array([[float(s) for s in head] for head in mp.scores])
    np.testing.assert_allclose(fw.scores[0], exact, rtol=1e-13, atol=1e-15)
    other = forward(model.replace(scale=not scale), doc).scores[0]
    ratio = fw.scores[0] / other
    np.testing.assert_allclose(ratio, 0.5 if scale else 2.0, rtol=1e-13)  # √d_att = 2
    assert abs(fw.f[0] - float(mp.f)) <= 1e-13 * max(1.0, abs(float(mp.f)))


@pytest.mark.parametrize(
    "strategy",
    [model_specs(), lime_texts().map(lambda case: case.spec), approximation_cases().map(lambda case: case.case.spec)],
    ids=["model_specs", "lime_texts", "approximation_cases"],
)
def test_random_models_draw_both_settings(strategy):
    """Scale is off exactly for the seeds 3 mod 4, and both settings occur."""
    seen = set()

    @settings(max_examples=60, database=None)
    @given(strategy)
    def collect(spec):
        assert spec.scale == (spec.seed % 4 != 3)
        seen.add(spec.scale)

    collect()
    assert seen == {True, False}
