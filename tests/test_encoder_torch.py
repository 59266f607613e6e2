"""torch's own ``nn.TransformerEncoder`` (float64, eval) as the external oracle of the encoder family: f, every
layer's attention and ∇ (autograd w.r.t. the embedded input) against the numpy forward and hand-written backward
pass, on Hypothesis-drawn torch-expressible encoders (also the claim ``encoder.matches_torch``), and torch's fast
path kept off (the Python path is the one compared)."""

import numpy as np
import pytest
from hypothesis import given, settings

torch = pytest.importorskip("torch", reason="torch oracle: pip install '.[oracles]'")

from reference.oracles.torch_encoder import build, evaluate
from theory.checking.compare import RTOL
from theory.checking.strategies.encoder import encoder_cases
from theory.claims.encoder import attention_scale, f_scale
from theory.models.encoder import forward
from theory.models.encoder_gradient import gradient, rounding_scale


@settings(max_examples=15)
@given(encoder_cases(torch_compatible=True, max_L=4))
def test_encoder_matches_torch(case):
    model, doc = case.model, case.doc
    f, attention, grad = evaluate(build(model.arrays()), doc)
    fw = forward(model, doc)
    assert np.all(np.abs(fw.f - f) <= RTOL * f_scale(model, fw))
    assert np.all(np.abs(fw.attention - attention) <= RTOL * attention_scale(model, fw))
    assert np.all(np.abs(gradient(model, doc).grad - grad) <= RTOL * rounding_scale(model, fw)[:, None, None])


def test_batch_of_documents_matches_torch():
    from theory.checking.strategies.encoder import EncoderSpec

    model = EncoderSpec(
        L=3,
        K=2,
        d=6,
        d_att=3,
        d_out=3,
        d_ff=5,
        V=9,
        T=6,
        pe=True,
        residual=True,
        norm="post",
        activation="gelu",
        biases=True,
        seed=7,
    ).build()
    docs = np.array([[0, 2, 3, 4, 1, 1], [0, 5, 5, 6, 7, 8], [0, 8, 1, 1, 1, 1]])
    f, attention, grad = evaluate(build(model.arrays()), docs)
    fw = forward(model, docs)
    assert np.allclose(fw.f, f, rtol=0, atol=1e-13) and np.allclose(fw.attention, attention, rtol=0, atol=1e-14)
    assert np.allclose(gradient(model, docs).grad, grad, rtol=0, atol=1e-13)


def test_torch_rejects_what_it_cannot_express():
    from theory.checking.strategies.encoder import EncoderSpec

    with pytest.raises(ValueError, match="residual"):
        build(EncoderSpec(L=1, K=1, d=2, d_att=2, d_out=2, d_ff=2, residual=False, norm="post").build().arrays())


@pytest.mark.parametrize("norm", ["post", "pre"])
def test_final_norm_matches_torch(norm):
    """torch's nn.TransformerEncoder(norm=nn.LayerNorm(d)): f, attention and ∇ with the final norm; without it the
    same weights give another f (the norm is not a no-op)."""
    from theory.checking.strategies.encoder import EncoderSpec

    spec = EncoderSpec(
        L=2,
        K=2,
        d=6,
        d_att=3,
        d_out=3,
        d_ff=5,
        V=9,
        T=6,
        pe=True,
        residual=True,
        norm=norm,
        activation="relu",
        biases=True,
        seed=11,
        final_norm=True,
    )
    model = spec.build()
    module = build(model.arrays())
    assert isinstance(module.encoder.norm, torch.nn.LayerNorm)
    docs = np.array([[0, 2, 3, 4, 1, 1], [0, 5, 5, 6, 7, 8]])
    f, attention, grad = evaluate(module, docs)
    fw = forward(model, docs)
    assert np.all(np.abs(fw.f - f) <= 1e-13 * f_scale(model, fw))
    assert np.all(np.abs(fw.attention - attention) <= 1e-13 * attention_scale(model, fw))
    assert np.all(np.abs(gradient(model, docs).grad - grad) <= 1e-13 * rounding_scale(model, fw)[:, None, None])
    plain = EncoderSpec(**{**spec.__dict__, "final_norm": False}).build()
    assert np.abs(forward(plain, docs).f - f).min() > 1e-3
