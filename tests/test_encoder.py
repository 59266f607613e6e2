"""The encoder family (docs/theory.md §11.1): its file format and loader, the generic perturbation path, rollout, and
``explain`` on an encoder ``.npz``.  The identities against mpmath and torch are the claims ``encoder.*``
(tests/test_claims.py) and tests/test_encoder_torch.py."""

import json

import numpy as np
import pytest

import reference.explainers.perturb as ref_perturb
from theory.errors import InputError
from theory.explainers.perturb import f_perturbed, perturbed_documents
from theory.explainers.rollout import rollout, rollout_matrix
from theory.models.encoder import Encoder, forward, from_one_layer, load_model
from theory.models.one_layer import Model, document
from theory.suite.cli import main
from theory.suite.strategies.encoder import EncoderSpec
from theory.suite.strategies.models import ModelSpec

SPEC = EncoderSpec(L=2, K=2, d=4, d_att=2, d_out=3, d_ff=3, V=10, T=7, pe=True, residual=True, norm="pre",
                   activation="gelu", biases=True, seed=3)


@pytest.fixture
def model():
    return SPEC.build()


@pytest.fixture
def model_path(model, tmp_path):
    path = tmp_path / "encoder.npz"
    model.save(path)
    return path


def test_round_trip_and_dispatch(model, model_path, tmp_path):
    loaded = load_model(model_path)
    assert isinstance(loaded, Encoder)
    doc = document(model, [2, 3, 3, 5])
    assert forward(loaded, doc).f[0] == forward(model, doc).f[0]
    one_layer = ModelSpec(K=2, d_e=4, d_att=3, d_out=2, V=10, T=6, pe=True, seed=1).build()
    one_layer.save(tmp_path / "m.npz")
    assert isinstance(load_model(tmp_path / "m.npz"), Model)  # the §2 format is unchanged


def test_optional_keys_default(model):
    """Biases, norms and the feed-forward are optional: absent means zero biases, γ = 1, no feed-forward."""
    arrays = {k: model.arrays()[k] for k in ("arch", "E", "Wq", "Wk", "Wv", "Wo", "w", "cls_id", "unk_id", "max_len")}
    bare = Encoder.from_arrays(arrays)
    assert bare.d_ff == 0 and not bare.bq.any() and np.all(bare.norm1_weight == 1)
    assert bare.residual and bare.norm == "post" and bare.pe


@pytest.mark.parametrize("change, message", [
    ({"Wk": np.zeros((2, 2, 2, 5))}, "inconsistent shapes"),
    ({"Wq": np.zeros((2, 2, 4))}, "expected 4 dimensions"),
    ({"Wo": np.zeros((2, 4, 5))}, "inconsistent shapes"),
    ({"bq": np.zeros((2, 2, 3))}, "inconsistent shapes"),
    ({"W1": np.full((2, 3, 4), np.nan)}, "NaN or inf"),
    ({"W2": None}, "both W1"),
    ({"norm": "mid"}, "norm='mid'"),
    ({"activation": "tanh"}, "relu or gelu"),
    ({"cls_id": 10}, "not a row of E"),
    ({"residual": 2}, "residual must be 0 or 1"),
    ({"b": np.array([1.0, 2.0])}, "must be a scalar"),
    ({"w": None}, "lacks w"),
    ({"arch": "mlp"}, "not an encoder file"),
])
def test_bad_encoder_files(model, tmp_path, change, message):
    arrays = dict(model.arrays())
    for key, value in change.items():
        if value is None:
            arrays.pop(key)
        else:
            arrays[key] = value
    path = tmp_path / "bad.npz"
    np.savez(path, **arrays)
    with pytest.raises(InputError, match=message):
        Encoder.load(path)


@pytest.mark.parametrize("semantics", ["delete", "replace"])
def test_perturbed_documents_match_reference(model, semantics):
    doc = document(model, [2, 3, 2, 5, 6])
    Z = np.array([[1, 1, 1, 1], [0, 1, 1, 0], [1, 0, 0, 1], [0, 0, 0, 0], [0, 1, 0, 1]])
    got = perturbed_documents(doc, 5, Z, semantics, model.unk_id)
    want = [ref_perturb.perturbed_document(doc, 5, z, semantics, model.unk_id) for z in Z]
    assert got.tolist() == want
    assert np.array_equal(f_perturbed(model, doc, 5, Z, semantics), forward(model, got).f)


def test_perturbation_checks_z(model):
    doc = document(model, [2, 3])
    with pytest.raises(InputError, match="one 0/1 column per distinct word"):
        f_perturbed(model, doc, 2, np.ones((3, 3)), "delete")
    with pytest.raises(InputError, match="unknown removal semantics"):
        f_perturbed(model, doc, 2, np.ones((3, 2)), "mask")


def test_rollout_is_a_probability_vector_and_reduces_at_one_layer(model):
    fw = forward(model, document(model, [2, 3, 4]))
    R = rollout_matrix(fw.attention)
    assert np.allclose(R.sum(axis=-1), 1) and np.all(R > 0)
    # one layer: R = ½ mean_i a + ½ I, so R_{0,·} = ½ α-avg + ½ δ_0 (hand computation)
    one = from_one_layer(ModelSpec(K=2, d_e=3, d_att=2, d_out=2, V=6, T=4, seed=2).build())
    fw1 = forward(one, np.array([0, 2, 3, 1]))
    expected = 0.5 * fw1.alpha[0].mean(axis=0) + 0.5 * np.eye(4)[0]
    assert np.allclose(rollout(fw1.attention)[0], expected, rtol=0, atol=1e-15)


@pytest.mark.parametrize("method", ["attention-avg", "attention-max", "rollout", "grad-l2", "grad-x-input", "lime",
                                    "lime-inf"])
def test_explain_encoder_json(model_path, capsys, method):
    assert main(["explain", str(model_path), "--tokens", "2,3,4,3", "--method", method, "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["method"] == method and out["positions"] == [0, 1, 2, 3, 4] and out["tokens"] == [0, 2, 3, 4, 3]
    assert len(out["scores"]) == (3 if method.startswith("lime") else 5)
    assert np.isfinite(out["f"]) and np.all(np.isfinite(out["scores"]))


def test_explain_encoder_bad_input_exit_2(model_path, tmp_path, capsys):
    assert main(["explain", str(model_path), "--tokens", "2,3", "--method", "nope"]) == 2
    assert "rollout" in capsys.readouterr().err
    bad = tmp_path / "bad.npz"
    np.savez(bad, arch="encoder", E=np.zeros((3, 2)))
    assert main(["explain", str(bad), "--tokens", "2", "--method", "rollout"]) == 2
    assert "lacks" in capsys.readouterr().err
