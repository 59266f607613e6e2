"""Property-based fuzzing of the command line: malformed model files, token lists, summaries, argv, texts
files, vocabulary files and state_dict files (``attnverify import``).

Every input either works (exit 0 and finite JSON numbers) or is refused the way bad input must be: exit
code 2, one ``attnverify: error: …`` line (after argparse's usage, for a bad command line), no traceback, no
warning, nothing on stdout and nothing written; a refusal never passes on torch's advice to load a file
unsafely.  Inputs built to be malformed must be refused; inputs built well-formed (``must_pass``: the texts,
vocabulary and state_dict kinds, whose outcome the strategy predicts from the documented format) must be
accepted.

Each input kind is one Hypothesis strategy in :data:`INPUT_KINDS` drawing a :class:`Case` (files to create
and the argv that uses them); a new kind of input (an encoder file) is a new strategy there, with its example
count in :data:`EXAMPLES`.  ``main`` runs in-process (fast); a few cases also run as
``python -m theory.cli.main`` subprocesses, where a traceback or a warning would show.
"""

from __future__ import annotations

import contextlib
import html
import io
import json
import math
import os
import pickle
import re
import subprocess
import sys
import tempfile
import warnings
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from theory.checking.profiles import PROFILES
from theory.checking.strategies.models import ModelSpec
from theory.cli.main import main
from theory.models.encoder import from_one_layer
from theory.models.huggingface import to_state_dict

ROOT = Path(__file__).resolve().parents[1]
BASE = ModelSpec(K=2, d_e=4, d_att=3, d_out=2, V=20, T=8, pe=True, seed=5).build()
ARRAYS = {"E": BASE.E, "Wq": BASE.Wq, "Wk": BASE.Wk, "Wv": BASE.Wv, "Wl": BASE.Wl}
SCALARS = {"cls_id": BASE.cls_id, "unk_id": BASE.unk_id, "max_len": BASE.max_len, "pe": int(BASE.pe)}
WORDS = [int(w) for w in BASE.word_ids]
#: the vocabulary of BASE: CLS and UNK at the model's ids, the other lines words the tokenizer keeps as they are
VOCAB = [{BASE.cls_id: "[cls]", BASE.unk_id: "<unk>"}.get(i, f"w{i}") for i in range(BASE.V)]
CHEAP_METHODS = [
    ["--method", "attention-avg"],
    ["--method", "attention-max"],
    ["--method", "grad-l2"],
    ["--method", "grad-x-input"],
    ["--method", "lime", "--samples", "40"],
    ["--method", "lime-inf"],
]
ANY_DOCUMENT_METHODS = CHEAP_METHODS[:4]  # LIME's β^∞ needs two distinct words
TRIED: dict[str, int] = {}
PASSING: dict[str, int] = {}  # of which must be accepted
FAILING: dict[str, int] = {}  # of which must be refused


@dataclass
class Case:
    """Files to create in a fresh folder (name → bytes, or None for a folder) and the argv, where ``{d}``
    stands for that folder; ``must_fail``: the input is malformed and must be refused; ``must_pass``: it is
    well-formed and must be accepted (neither: either outcome is right, as long as it is clean)."""

    argv: list[str]
    files: dict[str, bytes | None] = field(default_factory=dict)
    must_fail: bool = True
    why: str = ""
    must_pass: bool = False
    never_says: tuple[str, ...] = ()  # words a refusal must not contain


def _npz(arrays: dict) -> bytes:
    buffer = io.BytesIO()
    np.savez(buffer, **arrays)
    return buffer.getvalue()


def _valid() -> dict:
    return {**{k: v.copy() for k, v in ARRAYS.items()}, **SCALARS}


def _explain(files, tokens="5,9,12", method=("--method", "attention-avg"), model="{d}/m.npz", **kw) -> Case:
    return Case(["explain", model, "--tokens", tokens, *method, "--json"], files, **kw)


# --- model files -----------------------------------------------------------------------------------------

BAD_DTYPES = [np.complex128, np.bool_, "U3", "datetime64[s]", [("a", "f8")], object]
GOOD_DTYPES = [np.int64, np.float32, np.float16]
# (scalar, value, still a valid model?)
SCALAR_CHANGES = [
    ("cls_id", -1, False),
    ("cls_id", 1.5, False),
    ("cls_id", 20, False),
    ("unk_id", 0, False),
    ("max_len", 1, False),
    ("max_len", 0, False),
    ("max_len", 2.5, False),
    ("max_len", 20, True),
    ("max_len", 10**12, False),
    ("pe", 2, False),
    ("pe", 0, True),
    ("pe", np.nan, False),
    ("pe", -1, False),
    ("unk_id", 10**30, False),
    ("cls_id", np.array([1, 2]), False),
    ("max_len", np.array([]), False),
    ("pe", np.array("x"), False),
    ("cls_id", True, False),
]
ARRAY_DEFECTS = ["missing", "extra", "dtype", "shape", "nan", "overflow", "zero_dim", "scalar"]
FILE_DEFECTS = [
    "pickled",
    "npy",
    "huge_header",
    "compressed",
    "truncated",
    "garbage",
    "directory",
    "absent",
]  # in order


@st.composite
def model_files(draw) -> Case:
    """A ``.npz`` model file with one or two defects (or a harmless change, which must keep working)."""
    arrays = _valid()
    defects = draw(st.lists(st.sampled_from(ARRAY_DEFECTS + FILE_DEFECTS), min_size=1, max_size=2))
    weight = draw(st.sampled_from(sorted(ARRAYS)))
    bad: dict[str, bool] = {}  # per array: is it (still) malformed?
    for defect in defects:
        numeric = weight in arrays and np.asarray(arrays[weight]).dtype.kind in "iuf"
        if defect == "missing":
            key = draw(st.sampled_from(sorted(_valid())))
            arrays.pop(key, None)
            bad[key] = True
        elif defect == "extra":
            arrays[draw(st.sampled_from(["extra", "bias", "E2"]))] = np.zeros(draw(st.integers(0, 3)))
        elif defect == "dtype" and weight in arrays:
            dtype = draw(st.sampled_from(BAD_DTYPES + GOOD_DTYPES))
            shape = np.shape(arrays[weight])
            arrays[weight] = np.empty(shape, dtype=object) if dtype is object else np.zeros(shape, dtype=dtype)
            bad[weight] = dtype not in GOOD_DTYPES
        elif defect == "shape" and weight in arrays:
            shape = tuple(draw(st.lists(st.integers(0, 5), max_size=4)))
            if shape != np.shape(arrays[weight]):
                arrays[weight] = np.ones(shape)
                bad[weight] = True
        elif defect == "nan" and numeric and np.size(arrays[weight]) and not bad.get(weight):
            values = np.array(arrays[weight], dtype=np.float64)
            values.flat[draw(st.integers(0, values.size - 1))] = draw(st.sampled_from([np.nan, np.inf, -np.inf]))
            arrays[weight] = values
            bad[weight] = True
        elif defect == "overflow" and numeric:  # finite weights; the forward pass may overflow (then refused)
            with np.errstate(over="ignore"):
                arrays[weight] = np.asarray(arrays[weight], dtype=np.float64) * 10.0 ** draw(st.integers(100, 308))
            bad[weight] = bad.get(weight, False) or not np.all(np.isfinite(arrays[weight]))
        elif defect == "zero_dim" and weight in arrays and np.ndim(arrays[weight]):
            shape = list(np.shape(arrays[weight]))
            shape[draw(st.integers(0, len(shape) - 1))] = 0
            arrays[weight] = np.zeros(shape)
            bad[weight] = True
        elif defect == "scalar":
            key, value, valid = draw(st.sampled_from(SCALAR_CHANGES))
            arrays[key] = value
            bad[key] = not valid
    must_fail = any(bad.values())
    content = _npz(arrays)
    for defect in sorted(defects, key=lambda d: FILE_DEFECTS.index(d) if d in FILE_DEFECTS else -1):
        archive = zipfile.is_zipfile(io.BytesIO(content))
        if defect == "huge_header" and archive and weight in arrays:
            shape = draw(st.sampled_from([(10**6, 10**6), (2**40, 4), (0, 4), (10**20,)]))
            content, must_fail = _declared_shape(content, weight, shape), True
        elif defect == "truncated":
            content, must_fail = content[: draw(st.integers(0, max(0, len(content) - 1)))], True
        elif defect == "garbage":
            content, must_fail = draw(st.binary(max_size=64)), True
        elif defect == "pickled":
            obj = np.empty(2, dtype=object)
            obj[:] = [{"a": 1}, [1, 2]]
            content, must_fail = _npz({**_valid(), weight: obj}), True
        elif defect == "npy":
            buffer = io.BytesIO()
            np.save(buffer, ARRAYS["E"])
            content, must_fail = buffer.getvalue(), True
        elif defect == "compressed" and archive:  # must load as if stored
            buffer = io.BytesIO()
            with (
                zipfile.ZipFile(io.BytesIO(content)) as source,
                zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as target,
            ):
                for member in source.namelist():
                    target.writestr(member, source.read(member))
            content = buffer.getvalue()
    if "directory" in defects:
        return _explain({"m.npz": None}, why="a folder")
    if "absent" in defects:
        return _explain({}, why="no file")
    return _explain(
        {"m.npz": content}, method=draw(st.sampled_from(CHEAP_METHODS)), must_fail=must_fail, why=", ".join(defects)
    )


def _declared_shape(content: bytes, name: str, shape) -> bytes:
    """The archive with member ``name`` replaced by a bare ``.npy`` header declaring ``shape`` (no data)."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(content)) as source, zipfile.ZipFile(buffer, "w") as target:
        for member in source.namelist():
            data = source.read(member)
            if member == f"{name}.npy":
                header = io.BytesIO()
                np.lib.format.write_array_header_1_0(header, {"descr": "<f8", "fortran_order": False, "shape": shape})
                data = header.getvalue()
            target.writestr(member, data)
    return buffer.getvalue()


# --- token lists -----------------------------------------------------------------------------------------


@st.composite
def token_lists(draw) -> Case:
    """``--tokens`` strings: random text over the characters of a token list, or lists of integers that may
    hold CLS, UNK, ids out of range or too many words."""
    good = _npz(_valid())
    if draw(st.booleans()):
        text = draw(st.text(alphabet="0123456789,-+ .xe_\t", max_size=24))
        try:
            ids = [int(part) for part in text.split(",")] if text.strip() else []
            must_fail = not (ids and len(ids) <= BASE.T - 1 and all(w in WORDS for w in ids))
        except ValueError:
            must_fail = True
    else:
        ids = draw(
            st.lists(
                st.one_of(st.sampled_from(WORDS), st.integers(-3, 25), st.integers(-(10**30), 10**30)), max_size=10
            )
        )
        text = ",".join(map(str, ids))
        must_fail = not (ids and len(ids) <= BASE.T - 1 and all(w in WORDS for w in ids))
    return _explain(
        {"m.npz": good},
        tokens=text,
        method=draw(st.sampled_from(CHEAP_METHODS)),
        must_fail=must_fail,
        why=f"tokens {text!r}",
    )


# --- summary files (compare, list) ------------------------------------------------------------------------


def _small_summary() -> dict:
    """A few records of the committed summary and one regime record: every part compare and list read."""
    data = json.loads((ROOT / "reports" / "summary.json").read_text())
    extras = [e for e in data["extras"] if "regimes" in e["data"]][:1]
    for e in extras:
        e["data"] = {"regimes": e["data"]["regimes"][:2]}
    return {**data, "claims": data["claims"][:4], "extras": extras}


SUMMARY = _small_summary()
JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=5),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3),
    max_leaves=6,
)


@st.composite
def summary_files(draw) -> Case:
    """``summary.json`` with one value replaced or deleted anywhere in its tree, truncated, or not JSON at all;
    read by ``compare`` (as either side) or by ``list`` (as reports/summary.json)."""
    data = json.loads(json.dumps(SUMMARY))
    how = draw(st.sampled_from(["replace", "delete", "truncate", "bytes"]))
    parent, key = None, None
    node = data
    while isinstance(node, (dict, list)) and node and (parent is None or draw(st.booleans())):
        parent, key = node, draw(st.sampled_from(sorted(node) if isinstance(node, dict) else range(len(node))))
        node = parent[key]
    if how == "replace":
        parent[key] = draw(JSON_VALUES)
    elif how == "delete":
        del parent[key]
    text = json.dumps(data).encode()
    if how == "truncate":
        text = text[: draw(st.integers(0, len(text) - 1))]
    elif how == "bytes":
        text = draw(st.binary(max_size=40))
    base = json.dumps(SUMMARY).encode()
    command = draw(st.sampled_from(["compare new", "compare baseline", "list"]))
    if command == "list":
        return Case(["list"], {"reports": None, "reports/summary.json": text}, must_fail=False, why=how)
    files = {"base.json": base, "s.json": text}
    argv = (
        ["compare", "{d}/s.json", "{d}/base.json"]
        if command == "compare baseline"
        else ["compare", "{d}/base.json", "{d}/s.json"]
    )
    return Case(argv, files, must_fail=how in ("truncate", "bytes"), why=f"{how} at {key!r}")


# --- argument vectors --------------------------------------------------------------------------------------

WORDS_OF_ARGV = [
    "list",
    "run",
    "explain",
    "compare",
    "--only",
    "--out",
    "--seed",
    "--profile",
    "--population",
    "--tokens",
    "--method",
    "--json",
    "--semantics",
    "--samples",
    "--margin",
    "model.simplex",
    "no.such",
    "ci",
    "thorough",
    "random",
    "trained",
    "both",
    "lime",
    "lime-inf",
    "grad-l1",
    "delete",
    "replace",
    "5,9",
    "{d}/m.npz",
    "{d}/out",
    "{d}/summary.json",
    "/proc/x",
    "-1",
    "0",
    "2",
    "1e9",
    "nan",
    "inf",
    "4294967296",
    "",
    "-",
    "--",
    "--x",
    "import",
    "--model",
    "--text",
    "--texts",
    "--vocab",
    "--oov",
    "unk",
    "--truncate",
    "--jsonl",
    "--cls-token",
    "--unk-token",
    "--class",
    "--contrast",
    "{d}/v.txt",
    "{d}/t.txt",
    "w2 w3",
]


@st.composite
def argvs(draw) -> Case:
    """Argument vectors made of the command line's own words, numbers and paths in any order."""
    summary = json.dumps(SUMMARY).encode()
    argv = draw(st.lists(st.one_of(st.sampled_from(WORDS_OF_ARGV), st.text(max_size=6)), max_size=8))
    return Case(
        argv,
        {"m.npz": _npz(_valid()), "summary.json": summary, "v.txt": "\n".join(VOCAB).encode(), "t.txt": b"w2 w3\n"},
        must_fail=False,
        why="argv",
    )


# --- texts files (explain --texts, run --model --texts) -----------------------------------------------------

IN_VOCAB = [VOCAB[w] for w in WORDS]
OOV_WORDS = ["zebra", "qq9"]
SPECIAL = ["[CLS]", "<unk>"]  # the model's CLS and UNK tokens written in a text: always refused
#: characters that are not line breaks for a texts file ("\n" splits lines; a final "\r" is a CRLF ending)
CONTROLS = [chr(c) for c in [*range(9), 0x0B, 0x0C, *range(0x0E, 0x20), 0x7F, 0x85, 0xA0, 0x200B, 0x2028, 0xFEFF]]
BOM = b"\xef\xbb\xbf"


def _expected_refusal(words: list[str], oov: str, truncate: bool) -> bool:
    """Whether a text of these space-separated words must be refused (docs: theory/models/vocabulary.py)."""
    lowered = [w.lower() for w in words]
    if not lowered or any(w in ("[cls]", "<unk>") for w in lowered):
        return True
    known = [w for w in lowered if w in VOCAB]
    if len(known) < len(lowered) and oov == "error":
        return True
    kept = len(known) if oov == "drop" else len(lowered)
    return kept == 0 or (kept > BASE.T - 1 and not truncate)


TEXT_DEFECTS = ["not_utf8", "empty", "long", "long_word", "control", "unknown_words", "folder"]


@st.composite
def texts_files(draw) -> Case:
    """A texts file of lines of known (or upper-cased) words, with at most one defect — a byte that is not
    UTF-8, an empty or blank line, a very long line, a very long word, a control character, a line with
    out-of-vocabulary or special words — and harmless changes: a byte-order mark, CRLF endings, a final
    newline; read by ``explain --texts`` or ``run --model --texts``, with any ``--oov`` and ``--truncate``."""
    oov = draw(st.sampled_from(["error", "drop", "unk"]))
    truncate = draw(st.booleans())
    defect = draw(st.one_of(st.none(), st.sampled_from(TEXT_DEFECTS)))
    known = st.one_of(st.sampled_from(IN_VOCAB), st.sampled_from(IN_VOCAB).map(str.upper))
    lines = draw(st.lists(st.lists(known, min_size=1, max_size=BASE.T), min_size=1, max_size=4))
    if defect == "unknown_words":
        anything = st.one_of(known, st.sampled_from(OOV_WORDS), st.sampled_from(SPECIAL))
        lines.append(draw(st.lists(anything, min_size=1, max_size=4)))
    elif defect == "long":
        lines[draw(st.integers(0, len(lines) - 1))] = [draw(st.sampled_from(IN_VOCAB))] * 3000
    elif defect == "long_word":  # one 20000-character word: out of the vocabulary
        lines.append(["w" * 20000])
    must_fail = any(_expected_refusal(words, oov, truncate) for words in lines)
    predicted = True  # False: either outcome is right (it must still be clean)
    text = [" ".join(words) for words in lines]
    if defect == "control":  # a control character as a word of its own: whitespace to the tokenizer, or a word
        n = draw(st.integers(0, len(text) - 1))
        text[n] = f"{text[n]} {draw(st.sampled_from(CONTROLS))} {IN_VOCAB[0]}"
        predicted = False
    elif defect == "empty":
        # before a line (at the end, an empty line is a final newline)
        text.insert(draw(st.integers(0, len(text) - 1)), draw(st.sampled_from(["", " ", "\t ", "\u3000"])))
        must_fail = True
    content = ("\r\n" if draw(st.booleans()) else "\n").join(text).encode() + draw(st.sampled_from([b"", b"\n"]))
    if draw(st.booleans()):
        content = BOM + content
    if defect == "not_utf8":
        at = draw(st.integers(0, len(content)))
        content = content[:at] + draw(st.sampled_from([b"\xff", b"\xe9", b"\xc3", b"\xed\xa0\x80"])) + content[at:]
        must_fail = True
    files = {
        "m.npz": _npz(_valid()),
        "v.txt": "\n".join(VOCAB).encode(),
        "t.txt": None if defect == "folder" else content,
    }
    must_fail = must_fail or defect == "folder"
    options = ["--oov", oov] * draw(st.booleans()) if oov == "error" else ["--oov", oov]
    options += ["--truncate"] * truncate
    if draw(st.booleans()):
        argv = [
            "explain",
            "{d}/m.npz",
            "--texts",
            "{d}/t.txt",
            "--vocab",
            "{d}/v.txt",
            *draw(st.sampled_from(ANY_DOCUMENT_METHODS)),
            "--jsonl",
            *options,
        ]
    else:
        argv = [
            "run",
            "--model",
            "{d}/m.npz",
            "--texts",
            "{d}/t.txt",
            "--vocab",
            "{d}/v.txt",
            *options,
            "--only",
            "model.simplex",
            "--out",
            "{d}/r",
        ]
    return Case(
        argv,
        files,
        must_fail=must_fail and predicted,
        must_pass=not must_fail and predicted,
        why=f"texts {defect} {content[:80]!r}",
    )


# --- vocabulary files ---------------------------------------------------------------------------------------

VOCAB_DEFECTS = [
    "duplicate",
    "empty",
    "extra",
    "missing",
    "blank_last",
    "not_utf8",
    "wrong_cls_token",
    "wrong_unk_token",
]
VOCAB_HARMLESS = ["bom", "crlf", "final_newline", "control"]


@st.composite
def vocabulary_files(draw) -> Case:
    """A vocabulary with at most one defect (a token twice, an empty line, a line too many or too few, a blank
    last line, a byte that is not UTF-8, ``--cls-token``/``--unk-token`` not on their lines) and harmless
    changes (a byte-order mark, CRLF, a final newline, a control character inside a token, the right
    ``--cls-token``/``--unk-token``); read by ``explain --text`` or ``run --model --texts``."""
    tokens = list(VOCAB)
    defect = draw(st.one_of(st.none(), st.sampled_from(VOCAB_DEFECTS)))
    harmless = draw(st.lists(st.sampled_from(VOCAB_HARMLESS), max_size=3, unique=True))
    line = draw(st.integers(0, len(tokens) - 1))
    if "control" in harmless:  # a control character inside a word's token (that word is then never in a text);
        # before the defect, so as not to undo it
        n = draw(st.integers(7, len(tokens) - 1))  # not CLS, UNK or a word of the texts (w2 … w5)
        tokens[n] = tokens[n][:1] + draw(st.sampled_from(CONTROLS)) + tokens[n][1:]
    options = ["--cls-token", "[cls]", "--unk-token", "<unk>"][: 2 * draw(st.integers(0, 2))]  # right, if given
    if defect == "duplicate":
        tokens[line] = tokens[draw(st.integers(0, len(tokens) - 1).filter(lambda n: n != line))]
    elif defect == "empty":
        tokens[line] = ""
    elif defect == "extra":
        tokens.insert(line, draw(st.sampled_from(["w99", "zebra", "x y"])))
    elif defect == "missing":
        del tokens[line]
    elif defect in ("wrong_cls_token", "wrong_unk_token"):
        # after a right one: argparse keeps the last
        options += [f"--{defect[6:9]}-token", draw(st.sampled_from(["[CLS]", "[UNK]", "w3", "", "<pad>"]))]
    content = ("\r\n" if "crlf" in harmless else "\n").join(tokens).encode()
    content += b"\n" * ("final_newline" in harmless) + b"\n\n" * (defect == "blank_last")
    if "bom" in harmless:
        content = BOM + content
    if defect == "not_utf8":
        at = draw(st.integers(0, len(content)))
        content = content[:at] + b"\xff" + content[at:]
    files = {"m.npz": _npz(_valid()), "v.txt": content, "t.txt": b"w2 w3\nW4 w2 .\n".replace(b".", b"w5")}
    if draw(st.booleans()):
        argv = [
            "explain",
            "{d}/m.npz",
            "--text",
            "w2 w3 W4",
            "--vocab",
            "{d}/v.txt",
            *draw(st.sampled_from(CHEAP_METHODS)),
            "--json",
            *options,
        ]
    else:
        argv = [
            "run",
            "--model",
            "{d}/m.npz",
            "--texts",
            "{d}/t.txt",
            "--vocab",
            "{d}/v.txt",
            *options,
            "--only",
            "model.simplex",
            "--out",
            "{d}/r",
        ]
    return Case(
        argv,
        files,
        must_fail=defect is not None,
        must_pass=defect is None,
        why=f"vocabulary {defect} {harmless} {options}",
    )


# --- state_dict files (attnverify import) ---------------------------------------------------------------------

try:
    import torch
except ImportError:  # the import kind needs torch (pip install '.[import]')
    torch = None

N_CLASSES = 2


def _state() -> dict:
    """BASE's weights as the authors' MultiHead state_dict (classifier rows: W_ℓ and −W_ℓ)."""
    state = {"embedding.weight": BASE.E}
    for i in range(BASE.K):
        state.update(
            {
                f"heads.{i}.query.weight": BASE.Wq[i],
                f"heads.{i}.key.weight": BASE.Wk[i],
                f"heads.{i}.value.weight": BASE.Wv[i],
                f"heads.{i}.classifier.weight": np.stack([BASE.Wl[i], -BASE.Wl[i]]),
            }
        )
    return {key: torch.tensor(value) for key, value in state.items()}


def _saved(obj) -> bytes:
    buffer = io.BytesIO()
    torch.save(obj, buffer)
    return buffer.getvalue()


STATE_DEFECTS = [
    "missing",
    "extra",
    "shape",
    "bad_dtype",
    "nan",
    "non_tensor",
    "module_prefix",
    "checkpoint",
    "not_a_dict",
    "pickled_module",
    "plain_pickle",
    "truncated",
    "garbage",
    "sparse",
    "empty_dict",
    "folder",
]
STATE_HARMLESS = ["float32", "float16", "bfloat16", "requires_grad", "transposed_view"]
# (options, valid?) for the explained logit, the ids and T
IMPORT_OPTIONS = [
    (["--class", "0"], True),
    (["--class", "1"], True),
    (["--contrast", "1,0"], True),
    (["--class", "2"], False),
    ([], False),
    (["--contrast", "0,0"], False),
    (["--contrast", "1"], False),
    (["--class", "-1"], False),
]
ID_OPTIONS = [
    (["--cls-id", "0", "--unk-id", "1", "--max-len", "8"], True),
    (["--cls-id", "3", "--unk-id", "7", "--max-len", "30", "--no-pe", "--no-scale"], True),
    (["--cls-id", "20", "--unk-id", "1", "--max-len", "8"], False),
    (["--cls-id", "1", "--unk-id", "1", "--max-len", "8"], False),
    (["--cls-id", "0", "--unk-id", "1", "--max-len", "1"], False),
]


@st.composite
def state_dict_files(draw) -> Case:
    """``torch.save``d files for ``attnverify import``: the MultiHead state_dict with a missing, extra,
    mis-shaped, wrongly typed (integer, bool, complex), NaN, sparse or non-tensor entry, wrapped in
    DataParallel's ``module.`` prefix or a checkpoint dict, not a dict, a pickled ``nn.Module`` (must be refused
    by ``weights_only=True``), a plain pickle, truncated, random bytes; or harmless changes (float32/16,
    bfloat16, ``requires_grad``, a non-contiguous view); with valid or invalid class, id and output options."""
    state = _state()
    key = draw(st.sampled_from(sorted(state)))
    defect = draw(st.one_of(st.none(), st.none(), st.sampled_from(STATE_DEFECTS)))
    harmless = draw(st.lists(st.sampled_from(STATE_HARMLESS), max_size=2, unique=True))
    for change in harmless:
        if change == "requires_grad":
            state[key] = state[key].clone().requires_grad_(True)
        elif change == "transposed_view":
            state[key] = state[key].T.contiguous().T
        else:
            state[key] = state[key].to(getattr(torch, change))
    obj = state
    if defect == "missing":
        del state[key]
    elif defect == "extra":
        state[draw(st.sampled_from(["heads.0.query.bias", "P", "heads.2.key.weight", "embedding.weight2"]))] = (
            torch.zeros(draw(st.integers(0, 3)), dtype=torch.float64)
        )
    elif defect == "shape":
        shape = tuple(draw(st.lists(st.integers(0, 5), max_size=3)))
        if shape == tuple(state[key].shape):
            shape = (*shape, 1)
        state[key] = torch.ones(shape, dtype=torch.float64)
    elif defect == "bad_dtype":
        state[key] = state[key].to(draw(st.sampled_from([torch.int64, torch.bool, torch.complex128, torch.uint8])))
    elif defect == "nan":
        values = state[key].detach().to(torch.float64).reshape(-1).clone()
        values[draw(st.integers(0, values.numel() - 1))] = draw(st.sampled_from([np.nan, np.inf, -np.inf]))
        state[key] = values.reshape(state[key].shape)
    elif defect == "non_tensor":
        state[key] = draw(st.sampled_from([3, 1.5, "w", None, [1.0, 2.0], {"a": torch.zeros(2)}, (torch.zeros(2),)]))
    elif defect == "module_prefix":
        obj = {f"module.{k}": v for k, v in state.items()}
    elif defect == "checkpoint":
        obj = {draw(st.sampled_from(["model", "state_dict"])): state, "epoch": 3}
    elif defect == "not_a_dict":
        obj = draw(st.sampled_from([list(state.values()), state[key], 7, "state"]))
    elif defect == "sparse":
        state[key] = state[key].to_sparse()
    elif defect == "empty_dict":
        obj = {}
    if defect == "pickled_module":
        content = MODULE_BYTES
    elif defect == "plain_pickle":
        content = pickle.dumps({k: v.tolist() for k, v in _state().items()}, protocol=draw(st.integers(2, 5)))
    else:
        content = _saved(obj)
    if defect == "truncated":
        content = content[: draw(st.integers(0, len(content) - 1))]
    elif defect == "garbage":
        content = draw(st.binary(max_size=64))
    valid = {
        "choice": [o for o, ok in IMPORT_OPTIONS if ok],
        "ids": [o for o, ok in ID_OPTIONS if ok],
        "out": ["{d}/o.npz"],
    }
    invalid = {
        "choice": [o for o, ok in IMPORT_OPTIONS if not ok],
        "ids": [o for o, ok in ID_OPTIONS if not ok],
        "out": ["{d}/o.txt", "{d}/no/o.npz", "{d}"],
    }
    wrong = draw(st.one_of(st.none(), st.none(), st.sampled_from(sorted(valid))))  # one bad option, or none
    chosen, ids, out = (
        draw(st.sampled_from((invalid if part == wrong else valid)[part])) for part in ("choice", "ids", "out")
    )
    argv = ["import", "{d}/m.pt", "--out", out, *chosen, *ids]
    refused = defect is not None or wrong is not None
    if defect == "folder":
        content = None
    return Case(
        argv,
        {"m.pt": content},
        must_fail=refused,
        must_pass=not refused,
        never_says=("None",),
        why=f"state_dict {defect} {harmless} at {key}",
    )


def _module_bytes() -> bytes | None:
    """A whole pickled ``nn.Module`` (what ``torch.save(model)`` writes)."""
    if torch is None:
        return None
    from reference.oracles.torch_multihead import MultiHead

    return _saved(
        MultiHead(
            V=BASE.V, d_e=BASE.d_e, K=BASE.K, d_att=BASE.d_att, d_out=BASE.d_out, n_classes=N_CLASSES, max_len=BASE.T
        )
    )


MODULE_BYTES = _module_bytes()


# --- encoder files -----------------------------------------------------------------------------------------

#: a valid encoder file: BASE as the L = 1 encoder (``from_one_layer``), with residual, post-norm and biases
ENCODER = from_one_layer(BASE).replace(residual=True, norm="post", bq=np.full((1, 2, 3), 0.1))
ENCODER_DEFECTS = ["missing", "shape", "nan", "norm", "activation", "arch", "pickled", "optional"]


@st.composite
def encoder_files(draw) -> Case:
    """An encoder ``.npz`` (``arch = "encoder"``) with one defect — a required key missing, an array of another
    shape, a NaN, an unknown norm, activation or arch, a pickled object array — or an optional key removed
    (which must keep working)."""
    arrays = dict(ENCODER.arrays())
    defect = draw(st.sampled_from(ENCODER_DEFECTS))
    name = draw(st.sampled_from(["E", "Wq", "Wk", "Wv", "Wo", "w"]))
    must_fail, must_pass = True, False
    if defect == "missing":
        arrays.pop(draw(st.sampled_from(["E", "Wq", "Wk", "Wv", "Wo", "w", "cls_id", "unk_id", "max_len"])))
    elif defect == "shape":
        shape = tuple(draw(st.lists(st.integers(0, 5), max_size=4)))
        must_fail = shape != np.shape(arrays[name])
        arrays[name] = np.ones(shape)
    elif defect == "nan":
        values = np.array(arrays[name], dtype=np.float64)
        values.flat[draw(st.integers(0, values.size - 1))] = draw(st.sampled_from([np.nan, np.inf]))
        arrays[name] = values
    elif defect in ("norm", "activation", "arch"):
        arrays[defect] = np.str_(draw(st.sampled_from(["", "sideways", "tanh", "transformer", "POST"])))
    elif defect == "pickled":
        obj = np.empty(2, dtype=object)
        obj[:] = [{"a": 1}, [1, 2]]
        arrays[name] = obj
    else:  # an optional key: its default applies
        arrays.pop(draw(st.sampled_from(["bq", "bk", "bo", "norm1_weight", "pe", "residual", "activation"])))
        must_fail, must_pass = False, True
    return _explain(
        {"m.npz": _npz(arrays)},
        method=("--method", draw(st.sampled_from(["attention-avg", "rollout"]))),
        must_fail=must_fail,
        must_pass=must_pass,
        why=f"encoder {defect} {name}",
    )


# --- Hugging Face model folders (the BERT family, issue 23) --------------------------------------------------


def _hugging_face_folder() -> dict[str, bytes]:
    """A small BertForSequenceClassification folder written without transformers: config.json, model.safetensors
    (the suite's own Hugging Face names, theory.models.huggingface.to_state_dict) and vocab.txt."""
    from safetensors.numpy import save

    from theory.checking.strategies.bert import FIRST_WORD, BertCase, BertSpec
    from theory.claims.bert import ORACLE_PIECES

    spec = BertSpec("bert", "native", 1, 2, 6, 5, "gelu", V=FIRST_WORD + len(ORACLE_PIECES), score_scale=1.0, seed=3)
    config, weights, _ = to_state_dict(BertCase(spec, (), 0, 0).model)
    vocab = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", *ORACLE_PIECES]
    return {
        "config.json": json.dumps(config).encode(),
        "model.safetensors": save({name: np.ascontiguousarray(array) for name, array in weights.items()}),
        "vocab.txt": "\n".join(vocab).encode(),
    }


try:
    import safetensors
except ImportError:  # the folder kind needs safetensors (pip install '.[huggingface]')
    safetensors = None
HF_FOLDER = _hugging_face_folder() if safetensors is not None else {}
HF_DEFECTS = ["no_config", "no_weights", "config_json", "model_type", "missing", "shape", "nan", "vocab", "pickled"]
HF_HARMLESS = ["unknown_key", "truncate"]


@st.composite
def hugging_face_folders(draw) -> Case:
    """A Hugging Face folder (``explain DIR --text``) with one defect — no config or weights, a config that is not
    JSON or names an unsupported model_type, a weight missing, of another shape or holding NaN/inf, a vocabulary
    larger than the embedding, a pickled checkpoint — or a harmless change (an unknown config key; a text longer
    than the model with --truncate), or a text longer than the model without --truncate (refused)."""
    from safetensors.numpy import load, save

    files = {f"hf/{name}": content for name, content in HF_FOLDER.items()}
    defect = draw(st.sampled_from(HF_DEFECTS + HF_HARMLESS + ["long"]))
    weights = load(files["hf/model.safetensors"])
    name = draw(st.sampled_from(sorted(weights)))
    config = json.loads(files["hf/config.json"])
    text, options, must_fail = "the movie", [], defect not in HF_HARMLESS
    if defect == "no_config":
        del files["hf/config.json"]
    elif defect == "no_weights":
        del files["hf/model.safetensors"]
    elif defect == "config_json":
        files["hf/config.json"] = draw(st.sampled_from([b"{", b"[]", b"\xff\xfe", b"null"]))
    elif defect == "model_type":
        config["model_type"] = draw(st.sampled_from(["gpt2", "BERT", "", "t5"]))
    elif defect == "missing":
        del weights[name]
    elif defect == "shape":
        shape = tuple(draw(st.lists(st.integers(1, 9), min_size=1, max_size=3)))
        must_fail = shape != weights[name].shape
        weights[name] = np.ones(shape)
    elif defect == "nan":
        weights[name].flat[draw(st.integers(0, weights[name].size - 1))] = draw(st.sampled_from([np.nan, -np.inf]))
    elif defect == "vocab":
        files["hf/vocab.txt"] += "".join(f"\nextra{k}" for k in range(draw(st.integers(1, 5)))).encode()
    elif defect == "pickled":
        del files["hf/model.safetensors"]
        files["hf/pytorch_model.bin"] = pickle.dumps({"weights": [1, 2, 3]})
    elif defect == "unknown_key":
        config[draw(st.sampled_from(["architectures", "torch_dtype", "zzz"]))] = draw(st.sampled_from([1, "x", None]))
    else:  # long: 8 positions hold [CLS] and [SEP] and 6 pieces
        text = " ".join(["the movie great bad"] * draw(st.integers(2, 4)))
        options = ["--truncate"] if defect == "truncate" else []
    if "hf/config.json" in files and defect != "config_json":
        files["hf/config.json"] = json.dumps(config).encode()
    if "hf/model.safetensors" in files:
        files["hf/model.safetensors"] = save(weights)
    return Case(
        ["explain", "{d}/hf", "--text", text, "--method", "attention-avg", "--json", *options],
        {"hf": None, **files},
        must_fail=must_fail,
        must_pass=not must_fail,
        why=f"hugging face folder {defect} {name}",
    )


# --- explain's methods and options (a valid model of either family, text or tokens) --------------------------

#: method names a user might type: the §2 model's, the encoder's, ``all``, and names of neither family
METHOD_NAMES = [
    "attention-avg",
    "grad-l2",
    "grad-x-input",
    "lime",
    "lime-inf",
    "eq19",
    "lime-large-d",
    "shapley",
    "kernelshap",
    "occlusion",
    "ig",
    "smoothgrad",
    "clime",
    "rollout",
    "all",
    "nope",
    "",
    "LIME",
]
ONE_LAYER_ONLY, ENCODER_ONLY = {"eq19", "lime-large-d"}, {"rollout"}


@st.composite
def explain_options(draw) -> Case:
    """``explain`` on a valid model (the §2 ``BASE`` or its encoder) with a drawn ``--method`` list (names,
    comma-separated, repeated, ``all``, unknown or undefined for the family), the methods' options with valid and
    invalid values, and ``--html``/``--plot`` targets with right and wrong suffixes.  An unknown or undefined
    method, an empty name or a wrong suffix must be refused; the rest may go either way, cleanly."""
    encoder = draw(st.booleans())
    items = draw(st.lists(st.lists(st.sampled_from(METHOD_NAMES), min_size=1, max_size=3), min_size=1, max_size=2))
    argv = ["explain", "{d}/m.npz"]
    if draw(st.booleans()):
        argv += [
            "--text",
            " ".join(draw(st.lists(st.sampled_from(IN_VOCAB), min_size=1, max_size=5))),
            "--vocab",
            "{d}/v.txt",
        ]
    else:
        argv += ["--tokens", ",".join(map(str, draw(st.lists(st.sampled_from(WORDS), min_size=1, max_size=5))))]
    for item in items:
        argv += ["--method", ",".join(item)]
    names = {name for item in items for name in item}
    undefined = ONE_LAYER_ONLY if encoder else ENCODER_ONLY
    must_fail = bool(names & ({"nope", "", "LIME"} | undefined))
    for option, values in (
        ("--samples", ["0", "1", "2", "40", "-5", "1000000000000000"]),
        ("--sigma", ["0.1", "0", "-1", "nan", "1e300"]),
        ("--seed", ["0", "-1", "4294967296"]),
        ("--semantics", ["delete", "replace", "mask:3", "zero", "mask:99", "sideways"]),
        ("--baseline", ["replace", "zero", "delete", "mask:x"]),
    ):
        if draw(st.integers(0, 4)) == 0:
            argv += [option, draw(st.sampled_from(values))]
    if draw(st.integers(0, 3)) == 0:
        target = draw(st.sampled_from(["e.html", "e.HTML", "e.png", "e"]))
        argv += ["--html", "{d}/" + target]
        must_fail = must_fail or not target.lower().endswith(".html")
    if draw(st.integers(0, 5)) == 0:  # a wrong --plot suffix (a right one needs matplotlib and is slow here)
        argv += ["--plot", "{d}/" + draw(st.sampled_from(["e.jpg", "e.html", "e"]))]
        must_fail = True
    if draw(st.booleans()):
        argv.append("--json")
    model = ENCODER if encoder else BASE
    arrays = model.arrays() if encoder else _valid()
    return Case(
        argv,
        {"m.npz": _npz(arrays), "v.txt": "\n".join(VOCAB).encode()},
        must_fail=must_fail,
        why=f"explain {'encoder' if encoder else 'one-layer'} {items}",
    )


INPUT_KINDS = {
    "model file": model_files(),
    "tokens": token_lists(),
    "argv": argvs(),
    "summary": summary_files(),
    "texts file": texts_files(),
    "vocabulary file": vocabulary_files(),
    "encoder file": encoder_files(),
    "explain options": explain_options(),
    **({"state_dict file": state_dict_files()} if torch is not None else {}),
    **({"hugging face folder": hugging_face_folders()} if safetensors is not None else {}),
}
EXAMPLES = {
    "model file": 200,
    "tokens": 120,
    "argv": 150,
    "summary": 150,
    "texts file": 120,
    "vocabulary file": 100,
    "state_dict file": 150,
    "encoder file": 100,
    "explain options": 120,
    "hugging face folder": 100,
}


# --- attnverify import --expect, and encoder state_dicts (issue 21; a separate block) ---------------------------

EXPECT_DEFECTS = [
    "blank_line",
    "not_a_number",
    "nan",
    "no_ids",
    "no_cls",
    "too_long",
    "out_of_range",
    "non_integer",
    "wrong_value",
    "empty",
    "not_utf8",
    "folder",
    "absent",
]
EXPECT_HARMLESS = ["crlf", "bom", "padded", "float32", "exponent"]


@st.composite
def expect_files(draw) -> Case:
    """``import --expect FILE`` on the MultiHead state_dict of BASE (class 0: the imported model is BASE): lines
    ``F ID ID …`` with BASE's own f (must be accepted, also rounded to float32, padded, with CRLF or a BOM), or with
    one defect — a blank line, a non-number, NaN, no ids, no CLS first, more than T ids, an id out of range, a
    non-integer id, a value 1% off (another model), an empty, non-UTF-8, absent file or a folder."""
    n = draw(st.integers(1, 4))
    docs = np.full((n, BASE.T), BASE.unk_id, dtype=np.int64)
    docs[:, 0] = BASE.cls_id
    lengths = [draw(st.integers(1, BASE.T - 1)) for _ in range(n)]
    for b, length in enumerate(lengths):
        docs[b, 1 : 1 + length] = draw(st.lists(st.sampled_from(WORDS), min_size=length, max_size=length))
    values = BASE.output(docs)
    harmless = draw(st.lists(st.sampled_from(EXPECT_HARMLESS), max_size=2, unique=True))
    defect = draw(st.one_of(st.none(), st.sampled_from(EXPECT_DEFECTS)))
    if "float32" in harmless:
        values = values.astype(np.float32).astype(np.float64)
    rows = []
    for value, doc, length in zip(values, docs, lengths):
        ids = doc.tolist() if "padded" in harmless else doc[: 1 + length].tolist()
        rows.append([f"{value:.17e}" if "exponent" in harmless else repr(float(value)), *map(str, ids)])
    row = draw(st.integers(0, n - 1))
    if defect == "not_a_number":
        rows[row][0] = draw(st.sampled_from(["x", "1,5", "--", "0x1p3"]))
    elif defect == "nan":
        rows[row][0] = draw(st.sampled_from(["nan", "inf", "-inf"]))
    elif defect == "no_ids":
        rows[row] = rows[row][:1]
    elif defect == "no_cls":
        rows[row] = [rows[row][0], *rows[row][2:]] if len(rows[row]) > 2 else [rows[row][0], str(WORDS[0])]
    elif defect == "too_long":
        rows[row] = [*rows[row][:2], *[str(WORDS[0])] * BASE.T]
    elif defect == "out_of_range":  # the last id (a word or padding: every row has CLS and a word)
        rows[row][-1] = draw(st.sampled_from([str(BASE.V), "-1", str(2**70)]))
    elif defect == "non_integer":
        rows[row][-1] = draw(st.sampled_from(["2.5", "w", "1e3"]))
    elif defect == "wrong_value":
        rows[row][0] = repr(float(rows[row][0]) * 1.01 + 1e-3)
    lines = [" ".join(r) for r in rows]
    if defect == "blank_line":
        lines.insert(draw(st.integers(0, len(lines))), draw(st.sampled_from(["", "  ", "\t"])))
    text = ("\r\n" if "crlf" in harmless else "\n").join(lines) + "\n"
    content = ("\ufeff" if "bom" in harmless else "") + text
    files = {"m.pt": _saved(_state()), "e.txt": content.encode()}
    if defect == "empty":
        files["e.txt"] = b""
    elif defect == "not_utf8":
        files["e.txt"] = b"\xff\xfe-1.5 0 3\n"
    elif defect == "folder":
        files["e.txt"] = None
    elif defect == "absent":
        del files["e.txt"]
    argv = [
        "import",
        "{d}/m.pt",
        "--out",
        "{d}/o.npz",
        "--class",
        "0",
        "--cls-id",
        str(BASE.cls_id),
        "--unk-id",
        str(BASE.unk_id),
        "--max-len",
        str(BASE.T),
        "--expect",
        "{d}/e.txt",
    ]
    return Case(
        argv,
        files,
        must_fail=defect is not None,
        must_pass=defect is None,
        never_says=("None",),
        why=f"expect {defect} {harmless} at row {row}",
    )


ENCODER_STATE_DEFECTS = ["extra_key", "half_final_norm", "bad_heads", "no_heads", "no_arch", "final_norm_shape"]


def _encoder_state(final_norm: bool) -> dict:
    """A torch nn.TransformerEncoder classifier's state_dict (d = 4, 2 layers, 2 classes), seeded."""
    from reference.oracles.torch_encoder import TorchEncoderClassifier

    torch.manual_seed(0)
    module = TorchEncoderClassifier(BASE.V, 4, 2, 3, 2, "relu", False, True, BASE.T, n_classes=2, final_norm=final_norm)
    return dict(module.state_dict())


@st.composite
def encoder_state_dicts(draw) -> Case:
    """``import --arch encoder``: torch's state_dict with or without the final norm (both must be accepted, with any
    divisor of d as --heads), or with a key the format cannot hold, half a final norm, a mis-shaped final norm,
    --heads that does not divide d, no --heads, or no --arch (which must suggest it)."""
    final = draw(st.booleans())
    state = _encoder_state(final)
    defect = draw(st.one_of(st.none(), st.none(), st.sampled_from(ENCODER_STATE_DEFECTS)))
    heads = draw(st.sampled_from([1, 2, 4]))
    options = ["--arch", "encoder", "--heads", str(heads)]
    if defect == "extra_key":
        state[draw(st.sampled_from(["pos.weight", "encoder.layers.0.self_attn.bias_k", "P", "pooler.bias"]))] = (
            torch.zeros(draw(st.integers(1, 4)), dtype=torch.float64)
        )
    elif defect == "half_final_norm":
        state.pop("encoder.norm.weight", None)
        state.pop("encoder.norm.bias", None)
        state[draw(st.sampled_from(["encoder.norm.weight", "encoder.norm.bias"]))] = torch.ones(4, dtype=torch.float64)
    elif defect == "final_norm_shape":
        state["encoder.norm.weight"], state["encoder.norm.bias"] = (
            torch.ones(draw(st.sampled_from([3, 5])), dtype=torch.float64),
        ) * 2
    elif defect == "bad_heads":
        options[3] = draw(st.sampled_from(["3", "0", "-2", "8"]))
    elif defect == "no_heads":
        options = options[:2]
    elif defect == "no_arch":
        options = []
    argv = [
        "import",
        "{d}/m.pt",
        "--out",
        "{d}/o.npz",
        "--class",
        draw(st.sampled_from(["0", "1"])),
        "--cls-id",
        "0",
        "--unk-id",
        "1",
        "--max-len",
        str(BASE.T),
        *options,
    ]
    return Case(
        argv,
        {"m.pt": _saved(state)},
        must_fail=defect is not None,
        must_pass=defect is None,
        never_says=("None",),
        why=f"encoder state_dict {defect}, final norm {final}, heads {heads}",
    )


if torch is not None:
    INPUT_KINDS.update({"expect file": expect_files(), "encoder state_dict": encoder_state_dicts()})
    EXAMPLES.update({"expect file": 100, "encoder state_dict": 60})

# --- the property ------------------------------------------------------------------------------------------

#: torch's advice on a file weights_only=True refuses: never to be passed on (the file may run code)
UNSAFE_ADVICE = r"weights_only\W*(=|set to)\W*False|can still be loaded|trust the source"


class _ClaimReached(Exception):
    """`run` got past every check of its arguments (a valid command line); the claims are not run here."""


def _snapshot(folder: Path) -> dict:
    return {str(p.relative_to(folder)): (p.read_bytes() if p.is_file() else None) for p in folder.rglob("*")}


def _numbers(value):
    if isinstance(value, dict):
        for item in value.values():
            yield from _numbers(item)
    elif isinstance(value, list):
        for item in value:
            yield from _numbers(item)
    elif isinstance(value, float):
        yield value


def check(case: Case) -> None:
    with tempfile.TemporaryDirectory() as tmp, contextlib.chdir(tmp):
        folder = Path(tmp)
        for name, content in case.files.items():
            if content is None:
                (folder / name).mkdir()
            else:
                (folder / name).write_bytes(content)
        before = _snapshot(folder)
        argv = [arg.replace("{d}", tmp) for arg in case.argv]
        out, err = io.StringIO(), io.StringIO()
        with (
            contextlib.redirect_stdout(out),
            contextlib.redirect_stderr(err),
            warnings.catch_warnings(record=True) as caught,
        ):
            warnings.simplefilter("always")
            try:
                code = main(argv)
            except SystemExit as exit_:  # --help
                code = exit_.code
            except _ClaimReached:
                assert not case.must_fail, f"malformed input accepted: argv {argv} ({case.why})"
                return
        shown = f"argv {argv} ({case.why}): exit {code}\nstdout {out.getvalue()[:300]!r}\nstderr {err.getvalue()!r}"
        assert not [w for w in caught if not issubclass(w.category, DeprecationWarning)], (
            f"{shown}\nwarnings {[str(w.message) for w in caught]}"
        )
        assert "Traceback" not in err.getvalue(), shown
        if code == 2:
            lines = err.getvalue().strip().splitlines()
            errors = [line for line in lines if line.startswith("attnverify: error: ")]
            assert len(errors) == 1 and len(errors[0]) > 35, shown
            assert not re.search(UNSAFE_ADVICE, errors[0]), f"{shown}\nadvises unsafe loading"
            assert not [w for w in case.never_says if w in errors[0]], shown
            usage = lines[: lines.index(errors[0])]
            assert lines[-1] == errors[0] and all(l.startswith(("usage:", " ")) for l in usage), shown
            assert out.getvalue() == "", shown
            assert _snapshot(folder) == before, f"{shown}\nsomething was written"
            assert not case.must_pass, f"well-formed input refused: {shown}"
            return
        assert not case.must_fail, f"malformed input accepted: {shown}"
        assert code in (0, 1) if argv[:1] == ["compare"] else code == 0, shown
        if argv[:1] == ["explain"] and "--html" in argv:  # the page holds every word of the document
            page = Path(argv[argv.index("--html") + 1]).read_text(encoding="utf-8")
            shown_words = json.loads(out.getvalue()) if "--json" in argv else None
            if isinstance(shown_words, dict):
                assert all(f">{html.escape(w)}</span>" in page for w in shown_words.get("token_strings", [])[1:]), shown
        if "--json" in argv and argv[:1] == ["explain"]:
            assert all(math.isfinite(x) for x in _numbers(json.loads(out.getvalue()))), shown
        if "--jsonl" in argv:
            assert all(math.isfinite(x) for line in out.getvalue().splitlines() for x in _numbers(json.loads(line)))


@pytest.fixture
def no_claim_runs(monkeypatch):
    def reached(*args, **kwargs):
        raise _ClaimReached

    monkeypatch.setattr("theory.running.runner.run_claim", reached)


@pytest.mark.parametrize("kind", sorted(INPUT_KINDS))
def test_fuzz_command_line(kind, no_claim_runs, profile):
    """``EXAMPLES`` inputs of each kind under the ci profile, ten times more under
    ``pytest --hypothesis-profile=thorough``."""
    TRIED[kind] = PASSING[kind] = FAILING[kind] = 0

    @settings(
        max_examples=EXAMPLES[kind] * PROFILES[profile] // PROFILES["ci"],
        derandomize=True,
        database=None,
        deadline=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    )
    @given(INPUT_KINDS[kind])
    def prop(case):
        TRIED[kind] += 1
        PASSING[kind] += case.must_pass
        FAILING[kind] += case.must_fail
        check(case)

    prop()
    print(
        f"\nfuzz {kind}: {TRIED[kind]} inputs tried ({FAILING[kind]} built malformed, must be refused; "
        f"{PASSING[kind]} built well-formed, must be accepted)"
    )


SUBPROCESS_CASES = [
    _explain({"m.npz": b"PK\x03\x04 truncated"}),
    _explain({"m.npz": _npz({**_valid(), "E": ARRAYS["E"] * 1e200})}, method=("--method", "lime")),
    _explain({"m.npz": _npz(_valid())}, tokens="5,,9"),
    Case(["run", "--out", "/proc/x", "--only", "model.simplex"]),
]


@pytest.mark.parametrize("case", SUBPROCESS_CASES, ids=["truncated", "overflow", "tokens", "out"])
def test_subprocess_refusals_have_no_traceback(case, tmp_path):
    for name, content in case.files.items():
        (tmp_path / name).write_bytes(content)
    argv = [arg.replace("{d}", str(tmp_path)) for arg in case.argv]
    done = subprocess.run(
        [sys.executable, "-m", "theory.cli.main", *argv],
        cwd=ROOT,
        capture_output=True,
        check=False,
        text=True,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    assert done.returncode == 2 and done.stdout == ""
    assert done.stderr.startswith("attnverify: error: ") and len(done.stderr.strip().splitlines()) == 1, done.stderr
