"""Synthetic movie-review-like documents whose words and labels come from real human sentiment ratings.

Source of the ratings: VADER's lexicon (``vader_lexicon.txt`` shipped in the PyPI package
``vaderSentiment``; Hutto & Gilbert, ICWSM 2014): 7,500 tokens, each rated by ten human raters on a
−4 (extremely negative) … +4 (extremely positive) scale; the file gives the mean and standard deviation.
The negation words and the negation factor ``N_SCALAR = −0.74`` are also VADER's (its ``NEGATE`` list and
its empirically derived constant).

How the dataset is built (every draw from ``numpy.random.default_rng(seed)``):

* **Rated words.**  Lexicon entries made of letters only with ``|mean| ≥ 1.0``; per polarity, the 750 with
  the smallest rater standard deviation (the words raters agree on most; ties broken alphabetically);
  plus the Figure-1 words ``popular`` (+1.8) and ``questionable`` (−1.2) when the rule misses them (both
  are rated by the lexicon; ``popular``, sd 0.75, ranks 928th among positive words, so it is added).
* **Filler.**  :data:`FILLER`, a fixed list of common English words, none of which is in the lexicon, in
  VADER's negation list or in its booster list (checked when the vocabulary is built).  It contains the
  unrated words of the paper's Figure-1 sentence: "attention", "based", "explanations", "are", "but".
* **Negations.**  "not" and "never" (both in VADER's ``NEGATE``; neither is rated).
* **Vocabulary.**  ``[CLS]`` (id 0), ``[UNK]`` (id 1, padding), the filler words, the negations, the rated
  words (alphabetical within each group).
* **A document.**  Its length ``L`` is uniform in 20..200 words, so that, as in the authors' pipeline,
  documents are padded with UNK to ``T = 256``.  Slots are filled left to right: with probability 0.005 a
  negation followed by a rated word, with probability 0.15 a rated word alone, otherwise a filler word;
  rated and filler words are drawn uniformly from their lists.
* **Label.**  ``total = Σ mean rating of each rated word``, a rated word right after a negation counting
  ``N_SCALAR × rating``.  Label 1 (positive) if ``total > 0``, 0 (negative) otherwise; documents with
  ``|total| < 1.0`` (no clear sentiment) are dropped and redrawn (their number is reported).
* **Split.**  The first ``n_train`` kept documents train, the next ``n_test`` are held out.

Limits, to keep in mind when reading results on this data: the composition is synthetic (words are drawn
independently; there is no syntax, no topic, no sentence structure), labels are a deterministic function
of lexicon ratings (no label noise, no sarcasm, no rater disagreement beyond the lexicon's means), and the
only context effect is negation — which the §2 classifier cannot represent (a token's value and score
depend on the token and its position only), which keeps its attainable accuracy below 100 %.  For scale,
the lexicon rule that ignores negation (sign of the plain sum of ratings) scores about 95 % on the held-out
documents (recorded as ``negation_blind_test_accuracy``).  Negation is kept rare for that reason: with one
negated pair per 33 slots instead of one per 200, that rule falls to about 78 %.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from importlib.metadata import version
from importlib.resources import files

import numpy as np

from theory.errors import InputError

CLS, UNK = "[CLS]", "[UNK]"
FILLER = tuple(
    """
the a an of to in on at for with by from as is are was were be been it its this that these those there
here they them their he she his her we our you your i me my movie film story plot scene scenes actor actors
actress director script cast character characters camera music sound dialogue ending time year years day
night people man woman family house city car book series episode part minute minutes hour first second
last one two three four five also then than when where which who what how why while after before during
about into over under through between both each other another some any many much such only just still
even again once and or but if because too attention based explanations has have had do does did can could
would should will may might must seen saw see watch watched watching make made makes get got go went come
came take took say said think thought know knew look looked show shows shown run set way thing things place
world life end work name word words page role roles version sequel theater screen studio budget release
review reviewer viewer viewers audience
""".split()
)
NEGATIONS = ("not", "never")
FIGURE1_RATED = ("popular", "questionable")

MIN_ABS_RATING = 1.0
RATED_PER_POLARITY = 750
MIN_WORDS, MAX_WORDS = 20, 200
P_NEGATED, P_RATED = 0.005, 0.15
MIN_ABS_TOTAL = 1.0


def read_lexicon() -> dict[str, tuple[float, float]]:
    """VADER's lexicon: token -> (mean rating, rater standard deviation).

    Returns:
        Each of the 7,500 tokens of ``vader_lexicon.txt`` mapped to its mean rating (−4 … +4) and the
        standard deviation of its ten raters.

    Raises:
        InputError: the ``vaderSentiment`` package (extra ``train``) is not installed.
    """
    try:
        text = (files("vaderSentiment") / "vader_lexicon.txt").read_text(encoding="utf-8")
    except ModuleNotFoundError:
        raise InputError(
            "building the sentiment dataset needs the vaderSentiment package: pip install '.[train]'"
        ) from None
    lexicon = {}
    for line in text.splitlines():
        token, mean, sd, _ = line.split("\t")
        lexicon[token] = (float(mean), float(sd))
    return lexicon


def vader_negation() -> tuple[list[str], float]:
    """VADER's negation words and negation factor (``NEGATE``, ``N_SCALAR``).

    Returns:
        The list of negation words and the factor (−0.74) a rated word after a negation is multiplied by.
    """
    from vaderSentiment.vaderSentiment import N_SCALAR, NEGATE

    return NEGATE, N_SCALAR


def rated_words(lexicon: dict[str, tuple[float, float]]) -> tuple[dict[str, float], list[str]]:
    """The rated words of the vocabulary with their mean ratings (rule in the module docstring), and the
    Figure-1 words that the rule missed and were added.

    Args:
        lexicon: VADER's lexicon as :func:`read_lexicon` returns it (token -> (mean, sd)).

    Returns:
        The chosen words mapped to their mean rating (at most ``RATED_PER_POLARITY`` per sign, plus the
        additions), and the list of :data:`FIGURE1_RATED` words added by hand.
    """
    candidates = [
        (word, mean, sd)
        for word, (mean, sd) in lexicon.items()
        if re.fullmatch("[a-z]+", word) and abs(mean) >= MIN_ABS_RATING
    ]
    chosen = {}
    for sign in (1, -1):
        side = sorted((c for c in candidates if c[1] * sign > 0), key=lambda c: (c[2], c[0]))
        chosen.update({word: mean for word, mean, _ in side[:RATED_PER_POLARITY]})
    added = [word for word in FIGURE1_RATED if word not in chosen]
    chosen.update({word: lexicon[word][0] for word in added})
    return chosen, added


@dataclass(frozen=True)
class Vocabulary:
    """Words by id, and the lexicon rating of each rated word's id."""

    words: tuple[str, ...]
    ratings: dict[int, float]
    added: tuple[str, ...] = ()  # Figure-1 words added to the rated words by hand

    @property
    def ids(self) -> dict[str, int]:
        return {word: i for i, word in enumerate(self.words)}


def build_vocabulary(lexicon: dict[str, tuple[float, float]]) -> Vocabulary:
    """The vocabulary of the module docstring: ``[CLS]``, ``[UNK]``, the filler, the negations, the rated words.

    Args:
        lexicon: VADER's lexicon as :func:`read_lexicon` returns it (token -> (mean, sd)).

    Returns:
        The words by id (alphabetical within each group) and the mean rating of each rated word's id.

    Raises:
        AssertionError: :data:`FILLER` or :data:`NEGATIONS` break their rule against this lexicon version.
    """
    negate, _ = vader_negation()
    from vaderSentiment.vaderSentiment import BOOSTER_DICT

    clash = [w for w in FILLER if w in lexicon or w in negate or w in BOOSTER_DICT]
    if clash or len(set(FILLER)) != len(FILLER):
        raise AssertionError(f"filler words must be unrated, unrepeated and not negations/boosters: {clash}")
    if any(w in lexicon or w not in negate for w in NEGATIONS):
        raise AssertionError("negations must be VADER negation words without a rating")
    rated, added = rated_words(lexicon)
    words = (CLS, UNK, *sorted(FILLER), *NEGATIONS, *sorted(rated))
    return Vocabulary(words, {i: rated[w] for i, w in enumerate(words) if w in rated}, tuple(added))


@dataclass(frozen=True)
class Split:
    """Documents as word-id arrays (no CLS, no padding), their labels and lexicon totals."""

    docs: list[np.ndarray]
    labels: np.ndarray  # (n,) int8, 1 = positive
    totals: np.ndarray  # (n,) lexicon total with negation applied


@dataclass(frozen=True)
class Dataset:
    vocab: Vocabulary
    train: Split
    test: Split
    dropped: int  # documents redrawn because |total| < MIN_ABS_TOTAL
    params: dict


def _document(rng, filler_ids, negation_ids, rated_ids, ratings, n_scalar):
    """One document's word ids and its lexicon total (negation applied)."""
    length = int(rng.integers(MIN_WORDS, MAX_WORDS + 1))
    words, total = [], 0.0
    while len(words) < length:
        u = rng.random()
        if u < P_NEGATED and len(words) + 2 <= length:
            word = int(rated_ids[rng.integers(len(rated_ids))])
            words += [int(negation_ids[rng.integers(len(negation_ids))]), word]
            total += n_scalar * ratings[word]
        elif u < P_NEGATED + P_RATED:
            word = int(rated_ids[rng.integers(len(rated_ids))])
            words.append(word)
            total += ratings[word]
        else:
            words.append(int(filler_ids[rng.integers(len(filler_ids))]))
    return np.array(words, dtype=np.int64), total


def build(seed: int, n_train: int, n_test: int) -> Dataset:
    """The dataset of the module docstring, drawn from ``numpy.random.default_rng(seed)``.

    Args:
        seed: the seed of the one generator every draw comes from.
        n_train: the number of kept documents in the training split (at least 1).
        n_test: the number of kept documents held out (at least 1).

    Returns:
        The vocabulary, the two splits (word-id arrays, labels, lexicon totals), the number of documents
        redrawn for ``|total| < MIN_ABS_TOTAL``, and the build parameters recorded with the fixture.

    Raises:
        InputError: ``n_train`` or ``n_test`` is below 1, or ``vaderSentiment`` is not installed.
    """
    if n_train < 1 or n_test < 1:
        raise InputError(f"n_train={n_train} and n_test={n_test} must both be at least 1")
    lexicon = read_lexicon()
    vocab = build_vocabulary(lexicon)
    ids = vocab.ids
    filler_ids = np.array([ids[w] for w in FILLER])
    negation_ids = np.array([ids[w] for w in NEGATIONS])
    rated_ids = np.array(sorted(vocab.ratings))
    _, n_scalar = vader_negation()
    rng = np.random.default_rng(seed)
    docs: list[np.ndarray] = []
    drawn: list[float] = []
    dropped = 0
    while len(docs) < n_train + n_test:
        words, total = _document(rng, filler_ids, negation_ids, rated_ids, vocab.ratings, n_scalar)
        if abs(total) < MIN_ABS_TOTAL:
            dropped += 1
            continue
        docs.append(words)
        drawn.append(total)
    totals = np.array(drawn)
    labels = (totals > 0).astype(np.int8)

    def split(part: slice) -> Split:
        return Split([docs[i] for i in range(len(docs))[part]], labels[part], totals[part])

    test = split(slice(n_train, None))
    blind = [sum(vocab.ratings.get(int(w), 0.0) for w in doc) > 0 for doc in test.docs]
    params = {
        "lexicon": f"vader_lexicon.txt of vaderSentiment {version('vaderSentiment')}",
        "min_abs_rating": MIN_ABS_RATING,
        "rated_per_polarity": RATED_PER_POLARITY,
        "added_figure1_words": list(vocab.added),
        "n_rated": len(vocab.ratings),
        "n_filler": len(FILLER),
        "negations": list(NEGATIONS),
        "negation_factor": n_scalar,
        "words_per_document": [MIN_WORDS, MAX_WORDS],
        "p_negated_pair": P_NEGATED,
        "p_rated": P_RATED,
        "min_abs_total": MIN_ABS_TOTAL,
        "vocabulary_size": len(vocab.words),
        "seed": seed,
        "n_train": n_train,
        "n_test": n_test,
        "dropped_near_zero": dropped,
        "negation_blind_test_accuracy": float(np.mean(np.array(blind) == test.labels)),
    }
    return Dataset(vocab, split(slice(0, n_train)), test, dropped, params)
