"""The driver of the real lime package (lime 0.2.0.1, ``LimeTextExplainer``): the external oracle of LIME,
against which :mod:`reference.explainers.lime` (the same sampler and ridge, in mpmath) and the fast LIME are checked.

String ↔ token mapping used to drive the real lime package (:func:`text_of`, :func:`tokens_of`): word id
``17`` is written ``"w17"`` and the words are joined by single spaces, e.g. ``"w5 w9 w12 w9"``.  lime's
default ``split_expression=r'\\W+'`` splits exactly on the spaces (``w`` and digits are word characters), so
lime's words are our word ids, in the same order of first appearance.  With ``bow=True`` lime removes a
switched-off word's characters and keeps the separators: removing ``w9`` gives ``"w5  w12 "``.  The
classifier function maps such a string back to a document: ``delete`` keeps the non-empty pieces
(``[w5, w12]``), CLS first and UNK padding to ``T``; ``replace`` splits on single spaces, so each empty piece
is the slot of a removed word and becomes UNK at the same position (``[w5, UNK, w12, UNK]``).
"""

from __future__ import annotations

import numpy as np

from reference.explainers.perturb import distinct_words


def text_of(doc, length: int) -> str:
    """The string lime explains.

    Args:
        doc: the token document.
        length: the number of words (positions ``1..length``).

    Returns:
        Word id ``17`` written ``"w17"``, the words joined by single spaces.
    """
    return " ".join(f"w{int(token)}" for token in doc[1 : length + 1])


def tokens_of(string: str, semantics: str, unk_id: int) -> list[int]:
    """The words of a (perturbed) string of :func:`text_of`.

    Args:
        string: the string lime passes to the classifier.
        semantics: ``delete`` (removed words are dropped) or ``replace`` (UNK in their slots: an empty piece
            between single spaces).
        unk_id: the UNK token.

    Returns:
        The word ids.
    """
    pieces = string.split(" ")
    if semantics == "delete":
        return [int(piece[1:]) for piece in pieces if piece]
    if semantics == "replace":
        return [int(piece[1:]) if piece else unk_id for piece in pieces]
    raise ValueError(f"unknown removal semantics {semantics!r}; use 'delete' or 'replace'")


def document_of(string: str, semantics: str, cls_id: int, unk_id: int, T: int) -> list[int]:
    """The document of a (perturbed) string.

    Args:
        string: the string lime passes to the classifier.
        semantics: ``delete`` or ``replace`` (:func:`tokens_of`).
        cls_id, unk_id: the CLS and UNK tokens.
        T: the document length.

    Returns:
        The length-``T`` document: CLS, the words, UNK padding.
    """
    words = tokens_of(string, semantics, unk_id)
    return [cls_id] + words + [unk_id] * (T - 1 - len(words))


def run_lime_package(
    f_documents, doc, length: int, n: int, random_state: int, semantics: str, cls_id: int, unk_id: int, T: int
):
    """``LimeTextExplainer(random_state=random_state).explain_instance`` on :func:`text_of`, with defaults
    except ``num_features`` (set to ``max(d, 10)`` so that every feature is kept) and ``num_samples = n``.

    The classifier returns the two columns ``(−f, f)`` and label 1 is explained.

    Args:
        f_documents: maps an integer array of documents ``(B, T)`` to ``f`` ``(B,)``.
        doc: the token document (the text at positions ``1..length``).
        length: the number of words.
        n: the number of samples.
        random_state: lime's seed.
        semantics: ``delete`` or ``replace``.
        cls_id, unk_id: the CLS and UNK tokens.
        T: the document length.

    Returns:
        ``(coef in feature order, intercept)`` as float64, and lime's feature words (as word ids).
    """
    from lime.lime_text import LimeTextExplainer

    def classifier(strings):
        docs = np.array([document_of(s, semantics, cls_id, unk_id, T) for s in strings], dtype=np.int64)
        f = np.asarray(f_documents(docs), dtype=np.float64)
        return np.column_stack([-f, f])

    d = len(distinct_words(doc, length))
    explainer = LimeTextExplainer(random_state=random_state)
    explanation = explainer.explain_instance(text_of(doc, length), classifier, num_features=max(d, 10), num_samples=n)
    coef = coefficients(explanation, d)
    words = [int(explanation.domain_mapper.indexed_string.word(j)[1:]) for j in range(d)]
    return coef, float(explanation.intercept[1]), words


def coefficients(explanation, d: int) -> np.ndarray:
    """The coefficients of every one of the ``d`` features of a lime explanation of class 1 (lime lists them in
    ``local_exp[1]`` by decreasing magnitude; ``num_features ≥ d`` keeps them all).

    Args:
        explanation: what ``LimeTextExplainer.explain_instance`` returned.
        d: the number of features (distinct words).

    Returns:
        The coefficients by feature index, ``(d,)``.

    Raises:
        AssertionError: lime did not keep every feature.
    """
    coef = np.zeros(d)
    pairs = explanation.local_exp[1]
    if sorted(feature for feature, _ in pairs) != list(range(d)):
        raise AssertionError(f"lime kept features {sorted(f for f, _ in pairs)}, expected all of 0..{d - 1}")
    for feature, value in pairs:
        coef[feature] = value
    return coef
