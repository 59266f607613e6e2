"""β^∞ (theory/explainers/lime_inf.py): bad input, the explain JSON, and the Monte Carlo on a text where it is exact."""

import json

import numpy as np
import pytest

import reference.explainers.lime_law as ref_law
from theory.checking.strategies.models import ModelSpec
from theory.cli.main import main
from theory.errors import InputError
from theory.explainers import lime_inf
from theory.models.one_layer import document
from theory.models.perturb import evaluator, f_perturbed


@pytest.fixture
def model():
    return ModelSpec(K=2, d_e=6, d_att=3, d_out=3, V=40, T=30, pe=True, score_scale=3.0, seed=7).build()


def test_bad_input(model):
    with pytest.raises(InputError, match="d = 0"):
        lime_inf.weighted_moments(0)
    with pytest.raises(InputError, match="d = 1"):
        lime_inf.beta_inf_table(np.zeros(2), 1)
    with pytest.raises(InputError, match="kernel width"):
        lime_inf.coefficients(5, nu=-1.0)
    with pytest.raises(InputError, match="singular in float64"):
        lime_inf.coefficients(2, nu=0.05)  # ψ(1) = exp(−200): the intercept is not identified in float64
    with pytest.raises(InputError, match="2\\^d"):
        lime_inf.beta_inf_table(np.zeros(7), 3)
    with pytest.raises(InputError, match="semantics"):
        lime_inf.beta_inf_model(model, document(model, [5, 6]), 2, semantics="drop")
    with pytest.raises(InputError, match="at least 20"):
        lime_inf.beta_inf_mc(lambda Z: Z.sum(axis=1), 12, 100)
    with pytest.raises(ValueError, match="not identified"):
        ref_law.beta_inf([0, 0], 1)


def test_d1_and_d0_on_the_command_line(tmp_path, model, capsys):
    path = tmp_path / "m.npz"
    model.save(path)
    assert main(["explain", str(path), "--tokens", "5,5", "--method", "lime-inf"]) == 2
    assert "d = 1" in capsys.readouterr().err
    assert main(["explain", str(path), "--tokens", "", "--method", "lime-inf"]) == 2


def test_explain_json_exact_and_monte_carlo(tmp_path, model, capsys):
    path = tmp_path / "m.npz"
    model.save(path)
    assert (
        main(["explain", str(path), "--tokens", "5,9,12,9", "--method", "lime-inf", "--semantics", "replace", "--json"])
        == 0
    )
    exact = json.loads(capsys.readouterr().out)
    assert exact["exact"] is True and exact["words"] == [5, 9, 12] and exact["samples"] == 8
    assert exact["semantics"] == "replace" and "stderr" not in exact
    tokens = ",".join(str(i) for i in range(2, 16))  # d = 14: Monte Carlo
    assert (
        main(
            [
                "explain",
                str(path),
                "--tokens",
                tokens,
                "--method",
                "lime-inf",
                "--samples",
                "4000",
                "--seed",
                "3",
                "--json",
            ]
        )
        == 0
    )
    mc = json.loads(capsys.readouterr().out)
    assert mc["exact"] is False and mc["seed"] == 3 and mc["semantics"] == "delete"
    assert len(mc["stderr"]) == len(mc["scores"]) == 14 and mc["intercept_stderr"] >= 0
    doc = document(model, list(range(2, 16)))
    beta = lime_inf.beta_inf_exact(model, doc, 14, semantics="delete")
    z = (np.array([mc["intercept"], *mc["scores"]]) - beta) / np.array([mc["intercept_stderr"], *mc["stderr"]])
    assert np.abs(z).max() < 6


def test_monte_carlo_is_exact_when_every_stratum_is_enumerated(model):
    doc = document(model, [5, 9, 12, 9, 7, 5])
    f = lambda Z: f_perturbed(model, doc, 6, Z, "delete")  # noqa: E731
    mc = lime_inf.beta_inf_mc(f, 4, 2000, seed=1)
    assert mc.exact_strata == 4 and np.all(mc.stderr == 0)
    np.testing.assert_allclose(
        mc.beta, lime_inf.beta_inf_exact(model, doc, 6, semantics="delete"), rtol=1e-9, atol=1e-12
    )


@pytest.mark.parametrize("d", [1, 2, 5, 6])
def test_subsets_given_s_are_uniform(d):
    """The Monte Carlo's subset sampler: exactly ``s`` words off, every one of the ``C(d, s)`` subsets equally
    likely (χ² at fixed seeds; both branches: the drawn ``k = min(s, d − s)`` words are the ones switched off
    or the ones kept)."""
    from math import comb

    from scipy.stats import chisquare

    for s in range(1, d + 1):
        cells = comb(d, s)
        Z = lime_inf._subsets(np.random.default_rng([d, s]), d, s, 200 * cells)
        assert np.all(Z.sum(axis=1) == d - s) and np.all((Z == 0) | (Z == 1))
        counts = np.unique(Z @ (1 << np.arange(d)), return_counts=True)[1]
        assert counts.size == cells
        assert cells == 1 or chisquare(counts).pvalue >= 1e-6


def test_evaluator_checks_the_width_of_z(model):
    """A ``Z`` with the wrong number of columns is an error, not values read out of bounds (compiled path)."""
    doc = document(model, [5, 6, 5, 9])
    for semantics in ("delete", "replace"):
        with pytest.raises(InputError, match="expected \\(n, 3\\)"):
            evaluator(model, doc, 4, semantics)(np.ones((2, 2)))
