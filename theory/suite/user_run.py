"""``attnverify run --model M.npz [--texts FILE --vocab V] [--out DIR]``: every claim about a *given* model on
the user's model and documents (docs/theory.md §11.3).

The population is ``model:<file stem>`` (:class:`theory.suite.population.Population`): the user's documents,
or — without ``--texts`` — word sequences Hypothesis draws from the model's vocabulary.  Each claim runs as
on the trained population (:func:`theory.suite.runner.run_claim`, the same strategies, example counts and
seed), so the committed fixture run through ``--model`` with its held-out texts gives the trained
population's records.  Claims about constructed models are ``n/a`` with their reason.  Then the report's lead
section (:mod:`theory.suite.user_report`): the model on the regime map, Eq. (19) and the large-d limit on the
documents, top-word disagreement and Figure 1 for the first document.
"""

from __future__ import annotations

import json
import sys
import time
from dataclasses import replace
from pathlib import Path

from theory.models.one_layer import Model
from theory.suite.population import Population, using

UNSATISFIABLE = ("no document of this population meets the claim's premise (its strategy keeps only documents "
                 "with enough distinct words, see the claim's trained-model strategy); give such documents to run it")


def population_of(args) -> tuple[Population, list]:
    """The user's population from ``--model`` and ``--texts``/``--vocab`` (and the encoded texts)."""
    from theory.suite.user_cli import encoded_texts

    model = Model.load(args.model)
    vocab, encoded = encoded_texts(args, model)
    encoded = encoded or []
    vocabulary = vocab.tokens if vocab else None
    docs = tuple(item.tokens for item in encoded) if encoded else None
    return Population(f"model:{Path(args.model).stem}", model, docs, allow_unk=args.oov == "unk",
                      vocabulary=vocabulary), encoded


def _without_pe():
    from theory.suite.strategies.trained import trained_perturbed_cases

    return trained_perturbed_cases()


#: claims that are n/a on the trained model for a property of *that* model (its ``trained`` reason), with the
#: condition under which they apply to a user's model and the strategy of its documents then
APPLIES_WHEN = {"model.delete_equals_replace_without_pe": (lambda model: not model.pe, _without_pe)}


def for_population(claim, population: Population):
    """``claim`` as it applies to ``population``: a claim of :data:`APPLIES_WHEN` whose condition the model
    meets gets its strategy."""
    condition, strategy = APPLIES_WHEN.get(claim.id, (None, None))
    return replace(claim, trained=strategy) if condition and condition(population.model) else claim


def command(args, claim_id: str) -> str:
    texts = f" --texts {args.texts} --vocab {args.vocab} --oov {args.oov}" if args.texts else ""
    return (f"attnverify run --model {args.model}{texts}{' --truncate' if args.truncate else ''} "
            f"--profile {args.profile} --seed {args.seed} --only {claim_id}")


def run_user_model(args, argv, claims) -> int:
    from theory.suite.output import check_folder, exclusive

    population, encoded = population_of(args)
    out = Path(args.out)
    if out.resolve() == Path("reports").resolve():  # never over the suite's own reports (the baseline)
        out = out / f"model-{Path(args.model).stem}"
    check_folder(out)
    with exclusive(out):
        return _run_user_model(args, argv, claims, population, encoded, out)


def _run_user_model(args, argv, claims, population, encoded, out) -> int:
    """The claims on the user's population and the report, while this process holds ``out``'s lock."""
    from theory.claims import Extra
    from theory.suite.report import summary, write_atomically
    from theory.suite.runner import NOT_APPLICABLE, finish_run, run_claim
    from theory.suite.user_report import lead_section, render, report_documents

    records = []
    for number, claim in enumerate(claims, 1):
        print(f"[{number}/{len(claims) + 1}] {claim.id} ({population.name}) …", end="", file=sys.stderr, flush=True)
        with using(population):
            record = run_claim(for_population(claim, population), args.profile, args.seed, population.name)
        record.command = command(args, claim.id)
        if record.verdict == "error" and record.diagnosis.startswith("hypothesis.errors.Unsatisfiable"):
            record.verdict, record.diagnosis = NOT_APPLICABLE, UNSATISFIABLE
        print(f" {record.verdict} ({record.examples} examples, {record.runtime:.1f} s)", file=sys.stderr)
        records.append(record)
    print(f"[{len(claims) + 1}/{len(claims) + 1}] report on {population.name} …", end="", file=sys.stderr, flush=True)
    started = time.perf_counter()
    result = lead_section(population, encoded, report_documents(population, args.profile, args.seed), args)
    runtime = time.perf_counter() - started
    print(f" done ({runtime:.1f} s)", file=sys.stderr)
    item = Extra("model.report", "user", f"Your model: {args.model}", run=None)
    data = summary(records, args.profile, args.seed, argv, [(item, result, runtime)], {})
    data["population"] = population.name
    files = data.pop("_files")
    write_atomically(out, {**files, "summary.json": json.dumps(data, indent=2, ensure_ascii=False) + "\n",
                           "REPORT.md": render(data)})
    return finish_run(records, out)
