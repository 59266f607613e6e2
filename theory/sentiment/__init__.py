"""A trained §2 classifier on sentiment data we can ship (issue 7).

The paper's observations come from a classifier trained on IMDB, which cannot be downloaded here.  This
package builds the closest honest substitute from real human ratings shipped by a PyPI package (VADER's
lexicon): :mod:`~theory.sentiment.dataset` composes the reviews, :mod:`~theory.sentiment.train` trains the
authors' architecture on them (training-only; needs the ``train`` extra), and
:mod:`~theory.sentiment.fixture` loads the committed result from ``theory/sentiment/data/`` (numpy only).
"""
