"""Torch autograd as an external oracle for the closed-form gradients of ``theory.explainers.gradient`` (paper §4).

The torch module is the authors' architecture (``reference.oracles.torch_one_layer.AttentionClassifier``) built from the
same float64 parameters; autograd differentiates its output with respect to the embedded input
``X = E[ξ] + P`` (a leaf tensor), at every position, CLS included.

Agreement is measured as ``max |closed form − autograd| / magnitude``, where the magnitude of each entry is
the magnitude of the terms summed to produce it (``theory.explainers.gradient.magnitudes``: absolute values of every
weight, embedding and value score, times the amplification ``1 + max|s|`` of the softmax) — not the size of
the entry itself, which may cancel to ~0.  Both computations are float64, so the expected figure is a few ulp
(≈ 1e-16); the test requires ≤ 1e-12 (``theory.checking.compare.RTOL``) and prints the worst figure it saw.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings

torch = pytest.importorskip("torch", reason="torch oracle: pip install '.[oracles]'")

from reference.oracles.torch_one_layer import AttentionClassifier  # noqa: E402
from theory.checking.compare import RTOL  # noqa: E402
from theory.checking.strategies.models import Case, ModelSpec, cases  # noqa: E402
from theory.explainers.gradient import magnitudes  # noqa: E402
from theory.models.one_layer_gradient import authors_gradient, gradient  # noqa: E402

WORST = {"exact vs autograd": 0.0}


@pytest.fixture(scope="module", autouse=True)
def print_worst_agreement(request):
    """After the module: print the worst closed-form vs autograd figure seen (visible with ``-s`` or in the
    captured teardown output)."""
    yield
    line = f"[torch oracle] worst |closed form − autograd| / magnitude of the terms: {WORST['exact vs autograd']:.3e}"
    capture = request.config.pluginmanager.getplugin("capturemanager")
    if capture is None:
        print(line)
        return
    with capture.global_and_fixture_disabled():
        print("\n" + line)


def autograd_gradient(model, doc) -> np.ndarray:
    """``∇_{e_t} f`` for every position by torch autograd, shape (T, d_e)."""
    module = AttentionClassifier.from_npz_arrays(model)
    X = module.embed(torch.as_tensor(np.atleast_2d(doc))).detach().requires_grad_(True)
    module.forward_embedded(X)[0, 0].backward()
    return X.grad[0].numpy()


def relative_error(got, want, scale) -> float:
    return float((np.abs(got - want) / np.where(scale > 0, scale, 1.0)).max())


@given(cases())
def test_closed_form_matches_autograd(case):
    """Every position (CLS with its query path, words, padding), every coordinate, all strategy ranges
    (score scale up to 1000, K ≤ 4, d_e ≤ 16, T ≤ 32)."""
    exact = gradient(case.model, case.doc).grad[0]
    error = relative_error(exact, autograd_gradient(case.model, case.doc), magnitudes(case.model, case.doc)[0])
    WORST["exact vs autograd"] = max(WORST["exact vs autograd"], error)
    assert error <= RTOL, f"{case!r}: closed form vs autograd, error {error:.3e} (tolerance {RTOL:.0e})"


def test_authors_formula_at_cls_misses_the_query_path():
    """The authors' code applies the t ≥ 1 formula at t = 0.  Where the query path is not negligible
    (here: relative to the magnitude of the terms, above 1e-6), that value must *disagree* with autograd, and
    the disagreement must be exactly the query-path term; at t ≥ 1 the two coincide."""
    seen = {"instances": 0, "visible": 0}

    @settings(max_examples=60)
    @given(cases(score_scales=(0.3, 1.0, 3.0)))
    def prop(case):
        g = gradient(case.model, case.doc)
        auto = autograd_gradient(case.model, case.doc)
        scale = magnitudes(case.model, case.doc)[0]
        authors = authors_gradient(case.model, case.doc)[0]
        assert relative_error(authors[1:], auto[1:], scale[1:]) <= RTOL
        # autograd − authors' value is the missing term (to rounding)
        assert relative_error(auto[0] - authors[0], g.query_path[0], scale[0]) <= RTOL
        path = float((np.abs(g.query_path[0]) / scale[0]).max())
        seen["instances"] += 1
        if path > 1e-6:
            seen["visible"] += 1
            assert relative_error(authors[:1], auto[:1], scale[:1]) > 1e-6 * 0.5

    prop()
    # generic models have a visible query path: the check above is not vacuous
    assert seen["visible"] >= seen["instances"] // 2, seen


def test_authors_formula_fails_on_a_fixed_model():
    """A fixed model (seeded) where the missing term is a sizeable share of ∇_0 (a non-vacuous, fixed check)."""
    case = Case(ModelSpec(K=2, d_e=6, d_att=4, d_out=4, V=10, T=8, pe=True, seed=3), (2, 3, 4, 5, 3))
    auto = autograd_gradient(case.model, case.doc)
    authors = authors_gradient(case.model, case.doc)[0]
    share = np.linalg.norm(authors[0] - auto[0]) / np.linalg.norm(auto[0])
    assert share > 1e-2, share
    assert relative_error(gradient(case.model, case.doc).grad[0], auto, magnitudes(case.model, case.doc)[0]) <= RTOL


@pytest.mark.parametrize("seed", range(3))
def test_closed_form_matches_autograd_at_the_authors_size(seed):
    """T = 256, K = 6, d_e = 128, d_att = d_out = 64 (the authors' sizes), a 100-word text."""
    spec = ModelSpec(K=6, d_e=128, d_att=64, d_out=64, V=1000, T=256, pe=True, score_scale=3.0, seed=seed)
    tokens = tuple(np.random.default_rng(seed).integers(2, 1000, size=100).tolist())
    case = Case(spec, tokens)
    exact = gradient(case.model, case.doc).grad[0]
    error = relative_error(exact, autograd_gradient(case.model, case.doc), magnitudes(case.model, case.doc)[0])
    WORST["exact vs autograd"] = max(WORST["exact vs autograd"], error)
    assert error <= RTOL, error


@pytest.mark.parametrize("method", ["grad-avg", "grad-l1", "grad-l2", "grad-x-input"])
def test_explain_gradient_methods_match_autograd(method):
    """``attnverify explain --method grad-*``: same JSON shape as the other methods (positions 0..L), scores
    equal to the aggregates of the torch autograd gradient."""
    from theory.explainers.registry import explain
    from theory.models.one_layer import embed

    case = Case(ModelSpec(K=3, d_e=8, d_att=4, d_out=5, V=20, T=12, pe=True, seed=7), (4, 9, 4, 17, 2))
    result = explain(case.model, case.tokens, method).to_json()
    L = len(case.tokens)
    assert result["method"] == method and result["positions"] == list(range(L + 1))
    assert result["tokens"] == case.doc[: L + 1].tolist() and len(result["scores"]) == L + 1
    auto = autograd_gradient(case.model, case.doc)[: L + 1]
    X = embed(case.model, np.atleast_2d(case.doc))[0, : L + 1]
    want = {
        "grad-avg": auto.mean(axis=1),
        "grad-l1": np.abs(auto).sum(axis=1),
        "grad-l2": np.linalg.norm(auto, axis=1),
        "grad-x-input": (auto * X).sum(axis=1),
    }[method]
    np.testing.assert_allclose(result["scores"], want, rtol=1e-12, atol=1e-14)
