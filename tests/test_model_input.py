"""Bad input to the model and the document builder gets an InputError naming the problem and the fix."""

import numpy as np
import pytest

from theory.checking.strategies.models import ModelSpec
from theory.errors import InputError
from theory.models import load
from theory.models.one_layer import document, forward, positional_encoding


@pytest.fixture
def model():
    return ModelSpec(K=2, d_e=4, d_att=3, d_out=2, V=10, T=6, pe=True, seed=1).build()


def arrays(model):
    return {
        "E": model.E,
        "Wq": model.Wq,
        "Wk": model.Wk,
        "Wv": model.Wv,
        "Wl": model.Wl,
        "cls_id": model.cls_id,
        "unk_id": model.unk_id,
        "max_len": model.max_len,
        "pe": int(model.pe),
    }


def test_round_trip_and_extra_keys_ignored(model, tmp_path):
    path = tmp_path / "m.npz"
    np.savez(path, extra=np.zeros(3), **arrays(model))
    loaded = load(path)
    doc = document(model, [2, 3, 3])
    assert forward(loaded, doc).f[0] == forward(model, doc).f[0]


@pytest.mark.parametrize(
    "change, message",
    [
        ({"E": None}, "lacks E"),
        ({"Wk": np.zeros((2, 3, 5))}, "inconsistent shapes"),
        ({"Wl": np.zeros((3, 2))}, "inconsistent shapes"),
        ({"Wq": np.zeros((2, 3))}, "expected 3 dimensions"),
        ({"Wv": np.full((2, 2, 4), np.nan)}, "NaN or inf"),
        ({"E": np.full((10, 4), np.inf)}, "NaN or inf"),
        ({"cls_id": 10}, "not a row of E"),
        ({"unk_id": 0}, "two different token ids"),
        ({"max_len": 1}, "max_len=1"),
        ({"pe": 3}, "pe must be 0 or 1"),
        ({"cls_id": np.array([0, 1])}, "must be a scalar"),
    ],
)
def test_bad_model_files(model, tmp_path, change, message):
    data = arrays(model)
    for key, value in change.items():
        if value is None:
            del data[key]
        else:
            data[key] = value
    path = tmp_path / "bad.npz"
    np.savez(path, **data)
    with pytest.raises(InputError, match=message):
        load(path)


def test_corrupt_and_missing_files(tmp_path):
    (tmp_path / "junk.npz").write_bytes(b"not a zip file")
    with pytest.raises(InputError, match="cannot read"):
        load(tmp_path / "junk.npz")
    with pytest.raises(InputError, match="does not exist"):
        load(tmp_path / "absent.npz")


@pytest.mark.parametrize(
    "tokens, message",
    [
        ([], "empty"),
        ([2, 10], "out of range"),
        ([2, -1], "out of range"),
        ([2, 0], "CLS"),
        ([1, 2], "UNK"),
        ([2, 3, 4, 5, 6, 7], "room for 5"),
    ],
)
def test_bad_texts(model, tokens, message):
    with pytest.raises(InputError, match=message):
        document(model, tokens)


def test_document_layout_and_explicit_truncation(model):
    assert document(model, [4, 5]).tolist() == [0, 4, 5, 1, 1, 1]
    assert document(model, [2, 3, 4, 5, 6, 7], truncate=True).tolist() == [0, 2, 3, 4, 5, 6]


def test_positional_encoding_values():
    P = positional_encoding(3, 4)
    t = 2
    assert P[t, 0] == np.sin(t) and P[t, 1] == np.cos(t)
    assert np.isclose(P[t, 2], np.sin(t / 100)) and np.isclose(P[t, 3], np.cos(t / 100))


def test_extreme_scores_do_not_overflow():
    model = ModelSpec(K=2, d_e=4, d_att=3, V=10, T=8, score_scale=1e6, seed=3).build()
    fw = forward(model, document(model, [2, 3, 4]))
    assert np.abs(fw.scores).max() > 710 and np.all(np.isfinite(fw.f))
