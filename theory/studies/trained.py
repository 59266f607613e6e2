"""Studies of the trained model: the fixture's data and accuracy, the paper's Figure-1 sentence,
and where the trained model sits on the regime map of Eq. (19) and the large-d limit.

The fixture (:mod:`theory.sentiment.fixture`) is the §2 classifier trained on reviews composed from VADER's
human-rated lexicon; these extras describe it and explain the paper's Figure-1 sentence with every method
of :data:`theory.explainers.registry.METHODS` — whatever methods are registered when the report runs.
"""

from __future__ import annotations

import numpy as np

from theory.markdown import table
from theory.sentiment.fixture import encode, load_fixture
from theory.studies import ExtraResult, extra, figures, given_model, regimes

FIGURE1_SENTENCE = "attention based explanations are popular but questionable"


@extra("trained.fixture", section="§2", title="The trained model: data, training and held-out accuracy")
def fixture_summary(profile, seed):
    """Describe the dataset and training from ``training.json`` and re-measure the held-out accuracy with
    the numpy forward pass."""
    fx = load_fixture()
    info, data = fx.training, fx.training["dataset"]
    measured = fx.held_out_accuracy()
    w = info["widths"]
    markdown = (
        f"The paper's observations come from a classifier trained on IMDB, which cannot be downloaded here. "
        f"The suite ships a substitute (`theory/sentiment/data/`, built by `python -m theory.sentiment.train --seed "
        f"{info['seed']}`): reviews composed from the real human ratings of VADER's lexicon (Hutto & "
        f"Gilbert 2014, shipped in the `vaderSentiment` package). Vocabulary of {data['vocabulary_size']} "
        f"tokens: CLS, UNK, {data['n_filler']} unrated filler words, the negations "
        f"{', '.join(data['negations'])}, and {data['n_rated']} rated words (per polarity the "
        f"{data['rated_per_polarity']} words with |mean rating| ≥ {data['min_abs_rating']} raters agree on most"
        + (
            f", plus {', '.join(data['added_figure1_words'])} for the Figure-1 sentence"
            if data["added_figure1_words"]
            else ""
        )
        + f"). A review has {data['words_per_document'][0]}–{data['words_per_document'][1]} words: filler, "
        f"rated words (p = {data['p_rated']}) and negation + rated word pairs (p = {data['p_negated_pair']}). "
        f"Its label is the sign of the sum of the ratings, a negated rating counting ×{data['negation_factor']} "
        f"(VADER's factor); reviews with |sum| < {data['min_abs_total']} were dropped "
        f"({data['dropped_near_zero']} of them). Synthetic composition, lexicon labels, no real syntax; the "
        f"model cannot see negation (a token's score and value depend on the token and its position only).\n\n"
        f"Model: the authors' architecture at their widths, K = {w['K']} heads, T = {w['T']}, d_e = {w['d_e']}, "
        f"d_att = {w['d_att']}, d_out = {w['d_out']}, positional encoding on. {info['n_train']} training reviews, "
        f"{info['epochs']} epochs of "
        f"{info['optimizer']}, batch {info['batch_size']}, seed {info['seed']} "
        f"({info['cpu_seconds']:.0f} s CPU). The explained output is the positive-class logit.\n\n"
        + table(
            ["accuracy", "value"],
            [
                [f"training ({info['n_train']} reviews, `training.json`)", f"{info['train_accuracy']:.4f}"],
                [f"held out ({len(fx.docs)} reviews, `training.json`)", f"{info['test_accuracy']:.4f}"],
                ["held out, re-measured now with the numpy forward pass", f"{measured:.4f}"],
            ],
        )
        + "\n\n"
        f"Held-out reviews: {np.mean(fx.labels):.1%} positive, "
        f"{np.mean([len(d) for d in fx.docs]):.0f} words on average. For scale: the lexicon rule that ignores "
        f"negation (sign of the plain sum of ratings; the model cannot see negation) scores "
        f"{data['negation_blind_test_accuracy']:.4f} on them."
    )
    return ExtraResult(
        markdown=markdown,
        data={
            "train_accuracy": info["train_accuracy"],
            "test_accuracy_recorded": info["test_accuracy"],
            "test_accuracy_measured": measured,
            "negation_blind_test_accuracy": data["negation_blind_test_accuracy"],
            "n_train": info["n_train"],
            "n_test": len(fx.docs),
            "seed": info["seed"],
            "widths": w,
        },
    )


@extra("trained.figure1", section="§3", title="Figure 1 on the trained model: one sentence, every method")
def figure1(profile, seed):
    """The paper's Figure-1 sentence explained by every registered method on the trained model."""
    fx = load_fixture()
    tokens = encode(FIGURE1_SENTENCE, fixture=fx)
    words = [fx.words[i] for i in tokens]
    scores = given_model.explanations(fx.model, tokens, seed)
    methods = list(scores)
    logits = fx.logits([tokens])[0]
    rating = [f"{fx.ratings[i]:+.1f}" if i in fx.ratings else "—" for i in tokens]
    lines = [
        f"The sentence of the paper's Figure 1, \"{FIGURE1_SENTENCE}\", is entirely in the trained model's "
        "vocabulary (out-of-vocabulary words would be an error, or dropped on request — never mapped to UNK; "
        "see `theory/sentiment/fixture.py`). The model's logits are "
        f"{logits[0]:+.4f} (negative) and {logits[1]:+.4f} (positive, the explained output f), so it "
        f"predicts **{'positive' if logits[1] > logits[0] else 'negative'}**. Each column is one method of "
        "`attnverify explain` as registered when this report ran (a method with removal semantics under "
        f"both, every seeded method with seed {seed}); CLS (position 0) is left out. The lexicon column is "
        "VADER's mean human rating (— for unrated filler words).",
        "",
        table(
            ["word", "lexicon", *methods],
            [[word, rating[k], *(f"{scores[m][k]:+.3g}" for m in methods)] for k, word in enumerate(words)],
        ),
    ]
    files, skipped = {}, []
    if figures.available():
        files["figures/fig1_trained_sentence.png"] = given_model.figure1_png(words, methods, scores, "Trained model")
        lines += ["", "![Figure 1 on the trained model](figures/fig1_trained_sentence.png)"]
    else:
        skipped.append(figures.not_drawn("figures/fig1_trained_sentence.png"))
    return ExtraResult(
        markdown="\n".join(lines),
        files=files,
        skipped=skipped,
        data={"sentence": FIGURE1_SENTENCE, "tokens": tokens, "logits": logits.tolist(), "scores": scores},
    )


TRAINED_REGIME_DOCS = {"ci": 32, "thorough": 300}


@extra("trained.regime", section="§5", title="The trained model on the regime map: Eq. (19) and the large-d limit")
def trained_regime(profile, seed):
    """Eq. (19) and the large-d limit against ``β^∞`` on held-out documents of the trained model, under both
    semantics (delete: the authors' pipeline), with the statistics and verdict rule of :mod:`theory.studies.regimes`."""
    fixture = load_fixture()
    model = fixture.model
    rng = np.random.default_rng([seed, 7])
    n = TRAINED_REGIME_DOCS.get(profile, TRAINED_REGIME_DOCS["ci"])
    indices = sorted(int(i) for i in rng.choice(len(fixture.docs), n, replace=False))
    result = given_model.regime(model, {index: fixture.docs[index] for index in indices}, seed, "trained model")
    d = [len(set(fixture.docs[i])) for i in indices]
    lines = [
        f"{n} held-out documents of the trained model (seeded draw `default_rng([{seed}, 7])`: indices "
        f"{indices[:8]}{' …' if n > 8 else ''}), whole documents as in the authors' pipeline (T = 256, UNK "
        f"padding), d = {min(d)}–{max(d)} distinct words (median {int(np.median(d))}); β^∞ by stratified Monte "
        f"Carlo (Monte Carlo seed {seed} + document index), lime's default ν = 0.25. Statistics and verdict rule "
        f"as in the regime map above (threshold {regimes.THRESHOLD:.0%}).",
        "",
        given_model.knob_sentence(result, "the trained model"),
        "",
        *given_model.regime_table(result["summaries"]),
    ]
    return ExtraResult(
        markdown="\n".join(lines),
        data={
            "regimes": result["records"],
            "summaries": result["summaries"],
            "documents": indices,
            "unk_shift": result["unk_shift"],
            "temperature": result["temperature"],
        },
    )
