"""The BERT family's claims (theory/claims/bert.py) beyond their runs in tests/test_claims.py: every architecture ×
readout of the strategy holds on a fixed instance, each identity claim fails on a model broken in one place (so
none of them cannot fail), and the attention_bound construction behaves as its docstring says at L = 1 and L = 2."""

from dataclasses import replace

import numpy as np
import pytest

from theory.checking.strategies.bert import SPECIAL, BertCase, BertSpec
from theory.claims import bert as claims
from theory.models import bert as model_module

ARCHITECTURES = ("bert", "distilbert", "roberta")


def _case(
    arch: str, readout: str = "native", activation: str = "gelu", pads: int = 2, layers: int = 2, seed: int = 1
) -> BertCase:
    cls, sep = SPECIAL[arch][:2]
    spec = BertSpec(
        architecture=arch,
        readout=readout,
        layers=layers,
        heads=2,
        d=6,
        ffn=5,
        activation=activation,
        V=9,
        score_scale=3.0,
        seed=seed,
    )
    return BertCase(spec, (cls, 5, 8, SPECIAL[arch][3], sep), pads, klass=1)


@pytest.mark.parametrize("arch", ARCHITECTURES)
@pytest.mark.parametrize("readout", ["native", "mean"])
def test_every_variant_holds(arch, readout):
    case = _case(arch, readout, activation={"bert": "gelu", "distilbert": "relu", "roberta": "gelu_new"}[arch])
    assert case.model.config.readout == ("mean" if readout == "mean" else model_module.NATIVE_READOUT[arch])
    outcome = claims.check_forward(case)
    assert outcome.holds and outcome.error < 1e-13, outcome.detail


def _layer_norm_eps(weight, bias, x, eps):
    return ORIGINAL_LAYER_NORM(weight, bias, x, 1e-5)


def _gelu_derivative_without_density_term(model, z):
    from scipy.special import erf

    if model.config.activation == "gelu":
        return 0.5 * (1.0 + erf(z / np.sqrt(2.0)))
    return ORIGINAL_DERIVATIVE(model, z)


def _mean_over_every_position(model, h, mask):
    return (
        ORIGINAL_READOUT(model, h, np.ones_like(mask))
        if model.config.readout == "mean"
        else ORIGINAL_READOUT(model, h, mask)
    )


ORIGINAL_LAYER_NORM = model_module.layer_norm
ORIGINAL_DERIVATIVE = model_module.activation_derivative
ORIGINAL_READOUT = model_module._readout


@pytest.mark.parametrize(
    "check, target, broken, case",
    [
        (claims.check_forward, "layer_norm", _layer_norm_eps, _case("bert")),
        (claims.check_gradient, "activation_derivative", _gelu_derivative_without_density_term, _case("roberta")),
        (
            claims.check_padding_invariance,
            "_readout",
            _mean_over_every_position,
            replace(_case("distilbert", "mean"), positions=(0, 2)),
        ),
        (claims.check_blind_to_values, "layer_norm", _layer_norm_eps, replace(_case("bert"), positions=(0, 1))),
    ],
    ids=["forward-eps", "gradient-gelu'", "padding-mean", "blind-eps"],
)
def test_claim_fails_on_a_broken_model(monkeypatch, check, target, broken, case):
    assert check(case).holds
    monkeypatch.setattr(model_module, target, broken)
    outcome = check(case)
    assert not outcome.holds and outcome.error > 1e-8, outcome.detail


def test_tokenize_fails_when_a_word_is_lost(monkeypatch):
    from theory.models import wordpieces

    case = claims.TokenizeCase(
        text="The unbelievable movies, isn't it", lowercase=False, source="vocab.txt", max_len=12
    )
    pytest.importorskip("transformers")
    assert claims.check_tokenize(case).holds
    encode = wordpieces.WordPieces.encode

    def forgetful(self, text, truncate=False):
        doc = encode(self, text, truncate)
        return replace(doc, words=doc.words[:-1], positions=doc.positions[:-1])

    monkeypatch.setattr(wordpieces.WordPieces, "encode", forgetful)
    outcome = claims.check_tokenize(case)
    assert not outcome.holds and "word positions" in outcome.detail


def test_attention_bound_construction_at_depth_one_and_two():
    """The constructed last layer gives word position 1 attention ≤ e^{−60} from every query in every head; at
    L = 1 nothing else carries the word to the CLS readout (|∇_1| is as small as that attention), at L = 2 the first
    layer does (the witness)."""
    for layers, witness in ((1, False), (2, True)):
        base = _case("bert", pads=0, layers=layers, seed=0)
        case = claims.ZeroAttentionCase(base.spec, base.tokens, 0, base.klass)
        g = model_module.gradient(case.model, case.ids)
        assert g.forward.attention[0, -1, :, :, 1].max() <= np.exp(-60.0) * (1 + 1e-9)
        outcome = claims.check_attention_bound(case)
        assert outcome.holds is witness, outcome.detail
        if not witness:
            assert np.abs(g.grad[0, 1]).max() < 1e-20


def _negation_case(semantics: str) -> claims.NegationCase:
    spec = replace(_case("bert").spec, V=claims.FIRST_WORD + len(claims.ORACLE_PIECES))
    return claims.NegationCase(claims.TextCase(spec, ("the", "movie", "great"), klass=1), semantics)


@pytest.mark.parametrize("semantics", claims.TEXT_SEMANTICS)
def test_explainers_negate_with_the_readout(semantics):
    outcome = claims.check_blind_to_values_explainers(_negation_case(semantics))
    assert outcome.holds and outcome.error < 1e-13, outcome.detail


def test_blind_to_values_explainers_fails_on_an_explainer_that_keeps_its_sign(monkeypatch):
    """An occlusion that reports |v(N) − v(N∖j)| is no longer negated with f: the claim must see it."""
    from theory.explainers import registry

    method = registry.METHODS["occlusion"]
    compute = method.compute

    def unsigned(*args, **kwargs):
        result = compute(*args, **kwargs)
        return {**result, "scores": np.abs(result["scores"])}

    monkeypatch.setitem(registry.METHODS, "occlusion", replace(method, compute=unsigned))
    outcome = claims.check_blind_to_values_explainers(_negation_case("unk"))
    assert not outcome.holds and "occlusion" in outcome.detail, outcome.detail
