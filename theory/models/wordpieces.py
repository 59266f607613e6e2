"""Texts as documents of the BERT family (docs/theory.md §13, "Text, tokens, words"), through the ``tokenizers``
library and the model's own tokenizer, read offline from its folder (``tokenizer.json``, or a WordPiece
``vocab.txt`` with ``tokenizer_config.json``'s ``do_lower_case``).

A text is split into *words* by the tokenizer's pre-tokenizer (BERT: whitespace and punctuation, after the
normaliser's lower-casing and accent stripping for uncased models; RoBERTa: byte-level), each word into pieces
(WordPiece / BPE) at positions ``P_w``; the document is ``[CLS] pieces… [SEP]`` (RoBERTa ``<s> … </s>``), the
special tokens added by the tokenizer's own post-processor.  A document longer than the model's maximum is an
error unless ``truncate`` is asked for; then the tokenizer truncates it (keeping the special tokens) and a word cut
in the middle keeps the pieces that remain.  Padding is never added here: it enters only through the attention
mask (the folder's own padding setting, e.g. all-MiniLM-L6-v2's 128, is switched off).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from theory.errors import InputError
from theory.optional import missing, needs

#: the special tokens' names, BERT's then RoBERTa's, when tokenizer_config.json does not name them
_DEFAULT_NAMES = {"unk": ("[UNK]", "<unk>"), "mask": ("[MASK]", "<mask>"), "pad": ("[PAD]", "<pad>")}


@dataclass(frozen=True)
class Document:
    """A tokenized text.

    ``ids`` (T,) are the token ids, ``pieces`` their strings, ``special`` marks the special tokens (never
    explained, never removed); word ``j`` is ``words[j]`` (its text, cut from the input by the tokenizer's offsets)
    at the token positions ``positions[j]``.  ``truncated`` says whether pieces were cut at the maximum length."""

    text: str
    ids: np.ndarray
    pieces: tuple[str, ...]
    special: np.ndarray
    words: tuple[str, ...]
    positions: tuple[np.ndarray, ...]
    truncated: bool = False

    @property
    def T(self) -> int:
        return len(self.ids)


class WordPieces:
    """A model's tokenizer (a ``tokenizers.Tokenizer``) with its special ids and the maximum document length."""

    def __init__(self, tokenizer, max_len: int, names: dict[str, str | None] | None = None):
        """Args:
        tokenizer: a ``tokenizers.Tokenizer`` (its padding and truncation settings are switched off).
        max_len: the longest document, special tokens included.
        names: ``{"unk"|"mask"|"pad": token}`` from ``tokenizer_config.json`` (default: BERT's or RoBERTa's
            names, whichever the vocabulary has).
        """
        tokenizer.no_padding()
        tokenizer.no_truncation()
        self.tokenizer = tokenizer
        self.max_len = int(max_len)
        specials = tokenizer.encode("").ids  # what the post-processor adds around every text
        if len(specials) != 2:
            raise InputError(
                f"the tokenizer adds {len(specials)} special tokens to a text; a sequence "
                "classifier's tokenizer adds two ([CLS] … [SEP] or <s> … </s>)"
            )
        self.cls_id, self.sep_id = specials
        given_names = names or {}
        self.names: dict[str, str] = {}  # the special tokens found, by kind (what an imported .npz records)
        for kind, defaults in _DEFAULT_NAMES.items():
            given = given_names.get(kind)
            candidates = (given,) if given else defaults
            found = [name for name in candidates if tokenizer.token_to_id(name) is not None]
            if not found:
                raise InputError(f"the tokenizer's vocabulary has no {kind} token ({' or '.join(candidates)})")
            self.names[kind] = found[0]
            setattr(self, f"{kind}_id", tokenizer.token_to_id(found[0]))

    @property
    def vocab_size(self) -> int:
        """The number of ids the tokenizer can produce (added tokens included)."""
        return self.tokenizer.get_vocab_size(with_added_tokens=True)

    def encode(self, text: str, truncate: bool = False) -> Document:
        """The document of ``text`` (module docstring).

        Args:
            text: the raw text.
            truncate: cut a document longer than ``max_len`` (otherwise that is an error).

        Returns:
            The :class:`Document`.
        """
        encoding = self.tokenizer.encode(text)
        truncated = len(encoding.ids) > self.max_len
        if truncated:
            if not truncate:
                raise InputError(
                    f"the text has {len(encoding.ids)} tokens, more than the model's {self.max_len}; "
                    "shorten it or pass --truncate"
                )
            self.tokenizer.enable_truncation(self.max_len)
            try:
                encoding = self.tokenizer.encode(text)
            finally:
                self.tokenizer.no_truncation()
        word_ids = np.array([-1 if w is None else w for w in encoding.word_ids])
        words, positions = [], []
        for w in dict.fromkeys(word_ids[word_ids >= 0].tolist()):
            at = np.flatnonzero(word_ids == w)
            start, end = encoding.offsets[at[0]][0], encoding.offsets[at[-1]][1]
            words.append(text[start:end])
            positions.append(at)
        return Document(
            text=text,
            ids=np.array(encoding.ids, dtype=np.int64),
            pieces=tuple(encoding.tokens),
            special=np.array(encoding.special_tokens_mask, dtype=bool),
            words=tuple(words),
            positions=tuple(positions),
            truncated=truncated,
        )


def tokenizer_from_str(text: str, where: str):
    """A ``tokenizers.Tokenizer`` from the text of a ``tokenizer.json`` (as an imported ``.npz`` keeps it).

    Args:
        text: the JSON text.
        where: the file it came from, for the message.

    Returns:
        The tokenizer.
    """
    if missing("tokenizers"):
        raise InputError(f"reading a Hugging Face tokenizer {needs(['tokenizers'])}")
    import tokenizers

    try:
        return tokenizers.Tokenizer.from_str(text)
    except Exception as error:  # the Rust library's errors carry no common type
        raise InputError(f"{where}: its tokenizer is not a tokenizers JSON: {first_line(error)}") from None


def read_tokenizer(folder: str | Path, max_len: int) -> WordPieces:
    """The tokenizer of a Hugging Face model folder: ``tokenizer.json``, else ``vocab.txt`` (WordPiece, with
    ``tokenizer_config.json``'s ``do_lower_case``, default true).

    Args:
        folder: the model folder.
        max_len: the longest document the model takes (special tokens included).

    Returns:
        The :class:`WordPieces`.
    """
    if missing("tokenizers"):
        raise InputError(f"reading a Hugging Face tokenizer {needs(['tokenizers'])}")
    import tokenizers

    folder = Path(folder)
    config = read_json(folder / "tokenizer_config.json") if (folder / "tokenizer_config.json").is_file() else {}
    if (folder / "tokenizer.json").is_file():
        try:
            tokenizer = tokenizers.Tokenizer.from_file(str(folder / "tokenizer.json"))
        except Exception as error:  # the Rust library's errors carry no common type
            raise InputError(f"{folder / 'tokenizer.json'} is not a tokenizers file: {first_line(error)}") from None
    elif (folder / "vocab.txt").is_file():
        lowercase = config.get("do_lower_case", True)
        tokenizer = tokenizers.BertWordPieceTokenizer(
            str(folder / "vocab.txt"), lowercase=bool(lowercase), strip_accents=config.get("strip_accents")
        )._tokenizer
    else:
        raise InputError(f"{folder} has no tokenizer.json or vocab.txt: the model's tokenizer is needed")
    limit = config.get("model_max_length")
    if isinstance(limit, int) and 0 < limit < max_len:
        max_len = limit
    names = {kind: _token_name(config.get(f"{kind}_token")) for kind in _DEFAULT_NAMES}
    return WordPieces(tokenizer, max_len, names)


def _token_name(value) -> str | None:
    """A special token as ``tokenizer_config.json`` writes it: a string or ``{"content": …}``."""
    return value.get("content") if isinstance(value, dict) else value


def read_json(path: Path) -> dict:
    """The JSON object in ``path`` (a model folder's configuration file); anything else is an :class:`InputError`.

    Args:
        path: the file.

    Returns:
        The object as a dict.
    """
    try:
        value = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
        raise InputError(f"{path} is not readable JSON: {first_line(error)}") from None
    if not isinstance(value, dict):
        raise InputError(f"{path} must hold a JSON object, got {type(value).__name__}")
    return value


def first_line(error: Exception) -> str:
    """The first line of an error's message (its type's name when it has none), for a one-line message.

    Args:
        error: the exception.

    Returns:
        One line.
    """
    return (str(error).strip().splitlines() or [type(error).__name__])[0]
