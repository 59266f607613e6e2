"""The encoder family (docs/theory.md §11.1): its file format and loader, the generic perturbation path, rollout, and
``explain`` on an encoder ``.npz``.  The identities against mpmath and torch are the claims ``encoder.*``
(tests/test_claims.py) and tests/test_encoder_torch.py."""

import json

import numpy as np
import pytest

import reference.explainers.perturb as ref_perturb
from theory.checking.strategies.encoder import EncoderSpec
from theory.checking.strategies.models import ModelSpec
from theory.cli.main import main
from theory.errors import InputError
from theory.explainers.rollout import rollout, rollout_matrix
from theory.models import load
from theory.models.encoder import Encoder, forward, from_one_layer
from theory.models.one_layer import Model, document
from theory.models.perturb import f_perturbed, perturbed_documents

SPEC = EncoderSpec(
    L=2,
    K=2,
    d=4,
    d_att=2,
    d_out=3,
    d_ff=3,
    V=10,
    T=7,
    pe=True,
    residual=True,
    norm="pre",
    activation="gelu",
    biases=True,
    seed=3,
)


@pytest.fixture
def model():
    return SPEC.build()


@pytest.fixture
def model_path(model, tmp_path):
    path = tmp_path / "encoder.npz"
    model.save(path)
    return path


def test_round_trip_and_dispatch(model, model_path, tmp_path):
    loaded = load(model_path)
    assert isinstance(loaded, Encoder)
    doc = document(model, [2, 3, 3, 5])
    assert forward(loaded, doc).f[0] == forward(model, doc).f[0]
    one_layer = ModelSpec(K=2, d_e=4, d_att=3, d_out=2, V=10, T=6, pe=True, seed=1).build()
    one_layer.save(tmp_path / "m.npz")
    assert isinstance(load(tmp_path / "m.npz"), Model)  # the §2 format is unchanged


def test_optional_keys_default(model):
    """Biases, norms and the feed-forward are optional: absent means zero biases, γ = 1, no feed-forward."""
    arrays = {k: model.arrays()[k] for k in ("arch", "E", "Wq", "Wk", "Wv", "Wo", "w", "cls_id", "unk_id", "max_len")}
    bare = Encoder.from_arrays(arrays)
    assert bare.d_ff == 0 and not bare.bq.any() and np.all(bare.norm1_weight == 1)
    assert bare.residual and bare.norm == "post" and bare.pe


@pytest.mark.parametrize(
    "change, message",
    [
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
        ({"arch": "mlp"}, "arch='mlp'; known: 'encoder'"),
    ],
)
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
        load(path)


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


@pytest.mark.parametrize(
    "method", ["attention-avg", "attention-max", "rollout", "grad-l2", "grad-x-input", "lime", "lime-inf"]
)
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


# --- the final LayerNorm (torch's nn.TransformerEncoder(norm=nn.LayerNorm(d))) ----------------------------------

FINAL = EncoderSpec(**{**SPEC.__dict__, "final_norm": True})


def test_final_norm_round_trips_and_absent_means_none(tmp_path):
    """The two final-norm arrays are written and read back; a file without them (every file written before the
    final norm existed) has no final norm, and the same spec without ``final_norm`` builds the same other weights."""
    with_final, without = FINAL.build(), SPEC.build()
    with_final.save(tmp_path / "final.npz")
    loaded = load(tmp_path / "final.npz")
    assert loaded.final_norm and np.array_equal(loaded.final_norm_weight, with_final.final_norm_weight)
    assert not without.final_norm and "final_norm_weight" not in without.arrays()
    without.save(tmp_path / "plain.npz")
    assert not load(tmp_path / "plain.npz").final_norm
    assert all(np.array_equal(with_final.arrays()[k], v) for k, v in without.arrays().items() if k != "arch")
    doc = document(without, [2, 3, 4])
    assert abs(forward(with_final, doc).f[0] - forward(without, doc).f[0]) > 1e-3  # the norm is not a no-op


@pytest.mark.parametrize(
    "change, message",
    [
        ({"final_norm_bias": None}, "needs both final_norm_weight and final_norm_bias \\(4,\\), or neither"),
        ({"final_norm_weight": None}, "only final_norm_bias is given"),
        ({"final_norm_weight": np.ones(5)}, "'final_norm_weight' is \\(5,\\) but must be \\(4,\\)"),
        ({"final_norm_bias": np.array([0.0, np.inf, 0.0, 0.0])}, "NaN or inf"),
    ],
)
def test_bad_final_norms(tmp_path, change, message):
    arrays = dict(FINAL.build().arrays())
    for key, value in change.items():
        if value is None:
            arrays.pop(key)
        else:
            arrays[key] = value
    np.savez(tmp_path / "bad.npz", **arrays)
    with pytest.raises(InputError, match=message):
        load(tmp_path / "bad.npz")


@pytest.mark.parametrize("norm", ["post", "pre", "none"])
def test_final_norm_forward_and_gradient_match_the_reference(norm):
    """f, every hidden state (the last one normalised) and ∇ at CLS and one word against the mpmath reference
    (forward at 40 digits, central differences at ≥ 60), on instances with a final norm; the batched perturbed
    path (``Encoder.output``, :func:`~theory.models.encoder.output_embedded`) gives the same f."""
    import reference.explainers.encoder_gradient as ref_grad
    import reference.models.encoder as ref
    from theory.models.encoder_gradient import gradient, rounding_scale

    model = EncoderSpec(**{**FINAL.__dict__, "norm": norm}).build()
    doc = document(model, [2, 3, 2, 5])
    fw, mp = forward(model, doc), ref.forward(model, doc)
    f_scale = float(np.abs(fw.hidden[0, -1, 0]) @ np.abs(model.w) + abs(model.b))
    assert abs(fw.f[0] - float(mp.f)) <= 1e-13 * f_scale
    hidden = np.array(mp.hidden, dtype=float)
    assert np.abs(fw.hidden[0] - hidden).max() <= 1e-13 * np.abs(hidden).max()
    want = np.array(ref_grad.gradient(model, doc, positions=[0, 2]), dtype=float)
    scale = rounding_scale(model, fw)[0]
    assert np.abs(gradient(model, doc).grad[0, [0, 2]] - want).max() <= 1e-13 * scale
    docs = np.stack([doc, document(model, [4, 4])])
    assert np.array_equal(model.output(docs), forward(model, docs).f)


def test_encoder_strategies_draw_the_final_norm():
    """The encoder claims' strategies (encoder.forward / gradient / matches_torch) draw models with and without a
    final norm; the LIME-based depth measures keep drawing none."""
    from hypothesis import find
    from hypothesis.errors import NoSuchExample

    from theory.checking.strategies.encoder import encoder_cases, encoder_lime_cases

    for kwargs in ({}, {"torch_compatible": True}, {"positions": 2}):
        assert find(encoder_cases(**kwargs), lambda case: case.spec.final_norm).model.final_norm
        assert not find(encoder_cases(**kwargs), lambda case: not case.spec.final_norm).model.final_norm
    with pytest.raises(NoSuchExample):
        find(encoder_lime_cases(), lambda case: case.spec.final_norm)
