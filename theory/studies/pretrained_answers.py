"""The answers on a real pretrained transformer (docs/theory.md §13.8, THEORY.md §8's *to establish*): on the
probe-topped MiniLM's held-out documents, cut to their shortest prefix with ``d`` distinct words so that Shapley
and ``β^∞`` are exact enumerations, with the scores of :mod:`theory.studies.pretrained_scores`:

1. **``bert.zero_attention``** — does a word with near-zero readout attention get a near-zero Shapley / occlusion /
   ``β^∞`` / IG score?  Per word, ``r = |score_j| / max_k |score_k|`` (within its document).  The words of the
   lowest decile of pooled readout attention (over all words of all documents; and, separately, of its minimum
   over heads) against the rest.  Rule, fixed before measuring: a score is *near zero* when ``r ≤ 0.1``; the
   statement *holds* for a method when at least 90% of the lowest-decile words have ``r ≤ 0.1`` (their ``r``'s
   90th percentile ``≤ 0.1``), and is *falsified* otherwise, with the worst word as the counterexample.
2. **Rank agreement** of each attention explanation (and each post-hoc explainer) with Shapley, occlusion,
   ``β^∞``, IG and G×I: Spearman's ρ, Kendall's τ-b (ferret's ``taucorr_loo`` is Kendall's τ with leave-one-out,
   i.e. with occlusion), top-3 overlap and sign agreement (:func:`theory.studies.agreement._agreement`, signed
   scores as there), and Spearman with ``|score|`` (attention is never negative); mean and 95% t-interval over
   documents.
3. **Eq. (19) with the readout attention** (:func:`theory.explainers.encoder_eq19.eq19_readout`) against the
   exact ``β^∞``: relative error ``‖eq19 − β^∞‖/‖β^∞‖`` (median, bootstrap SE, the regime map's verdict rule at
   10%: :func:`theory.studies.regimes.verdict`), Spearman's ρ, and the best rescaling ``⟨β^∞, b⟩/‖b‖²``
   (``b = eq19 / 1.5``; 1.5 where Eq. (19)'s 3/2 is right).
4. **Which removal semantics changes the answers most**: per semantics, Spearman's ρ of each post-hoc explainer's
   scores with its own scores under ``unk`` (same document), and the change of the answers above.
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np
from scipy.stats import kendalltau, spearmanr
from scipy.stats import t as student

from theory.checking.approximation import relative_error
from theory.models.bert import Bert
from theory.models.perturb import single_threaded_blas
from theory.models.protocol import Document
from theory.studies import regimes
from theory.studies.agreement import _agreement
from theory.studies.pretrained_scores import ATTENTIONS, POSTHOC, Scores, attention_scores, document_scores

ZERO_METHODS = ("shapley", "occlusion", "β^∞", "ig")
NEAR_ZERO = 0.1  # r = |score| / max |score| at most this: a near-zero score (rule of the module docstring)
DECILE = 0.1
#: measured on this 2-core machine (one BLAS thread): a document of d = 7 words (about 12 pieces) costs 1.8 CPU-seconds
#: per semantics (the 2^7 perturbed documents at ~1 ms of CPU per token, IG, Eq. (19)): 58 s under ``ci``, about
#: 24 CPU-minutes under ``thorough``
PLAN = {
    "ci": {"documents": 16, "d": 7, "semantics": ("unk", "mask")},
    "thorough": {"documents": 160, "d": 7, "semantics": ("unk", "mask", "delete", "pad", "zero")},
}


def prefix(text: str, d: int) -> str | None:
    """The shortest prefix of a text (its words joined by single spaces) with ``d`` distinct words.

    Args:
        text: the document's text.
        d: the number of distinct words wanted.

    Returns:
        The prefix, or None when the text has fewer than ``d`` distinct words.
    """
    seen: set[str] = set()
    words = text.split()
    for n, word in enumerate(words):
        seen.add(word)
        if len(seen) == d:
            return " ".join(words[: n + 1])
    return None


def mean_ci(values) -> dict:
    """Mean and 95% Student-t confidence interval of the finite values.

    Args:
        values: numbers (NaN, e.g. an undefined correlation, left out and counted).

    Returns:
        ``{"mean", "low", "high", "n"}`` (the interval NaN for fewer than two values).
    """
    v = np.asarray(values, dtype=float)
    v = v[np.isfinite(v)]
    if v.size == 0:
        return {"mean": float("nan"), "low": float("nan"), "high": float("nan"), "n": 0}
    half = student.ppf(0.975, v.size - 1) * v.std(ddof=1) / np.sqrt(v.size) if v.size > 1 else float("nan")
    return {"mean": float(v.mean()), "low": float(v.mean() - half), "high": float(v.mean() + half), "n": int(v.size)}


def agreement(x: np.ndarray, y: np.ndarray) -> dict:
    """Spearman, Kendall τ-b, top-3 overlap and sign agreement of two score vectors, and Spearman with ``|y|``.

    Args:
        x: one explanation's word scores.
        y: the reference's word scores (same words).

    Returns:
        ``{"spearman", "kendall", "top3", "sign", "spearman_abs"}`` (a correlation is NaN when a vector is constant).
    """
    out = _agreement(x, y)
    constant = np.ptp(x) == 0 or np.ptp(y) == 0
    out["kendall"] = float("nan") if constant else float(kendalltau(x, y).statistic)
    ay = np.abs(y)
    out["spearman_abs"] = float("nan") if np.ptp(x) == 0 or np.ptp(ay) == 0 else float(spearmanr(x, ay).statistic)
    return out


def _quantiles(v: np.ndarray) -> dict:
    return {"median": float(np.median(v)), "p90": float(np.quantile(v, 0.9)), "max": float(v.max())}


def zero_attention(rows: list[tuple[int, Scores]]) -> dict:
    """Answer 1 of the module docstring over documents ``(index, scores)`` under one semantics.

    Args:
        rows: each document's held-out index and :class:`~theory.studies.pretrained_scores.Scores`.

    Returns:
        Per attention kind (``pooled``: the mean over heads, ``min over heads``): the decile's threshold, the
        number of words, per method the ``r`` quantiles of the decile and of the rest, the verdict, and the worst
        decile word (document, word, attention, every score and ``r``).
    """
    words: list[dict[str, Any]] = []
    for index, s in rows:
        ratios = {m: np.abs(s.scores[m]) / (np.abs(s.scores[m]).max() or 1.0) for m in ZERO_METHODS}
        for j, word in enumerate(s.words):
            words.append(
                {
                    "document": index,
                    "word": word,
                    "pooled": float(s.scores["pooled attention"][j]),
                    "min over heads": float(s.attention_min[j]),
                    "scores": {m: float(s.scores[m][j]) for m in ZERO_METHODS},
                    "r": {m: float(ratios[m][j]) for m in ZERO_METHODS},
                }
            )
    out = {}
    for kind in ("pooled", "min over heads"):
        a = np.array([w[kind] for w in words])
        cut = float(np.quantile(a, DECILE))
        low = a <= cut
        entry: dict = {"threshold": cut, "words": int(low.sum()), "of": len(words), "methods": {}}
        for m in ZERO_METHODS:
            r = np.array([w["r"][m] for w in words])
            decile, rest = _quantiles(r[low]), _quantiles(r[~low])
            worst = words[int(np.flatnonzero(low)[np.argmax(r[low])])]
            entry["methods"][m] = {
                "decile": decile,
                "rest": rest,
                "share_near_zero": float(np.mean(r[low] <= NEAR_ZERO)),
                "share_at_least_half": float(np.mean(r[low] >= 0.5)),
                "verdict": "holds" if decile["p90"] <= NEAR_ZERO else "falsified",
                "worst": worst,
            }
        out[kind] = entry
    return out


def rank_agreement(rows: list[Scores]) -> dict:
    """Answer 2: every explanation against every reference, mean ± 95% CI over documents.

    Args:
        rows: the documents' :class:`~theory.studies.pretrained_scores.Scores` under one semantics.

    Returns:
        ``{"x vs y": {measure: mean_ci}}`` for ``x`` in :data:`ATTENTIONS` and :data:`POSTHOC` (and ``eq19``),
        ``y`` a post-hoc reference other than ``x``.
    """
    names = ATTENTIONS + POSTHOC + (("eq19",) if "eq19" in rows[0].scores else ())
    out = {}
    for x in names:
        for y in POSTHOC:
            if x == y:
                continue
            per = [agreement(s.scores[x], s.scores[y]) for s in rows]
            out[f"{x} vs {y}"] = {k: mean_ci([p[k] for p in per]) for k in per[0]}
    return out


def eq19_accuracy(rows: list[Scores], rng: np.random.Generator) -> dict:
    """Answer 3: Eq. (19) with the readout attention against the exact ``β^∞`` under one substitution semantics.

    Args:
        rows: the documents' scores (with ``eq19``).
        rng: drives the bootstrap of the median.

    Returns:
        The relative errors' median, bootstrap SE, p10/p90 and verdict; Spearman's ρ (mean ± CI); the best
        rescaling ratio (mean ± CI).
    """
    errors, rhos, ratios = [], [], []
    for s in rows:
        beta, e19 = s.scores["β^∞"], s.scores["eq19"]
        errors.append(relative_error(e19, beta)[0])
        rhos.append(agreement(e19, beta)["spearman"])
        b = e19 / 1.5
        ratios.append(float(beta @ b / (b @ b)) if b @ b > 0 else float("nan"))
    e = np.array(errors)
    se = regimes._bootstrap_median_se(e, rng)
    median = float(np.median(e))
    return {
        "relative_error": {
            "median": median,
            "se": se,
            "p10": float(np.quantile(e, 0.1)),
            "p90": float(np.quantile(e, 0.9)),
            "verdict": regimes.verdict(median, se),
        },
        "spearman": mean_ci(rhos),
        "ratio": mean_ci(ratios),
        "errors": e.tolist(),
    }


def semantics_change(by: dict[str, list[Scores]]) -> dict:
    """Answer 4: per semantics other than ``unk``, Spearman's ρ of each post-hoc explainer with itself under ``unk``.

    Args:
        by: ``{semantics: documents' scores}`` (the same documents in the same order), ``unk`` included.

    Returns:
        ``{semantics: {explainer: mean_ci}}``.
    """
    return {
        s: {
            m: mean_ci([agreement(a.scores[m], b.scores[m])["spearman"] for a, b in zip(rows, by["unk"])])
            for m in ("shapley", "occlusion", "β^∞", "ig")
        }
        for s, rows in by.items()
        if s != "unk"
    }


def documents(fixture, count: int, d: int, seed: int) -> list[tuple[int, Document]]:
    """``count`` held-out documents drawn by ``default_rng([seed, 24])`` (a permutation of the held-out texts,
    taken in order), each cut to its shortest prefix with ``d`` distinct words (texts with fewer are passed over).

    Args:
        fixture: the :class:`~theory.sentiment.pretrained.PretrainedFixture`.
        count: how many.
        d: distinct words per prefix.
        seed: the run's seed.

    Returns:
        ``(held-out index, Document)`` pairs.
    """
    out = []
    for i in np.random.default_rng([seed, 24]).permutation(len(fixture.texts)):
        text = prefix(fixture.texts[i], d)
        if text is not None:
            doc = fixture.model.document(text)
            if doc.words.size == d:
                out.append((int(i), doc))
        if len(out) == count:
            break
    return out


def measure(model: Bert, docs: list[tuple[int, Document]], semantics: tuple[str, ...], seed: int) -> dict:
    """Answers 1–4 on the documents (every score computed once per document and semantics).

    Args:
        model: a BERT-family model with the mean readout.
        docs: ``(index, Document)`` pairs.
        semantics: the removal semantics, ``unk`` first.
        seed: seeds the bootstrap (``default_rng([seed, 25])``).

    Returns:
        ``{"zero_attention", "agreement", "eq19", "semantics_change"}`` by semantics, the IG gaps and the seconds.
    """
    started = time.process_time()
    with single_threaded_blas():
        shared = [attention_scores(model, doc) for _, doc in docs]
        by = {s: [document_scores(model, doc, s, sh) for (_, doc), sh in zip(docs, shared)] for s in semantics}
    rng = np.random.default_rng([seed, 25])
    indices = [i for i, _ in docs]
    return {
        "documents": indices,
        "texts": [doc.text for _, doc in docs],
        "zero_attention": {s: zero_attention(list(zip(indices, rows))) for s, rows in by.items()},
        "agreement": {s: rank_agreement(rows) for s, rows in by.items()},
        "eq19": {s: eq19_accuracy(rows, rng) for s, rows in by.items() if "eq19" in rows[0].scores},
        "semantics_change": semantics_change(by) if "unk" in by else {},
        "ig": {s: {"baseline": rows[0].ig_baseline, "max_gap": max(r.ig_gap for r in rows)} for s, rows in by.items()},
        "cpu_seconds": time.process_time() - started,
    }
