"""The committed trained model (``theory/sentiment/data/``): it loads in the public format, the numpy forward pass
agrees with the torch module it was trained as, the recorded held-out accuracy is reproduced, the
out-of-vocabulary rule holds, and ``trained_cases`` draws valid instances."""

import warnings

import numpy as np
import pytest
from hypothesis import find, given

from theory.checking.population import GivenCase
from theory.checking.population import given_cases as trained_cases
from theory.errors import InputError
from theory.models.one_layer import document, forward
from theory.sentiment.fixture import (
    DATA,
    MODEL_FILE,
    decode,
    encode,
    load_fixture,
)

SENTENCE = "attention based explanations are popular but questionable"


@pytest.fixture(scope="module")
def fx():
    return load_fixture()


def test_fixture_shapes_match_public_format(fx):
    m, w = fx.model, fx.training["widths"]
    assert (m.K, m.d_e, m.d_att, m.d_out, m.T) == tuple(w[k] for k in ("K", "d_e", "d_att", "d_out", "T"))
    assert (m.K, m.d_e, m.d_att, m.d_out, m.T) == (6, 128, 64, 64, 256)  # the authors' widths
    assert m.pe and m.V == len(fx.words) and (fx.words[m.cls_id], fx.words[m.unk_id]) == ("[CLS]", "[UNK]")
    assert fx.class_rows.shape == (m.K, 2, m.d_out)
    np.testing.assert_array_equal(fx.class_rows[:, 1], m.Wl)  # the explained output is the positive logit
    assert len(fx.docs) == len(fx.labels) == len(fx.totals) == fx.training["n_test"]
    assert all(1 <= len(d) <= m.T - 1 and m.cls_id not in d and m.unk_id not in d for d in fx.docs)
    np.testing.assert_array_equal(fx.labels, fx.totals > 0)
    assert (
        sum(p.stat().st_size for p in DATA.iterdir() if p.is_file()) < 3_000_000
    )  # the model at the authors' widths: 1.6 MB


def test_numpy_forward_agrees_with_torch(fx):
    torch = pytest.importorskip("torch")
    from reference.oracles.torch_one_layer import AttentionClassifier

    with np.load(DATA / MODEL_FILE) as arrays:
        module = AttentionClassifier.from_npz_arrays(arrays)
    docs = np.array([document(fx.model, d) for d in fx.docs[:5]])
    with torch.no_grad():
        expected = module(torch.from_numpy(docs))[:, 0].numpy()
    np.testing.assert_allclose(forward(fx.model, docs).f, expected, rtol=1e-12, atol=1e-12)


def test_held_out_accuracy_is_reproduced(fx):
    assert fx.held_out_accuracy() == fx.training["test_accuracy"]
    assert fx.training["test_accuracy"] > 0.5


def test_encode_in_vocabulary_round_trip(fx):
    ids = encode("Attention-based explanations are popular, but questionable!")
    assert decode(ids) == SENTENCE and ids == encode(SENTENCE)
    assert fx.ratings[fx.ids["popular"]] > 0 > fx.ratings[fx.ids["questionable"]]


def test_encode_out_of_vocabulary(fx):
    with pytest.raises(InputError, match="zorbly"):
        encode("attention is zorbly popular")
    with pytest.warns(UserWarning, match="zorbly"):
        ids = encode("attention is zorbly popular", drop_oov=True)
    assert decode(ids) == "attention is popular"
    for text in ("cls unk", "zorbly", ""):  # reserved tokens are not words; nothing left is an error
        with pytest.raises(InputError), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            encode(text, drop_oov=True)


@given(trained_cases())
def test_trained_cases_are_valid(case):
    fx = load_fixture()
    assert case.tokens == fx.docs[case.index] and case.doc.shape == (case.model.T,)
    assert case.doc[0] == case.model.cls_id and np.all(case.doc[len(case.tokens) + 1 :] == case.model.unk_id)
    assert eval(repr(case), {"GivenCase": GivenCase}) == case
    assert np.isfinite(forward(case.model, case.doc).f).all()


@given(trained_cases(max_words=7))
def test_trained_cases_truncate(case):
    assert 1 <= len(case.tokens) <= 7 and case.tokens == load_fixture().docs[case.index][:7]
    assert repr(case).endswith("max_words=7)")


def test_trained_cases_rejects_bad_max_words():
    with pytest.raises(InputError):
        find(trained_cases(max_words=0), lambda case: True)


@given(trained_cases(positions=2))
def test_trained_cases_positions(case):
    assert len(case.positions) == 2 and all(1 <= t <= len(case.tokens) + 1 for t in case.positions)
