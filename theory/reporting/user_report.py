"""The report of ``attnverify run --model`` (docs/theory.md §11.3), led by what the model's user asks: which identities
hold on the model, where it sits on the regime map, how far Eq. (19) and the large-d limit are from LIME's
``β^∞`` on the documents, how often attention, the gradient and LIME disagree on the top word, and Figure 1
for the first document; then every claim's record, as in the main report (:func:`write_report`)."""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any, cast

import numpy as np

from theory.checking.population import Population
from theory.models.encoder import Encoder
from theory.models.one_layer import Model
from theory.models.vocabulary import Encoded
from theory.reporting.report import _error_cell, _population_lines, summary, write_atomically
from theory.running.runner import ERROR_MEASURE, NOT_APPLICABLE, SKIPPED, Record
from theory.studies import ExtraResult, figures, given_model, regimes

REPORT_DOCS = {"ci": 16, "thorough": 300}  # documents of the regime and disagreement measures
DRAWN_WORDS = 64  # longest text drawn for those measures when the user gives no documents


def report_documents(population: Population, profile: str, seed: int) -> dict[int, tuple]:
    """The documents the report's measures use: the first ``REPORT_DOCS[profile]`` of the user's, or as many
    texts drawn from the vocabulary by ``numpy.random.default_rng([seed, 13])`` (1..min(T−1, 64) words).

    Args:
        population: The user's model and documents.
        profile: The Hypothesis profile (its key in :data:`REPORT_DOCS`; ci's count for any other).
        seed: The run's seed.

    Returns:
        The documents' word ids (without CLS or padding) by key: the document's index, or the drawn text's.
    """
    n = REPORT_DOCS.get(profile, REPORT_DOCS["ci"])
    if population.docs is not None:
        return dict(enumerate(population.docs[:n]))
    rng = np.random.default_rng([seed, 13])
    model, words = population.model, population.model.word_ids
    lengths = rng.integers(1, min(model.T - 1, DRAWN_WORDS) + 1, n)
    return {i: tuple(int(w) for w in rng.choice(words, length)) for i, length in enumerate(lengths)}


CHECKS = ("identity", "bound", "limit")
FIGURE = "figures/fig1_first_document.png"


def _word(population: Population, token: int) -> str:
    return population.vocabulary[token] if population.vocabulary else str(token)


def _model_line(population, args: argparse.Namespace) -> str:
    model = population.model
    if model.family == "bert":
        what = f"{model.noun}: {model.sizes()}"
    elif population.encoder:
        what = (
            f"an encoder: L = {model.L} layers, K = {model.K} heads, d = {model.d_e}, d_att = {model.d_att}, "
            f"d_out = {model.d_out}, d_ff = {model.d_ff}, T = {model.T}, V = {model.V}, residual "
            f"{'on' if model.residual else 'off'}, LayerNorm {model.norm}, {model.activation}, positional "
            f"encoding {'on' if model.pe else 'off'}"
        )
    else:
        what = (
            f"the one-layer §2 model: V = {model.V}, d_e = {model.d_e}, K = {model.K}, d_att = {model.d_att}, "
            f"d_out = {model.d_out}, T = {model.T}, positional encoding {'on' if model.pe else 'off'}, scores "
            f"{'divided by √d_att' if model.scale else 'not divided by √d_att (scale = 0)'}"
        )
    documents = (
        f"its {len(population.docs)} documents from `{args.texts}`"
        if population.docs is not None
        else "word sequences Hypothesis drew from its vocabulary"
    )
    return (
        f"Model `{args.model}` (SHA-256 `{population.sha256}`), {what}. Every claim below ran on this model "
        f"alone and on {documents} (population `{population.name}`; each record carries the file's SHA-256)."
    )


def lead_section(
    population: Population,
    encoded: Sequence[Encoded],
    docs: dict[int, tuple],
    args: argparse.Namespace,
    records: dict[str, dict] | None = None,
) -> ExtraResult:
    """The measures of the report's lead (regime or Eq. (19) at the last layer, disagreement, Figure 1) on
    ``docs`` (key → word ids), set against the records of the same questions (``records``: claim id → record).

    Args:
        population: The user's model and documents.
        encoded: The encoded texts (empty without ``--texts``), whose out-of-vocabulary words and truncations
            the section reports.
        docs: The documents measured (:func:`report_documents`).
        args: The parsed ``run`` options (``--model``, ``--texts``, ``--vocab``, ``--oov``, ``--seed``).
        records: The run's records as dicts, by claim id (the claims asked the same questions).

    Returns:
        The section's Markdown (``### `` subsections), its files (Figure 1) and data (the measures, the documents,
        Figure 1's scores, what the OOV policy and truncation did).
    """
    model, seed, records = population.model, args.seed, records or {}
    if model.family == "bert":  # the regime map, Eq. (19) and Figure 1 are the §2 model's and the encoder's
        return ExtraResult(
            markdown="\n".join(
                [
                    _model_line(population, args),
                    "",
                    "The regime map, Eq. (19) and Figure 1 are measures of the one-layer "
                    "§2 model and of the encoder family; on a BERT-family model the bert.* claims are its statements "
                    "(docs/theory.md §13), and `attnverify explain` gives every method's scores per word.",
                ]
            ),
            files={},
            data={"documents": sorted(docs), "truncated_documents": 0},
        )
    regime: dict | None
    if population.encoder:  # the lead's measures are the family's (given_model's functions are per family)
        regime = given_model.encoder_regime(cast(Encoder, model), docs, seed, allow_unk=population.allow_unk)
    else:
        regime = given_model.regime(cast(Model, model), docs, seed, population.name, allow_unk=population.allow_unk)
    rates = None if regime is None else given_model.disagreement(model, regime)
    source = (
        f"the first {len(docs)} of the {len(population.docs)} documents of `{args.texts}` (tokenized with "
        f"torchtext's basic_english rules, vocabulary `{args.vocab}`, --oov {args.oov}), each whole and once"
        if population.docs is not None
        else f"{len(docs)} texts drawn from the model's vocabulary (numpy `default_rng([{seed}, 13])`, 1–"
        f"{min(model.T - 1, DRAWN_WORDS)} words each; no --texts given)"
    )
    lines = [_model_line(population, args)]
    unknown = sum(len(item.unknown) for item in encoded)
    dropped = sum(len(item.dropped) for item in encoded)
    cut = sum(1 for item in encoded if item.truncated)
    if unknown:
        lines += [
            "",
            f"**Warning: {unknown} out-of-vocabulary words were mapped to UNK (--oov unk, the authors' "
            "behaviour).** UNK is also the padding token and what LIME's removal writes, so to every "
            "explainer an unknown word looks exactly like a removed one: its scores are not about a word.",
        ]
    if dropped:
        lines += [
            "",
            f"{dropped} out-of-vocabulary words were dropped (--oov drop); with positional encoding the "
            "later words then sit at other positions than in the text.",
        ]
    if cut:
        lines += ["", f"{cut} documents were longer than T − 1 = {model.T - 1} words and were truncated (--truncate)."]
    if population.encoder:
        lines += ["", "### Eq. (19) at the last layer against LIME's β^∞", ""]
    else:
        lines += ["", "### Where the model sits on the regime map", ""]
    coverage = "drawn" if population.docs is None else "all" if len(docs) == len(population.docs) else "first"
    if regime is None or rates is None:  # rates are measured exactly when the regime is
        lines += [f"Not measured: none of {source} has two distinct words (LIME's β^∞ is not identified for d = 1)."]
    elif population.encoder:
        lines += _encoder_lines(regime, rates, source, seed, records.get("encoder.eq19_last_layer"), coverage)
    else:
        lines += _regime_lines(regime, rates, source, seed, records.get("lime.eq19"), coverage)
    if rates is not None and not population.encoder:
        lines += ["", *_witness_lines(rates, records.get("gradient.disagrees_with_attention"), population, docs)]
    figure, files = _figure1(population, docs, seed)
    lines += ["", "### Figure 1 on the first document", "", *figure]
    measured = {} if regime is None else {"left_out": regime["left_out"], "top_word_disagreement": rates}
    if regime is not None and population.encoder:
        measured["eq19_last_layer"] = {**regime["eq19_last_layer"], "verdict": regime["verdict"]}
    elif regime is not None:
        measured.update(
            regimes=regime["records"],
            summaries=regime["summaries"],
            unk_shift=regime["unk_shift"],
            temperature=regime["temperature"],
        )
    return ExtraResult(
        markdown="\n".join(lines),
        files=files,
        data={
            **measured,
            "documents": sorted(docs),
            "figure1": files.pop("data"),
            "oov": {"policy": args.oov, "unknown": unknown, "dropped": dropped},
            "truncated_documents": cut,
        },
    )


def _left_out(count: int) -> str:
    """The regime table's note on the documents it could not use (β^∞ needs two distinct words)."""
    if not count:
        return ""
    return (
        f" ({count} {'document' if count == 1 else 'documents'} with a single distinct word left out: β^∞ is "
        "not identified for d = 1)"
    )


def _encoder_lines(regime: dict, rates: dict, source: str, seed: int, claim: dict | None, coverage: str) -> list[str]:
    left_out = _left_out(regime["left_out"])
    e = regime["eq19_last_layer"]
    return [
        f"Measured on {source}{left_out}; β^∞ by exact enumeration (d ≤ 10) or stratified Monte Carlo (seed "
        f"{seed} + document number), lime's default ν = 0.25. Eq. (19) at the last layer: the last layer's CLS "
        "attention and value scores c_t = K·wᵀW_o^(i) v^(i,L)_t (claim `encoder.eq19_last_layer`), against β^∞ "
        f"under replace; verdict rule of the regime map (threshold {regimes.THRESHOLD:.0%}).",
        "",
        "| relative error ‖Eq19 − β^∞‖/‖β^∞‖: median ± SE | 90% quantile | max | verdict |",
        "|---|---|---|---|",
        f"| {e['median']:.3f} ± {e['se']:.3f} | {e['p90']:.3f} | {e['max']:.3f} | {regime['verdict']} |",
        "",
        *([] if claim is None else [_encoder_claim_line(claim, len(regime["instances"]), coverage), ""]),
        "### Do attention, the gradient and LIME agree on the top word?",
        "",
        f"Share of the {rates['documents']} documents where two explainers name different top words (attention: "
        "the last layer's CLS attention α averaged over heads; rollout: attention rollout, Abnar & Zuidema 2020; "
        "gradient: ‖∇_t‖₂ by backpropagation; a word's score is the sum over its occurrences; LIME: the largest "
        f"|β^∞_j| under {rates['semantics']}).",
        "",
        "| pair | disagree |",
        "|---|---|",
        *[f"| {pair} | {rate:.0%} |" for pair, rate in rates["rates"].items()],
    ]


def _distribution(record: dict) -> dict | None:
    """An approximation record's error over its distinct instances (:data:`theory.running.runner.ERROR_MEASURE`)."""
    return record["measures"].get(ERROR_MEASURE) if record["verdict"] == "measured" else None


def _reached(counts: str, documents: int, coverage: str) -> str:
    """Which documents a claim's draws reached, against the ``documents`` of the lead's table: ``coverage`` is
    ``"all"`` (the table holds every document of the population), ``"first"`` (the first of them) or ``"drawn"``
    (no documents given: the claim and the table draw their own texts)."""
    if coverage == "all":
        return f"reached {counts} of these {documents} documents"
    if coverage == "first":
        return f"reached {counts} distinct documents of yours (this table: your first {documents})"
    return f"reached {counts} distinct texts drawn from the vocabulary (this table: {documents} other drawn texts)"


def _encoder_claim_line(claim: dict, documents: int, coverage: str) -> str:
    """The claim ``encoder.eq19_last_layer`` set against the table above (on ``documents`` documents, see
    :func:`_reached`): the same error, on the documents its draws reached, each once."""
    e = _distribution(claim)
    if e is None:
        return f"The claim `encoder.eq19_last_layer` gave no measure here: {claim['verdict']}."
    reached = (
        f"reached every one of these {documents} documents, as this table does"
        if coverage == "all" and e["n"] == documents
        else _reached(str(e["n"]), documents, coverage)
    )
    return (
        f"The claim `encoder.eq19_last_layer` measures the same relative error on its own instances: its "
        f"{claim['examples']} Hypothesis draws {reached}, each counted once — median {e['median']:.3f}, "
        f"max {e['max']:.3f}; {claim['failing_examples']} of {e['n']} above its threshold {claim['tolerance']:g}"
        + (f" ({claim['scope']})" if claim.get("scope") else "")
        + "."
    )


def _why_not(population: Population, other: dict) -> str:
    why = other["why_not_a_witness"]
    if "same_token" in why:
        return (
            f"its top α-avg position and its top G-l2 position hold the same word, "
            f"{_word(population, why['same_token'])} (a word's scores summed over its occurrences rank it "
            "otherwise)"
        )
    return f"its top {' and '.join(why['within_margin'])} position is within 1% of the runner-up"


def _witness_lines(rates: dict, record: dict | None, population: Population, docs: dict) -> list[str]:
    """The claim gradient.disagrees_with_attention set against this report's documents: the same definition
    (top *position*, tokens different, both clear of the runner-up by 1%), and why verdict and measure differ
    when they do."""
    witnesses = rates["position_witnesses"]
    named = ", ".join(str(k + 1) for k in witnesses[:10]) + (" …" if len(witnesses) > 10 else "")
    lines = [
        f"By the definition of the claim `gradient.disagrees_with_attention` — the *position* with the largest "
        "α-avg and the one with the largest G-l2 hold different tokens, each clear of its runner-up by 1% — "
        f"{len(witnesses)} of these {rates['documents']} documents are witnesses"
        + (f" (document{'s' if len(witnesses) > 1 else ''} {named})" if witnesses else "")
        + "."
    ]
    others = rates["word_level_only"]
    if others:
        lines[-1] += (
            " The table above counts a document when the *words* with the largest summed scores differ, "
            "with no margin; these documents count there but are no witnesses:"
        )
        lines += [""] + [
            f"- document {o['document'] + 1}: top words {_word(population, o['attention'])} (attention) "
            f"and {_word(population, o['gradient'])} (gradient), but {_why_not(population, o)}"
            for o in others
        ]
    if record is None:
        return lines + ["", "(The claim was not run: `--only` left it out.)"]
    scope = f"; {record['scope']}" if record.get("scope") else ""
    lines += ["", f"The claim's record: **{record['verdict']}** over {record['examples']} Hypothesis draws{scope}."]
    if record["verdict"] == "not observed" and witnesses:
        why = (
            "it ran on prefixes of the documents (the scope above), a different input than the whole documents here"
            if " cut to " in record.get("scope", "")
            else f"its {record['examples']} draws did not include one of these documents"
            if population.docs is not None
            else "it drew its own texts from the vocabulary, not these"
        )
        lines += [f"They differ because {why}."]
    elif record["verdict"] == "witness found" and not witnesses:
        lines += [
            "They differ because the claim's witness is a document outside the first "
            f"{len(docs)} measured here: {record.get('counterexample')}."
        ]
    return lines


def _figure1(population, docs: dict, seed: int) -> tuple[list[str], dict]:
    """Every explanation method on the first document with two distinct words (LIME needs ``d ≥ 2``): a table,
    the figure, and its data under ``files["data"]``."""
    key = next((k for k in sorted(docs) if len(set(docs[k])) >= 2), None)
    if key is None:
        return ["Not drawn: no document has two distinct words (LIME needs d ≥ 2)."], {"data": None}
    first = docs[key]
    scores = given_model.explanations(population.model, first, seed, allow_unk=population.allow_unk)
    words = [_word(population, t) for t in first]
    lines = [
        (
            f"Document {key + 1}"
            + (" (the first with two distinct words)" if key != min(docs) else "")
            + f", every method of `attnverify explain` (seeded methods with seed {seed}); CLS left out."
        ),
        "",
        "| word | " + " | ".join(scores) + " |",
        "|---|" + "---|" * len(scores),
    ]
    lines += [f"| {w} | " + " | ".join(f"{scores[m][k]:+.3g}" for m in scores) + " |" for k, w in enumerate(words)]
    files: dict[str, Any] = {"data": {"document": key, "tokens": list(first), "words": words, "scores": scores}}
    if figures.available():
        files[FIGURE] = given_model.figure1_png(words, list(scores), scores, f"{population.name}, document {key + 1}")
        lines += ["", f"![Figure 1 on the first document]({FIGURE})"]
    return lines, files


def _regime_lines(regime: dict, rates: dict, source: str, seed: int, eq19: dict | None, coverage: str) -> list[str]:
    left_out = _left_out(regime["left_out"])
    lines = [
        f"Measured on {source}{left_out}; β^∞ by exact enumeration (d ≤ 10) or stratified Monte Carlo (seed "
        f"{seed} + document number), lime's default ν = 0.25; verdict rule of the regime map (threshold "
        f"{regimes.THRESHOLD:.0%}). The knobs: UNK shift δ (how much more attention UNK gets than the words, at "
        "the same position) and temperature (the spread of the words' scores); the regime map of the main report "
        "(`lime.regime_map`) shows where Eq. (19) and the large-d limit hold along them.",
        "",
        given_model.knob_sentence(regime, "this model"),
        "",
        "### Eq. (19) and the large-d limit against LIME's β^∞ on these documents",
        "",
        *given_model.regime_table(regime["summaries"]),
        "",
        "Eq. (19)'s 3/2 is right where the least-squares ratio ρ = ⟨β^∞, b⟩/‖b‖² (b = Eq. (19) without its 3/2) is "
        "1.5; the large-d limit is the suite's own result (docs/theory.md §8.4, replace semantics).",
    ]
    if eq19 is not None:
        from theory.claims.lime.limit_approx import RATIO

        ratios = {key[len(RATIO) :].strip(" ()"): v for key, v in eq19["measures"].items() if key.startswith(RATIO)}
        shown = "; ".join(
            f"{semantics}: median {v['median']:.3f} over {v['n']} distinct documents (min "
            f"{v['min']:.3f}, max {v['max']:.3f})"
            for semantics, v in sorted(ratios.items())
        )
        documents = len(regime["instances"])
        reached = _reached(
            " and ".join(f"{v['n']} (under {semantics})" for semantics, v in sorted(ratios.items())),
            documents,
            coverage,
        )
        scope = f"; {eq19['scope']}" if eq19.get("scope") else ""
        lines += [
            "",
            f"The claim `lime.eq19` measures the same ρ (same definition) on its own instances, each "
            f"document counted once per semantics — {shown or 'none'}. Its {eq19['examples']} Hypothesis draws "
            f"(a document, a semantics and a Monte Carlo seed each{scope}) {reached}: they are steered toward "
            "the largest relative error (`target`, how the approximation claims find their worst case), so "
            "they redraw badly approximated documents rather than reach every one. This table takes each of "
            f"its {documents} documents once under each semantics.",
        ]
    lines += [
        "",
        "### Do attention, the gradient and LIME agree on the top word?",
        "",
        f"Share of the {rates['documents']} documents where two explainers name different top words (attention: "
        "α averaged over heads; gradient: ‖∇_t‖₂; a word's score is the sum over its occurrences; LIME: the "
        f"largest |β^∞_j| under {rates['semantics']}).",
        "",
        "| pair | disagree |",
        "|---|---|",
        *[f"| {pair} | {rate:.0%} |" for pair, rate in rates["rates"].items()],
    ]
    return lines


HEADER = "| claim | kind | verdict | draws | max error | of each document |"
APPROXIMATIONS = "| claim | draws | distinct instances | error: median | max | above the threshold | of each document |"
DRAWS = (
    "*draws*: the instances Hypothesis drew; from a fixed set of documents it draws a document more than once, "
    "so draws can exceed the documents."
)


def _used(record: dict) -> str:
    return "part (see “Claims that used part of each document”)" if record.get("scope") else "all"


def _value(x: float) -> str:
    """An error as the lead section's tables show it (three decimals), in exponent form when that hides it."""
    return f"{x:.3f}" if 1e-3 <= abs(x) < 1e6 else f"{x:.3g}"


def _approximation_row(r: dict) -> str:
    e = _distribution(r)
    if e is None:
        return f"| `{r['id']}` | {r['examples']} | — | — | — | {r['verdict']} | {_used(r)} |"
    return (
        f"| `{r['id']}` | {r['examples']} | {e['n']} | {_value(e['median'])} | {_value(e['max'])} | "
        f"{r['failing_examples']} of {e['n']} (threshold {r['tolerance']:g}) | {_used(r)} |"
    )


def render(data: dict) -> str:
    """REPORT.md of a user-model run.

    Args:
        data: The run's summary (:func:`theory.reporting.report.summary`), its one extra the lead section.

    Returns:
        The Markdown text: the lead, which identities hold, the witnesses and approximations measured, the claims
        that do not apply or used part of each document, every claim's record, the environment.
    """
    lead = data["extras"][0]
    records = data["claims"]
    checks = [r for r in records if r["kind"] in CHECKS and r["verdict"] not in (NOT_APPLICABLE, SKIPPED)]
    observed = [r for r in records if r["kind"] not in CHECKS and r["verdict"] not in (NOT_APPLICABLE, SKIPPED)]
    absent = [r for r in records if r["verdict"] in (NOT_APPLICABLE, SKIPPED)]
    failing = [r for r in checks if r["verdict"] != "holds"]
    lines = [
        f"# attnverify report — {lead['title']}",
        "",
        f"Command: `{data['command']}` — profile "
        f"`{data['profile']}`, seed {data['seed']}, population `{data['population']}`.",
        "",
        lead["markdown"].split("\n### ")[0].strip(),
        "",
        "## Which identities hold on this model",
        "",
        (
            "No identity, bound or limit ran on this model: every one is n/a or skipped (the reasons are below)."
            if not checks
            else "Every identity, bound and limit holds on this model."
            if not failing
            else f"**{len(failing)} check(s) do not hold: {', '.join(r['id'] for r in failing)}.** They are exact "
            "statements about every model of the format (docs/theory.md §2): a failure means a bug in the suite or "
            "a model outside the format — report it with the counterexample below."
        ),
        "",
    ]
    if checks:
        lines += [HEADER, "|---|---|---|---|---|---|"]
        lines += [
            f"| `{r['id']}` | {r['kind']} | **{r['verdict']}** | {r['examples']} | {_error_cell(r)} | {_used(r)} |"
            for r in checks
        ]
    witnesses = [r for r in observed if r["kind"] != "approximation"]
    approximations = [r for r in observed if r["kind"] == "approximation"]
    if witnesses:
        lines += ["", "Witnesses searched for on this model:", "", HEADER, "|---|---|---|---|---|---|"]
        lines += [
            f"| `{r['id']}` | {r['kind']} | {r['verdict']} | {r['examples']} | {_error_cell(r)} | {_used(r)} |"
            for r in witnesses
        ]
    if approximations:
        lines += [
            "",
            "Approximations measured on this model: the error over the distinct instances the draws reached "
            "(a document, or the part of it the claim uses, with a semantics when the claim draws one: each "
            "counted once however often it was drawn; the draws are steered toward the largest error, so they "
            "need not reach every document):",
            "",
            APPROXIMATIONS,
            "|---|---|---|---|---|---|---|",
        ]
        lines += [_approximation_row(r) for r in approximations]
    if checks or observed:
        lines += ["", DRAWS]
    sections = lead["markdown"].split("\n### ")[1:]  # the lead's own sections (the regime map, Figure 1)
    lines += ["", "### " + "\n### ".join(sections).strip()] if sections else []
    lines += [
        "",
        "## Claims that do not apply",
        "",
        "Each reason says why the claim does not apply to this model (its family, its size, a premise it "
        "does not meet) or why the claim is not about a given model at all.",
        "",
    ]
    lines += [f"- `{r['id']}` — {r['verdict']}: {r['diagnosis']}" for r in absent]
    scoped = [r for r in records if r.get("scope")]
    if scoped:
        lines += [
            "",
            "## Claims that used part of each document",
            "",
            "These claims' references cost too much on whole documents (or their domain excludes some), so "
            "their verdicts are about what is stated here, not about the whole documents:",
            "",
        ]
        lines += [f"- `{r['id']}` — {r['scope']}" for r in scoped]
    lines += ["", "## Every claim on this model"]
    for r in records:
        lines += [
            "",
            f"### `{r['id']}` — {r['verdict']}",
            "",
            f"**Statement.** {r['statement']}",
            "",
            *([f"**Scope.** {r['scope']}.", ""] if r.get("scope") else []),
            *_population_lines(r, data["population"]),
        ]
    versions = ", ".join(f"{k} {v}" for k, v in data["versions"].items() if v)
    lines += ["", "## Environment", "", versions, ""]
    return "\n".join(lines)


def write_report(
    args: argparse.Namespace,
    argv: list[str] | None,
    out: Path,
    records: list[Record],
    population: Population,
    encoded: list[Encoded],
) -> None:
    """Write the report of ``run --model``: the lead section on ``population`` (:func:`lead_section`, computed here,
    with a progress line on stderr), then REPORT.md and summary.json into ``out``, all at once
    (:func:`theory.reporting.report.write_atomically`).

    Args:
        args: The parsed ``run`` options (``--model``, ``--texts``, ``--vocab``, ``--oov``, ``--profile``,
            ``--seed``), for the report's sources.
        argv: The command line's arguments (None: ``sys.argv``), for the report's command.
        out: The output folder.
        records: The claims' records on ``population``.
        population: The user's model and documents.
        encoded: The encoded texts (:class:`~theory.models.vocabulary.Encoded`; empty without ``--texts``), whose
            out-of-vocabulary words and truncations the lead section reports.

    Raises:
        OSError: The folder cannot be written (the previous reports are then untouched).
    """
    from theory.studies import Extra

    print(f"report on {population.name} …", end="", file=sys.stderr, flush=True)
    started = time.perf_counter()
    docs = report_documents(population, args.profile, args.seed)
    result = lead_section(population, encoded, docs, args, {r.id: r.as_dict() for r in records})
    runtime = time.perf_counter() - started
    print(f" done ({runtime:.1f} s)", file=sys.stderr)
    # the lead is computed above, not run as an extra: its entry has no run function
    item = Extra("model.report", "user", f"Your model: {args.model}", run=None)  # type: ignore[arg-type]
    data = summary(records, args.profile, args.seed, argv, [(item, result, runtime)], {})
    data["population"], data["model_sha256"] = population.name, population.sha256
    files = data.pop("_files")
    write_atomically(
        out, {**files, "summary.json": json.dumps(data, indent=2, ensure_ascii=False) + "\n", "REPORT.md": render(data)}
    )
