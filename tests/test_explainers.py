"""Unit tests of the §6 explainers' interfaces: removal semantics parsing, the explain methods' JSON shape and
errors, the stopping rules of the estimators (the identities themselves are the §6 claims of theory/claims/)."""

from __future__ import annotations

import json

import numpy as np
import pytest

from theory.checking.strategies.models import Case, ModelSpec
from theory.cli.main import main
from theory.errors import InputError
from theory.explainers.ig import integrated_gradients
from theory.explainers.registry import explain
from theory.explainers.shapley import shapley_exact, shapley_mc
from theory.models import removal
from theory.models.perturb import f_perturbed

CASE = Case(ModelSpec(K=2, d_e=4, d_att=3, d_out=2, V=12, T=9, pe=True, score_scale=3.0, seed=11), (2, 5, 3, 5, 7, 4))


@pytest.mark.parametrize(
    "text, message",
    [
        ("mask:x", "integer"),
        ("mask:99", "not in the vocabulary"),
        ("mask:0", "may not be CLS"),
        ("unk", "unknown removal semantics"),
        (3, "must be a string"),
    ],
)
def test_bad_semantics_are_input_errors(text, message):
    with pytest.raises(InputError, match=message):
        removal.parse(text, CASE.model)


def test_mask_unk_is_replace_and_zero_keeps_only_the_positional_encoding():
    model, doc = CASE.model, CASE.doc
    Z = np.array([[1, 0, 1, 0, 1], [0, 0, 0, 0, 0.0]])
    assert np.array_equal(
        f_perturbed(model, doc, 6, Z, f"mask:{model.unk_id}"), f_perturbed(model, doc, 6, Z, "replace")
    )
    no_pe = ModelSpec(**{**CASE.spec.__dict__, "pe": False}).build()
    assert not np.any(removal.removed_embeddings(no_pe, "zero"))
    with pytest.raises(InputError, match="delete"):
        removal.removed_embeddings(model, "delete")


def test_permutation_estimator_reaches_its_target_and_is_seeded():
    model, doc = CASE.model, CASE.doc
    a = shapley_mc(model, doc, 6, semantics="delete", samples=4, seed=5, target=0.005)
    assert a.relative_se <= 0.005 and a.pairs >= 4
    b = shapley_mc(model, doc, 6, semantics="delete", samples=4, seed=5, target=0.005)
    assert np.array_equal(a.phi, b.phi)
    assert np.abs(a.phi - shapley_exact(model, doc, 6, semantics="delete")).max() <= 6 * a.stderr.max()


def test_ig_doubles_nodes_until_the_gap_is_below_tolerance():
    model, doc = CASE.model, CASE.doc
    coarse = integrated_gradients(model, doc, 6, baseline="zero", nodes=2)
    fine = integrated_gradients(model, doc, 6, baseline="zero", rtol=1e-13)
    assert coarse.gap > 1e-6 and fine.gap <= 1e-13 * 10 and fine.nodes > 2
    with pytest.raises(InputError, match="baseline"):
        integrated_gradients(model, doc, 6, baseline="delete")


@pytest.mark.parametrize(
    "method, options",
    [
        ("shapley", {"semantics": "zero"}),
        ("shapley", {"samples": 2}),
        ("kernelshap", {"semantics": "mask:3"}),
        ("occlusion", {}),
        ("ig", {"baseline": "mask:3"}),
        ("smoothgrad", {"sigma": 0.2, "samples": 8}),
        ("clime", {"samples": 8, "seed": 2}),
    ],
)
def test_explain_methods_shape(method, options):
    # shapley with 2 pairs: 2 + 2·2·4 = 18 evaluations, fewer than the 2^5 = 32 subsets, so it samples
    result = explain(CASE.model, CASE.tokens, method, **options).to_json()
    json.dumps(result)
    assert result["method"] == method and np.all(np.isfinite(result["scores"]))
    if method in ("shapley", "kernelshap", "occlusion"):
        assert len(result["scores"]) == len(result["words"]) == 5 and "intercept" in result
    else:
        assert len(result["scores"]) == len(result["positions"]) == 7
    if options.get("samples") and method != "kernelshap":
        assert len(result["stderr"]) == len(result["scores"])


def test_cli_explain_options(tmp_path, capsys):
    path = tmp_path / "m.npz"
    CASE.model.save(path)
    assert main(["explain", str(path), "--tokens", "2,5,3", "--method", "ig", "--baseline", "zero", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["baseline"] == "zero"
    assert main(["explain", str(path), "--tokens", "2,5,3", "--method", "occlusion", "--semantics", "mask:abc"]) == 2
    assert main(["explain", str(path), "--tokens", "2,5,3", "--method", "ig", "--sigma", "1"]) == 2
