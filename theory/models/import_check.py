"""Checking an imported model against the user's own outputs: ``attnverify import … --expect FILE``.

A state_dict does not say everything about the model it comes from: the number of heads (torch's state_dict does
not record ``nhead``), the activation, the norm order, the positional encoding, whether scores are divided by
``√d_att``, the CLS and UNK ids and ``T`` are given on the command line, and a wrong choice builds another model
without any error (an encoder imported with ``--heads 4`` instead of 2 runs, with another ``f``).  The one check
is the user's model itself: its outputs on some documents, compared with the imported model's ``f``.

**The expect file** (UTF-8, one document per line, no blank line; a byte-order mark and ``\\r\\n`` are accepted):

* alone: ``F ID ID …`` — ``F``, the user's model's output on a document, then the token ids of that document as
  the model saw them, CLS first, whitespace-separated, at most ``T``; fewer than ``T`` ids are padded with UNK to
  ``T``, because the suite's documents are always ``T`` long and its models attend to the padding;
* with ``--texts TEXTS --vocab VOCAB``: ``F`` alone; line ``n`` is the output on line ``n`` of TEXTS, tokenized as
  ``run`` and ``explain`` tokenize it (CLS prepended, UNK padding to ``T``).

``F`` is the explained output as a decimal number (``repr(float(x))`` keeps every digit): class ``C``'s logit
(``--class C``), or logit ``C`` minus logit ``C'`` (``--contrast C,C'``).

**Agreement.**  Document by document, ``|f − F| ≤ tolerance · m`` with ``m = max(|F|, M)`` and ``M`` the magnitude
of the terms that sum to ``f`` (§2 model: :func:`theory.models.one_layer.term_magnitudes`, the largest value term
times ``1 + `` the largest score term, over heads; encoder: ``Σ_j |w_j||h^(L)_{0,j}| + |b|``).  The default
tolerance :data:`TOLERANCE` = 1e-4 is about a thousand times float32's rounding of such a sum (unit roundoff
6e-8, a few roundings per term; 1e-7 measured on a float32 encoder in tests/test_import_check.py), so a model run
in float32 or float64 passes and a different model (another head count: 4e-2 there) does not; a model run in
float16 or bfloat16 (unit roundoff 5e-4, 4e-3) needs ``--tolerance 1e-2``.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from theory.errors import InputError
from theory.models.protocol import AttentionClassifier

TOLERANCE = 1e-4
NUMBERS_PER_PASS = 2**24  # the encoder's attention is B·K·T² numbers: documents per pass keep it ≤ 128 MB
WORDS_SHOWN = 5  # words of the document printed when there is no expect file


@dataclass(frozen=True)
class Expected:
    """The user's outputs ``values`` (n,) on the documents ``docs`` (n, T), from ``lines`` of ``path``."""

    path: str
    docs: np.ndarray
    values: np.ndarray
    lines: tuple[int, ...]


@dataclass(frozen=True)
class Agreement:
    """The imported model's ``f`` against the user's values, per document."""

    expected: Expected
    f: np.ndarray
    magnitude: np.ndarray  # m = max(|F|, M)

    @property
    def relative(self) -> np.ndarray:
        """``|f − F| / m`` per document, shape ``(n,)``."""
        return np.abs(self.f - self.expected.values) / self.magnitude

    def holds(self, tolerance: float) -> bool:
        """Whether every document agrees.

        Args:
            tolerance: the largest relative difference ``|f − F| / m`` accepted (default :data:`TOLERANCE`).

        Returns:
            True when ``|f − F| ≤ tolerance · m`` on every document (a NaN never agrees).
        """
        return bool(np.all(self.relative <= tolerance))

    def worst(self) -> str:
        """The largest difference, named by its line.

        Returns:
            One line: the expect file's line, both values, the difference and its share of the magnitude.
        """
        i = int(np.argmax(self.relative))
        F, f = float(self.expected.values[i]), float(self.f[i])
        return (
            f"line {self.expected.lines[i]}: yours {F!r}, the imported model's f = {f!r} (difference "
            f"{abs(f - F):.3g}, {self.relative[i]:.2g} of the magnitude {self.magnitude[i]:.3g})"
        )


def _lines(path: str | Path) -> list[str]:
    path = Path(path)
    if not path.is_file():
        raise InputError(
            f"--expect {str(path)!r} {'is a folder' if path.is_dir() else 'does not exist'}; give a "
            "file of your model's outputs, one document per line"
        )
    try:
        text = path.read_bytes().decode("utf-8-sig")
    except UnicodeDecodeError as error:
        raise InputError(f"--expect {str(path)!r} is not UTF-8 (byte {error.start})") from None
    lines = text.splitlines()
    if not lines:
        raise InputError(f"--expect {str(path)!r} is empty; give one line per document")
    for n, line in enumerate(lines, 1):
        if not line.split():
            raise InputError(f"--expect {str(path)!r}: line {n} is empty; every line holds one document's output")
    return lines


def _value(field: str, where: str) -> float:
    try:
        value = float(field)
    except ValueError:
        raise InputError(
            f"{where}: {field[:40]!r} is not a number (the line starts with your model's output)"
        ) from None
    if not np.isfinite(value):
        raise InputError(f"{where}: the output {field!r} is not finite")
    return value


def expected_with_ids(path: str | Path, model: AttentionClassifier) -> Expected:
    """The expect file's ``F ID ID …`` lines (module docstring), checked against ``model``'s ids and ``T``.

    Args:
        path: the expect file.
        model: the imported model (its ``T``, ``V``, ``cls_id``, ``unk_id``).

    Returns:
        The :class:`Expected` values and documents (padded with UNK to ``T``), line numbers from 1.

    Raises:
        InputError: the file is missing, not UTF-8, empty or has an empty line; a line has no ids, a non-number
            output, non-integer or out-of-range ids, more than ``T`` ids, or does not start with CLS.
    """
    docs, values = [], []
    for n, line in enumerate(_lines(path), 1):
        where = f"--expect {str(path)!r} line {n}"
        fields = line.split()
        values.append(_value(fields[0], where))
        if len(fields) == 1:
            raise InputError(
                f"{where} has no token ids; write the output, then the document's token ids (CLS "
                "first), or give the documents as text with --texts FILE --vocab FILE"
            )
        try:
            ids = [int(field) for field in fields[1:]]
        except ValueError:
            raise InputError(f"{where}: the token ids must be integers, got {' '.join(fields[1:])[:60]!r}") from None
        if len(ids) > model.T:
            raise InputError(f"{where} has {len(ids)} token ids; the model's T (--max-len) is {model.T}")
        bad = [i for i in ids if not 0 <= i < model.V]
        if bad:
            raise InputError(f"{where}: token id {bad[0]} is out of range: the vocabulary has ids 0..{model.V - 1}")
        if ids[0] != model.cls_id:
            raise InputError(
                f"{where}: the document starts with id {ids[0]}, not the CLS id {model.cls_id} "
                "(--cls-id); give the ids as your model saw them, CLS first"
            )
        doc = np.full(model.T, model.unk_id, dtype=np.int64)
        doc[: len(ids)] = ids
        docs.append(doc)
    return Expected(str(path), np.stack(docs), np.array(values), tuple(range(1, len(values) + 1)))


def expected_with_texts(path: str | Path, docs: np.ndarray, texts: str) -> Expected:
    """The expect file's ``F`` lines, one per document of ``--texts`` (already tokenized into ``docs``).

    Args:
        path: the expect file.
        docs: the documents of the ``--texts`` file, shape ``(n, T)``.
        texts: the ``--texts`` path, as messages name it.

    Returns:
        The :class:`Expected` values on ``docs``, line numbers from 1.

    Raises:
        InputError: the file is unreadable (as for :func:`expected_with_ids`), a line holds more than one field or
            a non-number, or the line counts differ.
    """
    values = []
    for n, line in enumerate(_lines(path), 1):
        where = f"--expect {str(path)!r} line {n}"
        fields = line.split()
        if len(fields) != 1:
            raise InputError(
                f"{where} has {len(fields)} fields; with --texts each line holds one number, your "
                f"model's output on line {n} of {texts!r}"
            )
        values.append(_value(fields[0], where))
    if len(values) != len(docs):
        raise InputError(
            f"--expect {str(path)!r} has {len(values)} lines but --texts {texts!r} has {len(docs)}; "
            "give one output per text, in the same order"
        )
    return Expected(str(path), np.asarray(docs), np.array(values), tuple(range(1, len(values) + 1)))


def agreement(model: AttentionClassifier, expected: Expected, limit: int | None = None) -> Agreement:
    """The imported model's ``f`` on the expected documents (the first ``limit`` of them when given).

    Args:
        model: the imported model.
        expected: the user's outputs and documents.
        limit: compare the first ``limit`` documents only; None compares them all.

    Returns:
        The :class:`Agreement` of the compared documents (magnitudes ``m = max(|F|, M)``, module docstring).
    """
    docs, values = expected.docs[:limit], expected.values[:limit]
    chunk = max(1, NUMBERS_PER_PASS // (model.K * model.T * model.T))
    with np.errstate(all="ignore"):  # an overflow shows as a NaN difference, which never agrees
        parts = [model.output_magnitudes(docs[start : start + chunk]) for start in range(0, len(docs), chunk)]
    f, M = (np.concatenate(column) for column in zip(*parts))
    used = Expected(expected.path, docs, values, expected.lines[: len(docs)])
    return Agreement(used, f, np.maximum(np.maximum(np.abs(values), M), np.finfo(float).tiny))


def example_document(model: AttentionClassifier) -> tuple[np.ndarray, str]:
    """A document to print ``f`` on when there is no expect file — CLS, the first few word ids, UNK padding to
    ``T`` — and the same as a short Python expression.

    Args:
        model: the imported model.

    Returns:
        ``(doc, expression)``: the ids, shape ``(T,)``, and e.g. ``"[0, 2, 3] + [1] * 5"``.
    """
    words = [int(w) for w in model.word_ids[: min(WORDS_SHOWN, model.T - 1)]]
    doc = np.full(model.T, model.unk_id, dtype=np.int64)
    doc[0] = model.cls_id
    doc[1 : 1 + len(words)] = words
    head = [model.cls_id, *words]
    padding = model.T - len(head)
    return doc, str(head) + (f" + [{model.unk_id}] * {padding}" if padding else "")
