"""``attnverify run --model`` reports about the user's model only (docs/theory.md §7, issue 21):

* every record of a ``model:<name>`` population is computed on that model and its documents — no other model
  file is read while the claims run, every instance is one of the population's, every record carries the
  file's SHA-256 — and a claim that cannot run says why in terms of *this* model;
* a population is only drawn inside each claim's domain (no false failure from the suite's own sampling);
* a claim that uses part of each document says so, and the report sets the claims against its own measures;
* encoders go through the same path and run the depth claims;
* the run goes through the same runner as ``run`` (``--jobs`` gives the records of ``--jobs 1``).

The models are small random models built here: a MultiHead-style §2 model and an encoder, with a vocabulary
and a texts file, or without texts (Hypothesis draws word sequences).
"""

from __future__ import annotations

import hashlib
import json
import re
import warnings
from dataclasses import replace

import numpy as np
import pytest
from hypothesis import given, settings

from theory.checking.population import GivenCase, NotApplicable, Population, given_cases, using
from theory.checking.strategies.encoder import EncoderSpec
from theory.checking.strategies.models import ModelSpec
from theory.claims import REGISTRY, all_claims
from theory.cli.main import main
from theory.running.given import Scope
from theory.running.runner import ERROR_MEASURE, run_claim

WORDS = [
    "[cls]",
    "<unk>",
    "good",
    "bad",
    "film",
    "plot",
    "not",
    "great",
    ".",
    ",",
    "boring",
    "fun",
    "wonderful",
    "the",
    "a",
    "acting",
    "story",
    "was",
    "is",
    "very",
]
TEXTS = [
    "A good film, not boring.",
    "Bad plot.",
    "Fun, fun film.",
    "The acting was wonderful, the story is boring.",
    "Very bad acting, very boring plot.",
    "A great story.",
    "The film is not fun.",
    "Boring.",
]
#: what the repr of an instance of a model other than a given population's shows
OTHER_MODELS = re.compile(r"Spec\(|TrainedEncoderCase|Case\(spec=")
#: fixture- and suite-speak that a reason about a user's model must not contain
FIXTURE_WORDS = re.compile(
    r"trained|T = 256|sentiment|fixture|checked on random models|found on a random model", re.IGNORECASE
)


def _files(tmp_path, model, name: str):
    model.save(tmp_path / f"{name}.npz")
    (tmp_path / "vocab.txt").write_text("\n".join(WORDS), encoding="utf-8")
    (tmp_path / "texts.txt").write_text("\n".join(TEXTS) + "\n", encoding="utf-8")
    return str(tmp_path / f"{name}.npz"), [
        "--texts",
        str(tmp_path / "texts.txt"),
        "--vocab",
        str(tmp_path / "vocab.txt"),
    ]


def _one_layer(tmp_path):
    """A MultiHead-style §2 model (V = 20, T = 12, two heads, positional encoding)."""
    return _files(tmp_path, ModelSpec(K=2, d_e=6, d_att=4, d_out=3, V=len(WORDS), T=12, pe=True, seed=5).build(), "mh")


def _encoder(tmp_path):
    """A torch-expressible encoder (two post-norm layers, two heads, feed-forward, biases) at V = 20, T = 12."""
    spec = EncoderSpec(
        L=2,
        K=2,
        d=4,
        d_att=2,
        d_out=2,
        d_ff=4,
        V=len(WORDS),
        T=12,
        pe=True,
        residual=True,
        norm="post",
        biases=True,
        seed=3,
    )
    return _files(tmp_path, spec.build(), "enc")


def _draws(strategy, n: int) -> list:
    """``n`` instances Hypothesis draws from ``strategy`` (derandomized: the same every run)."""
    drawn = []

    @settings(derandomize=True, max_examples=n, database=None)
    @given(strategy)
    def collect(instance):
        drawn.append(instance)

    collect()
    return drawn


def _summary(folder) -> dict:
    return json.loads((folder / "summary.json").read_text())


@pytest.fixture
def loads(monkeypatch):
    """Every file ``numpy.load`` opens from now on (the model files, the committed fixtures …), with the caches of
    the committed fixtures emptied so that a use of them shows up as a load."""
    from theory.checking.population import trained_population
    from theory.sentiment.encoder_fixture import load_encoder_fixture
    from theory.sentiment.fixture import load_fixture

    opened, original = [], np.load
    for cached in (load_fixture, load_encoder_fixture, trained_population):
        cached.cache_clear()
    monkeypatch.setattr(
        np, "load", lambda file, *a, **k: (opened.append(str(getattr(file, "name", file))), original(file, *a, **k))[1]
    )
    yield opened
    for cached in (load_fixture, load_encoder_fixture, trained_population):
        cached.cache_clear()


def _only_the_user_s_model(data, path, opened, name):
    """Every record is of ``model:<name>``, carries the file's SHA-256 and names only that population's
    instances; every file read is the model's; n/a reasons are about it, not about a fixture."""
    digest = hashlib.sha256(open(path, "rb").read()).hexdigest()
    assert {str(p) for p in opened} <= {path}, opened
    assert data["population"] == f"model:{name}" and data["model_sha256"] == digest
    for r in data["claims"]:
        assert r["population"] == f"model:{name}" and r["model_sha256"] == digest, r["id"]
        for shown in (r["worst_instance"], r["counterexample"]):
            assert shown is None or "GivenCase(" in shown and not OTHER_MODELS.search(shown), (r["id"], shown)
        if r["verdict"] == "n/a":
            assert not FIXTURE_WORDS.search(r["diagnosis"]), r


# --- 1. a report about the user's model only --------------------------------------------------------------------


def test_one_layer_model_with_texts_only_touches_that_model(tmp_path, loads):
    """The broad run: every claim (~30 s on this model)."""
    model, texts = _one_layer(tmp_path)
    out = tmp_path / "report"
    assert main(["run", "--model", model, *texts, "--out", str(out), "--jobs", "1"]) == 0
    data = _summary(out)
    _only_the_user_s_model(data, model, loads, "mh")
    verdicts = {r["id"]: r for r in data["claims"]}
    assert verdicts["model.forward"]["verdict"] == verdicts["removal.fast_evaluators"]["verdict"] == "holds"
    assert verdicts["shapley.exact"]["verdict"] == "holds"
    # the encoder claims are about another family: n/a, with this model's description
    assert verdicts["encoder.matches_torch"]["verdict"] == "n/a"
    assert "model:mh is a one-layer §2 model (K = 2, d_e = 6" in verdicts["encoder.matches_torch"]["diagnosis"]
    assert "T = 12" in verdicts["ig.completeness"]["diagnosis"]
    assert "T·d_e = 12·6 = 72" in verdicts["clime.equals_smoothgrad"]["diagnosis"]
    assert "does not hold on model:mh" in verdicts["lime.equal_scores_exact"]["diagnosis"]
    # statements about any model, cheap at this size: checked on this one
    for claim in (
        "shapley.efficiency",
        "shapley.linear_in_model",
        "kernelshap.is_shapley",
        "attention.blind_to_values.shapley",
    ):
        assert verdicts[claim]["verdict"] == "holds" and verdicts[claim]["examples"] > 0, verdicts[claim]
    # the Monte Carlo counterexample is one fixed instance: what of it concerns this model (d ≤ 10 everywhere)
    assert verdicts["lime.beta_inf_monte_carlo.heavy_tails"]["diagnosis"].startswith(
        "every document of model:mh has at most 10 distinct words, so every β^∞ on it is enumerated exactly"
    )
    report = (out / "REPORT.md").read_text()
    assert "SHA-256 `" + data["model_sha256"] + "`" in report and "TrainedEncoderCase" not in report


def test_an_instance_of_another_model_is_an_error_not_a_verdict():
    """The guard of the run on a given population: a given-model strategy that draws from another population
    (here the same model under another name) gives an error naming the instance, never a verdict about the user's
    model."""
    model = ModelSpec(K=1, d_e=3, V=6, T=5, seed=2).build()
    mine, other = (Population(f"model:{name}", model, ((2, 3),), sha256="0" * 64) for name in ("mine", "other"))
    all_claims()
    with using(other):
        foreign = given_cases()
    record = run_claim(replace(REGISTRY["model.forward"], trained=lambda: foreign), population=mine)
    assert record.verdict == "error" and "is not drawn from model:mine" in record.diagnosis, record.diagnosis
    assert record.model_sha256 == "0" * 64


# --- 2. no false failure: the claims' domains -------------------------------------------------------------------


def test_random_model_without_texts_is_never_failed_by_the_suite_s_sampling(tmp_path):
    """The issue's model (V = 12, K = 2, T = 10, no --texts): lime.eq19 and lime.large_d_limit drew one-word
    texts (β^∞ is not identified for d = 1) and exited 1."""
    ModelSpec(K=2, d_e=4, d_att=3, d_out=2, V=12, T=10, pe=True, seed=1).build().save(tmp_path / "mine.npz")
    out = tmp_path / "r"
    assert (
        main(
            [
                "run",
                "--model",
                str(tmp_path / "mine.npz"),
                "--out",
                str(out),
                "--jobs",
                "1",
                "--only",
                "lime.eq19",
                "lime.large_d_limit",
                "lime.linear_in_model.beta_inf",
            ]
        )
        == 0
    )
    for r in _summary(out)["claims"]:
        assert r["verdict"] == "measured" or r["verdict"] == "holds", r
        assert "at least 2 distinct words" in r["scope"], r["scope"]


def test_documents_outside_the_domain_are_left_out_or_the_claim_is_not_applicable():
    model = ModelSpec(K=1, d_e=3, V=6, T=6, seed=2).build()
    mixed = Population("model:m", model, ((2,), (2, 2, 2), (2, 3), (4, 5, 4)), sha256="0" * 64)
    with using(mixed):
        at_least_two, distinct = given_cases(min_distinct=2), given_cases(min_distinct=2, repeats=False)
        assert {case.index for case in _draws(at_least_two, 60)} == {2, 3}
        assert {case.index for case in _draws(distinct, 20)} == {2}
        with pytest.raises(
            NotApplicable,
            match="none of the 4 documents of model:m has at least 3 distinct words among the first 3 words",
        ):
            given_cases(max_words=3, min_distinct=3)
    all_claims()
    record = run_claim(REGISTRY["lime.eq19"], population=Population("model:m", model, ((2,), (3, 3)), sha256="0" * 64))
    assert (
        record.verdict == "n/a"
        and "none of the 2 documents of model:m has at least 2 distinct words" in record.diagnosis
    ), record.diagnosis


def test_drawn_texts_meet_the_domain():
    model = ModelSpec(K=1, d_e=3, V=4, T=5, seed=2).build()  # two word ids
    drawn = Population("model:m", model, None, sha256="0" * 64)
    with using(drawn):
        texts = {case.tokens for case in _draws(given_cases(min_distinct=2), 40)}
        assert all(len(set(t)) >= 2 for t in texts)
        with pytest.raises(NotApplicable, match="model:m cannot hold a text of 3 distinct words"):
            given_cases(min_distinct=3)


# --- 3. no silent restriction -----------------------------------------------------------------------------------


def test_claims_and_report_measures_agree_or_say_why(tmp_path):
    model, texts = _one_layer(tmp_path)
    out = tmp_path / "r"
    assert (
        main(
            [
                "run",
                "--model",
                model,
                *texts,
                "--out",
                str(out),
                "--jobs",
                "1",
                "--only",
                "gradient.disagrees_with_attention",
                "lime.eq19",
                "reference.engines_agree",
            ]
        )
        == 0
    )
    data = _summary(out)
    records = {r["id"]: r for r in data["claims"]}
    lead = data["extras"][0]
    witnesses = lead["data"]["top_word_disagreement"]["position_witnesses"]
    disagree = records["gradient.disagrees_with_attention"]
    # small model: the claim ran on whole documents, like the report's measure, and they agree
    assert disagree["scope"] == "" and (disagree["verdict"] == "witness found") == bool(witnesses), (
        disagree,
        witnesses,
    )
    assert f"{len(witnesses)} of these {len(TEXTS)} documents are witnesses" in lead["markdown"]
    # every document the word-level table counts is a witness or is listed with why it is not one
    word_level = round(lead["data"]["top_word_disagreement"]["rates"]["attention vs gradient"] * len(TEXTS))
    others = lead["data"]["top_word_disagreement"]["word_level_only"]
    assert len(others) <= word_level <= len(others) + len(witnesses)
    assert all(f"- document {o['document'] + 1}: top words" in lead["markdown"] for o in others)
    # a claim that cut the documents says so, in its record and in the report
    engines = records["reference.engines_agree"]
    assert re.search(
        r"(1 of the \d+ documents used was cut to its|\d+ of the \d+ documents used were cut to their) "
        r"first 8 words",
        engines["scope"],
    ), engines["scope"]
    assert "1 of the T = 12 positions checked in each document" in engines["scope"], engines["scope"]
    report = (out / "REPORT.md").read_text()
    assert (
        "## Claims that used part of each document" in report
        and f"`reference.engines_agree` — {engines['scope']}" in report
    )
    # the two LS ratios: the claim's, per semantics, named as such in the report next to the table's
    ratios = [key for key in records["lime.eq19"]["measures"] if key.startswith("LS ratio")]
    assert ratios and all(key.endswith(("(delete)", "(replace)")) for key in ratios)
    assert "The claim `lime.eq19` measures the same ρ (same definition)" in report and "`target`" in report


def test_a_claim_on_prefixes_says_so_and_the_report_says_why_it_differs(tmp_path, monkeypatch):
    """When the reference is too costly for whole documents (here: forced), gradient.disagrees_with_attention
    runs on 4-word prefixes, and its record and the report say so."""
    from theory.running import given

    monkeypatch.setattr(given, "SECONDS_PER_INSTANCE", 0.0)
    model, texts = _one_layer(tmp_path)
    out = tmp_path / "r"
    assert (
        main(
            [
                "run",
                "--model",
                model,
                *texts,
                "--out",
                str(out),
                "--jobs",
                "1",
                "--only",
                "gradient.disagrees_with_attention",
            ]
        )
        == 0
    )
    record = _summary(out)["claims"][0]
    assert re.search(
        r"(the one document used was cut to its|\d+ of the \d+ documents used were cut to their) first 4 "
        "words",
        record["scope"],
    ), record["scope"]
    report = (out / "REPORT.md").read_text()
    assert f"over {record['examples']} Hypothesis draws; {record['scope']}" in report


def test_scope_says_how_many_of_what_in_plain_words():
    """One document cut is "its" prefix, several "their"; counts that vary are "3 or 4", never "3/4"."""
    model = ModelSpec(K=1, d_e=3, V=8, T=8, seed=2).build()
    population = Population("model:m", model, ((2, 3, 4, 5, 6), (2, 3), (4, 5, 6, 7, 2)), sha256="0" * 64)
    scope = Scope(population)
    scope.add(GivenCase(0, 3, positions=(1,), population=population))
    scope.add(GivenCase(1, 3, positions=(1,), population=population))
    assert scope.describe([]) == (
        "1 of the 2 documents used was cut to its first 3 words, and the model ran on that "
        "prefix as a document of its own; 1 of the T = 8 positions checked in each document"
    )
    scope.add(GivenCase(2, 4, positions=(1, 2), coordinates=(0,), population=population))
    assert scope.describe([]) == (
        "2 of the 3 documents used were cut to their first 3 or 4 words, and the model ran "
        "on each prefix as a document of its own; 1 or 2 of the T = 8 positions checked in "
        "each document; 1 of the d_e = 3 embedding coordinates checked at each checked "
        "position"
    )


def test_an_approximation_reports_the_error_of_the_report_s_table(tmp_path):
    """encoder.eq19_last_layer measured every document (each ≤ 10 words: whole) once, as the lead table does: the
    claim's median and max are the table's, in the report's row and in the line under the table (it used to stop
    at its first document above the threshold: 2 draws, max 1.83, against the table's 23.03)."""
    model, texts = _encoder(tmp_path)
    out = tmp_path / "r"
    assert (
        main(["run", "--model", model, *texts, "--out", str(out), "--jobs", "1", "--only", "encoder.eq19_last_layer"])
        == 0
    )
    data = _summary(out)
    record, lead = data["claims"][0], data["extras"][0]["data"]["eq19_last_layer"]
    spread = record["measures"][ERROR_MEASURE]
    assert record["scope"] == "" and spread["n"] == len(TEXTS), (record["scope"], spread)
    assert spread["median"] == pytest.approx(lead["median"], rel=1e-12)
    assert spread["max"] == pytest.approx(lead["max"], rel=1e-12) == record["max_error"]
    report = (out / "REPORT.md").read_text()
    row = next(line for line in report.splitlines() if line.startswith("| `encoder.eq19_last_layer` |"))
    assert f"| {lead['median']:.3f} | {lead['max']:.3f} | {record['failing_examples']} of {len(TEXTS)} " in row, row
    assert f"| {lead['median']:.3f} ± " in report
    assert (
        f"reached every one of these {len(TEXTS)} documents, as this table does, each counted once — median "
        f"{lead['median']:.3f}, max {lead['max']:.3f}"
    ) in report


@pytest.mark.parametrize("family", [_one_layer, _encoder])
def test_an_overflowing_model_is_refused_before_anything_runs(tmp_path, capsys, family):
    """Weights scaled by 1e150: the scores overflow float64.  Refused with one line and exit 2 before any claim
    runs — no numpy warning, no folder written (it used to run every claim into `error` and die in the report)."""
    model, texts = family(tmp_path)
    arrays = dict(np.load(model))
    for key in arrays:
        if key == "E" or key.startswith("W"):
            arrays[key] = arrays[key] * 1e150
    np.savez(tmp_path / "big.npz", **arrays)
    out = tmp_path / "r"
    given = texts if family is _encoder else []
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        code = main(
            [
                "run",
                "--model",
                str(tmp_path / "big.npz"),
                *given,
                "--out",
                str(out),
                "--jobs",
                "1",
                "--only",
                "model.forward",
                "gradient.closed_form",
                "lime.eq19",
                "encoder.forward",
            ]
        )
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1 and err[0].startswith("attnverify: error: model:big: the "), err
    assert "overflow float64 on " + ("document 1" if given else "the text of word ids [2, 3") in err[0], err
    assert "nothing was run or written" in err[0] and not caught and not out.exists()


# --- 4. encoders ------------------------------------------------------------------------------------------------

ENCODER_CLAIMS = [
    "encoder.forward",
    "encoder.gradient",
    "encoder.matches_torch",
    "encoder.eq19_last_layer",
    "encoder.reduces_to_one_layer",
    "model.forward",
    "lime.sampling_law",
]


def test_encoder_with_texts_runs_the_depth_claims_on_it(tmp_path, loads):
    pytest.importorskip("torch", reason="encoder.matches_torch needs torch: pip install '.[import]'")
    model, texts = _encoder(tmp_path)
    out = tmp_path / "r"
    assert main(["run", "--model", model, *texts, "--out", str(out), "--jobs", "1", "--only", *ENCODER_CLAIMS]) == 0
    data = _summary(out)
    _only_the_user_s_model(data, model, loads, "enc")
    verdicts = {r["id"]: r for r in data["claims"]}
    for claim in ("encoder.forward", "encoder.gradient", "encoder.matches_torch"):
        assert verdicts[claim]["verdict"] == "holds" and verdicts[claim]["examples"] >= len(TEXTS) - 1, verdicts[claim]
    assert verdicts["encoder.eq19_last_layer"]["verdict"] == "measured"
    assert "model:enc is an encoder (L = 2, K = 2, d = 4" in verdicts["model.forward"]["diagnosis"]
    assert "is an encoder already" in verdicts["encoder.reduces_to_one_layer"]["diagnosis"]
    report = (out / "REPORT.md").read_text()
    assert "an encoder: L = 2 layers" in report and "### Eq. (19) at the last layer against LIME's β^∞" in report


def test_encoder_without_texts(tmp_path):
    model, _ = _encoder(tmp_path)
    out = tmp_path / "r"
    assert (
        main(
            [
                "run",
                "--model",
                model,
                "--out",
                str(out),
                "--jobs",
                "1",
                "--only",
                "encoder.forward",
                "encoder.rollout_vs_posthoc",
            ]
        )
        == 0
    )
    records = {r["id"]: r for r in _summary(out)["claims"]}
    assert records["encoder.forward"]["verdict"] == "holds"
    assert records["encoder.forward"]["worst_instance"].startswith("GivenCase(drawn=(")
    assert "at least 3 distinct words and no repeated word" in records["encoder.rollout_vs_posthoc"]["scope"]


# --- 5. one run path --------------------------------------------------------------------------------------------


def test_jobs_gives_the_records_of_one_job(tmp_path):
    model, texts = _one_layer(tmp_path)
    only = ["model.forward", "lime.eq19", "encoder.forward"]
    for jobs in ("1", "2"):
        assert (
            main(["run", "--model", model, *texts, "--out", str(tmp_path / jobs), "--jobs", jobs, "--only", *only]) == 0
        )
    serial, parallel = (_summary(tmp_path / jobs)["claims"] for jobs in ("1", "2"))
    for record in (*serial, *parallel):
        record.pop("runtime")
    assert serial == parallel


def test_jobs_and_scheduler_take_the_user_s_population(tmp_path, monkeypatch):
    """run --model hands its population to the parallel runner (which --scheduler uses too) as the population of
    every claim task."""
    from theory.running import parallel

    seen = {}

    def run_elsewhere(runs, extras, profile, seed, jobs, scheduler):
        seen.update(runs=runs, extras=extras, jobs=jobs, scheduler=scheduler)
        raise KeyboardInterrupt

    monkeypatch.setattr(parallel, "run_elsewhere", run_elsewhere)
    model, texts = _one_layer(tmp_path)
    assert (
        main(
            [
                "run",
                "--model",
                model,
                *texts,
                "--out",
                str(tmp_path / "r"),
                "--jobs",
                "3",
                "--scheduler",
                "tcp://nowhere:1",
                "--only",
                "model.forward",
            ]
        )
        == 130
    )
    assert seen["jobs"] == 3 and seen["scheduler"] == "tcp://nowhere:1"
    [(claim, population)] = seen["runs"]
    assert claim.id == "model.forward" and population.name == "model:mh" and population.sha256 is not None
    assert seen["extras"] == []
