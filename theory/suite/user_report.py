"""The report of ``attnverify run --model`` (docs/theory.md §11.3), led by what the model's user asks: which identities
hold on the model, where it sits on the regime map, how far Eq. (19) and the large-d limit are from LIME's
``β^∞`` on the documents, how often attention, the gradient and LIME disagree on the top word, and Figure 1
for the first document; then every claim's record, as in the main report."""

from __future__ import annotations

import numpy as np

from theory.claims import ExtraResult
from theory.suite import figures, given_model, regimes
from theory.suite.population import Population
from theory.suite.report import _error_cell, _population_lines
from theory.suite.runner import NOT_APPLICABLE, SKIPPED

REPORT_DOCS = {"ci": 16, "thorough": 300}  # documents of the regime and disagreement measures
DRAWN_WORDS = 64  # longest text drawn for those measures when the user gives no documents


def report_documents(population: Population, profile: str, seed: int) -> dict[int, tuple]:
    """The documents the report's measures use: the first ``REPORT_DOCS[profile]`` of the user's, or as many
    texts drawn from the vocabulary by ``numpy.random.default_rng([seed, 13])`` (1..min(T−1, 64) words)."""
    n = REPORT_DOCS.get(profile, REPORT_DOCS["ci"])
    if population.docs is not None:
        return dict(enumerate(population.docs[:n]))
    rng = np.random.default_rng([seed, 13])
    model, words = population.model, population.model.word_ids
    lengths = rng.integers(1, min(model.T - 1, DRAWN_WORDS) + 1, n)
    return {i: tuple(int(w) for w in rng.choice(words, length)) for i, length in enumerate(lengths)}


CHECKS = ("identity", "bound", "limit")
FIGURE = "figures/fig1_first_document.png"


def _word(population, token: int) -> str:
    return population.vocabulary[token] if population.vocabulary else str(token)


def lead_section(population, encoded, docs: dict, args) -> ExtraResult:
    """The measures of the report's lead (regime, disagreement, Figure 1) on ``docs`` (key → word ids)."""
    model, seed = population.model, args.seed
    regime = given_model.regime(model, docs, seed, population.name, allow_unk=population.allow_unk)
    rates = None if regime is None else given_model.disagreement(model, regime)
    source = (f"the first {len(docs)} of the {len(population.docs)} documents of `{args.texts}` (tokenized with "
              f"torchtext's basic_english rules, vocabulary `{args.vocab}`, --oov {args.oov})"
              if population.docs is not None else
              f"{len(docs)} texts drawn from the model's vocabulary (numpy `default_rng([{seed}, 13])`, 1–"
              f"{min(model.T - 1, DRAWN_WORDS)} words each; no --texts given)")
    lines = [
        f"Model `{args.model}`: V = {model.V}, d_e = {model.d_e}, K = {model.K}, d_att = {model.d_att}, "
        f"d_out = {model.d_out}, T = {model.T}, positional encoding {'on' if model.pe else 'off'}, scores "
        f"{'divided by √d_att' if model.scale else 'not divided by √d_att (scale = 0)'}. The claims ran on "
        + (f"its {len(population.docs)} documents from `{args.texts}`" if population.docs is not None
           else "word sequences Hypothesis drew from its vocabulary") + f" (population `{population.name}`).",
    ]
    unknown = sum(len(item.unknown) for item in encoded)
    dropped = sum(len(item.dropped) for item in encoded)
    cut = sum(1 for item in encoded if item.truncated)
    if unknown:
        lines += ["", f"**Warning: {unknown} out-of-vocabulary words were mapped to UNK (--oov unk, the authors' "
                  "behaviour).** UNK is also the padding token and what LIME's removal writes, so to every "
                  "explainer an unknown word looks exactly like a removed one: its scores are not about a word."]
    if dropped:
        lines += ["", f"{dropped} out-of-vocabulary words were dropped (--oov drop); with positional encoding the "
                  "later words then sit at other positions than in the text."]
    if cut:
        lines += ["", f"{cut} documents were longer than T − 1 = {model.T - 1} words and were truncated "
                  "(--truncate)."]
    lines += ["", "### Where the model sits on the regime map", ""]
    if regime is None:
        lines += [f"Not measured: none of {source} has two distinct words (LIME's β^∞ is not identified for "
                  "d = 1)."]
    else:
        lines += _regime_lines(regime, rates, source, seed)
    figure, files = _figure1(population, docs, seed)
    lines += ["", "### Figure 1 on the first document", "", *figure]
    measured = {} if regime is None else {
        "regimes": regime["records"], "summaries": regime["summaries"], "unk_shift": regime["unk_shift"],
        "temperature": regime["temperature"], "left_out": regime["left_out"], "top_word_disagreement": rates}
    return ExtraResult(markdown="\n".join(lines), files=files, data={
        **measured, "figure1": files.pop("data"), "oov": {"policy": args.oov, "unknown": unknown, "dropped": dropped},
        "truncated_documents": cut})


def _figure1(population, docs: dict, seed: int) -> tuple[list[str], dict]:
    """Every explanation method on the first document with two distinct words (LIME needs ``d ≥ 2``): a table,
    the figure, and its data under ``files["data"]``."""
    key = next((k for k in sorted(docs) if len(set(docs[k])) >= 2), None)
    if key is None:
        return ["Not drawn: no document has two distinct words (LIME needs d ≥ 2)."], {"data": None}
    first = docs[key]
    scores = given_model.explanations(population.model, first, seed, allow_unk=population.allow_unk)
    words = [_word(population, t) for t in first]
    lines = [(f"Document {key + 1}" + (" (the first with two distinct words)" if key != min(docs) else "") +
              f", every method of `attnverify explain` (seeded methods with seed {seed}); CLS left out."), "",
             "| word | " + " | ".join(scores) + " |", "|---|" + "---|" * len(scores)]
    lines += [f"| {w} | " + " | ".join(f"{scores[m][k]:+.3g}" for m in scores) + " |" for k, w in enumerate(words)]
    files = {"data": {"document": key, "tokens": list(first), "words": words, "scores": scores}}
    if figures.available():
        files[FIGURE] = given_model.figure1_png(words, list(scores), scores, f"{population.name}, document {key + 1}")
        lines += ["", f"![Figure 1 on the first document]({FIGURE})"]
    return lines, files


def _regime_lines(regime: dict, rates: dict, source: str, seed: int) -> list[str]:
    left_out = (f" ({regime['left_out']} documents with a single distinct word left out: β^∞ is not identified "
                "for d = 1)" if regime["left_out"] else "")
    return [
        f"Measured on {source}{left_out}; β^∞ by exact enumeration (d ≤ 10) or stratified Monte Carlo (seed "
        f"{seed} + document number), lime's default ν = 0.25; verdict rule of the regime map (threshold "
        f"{regimes.THRESHOLD:.0%}). The knobs: UNK shift δ (how much more attention UNK gets than the words, at "
        "the same position) and temperature (the spread of the words' scores); the regime map of the main report "
        "(`lime.regime_map`) shows where Eq. (19) and the large-d limit hold along them.", "",
        given_model.knob_sentence(regime, "this model"), "",
        "### Eq. (19) and the large-d limit against LIME's β^∞ on these documents", "",
        *given_model.regime_table(regime["summaries"]), "",
        "Eq. (19)'s 3/2 is right where the least-squares ratio ρ is 1.5; the large-d limit is the suite's own "
        "result (docs/theory.md §8.4, replace semantics).", "",
        "### Do attention, the gradient and LIME agree on the top word?", "",
        f"Share of the {rates['documents']} documents where two explainers name different top words (attention: "
        "α averaged over heads; gradient: ‖∇_t‖₂; a word's score is the sum over its occurrences; LIME: the "
        f"largest |β^∞_j| under {rates['semantics']}).", "",
        "| pair | disagree |", "|---|---|",
        *[f"| {pair} | {rate:.0%} |" for pair, rate in rates["rates"].items()],
    ]


def render(data: dict) -> str:
    """REPORT.md of a user-model run."""
    lead = data["extras"][0]
    records = data["claims"]
    checks = [r for r in records if r["kind"] in CHECKS and r["verdict"] not in (NOT_APPLICABLE, SKIPPED)]
    observed = [r for r in records if r["kind"] not in CHECKS and r["verdict"] not in (NOT_APPLICABLE, SKIPPED)]
    absent = [r for r in records if r["verdict"] in (NOT_APPLICABLE, SKIPPED)]
    failing = [r for r in checks if r["verdict"] != "holds"]
    lines = [f"# attnverify report — {lead['title']}", "", f"Command: `{data['command']}` — profile "
             f"`{data['profile']}`, seed {data['seed']}, population `{data['population']}`.", "",
             lead["markdown"].split("\n### ")[0].strip(), "",
             "## Which identities hold on this model", "",
             ("Every identity, bound and limit holds on this model." if not failing else
              f"**{len(failing)} check(s) do not hold: {', '.join(r['id'] for r in failing)}.** They are exact "
              "statements about every model of the format (docs/theory.md §2): a failure means a bug in the suite or "
              "a model outside the format — report it with the counterexample below."), "",
             "| claim | kind | verdict | examples | max error |", "|---|---|---|---|---|"]
    lines += [f"| `{r['id']}` | {r['kind']} | **{r['verdict']}** | {r['examples']} | {_error_cell(r)} |"
              for r in checks]
    lines += ["", "Observations (witnesses searched for, approximations measured) on this model:", "",
              "| claim | kind | verdict | examples | max error |", "|---|---|---|---|---|"]
    lines += [f"| `{r['id']}` | {r['kind']} | {r['verdict']} | {r['examples']} | {_error_cell(r)} |" for r in observed]
    lines += ["", "### " + "\n### ".join(lead["markdown"].split("\n### ")[1:]).strip(), "",
              "## Claims that do not apply", "",
              "Claims about constructed models (or not about a model at all); each reason is the claim's own, "
              "written for the trained model, which is the other given model the suite runs them on.", ""]
    lines += [f"- `{r['id']}` — {r['verdict']}: {r['diagnosis']}" for r in absent]
    lines += ["", "## Every claim on this model"]
    for r in records:
        lines += ["", f"### `{r['id']}` — {r['verdict']}", "", f"**Statement.** {r['statement']}", "",
                  *_population_lines(r, data["population"])]
    versions = ", ".join(f"{k} {v}" for k, v in data["versions"].items() if v)
    lines += ["", "## Environment", "", versions, ""]
    return "\n".join(lines)
