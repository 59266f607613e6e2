"""What the report says about one *given* model and its documents (the trained fixture, or a user's model):
Figure 1 for one document with every explanation method, where the model sits on the regime map's knobs,
Eq. (19) and the large-d limit against ``β^∞`` on its documents, and how often the explainers disagree on the
top word.  Shared by the ``trained.*`` extras (:mod:`theory.claims.trained`) and the user's-model report
(:mod:`theory.reporting.user_report`).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from theory.explainers.lime_approx import NU, unk_document
from theory.explainers.registry import explain, methods_of
from theory.markdown import table
from theory.models.encoder import Encoder
from theory.models.one_layer import Model, document, forward
from theory.models.protocol import AttentionClassifier
from theory.studies import figures, regimes

SEMANTICS = ("delete", "replace")


def explanations(model: Model | Encoder, tokens, seed: int, allow_unk: bool = False) -> dict[str, list[float]]:
    """Every method ``attnverify explain`` offers for the model's family, as the score of each word of
    ``tokens`` (CLS left out).  Position methods give one score per position; word methods (LIME and its
    approximations: a ``"words"`` key) one per distinct word, shown at each of its occurrences.  A method with a
    removal-semantics option is run under each semantics.

    Args:
        model: the given model (any family).
        tokens: the document's word ids, without CLS or padding.
        seed: the seed of the methods that sample.
        allow_unk: the document may hold UNK (``--oov unk``).

    Returns:
        ``{method (semantics): [score of each word of tokens]}``, ``len(tokens)`` floats per method.
    """
    columns = {}
    for method, registered in methods_of(model).items():
        variants: dict[str, dict[str, Any]] = (
            {f"{method} ({s})": {"semantics": s} for s in SEMANTICS}
            if "semantics" in registered.options
            else {method: {}}
        )
        for name, options in variants.items():
            if "seed" in registered.options:
                options["seed"] = seed
            result = explain(model, tokens, method, allow_unk=allow_unk, **options).to_json()
            if "words" in result:
                by_word = dict(zip(result["words"], result["scores"]))
                columns[name] = [float(by_word[t]) for t in tokens]
            else:
                columns[name] = [float(x) for x in result["scores"][1:]]
    return columns


def figure1_png(words, methods, scores, title: str) -> bytes:
    """Figure-1-like rendering: one row per method, each word on a background coloured by the sign of
    its score (blue positive, red negative) with intensity |score| / max |score| of that row.

    Args:
        words: the document's words (strings), in order.
        methods: the rows, in order (keys of ``scores``).
        scores: ``{method: one score per word}``.
        title: the figure's title.

    Returns:
        The PNG file's bytes.
    """
    plt = figures.pyplot()
    starts = np.concatenate([[0.0], np.cumsum([0.13 * len(w) + 0.5 for w in words])])  # x of each word
    label_width = 0.17 * max(len(m) for m in methods) + 0.4
    fig, ax = plt.subplots(figsize=(0.55 * (label_width + starts[-1]) + 0.5, 0.5 * len(methods) + 0.6))
    ax.set_xlim(0, label_width + starts[-1])
    ax.set_ylim(len(methods) - 0.5, -0.5)
    ax.axis("off")
    for row, method in enumerate(methods):
        values = np.asarray(scores[method])
        top = np.abs(values).max() or 1.0
        ax.text(0, row, method, ha="left", va="center", fontsize=9, fontweight="bold")
        for x, word, value in zip(starts, words, values):
            base = np.array([0.12, 0.35, 0.85]) if value >= 0 else np.array([0.85, 0.15, 0.15])
            strength = abs(value) / top
            colour = 1 - strength * (1 - base)
            ax.text(
                label_width + x,
                row,
                word,
                ha="left",
                va="center",
                fontsize=9,
                color="white" if strength > 0.6 else "black",
                bbox={"boxstyle": "round,pad=0.25", "facecolor": colour, "edgecolor": "0.7", "lw": 0.5},
            )
    ax.set_title(
        f"{title} — blue: positive score, red: negative; intensity relative to each row's largest |score|",
        fontsize=9,
        loc="left",
    )
    return figures.png(fig)


def knobs(model: Model, doc, length: int) -> tuple[np.ndarray, np.ndarray]:
    """Per head, the regime map's two knobs measured on one document: the UNK shift ``δ`` (UNK's score minus the
    word's score at the same position, averaged over the word positions) and the temperature (standard deviation
    of the words' scores).

    Args:
        model: the §2 model.
        doc: the token document (CLS first, padded to T).
        length: the number of words.

    Returns:
        ``(δ, τ)``: two arrays of shape ``(K,)``, one entry per head.
    """
    fw = forward(model, np.stack([doc, unk_document(model)]))
    words = slice(1, length + 1)
    return ((fw.scores[1][:, words] - fw.scores[0][:, words]).mean(axis=1), fw.scores[0][:, words].std(axis=1))


def _quantiles(values: np.ndarray) -> dict:
    return {
        "median": float(np.median(values)),
        "p10": float(np.quantile(values, 0.1)),
        "p90": float(np.quantile(values, 0.9)),
    }


def regime(model: Model, docs: dict, seed: int, label: str, allow_unk: bool = False) -> dict | None:
    """Eq. (19) and the large-d limit against ``β^∞`` on the documents ``docs`` (key → word ids; the key seeds
    the Monte Carlo, ``seed + key``), under both semantics, with the statistics and verdict rule of
    :mod:`theory.studies.regimes`; the knobs' distribution over heads and documents; the per-document
    :func:`theory.studies.regimes.measure` rows (``rows[semantics]``); regime records named ``label, semantics``.
    Documents with fewer than two distinct words are left out (``β^∞`` is not identified for ``d = 1``) and
    counted (``"left_out"``); None when no document is left.

    Args:
        model: the §2 model.
        docs: ``{key: word ids}``, integer keys.
        seed: the base seed of the Monte Carlo ``β^∞`` (``seed + key``) and the bootstrap.
        label: the regime records' name prefix.
        allow_unk: the documents may hold UNK (``--oov unk``).

    Returns:
        ``summaries``, ``records``, ``rows``, ``instances``, ``left_out`` and the knobs' quantiles ``unk_shift``,
        ``temperature``; None when no document has two distinct words.
    """
    kept = {key: tokens for key, tokens in docs.items() if len(set(tokens)) >= 2}
    if not kept:
        return None
    left_out, docs = len(docs) - len(kept), kept
    instances = {
        key: regimes.Instance(model, document(model, tokens, allow_unk=allow_unk), len(tokens), (seed, key))
        for key, tokens in docs.items()
    }
    deltas, temperatures = zip(*(knobs(model, inst.doc, inst.length) for inst in instances.values()))
    rows, summaries, records = {}, {}, []
    for semantics in SEMANTICS:
        rows[semantics] = [regimes.measure(inst, semantics, NU, mc_seed=seed + key) for key, inst in instances.items()]
        summaries[semantics] = regimes.summarize(rows[semantics], np.random.default_rng([seed, 7, len(semantics)]))
        for claim, name in (("lime.eq19", "eq19_error"), ("lime.large_d_limit", "limit_error")):
            stat = summaries[semantics][name]
            records.append(
                {
                    "claim": claim,
                    "regime": f"{label}, {semantics}",
                    "error": stat["median"],
                    "se": stat["se"],
                    "verdict": regimes.verdict(stat["median"], stat["se"]),
                }
            )
    return {
        "summaries": summaries,
        "records": records,
        "rows": rows,
        "instances": instances,
        "left_out": left_out,
        "unk_shift": _quantiles(np.concatenate(deltas)),
        "temperature": _quantiles(np.concatenate(temperatures)),
    }


def knob_sentence(result: dict, subject: str) -> str:
    """One sentence on where the model sits on the regime map's knobs (UNK shift, temperature).

    Args:
        result: a :func:`regime` result.
        subject: how the sentence names the model ("the trained model", "this model").

    Returns:
        The sentence: median and 10–90% range of each knob.
    """
    delta, temperature = result["unk_shift"], result["temperature"]
    return (
        f"Where {subject} sits on the map's knobs (per head and document): UNK shift δ median "
        f"{delta['median']:+.2f} (10–90%: {delta['p10']:+.2f} to {delta['p90']:+.2f}); temperature (spread of "
        f"the words' scores) median {temperature['median']:.2f} (10–90%: {temperature['p10']:.2f} to "
        f"{temperature['p90']:.2f})."
    )


def regime_table(summaries: dict) -> list[str]:
    """The regime statistics of :func:`regime` per semantics, as a Markdown table.

    Args:
        summaries: ``regime(...)["summaries"]``.

    Returns:
        The table's lines.
    """
    rows = []
    for semantics, summary in summaries.items():
        e19, lim, ratio = summary["eq19_error"], summary["limit_error"], summary["ratio"]
        rows.append(
            [
                semantics,
                f"{e19['median']:.3f} ± {e19['se']:.3f}",
                regimes.verdict(e19["median"], e19["se"]),
                f"{lim['median']:.4f} ± {lim['se']:.4f}",
                regimes.verdict(lim["median"], lim["se"]),
                f"{ratio['median']:.3f}; {ratio['mean']:.3f} ± {ratio['se']:.3f}",
                f"{summary['correlation']:.3f}",
                f"{summary['sign_agreement']:.2f}",
            ]
        )
    return table(
        [
            "semantics",
            "Eq. (19) rel. error",
            "verdict",
            "large-d limit rel. error",
            "verdict",
            "LS ratio ρ (3/2 = 1.5): median; mean ± SE",
            "correlation",
            "sign agreement",
        ],
        rows,
    ).split("\n")


def encoder_regime(model: Encoder, docs: dict, seed: int, allow_unk: bool = False) -> dict | None:
    """The encoder's counterpart of :func:`regime` on ``docs``: ``β^∞`` under both semantics (as :func:`regime`)
    and Eq. (19) at the last layer (:func:`theory.explainers.encoder_eq19.eq19_last_layer`) against ``β^∞``
    (replace), its relative error per document with the median and the bootstrap SE of the median, and the
    verdict rule of :mod:`theory.studies.regimes`; ``rows[semantics]`` carry each document's ``β^∞``.  Documents
    with fewer than two distinct words are left out and counted; None when none is left.

    Args:
        model: the encoder.
        docs: ``{key: word ids}``, integer keys.
        seed: the base seed of the Monte Carlo ``β^∞`` (``seed + key``) and the bootstrap.
        allow_unk: the documents may hold UNK (``--oov unk``).

    Returns:
        ``instances``, ``rows``, ``left_out``, the ``eq19_last_layer`` summary (median, se, p90, max) and its
        ``verdict``; None when no document has two distinct words.
    """
    from theory.explainers.encoder_eq19 import eq19_last_layer
    from theory.explainers.lime_inf import beta_inf_model

    kept = {key: tokens for key, tokens in docs.items() if len(set(tokens)) >= 2}
    if not kept:
        return None
    instances = {
        key: regimes.Instance(model, document(model, tokens, allow_unk=allow_unk), len(tokens), (seed, key))
        for key, tokens in kept.items()
    }
    rows: dict[str, list[dict]] = {semantics: [] for semantics in SEMANTICS}
    for key, inst in instances.items():
        for semantics in SEMANTICS:
            bi = beta_inf_model(
                model,
                inst.doc,
                inst.length,
                semantics=semantics,
                samples=regimes.MC_SAMPLES[semantics],
                seed=seed + key,
            )
            rows[semantics].append(
                {"beta": bi.beta[1:], "stderr": None if bi.exact or bi.stderr is None else bi.stderr[1:]}
            )
        row = rows["replace"][-1]
        row["eq19_error"] = regimes.relative_error(
            eq19_last_layer(model, inst.doc, inst.length), row["beta"], row["stderr"]
        )[0]
    errors = np.array([row["eq19_error"] for row in rows["replace"]])
    draws = np.random.default_rng([seed, 7]).integers(0, errors.size, (regimes.BOOTSTRAP, errors.size))
    se = float(np.std(np.median(errors[draws], axis=1), ddof=1)) if errors.size > 1 else float("nan")
    summary = {
        "median": float(np.median(errors)),
        "se": se,
        "p90": float(np.quantile(errors, 0.9)),
        "max": float(errors.max()),
    }
    return {
        "instances": instances,
        "rows": rows,
        "left_out": len(docs) - len(kept),
        "eq19_last_layer": summary,
        "verdict": regimes.verdict(summary["median"], se),
    }


def _position_scores(model: AttentionClassifier, doc: np.ndarray, length: int) -> dict[str, np.ndarray]:
    """Per word position ``1..length``: attention (α-avg: the readout's attention row averaged over heads — the CLS
    row of the last layer; and attention rollout where every position queries at every layer) and the gradient
    (G-l2, ``‖∇_t‖₂``)."""
    from theory.explainers.attention import alpha_avg
    from theory.explainers.gradient import g_l2
    from theory.explainers.rollout import rollout

    words, docs = slice(1, length + 1), np.asarray(doc)[None]
    scores = {"attention": alpha_avg(model.readout_attention(docs)[0])[words]}
    if "layers" in model.capabilities:
        scores["rollout"] = rollout(model.attention(docs))[0, words]
    scores["gradient"] = g_l2(model.gradient(docs)[0])[words]
    return scores


def _clear_top(values: np.ndarray) -> tuple[int, bool]:
    """The largest entry's index and whether it beats the runner-up by the claim's margin
    (:data:`theory.claims.gradient.RANK_MARGIN`)."""
    from theory.claims.gradient import RANK_MARGIN

    order = np.argsort(-values, kind="stable")
    return int(order[0]), bool(values.size == 1 or values[order[0]] > values[order[1]] * (1 + RANK_MARGIN))


def top_words(model, inst, beta: np.ndarray) -> tuple[dict[str, int], dict | None]:
    """The top word of one document under attention (α-avg; and rollout for an encoder), the gradient (G-l2)
    and LIME (``β^∞``): for a position method, the distinct word whose occurrences' scores sum highest; for LIME
    the largest ``|β_j|``.  Returns word ids, and whether the document is a witness of
    ``gradient.disagrees_with_attention`` by that claim's own definition: the *position* of largest α-avg and
    that of largest G-l2 hold different tokens, each clear of its runner-up by 1% (float64): None when it is
    one, else why not (``same_token``: the token both top positions hold; ``within_margin``: the scores whose top
    position is within 1% of the runner-up).

    Args:
        model: the given model (§2 or encoder).
        inst: the document's :class:`theory.studies.regimes.Instance`.
        beta: ``β^∞`` of its distinct words, shape ``(d,)``.

    Returns:
        ``(top, why)``: ``{explainer: top word id}`` and None for a witness, else the reason it is not one.
    """
    from theory.models.perturb import distinct_words, word_index

    words, index = distinct_words(inst.doc, inst.length), word_index(inst.doc, inst.length)
    per_position = _position_scores(model, inst.doc, inst.length)
    top = {
        name: int(words[np.argmax(np.bincount(index, weights=scores, minlength=words.size))])
        for name, scores in per_position.items()
    }
    top["LIME"] = int(words[np.argmax(np.abs(beta))])
    (ta, clear_a), (tg, clear_g) = _clear_top(per_position["attention"]), _clear_top(per_position["gradient"])
    why: dict | None
    if inst.doc[1 + ta] == inst.doc[1 + tg]:
        why = {"same_token": int(inst.doc[1 + ta])}
    elif not (clear_a and clear_g):
        why = {"within_margin": [name for name, clear in (("α-avg", clear_a), ("G-l2", clear_g)) if not clear]}
    else:
        why = None  # a witness
    return top, why


def disagreement(model, result: dict, semantics: str = "delete") -> dict:
    """How often attention, the gradient and LIME's ``β^∞`` (under ``semantics``) name different top words over
    the documents of a :func:`regime` (or :func:`encoder_regime`) result, and which documents are witnesses of
    ``gradient.disagrees_with_attention`` by its own definition (:func:`top_words`); the documents where
    attention and the gradient name different top *words* without being witnesses, with the reason.

    Args:
        model: the given model (§2 or encoder).
        result: a :func:`regime` or :func:`encoder_regime` result.
        semantics: the removal semantics whose ``β^∞`` is LIME's top word.

    Returns:
        ``semantics``, ``documents``, the pairwise disagreement ``rates``, the ``position_witnesses`` (document
        keys) and the ``word_level_only`` documents with their reason.
    """
    keys = list(result["instances"])
    tops = [
        top_words(model, inst, row["beta"])
        for inst, row in zip(result["instances"].values(), result["rows"][semantics])
    ]
    names = list(tops[0][0])
    pairs = [(a, b) for k, a in enumerate(names) for b in names[k + 1 :]]
    return {
        "semantics": semantics,
        "documents": len(tops),
        "rates": {f"{a} vs {b}": float(np.mean([t[a] != t[b] for t, _ in tops])) for a, b in pairs},
        "position_witnesses": [int(key) for key, (_, why) in zip(keys, tops) if why is None],
        "word_level_only": [
            {"document": int(key), "attention": t["attention"], "gradient": t["gradient"], "why_not_a_witness": why}
            for key, (t, why) in zip(keys, tops)
            if why is not None and t["attention"] != t["gradient"]
        ],
    }
