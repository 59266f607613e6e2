"""No NaN or inf leaves the program: finite weights whose forward pass overflows float64 are refused with the
cause (exit 2), and a claim check that measures a non-finite error is the verdict ``error`` with its instance."""

import json

import numpy as np
import pytest
from hypothesis import strategies as st

from theory.checking.compare import Outcome
from theory.checking.strategies.models import ModelSpec
from theory.claims import Claim
from theory.cli.main import main
from theory.explainers.finite import NonFiniteError, finite_result
from theory.explainers.registry import METHODS, explain
from theory.models.one_layer import Model, document
from theory.running.runner import run_claim


def _claim(check, strategy):
    return Claim(
        id="test.nonfinite",
        section="§2",
        source="ours",
        kind="identity",
        statement="test",
        reference="test",
        strategy=strategy,
        check=check,
    )


@pytest.fixture
def model():
    return ModelSpec(K=2, d_e=4, d_att=3, d_out=2, V=20, T=8, pe=True, seed=5).build()


def _scaled(model, factor):
    return Model(
        model.E * factor, model.Wq, model.Wk, model.Wv, model.Wl, model.cls_id, model.unk_id, model.max_len, model.pe
    )


@pytest.mark.parametrize("method", sorted(set(METHODS) - {"rollout"}))  # the one-layer model's methods
def test_overflowing_forward_pass_is_refused_by_every_method(model, tmp_path, capsys, method):
    path = tmp_path / "big.npz"
    huge = _scaled(model, 1e200)
    assert np.all(np.isfinite(huge.E))  # the weights themselves are finite
    huge.save(path)
    assert main(["explain", str(path), "--tokens", "5,9,12", "--method", method, "--json"]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert "attention scores s_t overflow float64" in captured.err and "rescale" in captured.err
    assert len(captured.err.strip().splitlines()) == 1


def test_overflowing_values_are_named(model):
    # scores stay finite when only the value path is huge: W_v × 1e308 makes c_t overflow
    big_values = Model(
        model.E,
        model.Wq,
        model.Wk,
        model.Wv * 1e308,
        model.Wl * 1e308,
        model.cls_id,
        model.unk_id,
        model.max_len,
        model.pe,
    )
    with pytest.raises(NonFiniteError, match="value scores c_t overflow"):
        explain(big_values, [5, 9], "attention-avg")


def test_nan_produced_after_a_finite_forward_pass_is_refused(model):
    doc = document(model, [5, 9])
    with pytest.raises(NonFiniteError, match=r"scores\[1\] is nan although the forward pass"):
        finite_result("lime", model, doc, lambda: {"f": 0.5, "scores": [0.1, float("nan")]})
    with pytest.raises(NonFiniteError, match="intercept is inf"):
        finite_result("lime", model, doc, lambda: {"f": 0.5, "intercept": float("inf")})


def test_singular_system_is_refused(model):
    def singular():
        return {"scores": np.linalg.solve(np.zeros((2, 2)), np.ones(2)).tolist()}

    with pytest.raises(NonFiniteError, match="singular"):
        finite_result("lime-inf", model, document(model, [5, 9]), singular)


def test_finite_results_pass_unchanged(model, capsys, tmp_path):
    path = tmp_path / "m.npz"
    model.save(path)
    assert main(["explain", str(path), "--tokens", "5,9,12", "--method", "lime", "--samples", "50", "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert all(np.isfinite(result["scores"])) and np.isfinite(result["f"])


@pytest.mark.parametrize("bad", [float("nan"), float("inf")])
def test_non_finite_error_in_a_claim_is_an_error_with_its_instance(bad):
    record = run_claim(
        _claim(
            lambda n: Outcome(True, bad if n >= 3 else 0.0, 1e-12, "overflowed"), strategy=lambda: st.integers(0, 100)
        )
    )
    assert record.verdict == "error" and "non-finite error" in record.diagnosis
    assert record.counterexample == "3"  # the (shrunk) instance is shown


def test_infinite_error_of_a_failing_check_stays_a_failure():
    record = run_claim(
        _claim(
            lambda n: Outcome(n < 3, 0.0 if n < 3 else float("inf"), 1e-12, "infinitely wrong"),
            strategy=lambda: st.integers(0, 100),
        )
    )
    assert record.verdict == "fails" and record.counterexample == "3"
