"""A user's vocabulary and documents (docs/theory.md §11.3): token ids of texts, the authors' pipeline made explicit.

**Vocabulary file** — UTF-8, one token per line, token id ``n`` on line ``n + 1`` (ids count from 0, lines from 1,
as an editor numbers them; error messages give both), as torchtext's
``vocab.get_itos()`` lists them; dump one with ``open('vocab.txt', 'w').write('\\n'.join(vocab.get_itos()))``.
It must have exactly ``V`` lines (the rows of ``E``), no empty line and no token twice.  The CLS and UNK
tokens are whatever the model's ``cls_id`` and ``unk_id`` lines hold (``[cls]``, ``<unk>``, …: the ids come
from the model, the names from the file); a text may not contain them.  Whether those lines really are CLS and
UNK cannot be read from the files (a vocabulary shifted by one line, or wrong ``--cls-id``/``--unk-id`` at
import, still passes); ``--cls-token``/``--unk-token`` (``cls_token``/``unk_token``) state them, and then a
line that holds anything else is an error naming where the token is.  Not given: not checked.

**Texts** — tokenized by :func:`theory.models.tokenizer.basic_english` (or the vocabulary's own tokenizer: the
bundled models' is :func:`theory.sentiment.fixture.tokenize`, letters only); CLS is prepended and UNK pads to ``T``
by :func:`theory.models.one_layer.document`.  A word outside the vocabulary (OOV) follows ``oov``:

* ``error`` (default) — an error naming the words;
* ``drop`` — the word is left out (with positional encoding, the later words then sit at other positions);
* ``unk`` — the word becomes UNK, the authors' behaviour (torchtext's ``set_default_index(vocab['<unk>'])``).
  UNK is also the padding token and what LIME's ``replace`` removal writes, so an unknown word then looks
  exactly like a removed one to every explainer: the report says so.

A text longer than ``T − 1`` words is an error unless ``truncate`` (the authors truncate).  A texts file is
UTF-8, one document per line; an empty line (or one without a token) is an error naming the line.
"""

from __future__ import annotations

import codecs
from collections.abc import Callable
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

from theory.errors import InputError
from theory.models.protocol import AttentionClassifier
from theory.models.tokenizer import basic_english

OOV_POLICIES = ("error", "drop", "unk")


def read_lines(path: str | Path, what: str) -> list[str]:
    """The lines of a UTF-8 file (a final newline ends the last line; ``\\r\\n`` endings accepted; a leading
    byte-order mark, as Windows editors write, is not part of the first line: "utf-8-sig").

    Args:
        path: the file.
        what: what the file is, for the messages (``"vocabulary"``, ``"texts"``).

    Returns:
        Its lines, without their line endings.

    Raises:
        InputError: the path is a folder, does not exist, or the file is not UTF-8 (naming the byte and line).
    """
    path = Path(path)
    if path.is_dir():
        raise InputError(f"{what} file {str(path)!r} is a folder; pass the path of a UTF-8 text file")
    if not path.is_file():
        raise InputError(f"{what} file {str(path)!r} does not exist")
    data = path.read_bytes()
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as error:  # its offset counts from after the byte-order mark
        start = error.start + (len(codecs.BOM_UTF8) if data.startswith(codecs.BOM_UTF8) else 0)
        line = data[:start].count(b"\n") + 1
        raise InputError(
            f"{what} file {str(path)!r} is not UTF-8 (byte {start}, line {line}); re-save it as UTF-8"
        ) from None
    lines = text.split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    return [line.removesuffix("\r") for line in lines]


@dataclass(frozen=True, eq=False)
class Vocabulary:
    """Token strings by id; ``cls`` and ``unk`` are the model's CLS and UNK tokens; ``tokenize`` splits a text
    into the vocabulary's words (torchtext's ``basic_english``, unless the vocabulary came with its own)."""

    tokens: tuple[str, ...]
    cls_id: int
    unk_id: int
    tokenize: Callable[[str], list[str]] = basic_english

    @cached_property
    def ids(self) -> dict[str, int]:
        """The id of each token string.

        Returns:
            ``{token: id}`` over the whole vocabulary.
        """
        return {token: i for i, token in enumerate(self.tokens)}

    cls = property(lambda self: self.tokens[self.cls_id])
    unk = property(lambda self: self.tokens[self.unk_id])


def _line(token_id: int, role: str = "") -> str:
    """Where token ``token_id`` sits in a vocabulary file, as an editor counts lines (from 1); ``role`` names
    what the model uses the id for."""
    of_model = f", the model's {role} id" if role else ""
    return f"line {token_id + 1} (id {token_id}{of_model})"


def load_vocabulary(
    path: str | Path,
    model: AttentionClassifier,
    cls_token: str | None = None,
    unk_token: str | None = None,
    tokenize: Callable[[str], list[str]] = basic_english,
) -> Vocabulary:
    """Read and check a vocabulary file against ``model`` and, when given, the CLS and UNK token strings
    (module docstring).

    Args:
        path: the vocabulary file, one token per line, line ``n + 1`` = id ``n``.
        model: the model (its ``V``, ``cls_id``, ``unk_id``).
        cls_token: the CLS token's string, checked against line ``cls_id + 1`` when given.
        unk_token: the UNK token's string, checked against line ``unk_id + 1`` when given.
        tokenize: the tokenizer the vocabulary's words come from.

    Returns:
        The :class:`Vocabulary`.

    Raises:
        InputError: the file is unreadable, has not ``V`` lines, an empty line or a token twice, or the CLS/UNK
            line does not hold the given token.
    """
    tokens = read_lines(path, "vocabulary")
    where = f"vocabulary {str(path)!r}"
    if len(tokens) != model.V:
        raise InputError(
            f"{where} has {len(tokens)} lines but the model has V = {model.V} tokens (rows of E); "
            "write one token per line, line n = id n"
        )
    for name, i in (("CLS", model.cls_id), ("UNK", model.unk_id)):
        if not tokens[i].strip():
            raise InputError(f"{where}: {_line(i, name)} is empty; it must hold the {name} token")
    empty = [n for n, token in enumerate(tokens) if not token]
    if empty:
        raise InputError(f"{where}: {_line(empty[0])} is empty; every id needs its token")
    first: dict[str, int] = {}
    for n, token in enumerate(tokens):
        if token in first:
            raise InputError(
                f"{where}: token {token!r} appears twice (lines {first[token] + 1} and {n + 1}, ids "
                f"{first[token]} and {n}); every token must have one id"
            )
        first[token] = n
    for name, i, given in (("CLS", model.cls_id, cls_token), ("UNK", model.unk_id, unk_token)):
        if given is not None and tokens[i] != given:
            where_it_is = f"{given!r} is {_line(first[given])}" if given in first else f"{given!r} is on no line"
            option = f"--{name.lower()}"
            raise InputError(
                f"{where}: {_line(i, name)} holds {tokens[i]!r}, not {option}-token "
                f"{given!r} ({where_it_is}); fix the vocabulary's order, or the model's {option}-id at "
                "import"
            )
    return Vocabulary(tuple(tokens), model.cls_id, model.unk_id, tokenize)


@dataclass(frozen=True)
class Encoded:
    """A text as word ids, with what the OOV policy and truncation did to it."""

    text: str
    tokens: tuple[int, ...]
    dropped: tuple[str, ...] = ()  # OOV words left out (oov="drop")
    unknown: tuple[str, ...] = ()  # OOV words mapped to UNK (oov="unk")
    truncated: int = 0  # words cut after T − 1


#: how alike (difflib's ratio, 2·matches / total length) a vocabulary token must be to an OOV word to be suggested
CLOSE_SPELLING = 0.75


def _with_close_spellings(word: str, vocab: Vocabulary) -> str:
    """``'wonderful' (close: 'wonderfulness')``: the OOV word and up to 3 vocabulary tokens spelt like it
    (:func:`difflib.get_close_matches`), CLS and UNK excluded."""
    import difflib

    tokens = [t for t in vocab.tokens if t not in (vocab.cls, vocab.unk)]
    close = difflib.get_close_matches(word, tokens, n=3, cutoff=CLOSE_SPELLING)
    return f"{word!r} ({'close: ' + ', '.join(map(repr, close)) if close else 'no close spelling'})"


def encode(
    text: str,
    vocab: Vocabulary,
    model: AttentionClassifier,
    oov: str = "error",
    truncate: bool = False,
    where: str = "the text",
) -> Encoded:
    """Word ids of ``text`` (module docstring).

    Args:
        text: the text, one document.
        vocab: the vocabulary (its tokenizer and ids).
        model: the model (its ``T`` and ``unk_id``).
        oov: what out-of-vocabulary words become: ``error``, ``drop`` or ``unk`` (:data:`OOV_POLICIES`).
        truncate: keep the first ``T − 1`` words of a longer text instead of refusing it.
        where: how messages name the text.

    Returns:
        The :class:`Encoded` text: word ids and what the OOV policy and truncation did.

    Raises:
        InputError: an unknown policy; the text is empty, holds the CLS or UNK token, has OOV words under
            ``error``, no known word, or too many words without ``truncate``.
    """
    if oov not in OOV_POLICIES:
        raise InputError(f"--oov {oov!r}: choose one of {', '.join(OOV_POLICIES)}")
    words = vocab.tokenize(text)
    if not words:
        raise InputError(f"{where} is empty (no token after tokenization); remove it or give it words")
    for name, token in (("CLS", vocab.cls), ("UNK", vocab.unk)):
        if token in words:
            raise InputError(f"{where} contains the {name} token {token!r}; CLS and padding are added automatically")
    missing = [w for w in dict.fromkeys(words) if w not in vocab.ids]
    if missing and oov == "error":
        shown = ", ".join(map(lambda w: _with_close_spellings(w, vocab), missing[:5]))
        shown += f" and {len(missing) - 5} more" if len(missing) > 5 else ""
        raise InputError(
            f"{where} has out-of-vocabulary words {shown}; pass --oov drop (leave them out) or "
            "--oov unk (map them to UNK, the authors' behaviour)"
        )
    ids = [vocab.ids.get(w, model.unk_id) for w in words if w in vocab.ids or oov == "unk"]
    if not ids:
        raise InputError(
            f"{where} has no word in the vocabulary (all of {', '.join(map(repr, missing[:5]))} are unknown)"
        )
    limit = model.T - 1
    if len(ids) > limit and not truncate:
        raise InputError(
            f"{where} has {len(ids)} words but max_len = {model.T} leaves room for {limit}; shorten "
            "it or pass --truncate (the authors truncate)"
        )
    oov_words = tuple(w for w in words if w not in vocab.ids)
    return Encoded(
        text,
        tuple(ids[:limit]),
        dropped=oov_words if oov == "drop" else (),
        unknown=oov_words if oov == "unk" else (),
        truncated=max(0, len(ids) - limit),
    )


def read_texts(
    path: str | Path, vocab: Vocabulary, model: AttentionClassifier, oov: str = "error", truncate: bool = False
) -> list[Encoded]:
    """Every line of a texts file, encoded (errors name the line, counted from 1).

    Args:
        path: the texts file, UTF-8, one document per line.
        vocab: the vocabulary.
        model: the model.
        oov: the OOV policy (:func:`encode`).
        truncate: truncate long texts to ``T − 1`` words.

    Returns:
        One :class:`Encoded` per line, in order.

    Raises:
        InputError: the file is unreadable or empty, a line is empty, or a line fails :func:`encode`.
    """
    lines = read_lines(path, "texts")
    if not lines:
        raise InputError(f"texts file {str(path)!r} is empty; write one document per line")
    out = []
    for n, line in enumerate(lines, 1):
        if not line.strip():
            raise InputError(f"texts file {str(path)!r}: line {n} is empty; write one document per line, none empty")
        out.append(encode(line, vocab, model, oov, truncate, where=f"texts file {str(path)!r} line {n}"))
    return out
