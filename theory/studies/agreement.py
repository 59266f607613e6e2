"""Agreement and exact faithfulness of every explainer (docs/theory.md §11.2, extras): per document, one score per
distinct word from attention, gradient × input, LIME's ``β^∞``, Shapley, occlusion, Integrated Gradients and
SmoothGrad (position scores summed over each word's occurrences), then

- **agreement** of every pair of explainers: Spearman rank correlation, top-3 overlap (share of common words
  among the three highest scores), sign agreement (share of words whose scores have the same sign; attention is
  never negative, so its sign agreement is the share of positive scores of the other explainer);
- **exact faithfulness** on the random models of each regime (DeYoung et al. 2020, ERASER, as ferret computes it:
  :func:`theory.studies.faithfulness.faithfulness`, the tree's one implementation): words ranked by decreasing
  score, comprehensiveness ``f(ξ) − f(ξ without the top k)`` and sufficiency ``f(ξ) − f(ξ with only the top k)``,
  their means (AOPC) over ``k = 1..d``, evaluated exactly by the fast evaluators under ``replace`` (no sampling:
  the only noise is over documents).  A random ranking is the reference row.  The trained model's faithfulness
  is the extra ``bert.faithfulness`` (100 held-out documents, every registry explainer, under delete, replace
  and zero), not repeated here.

Removal is ``replace`` throughout (the semantics of ``β^∞``'s Eq. (19), of Shapley and occlusion here and of
IG's baseline).  Shapley and ``β^∞`` are exact for ``d ≤ 12``, Monte Carlo beyond (Shapley to 2% relative SE,
``β^∞`` with 20 000 stratified samples).
"""

from __future__ import annotations

from itertools import combinations

import numpy as np
from scipy.stats import spearmanr

from theory.explainers.gradient import g_x_input_closed_form
from theory.explainers.ig import integrated_gradients
from theory.explainers.lime_inf import beta_inf_model
from theory.explainers.occlusion import occlusion
from theory.explainers.shapley import shapley_exact, shapley_mc
from theory.explainers.smoothgrad import smoothgrad
from theory.markdown import table
from theory.models.one_layer import document, forward
from theory.models.perturb import distinct_words, evaluator, word_index
from theory.sentiment.fixture import load_fixture
from theory.studies import ExtraResult, extra, regimes
from theory.studies.faithfulness import faithfulness

EXPLAINERS = ("attention", "grad×input", "lime β^∞", "shapley", "occlusion", "ig", "smoothgrad")
EXACT_D = 12


def _word_scores(model, doc, length: int, seed: int = 0) -> dict:
    """``{explainer: (d,) scores}`` for the distinct words of one document (replace semantics)."""
    j = word_index(doc, length)
    d = int(j.max()) + 1

    def per_word(position_scores):
        out = np.zeros(d)
        np.add.at(out, j, np.asarray(position_scores)[1 : length + 1])
        return out

    fw = forward(model, doc)
    phi = (
        shapley_exact(model, doc, length, semantics="replace")
        if d <= EXACT_D
        else shapley_mc(model, doc, length, semantics="replace", samples=16, seed=seed, target=0.02).phi
    )
    return {
        "attention": per_word(fw.alpha[0].mean(axis=0)),
        "grad×input": per_word(g_x_input_closed_form(fw)[0]),
        "lime β^∞": beta_inf_model(model, doc, length, semantics="replace", samples=20_000, seed=seed).beta[1:],
        "shapley": phi,
        "occlusion": occlusion(model, doc, length, semantics="replace"),
        "ig": per_word(integrated_gradients(model, doc, length, baseline="replace").scores),
        "smoothgrad": per_word(smoothgrad(model, doc, sigma=0.1, samples=32, seed=seed).scores),
    }


def _agreement(a: np.ndarray, b: np.ndarray, top: int = 3) -> dict:
    rho = spearmanr(a, b).statistic if np.ptp(a) > 0 and np.ptp(b) > 0 else np.nan
    k = min(top, a.size)
    overlap = len(set(np.argsort(-a)[:k]) & set(np.argsort(-b)[:k])) / k
    return {"spearman": float(rho), "top3": overlap, "sign": float(np.mean(np.sign(a) == np.sign(b)))}


def measure(instances, seed: int, faithful: bool = True) -> dict:
    """Pairwise agreement and faithfulness over ``instances`` (``(model, doc, length)``), mean ± SE.

    Args:
        instances: ``(model, doc, length)`` triples: a model, a token document and its number of words.
        seed: seeds the Monte Carlo explainers (``seed + index`` per document) and the random baseline's ranking.
        faithful: whether to measure faithfulness too (:func:`theory.studies.faithfulness.faithfulness` under
            ``replace``).

    Returns:
        ``{"agreement": [...], "faithfulness": [...], "instances": n}``: per pair of explainers the mean ± SE of
        Spearman, top-3 overlap and sign agreement; per explainer (and ``random``) that of comprehensiveness and
        sufficiency AOPC (``"faithfulness"`` only when ``faithful``).
    """
    pairs: dict[tuple[str, str], list[dict]] = {pair: [] for pair in combinations(EXPLAINERS, 2)}
    faith: dict[str, list[dict]] = {name: [] for name in EXPLAINERS + ("random",)}
    rng = np.random.default_rng(seed)
    count = 0
    for index, (model, doc, length) in enumerate(instances):
        count += 1
        scores = _word_scores(model, doc, length, seed + index)
        for (a, b), rows in pairs.items():
            rows.append(_agreement(scores[a], scores[b]))
        if faithful:
            evaluate = evaluator(model, doc, length, "replace")
            scores["random"] = rng.permutation(distinct_words(doc, length).size).astype(float)
            for name, rows in faith.items():
                rows.append(faithfulness(evaluate, scores[name]))

    def summary(rows, key):
        values = np.array([r[key] for r in rows], dtype=float)
        values = values[np.isfinite(values)]
        if not values.size:
            return {"mean": float("nan"), "se": float("nan")}
        se = float(values.std(ddof=1) / np.sqrt(values.size)) if values.size > 1 else float("nan")
        return {"mean": float(values.mean()), "se": se}

    result: dict = {
        "agreement": [
            {"a": a, "b": b, **{m: summary(rows, m) for m in ("spearman", "top3", "sign")}}
            for (a, b), rows in pairs.items()
        ],
        "instances": count,
    }
    if faithful:
        result["faithfulness"] = [
            {"explainer": name, **{m: summary(rows, m) for m in ("comprehensiveness", "sufficiency")}}
            for name, rows in faith.items()
        ]
    return result


def markdown(title: str, result: dict) -> list[str]:
    """The agreement table (every explainer against attention and Shapley) and, when measured, the faithfulness
    table of :func:`measure`'s result.

    Args:
        title: the bold heading of the tables.
        result: :func:`measure`'s result.

    Returns:
        Markdown lines.
    """

    def fmt(entry):
        return f"{entry['mean']:.2f} ± {entry['se']:.2f}"

    pairs = {(r["a"], r["b"]): r for r in result["agreement"]}
    rows = []
    for name in EXPLAINERS[1:]:
        row = [name]
        for other in ("attention", "shapley"):
            key = (other, name) if (other, name) in pairs else (name, other)
            if name == other:
                row += ["—"] * 3
            else:
                r = pairs[key]
                row += [fmt(r["spearman"]), fmt(r["top3"]), fmt(r["sign"])]
        rows.append(row)
    lines = [
        f"**{title}** ({result['instances']} documents)",
        "",
        table(
            ["explainer", "with attention: Spearman", "top-3", "sign", "with Shapley: Spearman", "top-3", "sign"], rows
        ),
    ]
    if "faithfulness" not in result:
        return lines
    ranking = sorted(result["faithfulness"], key=lambda r: -r["comprehensiveness"]["mean"])
    return lines + [
        "",
        (
            "Exact faithfulness (replace; AOPC over k = 1..d; comprehensiveness: higher is better, sufficiency: "
            "lower is better):"
        ),
        "",
        table(
            ["explainer", "comprehensiveness", "sufficiency"],
            [[r["explainer"], fmt(r["comprehensiveness"]), fmt(r["sufficiency"])] for r in ranking],
        ),
    ]


AGREEMENT = {
    "ci": {"shifts": (-3.0, 0.0, 3.0), "temps": (1.0,), "d": 10, "models": 2, "trained": 2, "words": 40},
    "thorough": {"shifts": (-3.0, 0.0, 3.0), "temps": (0.5, 2.0), "d": 10, "models": 12, "trained": 20, "words": None},
}


@extra(
    "explainers.agreement",
    section="§6",
    title="Every explainer against attention and Shapley (agreement), by regime and on the trained model, and exact "
    "faithfulness (ERASER AOPC) by regime",
)
def agreement_extra(profile, seed):
    plan = AGREEMENT.get(profile, AGREEMENT["ci"])
    words = "" if plan["words"] is None else f", first {plan['words']} words"
    md = [
        __doc__.split("\n\n")[0].replace("\n", " "),
        "",
        (
            f"Random models: the regime map's instances (`theory.studies.regimes.instance`, T = 256, K = 4, d_e = 32) "
            f"with d = {plan['d']} distinct words, {plan['models']} models per cell (instance k of cell i: seed "
            f"`({seed}, 500 + i, k)`); trained model: {plan['trained']} held-out documents (seeded draw "
            f"`default_rng([{seed}, 15])`){words}, agreement only (its faithfulness on 100 documents: the extra "
            "`bert.faithfulness`). Mean ± SE over documents."
        ),
        "",
    ]
    data = {"profile": profile, "seed": seed, "cells": []}
    cells = [(s, t) for s in plan["shifts"] for t in plan["temps"]]
    for i, (shift, temp) in enumerate(cells):
        cell = regimes.Cell(shift, temp, plan["d"])
        insts = [regimes.instance(cell, (seed, 500 + i, k)) for k in range(plan["models"])]
        result = measure([(x.model, x.doc, x.length) for x in insts], seed + i)
        data["cells"].append({"cell": cell.name, **result})
        md += markdown(f"UNK shift {shift:g}, temperature {temp:g}, d = {plan['d']}", result) + [""]
    fixture = load_fixture()
    rng = np.random.default_rng([seed, 15])
    indices = sorted(int(i) for i in rng.choice(len(fixture.docs), plan["trained"], replace=False))
    docs = [fixture.docs[i][: plan["words"]] for i in indices]
    trained = measure(
        [(fixture.model, document(fixture.model, t), len(t)) for t in docs if len(set(t)) >= 2], seed, faithful=False
    )
    data["trained"] = {"documents": indices, **trained}
    md += markdown(f"trained model, documents {indices}", trained)
    return ExtraResult("\n".join(md), data)
