"""The BERT family's oracle claims (``bert.lime_matches_lime_package``, ``bert.shapley_matches_shap``,
``bert.ig_matches_captum``) hold on one fixed model of every architecture and readout with a text of repeated,
multi-piece and out-of-vocabulary words, and fail when the suite's side computes something else: LIME under ``pad``
instead of ``delete``, Shapley values under ``unk`` and ``mask`` swapped, IG from the ``[MASK]`` baseline instead
of ``[PAD]``."""

import pytest

for _package in ("lime", "sklearn", "shap", "captum", "torch", "transformers", "tokenizers"):
    pytest.importorskip(_package)

from theory.checking.strategies.bert import BertSpec  # noqa: E402
from theory.claims import bert as claims  # noqa: E402

ARCHS = [("bert", "native"), ("bert", "mean"), ("distilbert", "native"), ("roberta", "native"), ("roberta", "mean")]
CHECKS = {
    "lime": (claims.check_lime_matches_lime_package, ("the", "unbelievable", "zebra", "the")),
    "shap": (claims.check_shapley_matches_shap, ("great", "zebra", "the", "bad")),
    "captum": (claims.check_ig_matches_captum, ("unable", "movie", "unable")),
}


def _case(arch, readout, words):
    spec = BertSpec(arch, readout, layers=2, heads=2, d=8, ffn=4, activation="gelu_new", V=12, seed=5)
    return claims.TextCase(spec, words, klass=1, seed=11)


@pytest.mark.parametrize("arch, readout", ARCHS)
@pytest.mark.parametrize("oracle", CHECKS)
def test_oracle_claims_hold(arch, readout, oracle):
    check, words = CHECKS[oracle]
    outcome = check(_case(arch, readout, words))
    assert outcome.holds, outcome.detail


def _wrong(model, method, options):
    """The suite's explanation under the wrong semantics: LIME pad, Shapley unk ↔ mask, IG's [MASK] baseline."""
    if method == "lime":
        return {**options, "semantics": "pad"}
    if method == "shapley":
        return {**options, "semantics": {"mask": "unk", "unk": "mask"}[options["semantics"]]}
    return {**options, "baseline": f"mask:{model.tokenizer.mask_id}"}


@pytest.mark.parametrize("oracle", CHECKS)
def test_oracle_claims_fail_on_the_wrong_semantics(monkeypatch, oracle):
    explain = claims.explain
    monkeypatch.setattr(
        claims, "explain", lambda model, text, method, **o: explain(model, text, method, **_wrong(model, method, o))
    )
    check, words = CHECKS[oracle]
    outcome = check(_case("bert", "native", words))
    assert not outcome.holds, outcome.detail
