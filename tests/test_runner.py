"""The runner itself: a false claim is reported as failing with a shrunk counterexample, a broken forward
pass is caught by ``model.forward``, and an existence search returns a shrunk witness."""

import statistics
from dataclasses import dataclass

from hypothesis import strategies as st

import theory.models.one_layer
from theory.checking.compare import Outcome
from theory.checking.strategies.models import cases
from theory.claims import REGISTRY, Claim, all_claims
from theory.running.runner import given_examples, run_claim


def _claim(check, strategy=cases, **kw):
    return Claim(
        id="test.claim",
        section="§2",
        source="ours",
        kind=kw.pop("kind", "identity"),
        statement="test",
        reference="test",
        strategy=strategy,
        check=check,
        **kw,
    )


def test_false_claim_fails_with_minimal_counterexample():
    record = run_claim(_claim(lambda case: Outcome(case.spec.K < 3, float(case.spec.K), 2.0, "K too big")))
    assert record.verdict == "fails"
    assert "K=3," in record.counterexample and "d_e=2," in record.counterexample
    assert record.failing_examples >= 1 and record.diagnosis == "K too big"


def test_crashing_check_is_an_error_with_its_instance():
    def check(case):
        raise ZeroDivisionError("boom")

    record = run_claim(_claim(check))
    assert record.verdict == "error" and "boom" in record.diagnosis and record.counterexample


def test_existence_search_returns_shrunk_witness():
    record = run_claim(
        _claim(lambda n: Outcome(n >= 17, 0.0, 1.0), strategy=lambda: st.integers(0, 1000), kind="witness", exists=True)
    )
    assert record.verdict == "witness found" and record.counterexample == "17"


def test_forward_without_sqrt_d_att_is_caught(monkeypatch):
    original = theory.models.one_layer.scores_and_values

    def broken(X, Wq, Wk, Wv, Wl, score_factor):
        return original(X, Wq, Wk, Wv, Wl, 1.0)  # drops the 1/√d_att

    monkeypatch.setattr(theory.models.one_layer, "scores_and_values", broken)
    all_claims()
    record = run_claim(REGISTRY["model.forward"])
    assert record.verdict == "fails"
    assert "d_att=2" in record.counterexample
    assert "float64" in record.diagnosis and "mpmath" in record.diagnosis


def test_same_seed_same_record():
    all_claims()
    first, second = (run_claim(REGISTRY["model.forward"], seed=7).as_dict() for _ in range(2))
    first.pop("runtime"), second.pop("runtime")
    assert first == second


def test_instances_do_not_depend_on_the_local_modules_loaded(tmp_path, monkeypatch):
    """Hypothesis would draw constants from the source of the local modules loaded at the time;
    theory/checking/profiles.py empties that pool.  Importing a local module full of constants leaves it empty,
    and Hypothesis' provider still takes its constants from the function that is replaced."""
    import inspect

    from hypothesis.internal.conjecture import providers

    import theory.checking.profiles  # noqa: F401  (applies the replacement)

    (tmp_path / "many_constants.py").write_text("VALUES = [987654, 0.123456789, 'a local string']\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    import many_constants  # noqa: F401

    pool = providers._get_local_constants()
    assert not (pool.integers or pool.floats or pool.strings or pool.bytes)
    assert "_get_local_constants()" in inspect.getsource(providers.HypothesisProvider)


def test_given_budget_scales_documents_above_ci_only():
    """A claim with given_budget 0.5 checks the ci count of documents under ci (16) and half of thorough's
    (80 of 160); the full budget checks all of thorough's."""
    full, half = _claim(lambda case: None), _claim(lambda case: None, given_budget=0.5)
    assert given_examples(full, "ci") == given_examples(half, "ci") == 16
    assert given_examples(full, "thorough") == 160
    assert given_examples(half, "thorough") == 80


def test_approximation_is_measured_on_every_instance():
    """An approximation's search never stops at an instance above its threshold: every draw is checked, the error
    distribution is over all of them, and the record counts the instances above the threshold (this test's own
    tally of what the check saw)."""
    seen = {}

    def check(n):
        seen[n] = n / 1000
        return Outcome(n <= 500, n / 1000, 0.5, f"n = {n}")

    record = run_claim(_claim(check, strategy=lambda: st.integers(0, 1000), kind="approximation"))
    errors = sorted(seen.values())
    assert record.verdict == "measured" and record.counterexample is None and record.shrink_steps == 0
    assert record.examples == 100 and len(seen) > 50
    assert record.failing_examples == sum(e > 0.5 for e in errors) > 0
    assert record.max_error == errors[-1]
    spread = record.measures["error against the threshold, each distinct instance once"]
    assert spread["n"] == len(errors) and spread["min"] == errors[0] and spread["max"] == errors[-1]


@dataclass(frozen=True)
class _Drawn:
    document: int
    semantics: str
    seed: int  # a Monte Carlo seed: the same document and semantics again


def test_approximation_counts_each_document_and_semantics_once():
    """The steered search redraws its worst document with other seeds; the distribution counts each document and
    semantics once (the error of a document is set here, and the median is this test's over the distinct ones)."""
    errors = {(k, s): 0.01 * (k + 1) * (2 if s == "delete" else 1) for k in range(6) for s in ("delete", "replace")}
    drawn = []

    def check(case):
        drawn.append((case.document, case.semantics))
        error = errors[case.document, case.semantics]
        return Outcome(True, error, 0.05, "", measures={f"relative error ({case.semantics})": error})

    strategy = st.builds(_Drawn, st.integers(0, 5), st.sampled_from(("delete", "replace")), st.integers(0, 2**31))
    record = run_claim(_claim(check, strategy=lambda: strategy, kind="approximation"))
    distinct = set(drawn)
    assert record.examples == len(drawn) > len(distinct)
    spread = record.measures["error against the threshold, each distinct instance once"]
    assert spread["n"] == len(distinct)
    assert spread["median"] == statistics.median(errors[key] for key in distinct)
    assert record.failing_examples == sum(errors[key] > 0.05 for key in distinct)
    for semantics in ("delete", "replace"):
        assert record.measures[f"relative error ({semantics})"]["n"] == sum(s == semantics for _, s in distinct)


def test_hypothesis_prints_a_given_case_by_its_repr():
    """Hypothesis' printer (used for a witness or counterexample) shows a held-out document as its repr, not as
    its population's model arrays (it printed 994 kB per trained witness, with a HypothesisWarning)."""
    from hypothesis.vendor.pretty import pretty

    from theory.checking.population import GivenCase

    assert pretty(GivenCase(index=668, max_words=4)) == "GivenCase(index=668, max_words=4)"
