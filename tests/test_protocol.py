"""The model protocol (:mod:`theory.models.protocol`): both families implement it, every member agrees with an
independent computation (central differences for the gradient, perturbed documents built by hand for the
evaluator), one ``load`` reads both formats, and every registered explanation method returns an
:class:`~theory.explainers.explanation.Explanation` of consistent lengths on both families, from word ids or from a
text — through the API and through ``attnverify explain --text``."""

from __future__ import annotations

import json

import numpy as np
import pytest

from theory.checking.strategies.encoder import EncoderSpec
from theory.checking.strategies.models import ModelSpec
from theory.cli.main import main
from theory.errors import InputError
from theory.explainers.explanation import Explanation
from theory.explainers.registry import METHODS, explain, methods_of
from theory.models import load
from theory.models.encoder import Encoder
from theory.models.one_layer import Model
from theory.models.perturb import evaluator
from theory.models.protocol import AttentionClassifier, Document
from theory.models.vocabulary import Vocabulary

TOKENS = ("[cls]", "<unk>", "good", "bad", "film", ".", "not", "dull", "fun", "a")
ONE_LAYER = ModelSpec(K=2, d_e=4, d_att=3, d_out=2, V=len(TOKENS), T=9, pe=True, seed=5).build()
PRE_NORM = EncoderSpec(
    L=2,
    K=2,
    d=4,
    d_att=2,
    d_out=3,
    d_ff=3,
    V=len(TOKENS),
    T=9,
    pe=True,
    residual=True,
    norm="pre",
    activation="gelu",
    biases=True,
    seed=3,
).build()
POST_NORM = EncoderSpec(
    L=1,
    K=2,
    d=4,
    d_att=2,
    d_out=2,
    d_ff=0,
    V=len(TOKENS),
    T=9,
    pe=False,
    residual=True,
    norm="post",
    activation="relu",
    biases=False,
    seed=4,
).build()
MODELS = {"one-layer": ONE_LAYER, "pre-norm encoder": PRE_NORM, "post-norm encoder": POST_NORM}
WORDS = [2, 4, 6, 2, 9]  # "good film not good a": d = 4 distinct words, one repeated
#: every member of the protocol (theory.models.protocol.AttentionClassifier)
MEMBERS = (
    "family",
    "noun",
    "capabilities",
    "cls_id",
    "unk_id",
    "V",
    "T",
    "K",
    "d_e",
    "word_ids",
    "sizes",
    "reference_seconds",
    "replace",
    "document",
    "embed",
    "forward",
    "forward_quantities",
    "output",
    "output_embedded",
    "output_scale",
    "output_magnitudes",
    "attention",
    "readout_attention",
    "hidden_states",
    "gradient",
    "gradient_embedded",
    "evaluator",
    "layer_norm_zeros",
)


@pytest.fixture(params=list(MODELS), ids=list(MODELS))
def model(request):
    return MODELS[request.param]


def test_both_families_implement_every_member():
    declared = {name for name in vars(AttentionClassifier) if not name.startswith("_")}
    declared |= set(vars(AttentionClassifier).get("__annotations__", {}))
    assert declared == set(MEMBERS)  # the list above is the whole protocol
    for family in (ONE_LAYER, PRE_NORM):
        assert isinstance(family, AttentionClassifier)
        missing = [name for name in MEMBERS if not hasattr(family, name)]
        assert not missing, f"{family.family} lacks {missing}"
    assert (ONE_LAYER.family, PRE_NORM.family) == ("one-layer", "encoder")
    assert not isinstance(object(), AttentionClassifier)  # the check can fail


def test_load_reads_every_format_and_refuses_an_unknown_arch(tmp_path):
    for name, family in (("m", ONE_LAYER), ("e", PRE_NORM)):
        family.save(tmp_path / f"{name}.npz")
        loaded = load(tmp_path / f"{name}.npz")
        assert type(loaded) is type(family) and np.array_equal(loaded.E, family.E)
    assert isinstance(load(tmp_path / "m.npz"), Model) and isinstance(load(tmp_path / "e.npz"), Encoder)
    np.savez(tmp_path / "x.npz", **{**PRE_NORM.arrays(), "arch": np.str_("gpt2")})
    with pytest.raises(InputError, match="arch='gpt2'"):
        load(tmp_path / "x.npz")


def test_document_structure_from_ids_text_and_document(model):
    doc = model.document(WORDS)
    assert doc.ids.tolist() == [0, *WORDS] + [1] * (model.T - 1 - len(WORDS)) and doc.length == len(WORDS)
    assert doc.words.tolist() == [2, 4, 6, 9] and doc.word_of.tolist() == [0, 1, 2, 0, 3]
    assert doc.tokens.tolist() == WORDS and doc.positions == list(range(len(WORDS) + 1))
    vocabulary = Vocabulary(TOKENS, 0, 1)
    read = model.document("good film not good a", vocabulary=vocabulary)
    assert read.ids.tolist() == doc.ids.tolist() and read.text == "good film not good a"
    assert model.document(read) is read
    with pytest.raises(InputError, match="needs a vocabulary"):
        model.document("good film")
    with pytest.raises(InputError, match="positions"):
        model.document(Document.of(np.zeros(model.T + 1, dtype=np.int64), 1))


def test_forward_members_agree(model):
    docs = np.stack([model.document(WORDS).ids, model.document([3, 5, 7]).ids])
    fw = model.forward(docs)
    X = model.embed(docs)
    assert np.array_equal(model.output(docs), fw.f) and np.array_equal(model.output_embedded(X), fw.f)
    attention = model.attention(docs)
    assert attention.shape[0] == 2 and attention.shape[2:] == (model.K, model.T, model.T)
    np.testing.assert_allclose(model.readout_attention(docs), attention[:, -1, :, 0, :], rtol=1e-14, atol=0)
    np.testing.assert_allclose(attention.sum(axis=-1), 1.0, rtol=1e-14)  # every row a distribution
    hidden = model.hidden_states(docs)
    if hidden is not None:
        assert hidden.shape[1] == attention.shape[1] + 1 and np.array_equal(hidden[:, 0], X)
    f, magnitude = model.output_magnitudes(docs)
    assert np.array_equal(f, fw.f) and np.all(np.abs(f) <= magnitude * (1 + 1e-12))
    assert abs(fw.f).max() <= model.output_scale(X) * (1 + 1e-12)
    names = [name for name, _ in model.forward_quantities(docs)]
    assert names[-1] == "model output f"


def test_gradient_is_the_derivative_of_f(model):
    """``∇_t = ∂f/∂e_t`` against central differences of ``f`` on embedded inputs (step 1e-6: error ~1e-10)."""
    doc = model.document(WORDS).ids[None]
    grad = model.gradient(doc)[0]
    X = model.embed(doc)
    assert np.array_equal(model.gradient_embedded(X)[0], grad)
    h = 1e-6
    numeric = np.empty_like(grad)
    for t in range(model.T):
        for k in range(model.d_e):
            step = np.zeros_like(X)
            step[0, t, k] = h
            numeric[t, k] = (model.output_embedded(X + step)[0] - model.output_embedded(X - step)[0]) / (2 * h)
    np.testing.assert_allclose(grad, numeric, rtol=0, atol=1e-7 * max(1.0, np.abs(grad).max()))


@pytest.mark.parametrize("semantics", ["replace", "delete", "mask:3", "zero"])
def test_evaluator_is_f_of_the_perturbed_documents(model, semantics):
    """``evaluate(Z)`` against documents built here: the words of ``z_j = 0`` removed, every occurrence."""
    doc = model.document(WORDS)
    Z = np.array([[1, 1, 1, 1], [0, 1, 1, 1], [1, 0, 0, 1], [0, 0, 0, 0]], dtype=float)
    got = evaluator(model, doc.ids, doc.length, semantics)(Z)
    X = model.embed(doc.ids[None])[0]
    for z, value in zip(Z, got):
        kept = [w for w in WORDS if z[doc.words.tolist().index(w)]]
        if semantics == "delete":
            want = (
                model.output(model.document(kept).ids[None])[0]
                if kept
                else model.output(np.array([[0] + [1] * (model.T - 1)]))[0]
            )
        elif semantics == "zero":
            built = X.copy()
            for t, w in enumerate(WORDS, 1):
                if not z[doc.words.tolist().index(w)]:
                    built[t] -= model.E[w]  # the token's embedding gone, its position's encoding kept
            want = model.output_embedded(built[None])[0]
        else:
            token = 1 if semantics == "replace" else 3
            ids = doc.ids.copy()
            ids[1 : len(WORDS) + 1] = [w if z[doc.words.tolist().index(w)] else token for w in WORDS]
            want = model.output(ids[None])[0]
        assert np.isclose(value, want, rtol=1e-12, atol=1e-14), (z, value, want)


def test_layer_norm_zeros_are_zero_gradient_sums():
    doc = PRE_NORM.document(WORDS)
    zeros = PRE_NORM.layer_norm_zeros(doc.length)
    assert zeros == list(range(1, doc.length + 1))  # residual, no final norm: CLS keeps Σ_k w_k
    sums = PRE_NORM.gradient(doc.ids[None])[0].sum(axis=1)
    assert np.abs(sums[zeros]).max() <= 1e-12 * np.abs(PRE_NORM.gradient(doc.ids[None])).max()
    assert ONE_LAYER.layer_norm_zeros(doc.length) == [] == POST_NORM.layer_norm_zeros(doc.length)


CHEAP = {
    "lime": {"samples": 64},
    "lime-inf": {},
    "shapley": {},
    "kernelshap": {},
    "smoothgrad": {"samples": 4},
    "clime": {"samples": 4},
}


def test_methods_of_each_family():
    assert set(METHODS) - set(methods_of(ONE_LAYER)) == {"rollout"}
    assert set(METHODS) - set(methods_of(PRE_NORM)) == {"eq19", "lime-large-d"}


@pytest.mark.parametrize("method", list(METHODS))
def test_every_method_returns_an_explanation_of_consistent_lengths(model, method):
    if method not in methods_of(model):
        with pytest.raises(InputError, match=f"not defined for {model.noun}"):
            explain(model, WORDS, method)
        return
    result = explain(model, WORDS, method, **CHEAP.get(method, {}))
    assert isinstance(result, Explanation) and result.method == method
    assert result.positions == list(range(len(WORDS) + 1)) and result.tokens == [0, *WORDS]
    if METHODS[method].unit == "word":
        assert result.unit == "word" and result.features == [2, 4, 6, 9]
    else:
        assert result.unit == "position" and result.features == result.positions
    assert len(result.scores) == len(result.features) and np.all(np.isfinite(result.scores))
    assert result.stderr is None or len(result.stderr) == len(result.scores)
    assert result.f == pytest.approx(model.output(model.document(WORDS).ids[None])[0], rel=1e-14, abs=0)
    as_json = result.to_json()
    assert as_json["scores_of"] == result.unit + "s" and len(as_json[as_json["scores_of"]]) == len(result.scores)
    json.dumps(as_json)


def test_the_method_call_and_explain_are_one_signature():
    text = [2, 4, 6, 2, 9]
    direct = METHODS["lime"](ONE_LAYER, text, semantics="replace", samples=64, seed=3)
    assert direct.to_json() == explain(ONE_LAYER, text, "lime", semantics="replace", samples=64, seed=3).to_json()
    assert direct.extras["semantics"] == "replace" and direct.extras["samples"] == 64 and direct.extras["seed"] == 3
    # one default per kind: LIME's kind deletes, the games replace
    assert explain(ONE_LAYER, text, "lime", samples=64).extras["semantics"] == "delete"
    assert explain(ONE_LAYER, text, "occlusion").extras["semantics"] == "replace"
    with pytest.raises(InputError, match="--samples does not apply to method 'occlusion'"):
        explain(ONE_LAYER, text, "occlusion", samples=8)


def test_an_encoder_explained_from_text_through_the_api_and_the_command_line(tmp_path, capsys):
    PRE_NORM.save(tmp_path / "enc.npz")
    (tmp_path / "v.txt").write_text("\n".join(TOKENS), encoding="utf-8")
    text = "good film. not good a"
    assert (
        main(
            [
                "explain",
                str(tmp_path / "enc.npz"),
                "--text",
                text,
                "--vocab",
                str(tmp_path / "v.txt"),
                "--method",
                "grad-l2,occlusion",
                "--json",
            ]
        )
        == 0
    )
    printed = json.loads(capsys.readouterr().out)
    vocabulary = Vocabulary(TOKENS, 0, 1)
    for result in printed:
        ours = explain(PRE_NORM, text, result["method"], vocabulary=vocabulary)
        assert ours.tokens == result["tokens"] == [0, 2, 4, 5, 6, 2, 9]
        assert ours.scores == result["scores"] and ours.f == result["f"]
        assert result["text"] == text


class Probe(Encoder):
    """A third family for the test: the encoder's computation under another name, without rollout's layers."""

    family = "probe"
    noun = "a probe"
    capabilities = frozenset()


def test_a_new_family_is_one_class_and_one_registration(tmp_path, monkeypatch):
    """Nothing outside a family asks which family a model is: a new class implementing the protocol, registered in
    FAMILIES, is loaded and explained with every method its capabilities allow."""
    import dataclasses

    import theory.models as models

    def read(arrays, where):
        encoder = Encoder.from_arrays({**arrays, "arch": np.str_("encoder")}, where)
        return Probe(**{field.name: getattr(encoder, field.name) for field in dataclasses.fields(Encoder)})

    monkeypatch.setitem(models.FAMILIES, "probe", read)
    np.savez(tmp_path / "p.npz", **{**PRE_NORM.arrays(), "arch": np.str_("probe")})
    probe = load(tmp_path / "p.npz")
    assert isinstance(probe, Probe) and isinstance(probe, AttentionClassifier)
    assert set(METHODS) - set(methods_of(probe)) == {"eq19", "lime-large-d", "rollout"}
    with pytest.raises(InputError, match="not defined for a probe"):
        explain(probe, WORDS, "rollout")
    for method in methods_of(probe):
        ours, encoder = (explain(m, WORDS, method, **CHEAP.get(method, {})) for m in (probe, PRE_NORM))
        assert ours.to_json() == encoder.to_json()  # the same computation, reached through the protocol only
