"""Vocabulary and texts files (``theory.models.vocabulary``): the OOV policy, truncation and every bad input
as a one-line InputError."""

import pytest

from theory.checking.strategies.models import ModelSpec
from theory.errors import InputError
from theory.models.vocabulary import encode, load_vocabulary, read_texts

TOKENS = ["[cls]", "<unk>", "good", "bad", "film", ".", "'", "t", "don"]


@pytest.fixture
def model():
    return ModelSpec(K=1, d_e=2, V=len(TOKENS), T=5, seed=0).build()


@pytest.fixture
def vocab(tmp_path, model):
    (tmp_path / "vocab.txt").write_text("\n".join(TOKENS), encoding="utf-8")
    return load_vocabulary(tmp_path / "vocab.txt", model)


def test_names_come_from_the_model_ids(vocab):
    assert (vocab.cls, vocab.unk) == ("[cls]", "<unk>")


def test_oov_policies(vocab, model):
    assert encode("Good film.", vocab, model).tokens == (2, 4, 5)
    with pytest.raises(InputError, match="out-of-vocabulary words 'great'.*--oov drop.*--oov unk"):
        encode("great film", vocab, model)
    dropped = encode("great film", vocab, model, oov="drop")
    assert dropped.tokens == (4,) and dropped.dropped == ("great",)
    unk = encode("great film", vocab, model, oov="unk")
    assert unk.tokens == (1, 4) and unk.unknown == ("great",)
    with pytest.raises(InputError, match="no word in the vocabulary"):
        encode("great", vocab, model, oov="drop")


def test_truncation(vocab, model):
    with pytest.raises(InputError, match="has 5 words but max_len = 5 leaves room for 4.*--truncate"):
        encode("don't good film", vocab, model)
    cut = encode("don't good film", vocab, model, truncate=True)
    assert cut.tokens == (8, 6, 7, 2) and cut.truncated == 1


def test_special_tokens_in_text_are_refused(vocab, model):
    with pytest.raises(InputError, match=r"contains the CLS token '\[cls\]'"):
        encode("[CLS] good", vocab, model)


@pytest.mark.parametrize(
    "content, message",
    [
        ("\n".join(TOKENS[:-1]), "has 8 lines but the model has V = 9"),
        ("\n".join(TOKENS[:4] + [""] + TOKENS[5:]), "line 5 (id 4) is empty"),
        ("\n".join(["", *TOKENS[1:]]), "line 1 (id 0, the model's CLS id) is empty"),
        ("\n".join(TOKENS[:4] + ["good"] + TOKENS[5:]), "token 'good' appears twice (lines 3 and 5, ids 2 and 4)"),
    ],
)
def test_bad_vocabularies(tmp_path, model, content, message):
    (tmp_path / "v.txt").write_text(content, encoding="utf-8")
    with pytest.raises(InputError, match=message.replace("(", r"\(").replace(")", r"\)")):
        load_vocabulary(tmp_path / "v.txt", model)


def test_bad_texts_files(tmp_path, vocab, model):
    (tmp_path / "latin1.txt").write_bytes("good film\ncaf\xe9".encode("latin-1"))
    with pytest.raises(InputError, match="is not UTF-8 .*line 2"):
        read_texts(tmp_path / "latin1.txt", vocab, model)
    (tmp_path / "gap.txt").write_text("good\n\nbad\n", encoding="utf-8")
    with pytest.raises(InputError, match="line 2 is empty"):
        read_texts(tmp_path / "gap.txt", vocab, model)
    (tmp_path / "ok.txt").write_text("good film\r\nbad film\n", encoding="utf-8")
    assert [e.tokens for e in read_texts(tmp_path / "ok.txt", vocab, model)] == [(2, 4), (3, 4)]


def test_a_byte_order_mark_is_not_part_of_the_first_line(tmp_path, model):
    """Editors on Windows write UTF-8 with a BOM: token 0 stays '[cls]', the first text's first word is 'good'."""
    (tmp_path / "v.txt").write_bytes(b"\xef\xbb\xbf" + "\n".join(TOKENS).encode())
    vocab = load_vocabulary(tmp_path / "v.txt", model)
    assert vocab.cls == "[cls]" and vocab.tokens[1:] == tuple(TOKENS[1:])
    (tmp_path / "t.txt").write_bytes(b"\xef\xbb\xbfgood film\nbad\n")
    assert [e.tokens for e in read_texts(tmp_path / "t.txt", vocab, model)] == [(2, 4), (3,)]
    (tmp_path / "bad.txt").write_bytes(b"\xef\xbb\xbfgood\ncaf\xe9")
    with pytest.raises(InputError, match="is not UTF-8 \\(byte 11, line 2\\)"):  # counted in the file, BOM included
        read_texts(tmp_path / "bad.txt", vocab, model)


def test_cls_and_unk_tokens_when_stated(tmp_path, model):
    shifted = TOKENS[1:] + TOKENS[:1]  # a vocabulary off by one line: passes unless the tokens are stated
    (tmp_path / "v.txt").write_text("\n".join(shifted), encoding="utf-8")
    assert load_vocabulary(tmp_path / "v.txt", model).cls == "<unk>"
    with pytest.raises(
        InputError,
        match=r"line 1 \(id 0, the model's CLS id\) holds '<unk>', not --cls-token '\[cls\]' "
        r"\('\[cls\]' is line 9 \(id 8\)\); fix the vocabulary's order",
    ):
        load_vocabulary(tmp_path / "v.txt", model, cls_token="[cls]")
    assert load_vocabulary(tmp_path / "v.txt", model, cls_token="<unk>", unk_token="good").unk == "good"


def test_a_folder_is_named_as_a_folder(tmp_path, vocab, model):
    with pytest.raises(InputError, match="texts file .* is a folder; pass the path of a UTF-8 text file"):
        read_texts(tmp_path, vocab, model)
