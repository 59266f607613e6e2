"""The BERT family (theory.models.bert), its Hugging Face folder reader and its tokenization, against
``transformers`` 5.25 as the oracle (docs/theory.md §13: ``bert.matches_transformers``, ``bert.tokenize``,
``bert.padding_invariance``).

Small random ``BertForSequenceClassification``, ``DistilBertForSequenceClassification``,
``RobertaForSequenceClassification`` and a ``BertModel`` with a mean-pooling probe are built with ``transformers``
(float64, eval, eager attention; every parameter redrawn so that biases and LayerNorms are not at their
initial values), saved with ``save_pretrained`` next to a tokenizer this file writes, read back with
:func:`theory.models.huggingface.read_folder`, and compared: ``f``, every layer's attention and hidden states, and
``∇ = ∂f/∂inputs_embeds`` by torch's autograd, to 1e-12 relative to the magnitude of the terms.
"""

from __future__ import annotations

import json
import shutil
from dataclasses import replace

import numpy as np
import pytest

torch = pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")
pytest.importorskip("safetensors")
tokenizers = pytest.importorskip("tokenizers")

from safetensors.numpy import load_file, save_file  # noqa: E402

from theory.errors import InputError  # noqa: E402
from theory.models import bert  # noqa: E402
from theory.models.huggingface import from_state_dict, read_folder  # noqa: E402

TOL = 1e-12
WORDPIECES = [
    "[PAD]",
    "[UNK]",
    "[CLS]",
    "[SEP]",
    "[MASK]",
    "the",
    "movie",
    "was",
    "great",
    "bad",
    "plot",
    "film",
    "un",
    "##believ",
    "##able",
    "##s",
    "!",
    ",",
    ".",
    ";",
    "a",
    "it",
    "not",
    "cafe",
    "nai",
    "##ve",
]
CORPUS = [
    "The movie was great, truly unbelievable!",
    "A bad film; the plot was thin.",
    "great great movie",
    "It was not bad at all.",
    "Café naïve films",
]
TEXTS = [
    "The movie was great!",
    "It was NOT unbelievable, a bad plot.",
    "Café naïve films; zebra",
    "great great great movie . movies",
]
# architecture -> (config of transformers, the activation covered, ε)
ARCHS = {
    "bert": dict(hidden_act="gelu", layer_norm_eps=1e-12),
    "distilbert": dict(activation="relu"),
    "roberta": dict(hidden_act="gelu_new", layer_norm_eps=1e-5),
    "probe": dict(hidden_act="gelu_pytorch_tanh", layer_norm_eps=1e-7),
}
N_CLASSES = 3


def _bert_tokenizer(folder):
    vocab = {piece: i for i, piece in enumerate(WORDPIECES)}
    transformers.BertTokenizer(vocab=vocab).save_pretrained(folder)


def _roberta_tokenizer(folder, tmp):
    trainer = tokenizers.ByteLevelBPETokenizer()
    trainer.train_from_iterator(
        CORPUS * 3,
        vocab_size=300,
        min_frequency=2,
        show_progress=False,
        special_tokens=["<s>", "<pad>", "</s>", "<unk>", "<mask>"],
    )
    trainer.save_model(str(tmp))
    transformers.RobertaTokenizer.from_pretrained(tmp).save_pretrained(folder)


def _randomise(module, seed):
    """Every parameter redrawn (normal, std 0.5; LayerNorm weights around 1), seeded."""
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, p in module.named_parameters():
            p.copy_(
                torch.randn(p.shape, generator=generator, dtype=torch.float64) * 0.5
                + (1.0 if "LayerNorm.weight" in name or "layer_norm.weight" in name else 0.0)
            )


def _build(arch, folder, tmp):
    """A random model of ``arch`` saved in ``folder`` with its tokenizer; returns the transformers model."""
    folder.mkdir()
    if arch == "roberta":
        _roberta_tokenizer(folder, tmp)
    else:
        _bert_tokenizer(folder)
    V = transformers.AutoTokenizer.from_pretrained(folder).backend_tokenizer.get_vocab_size()
    common = dict(vocab_size=V, max_position_embeddings=24, num_labels=N_CLASSES, attn_implementation="eager")
    if arch == "distilbert":
        config = transformers.DistilBertConfig(dim=8, n_layers=2, n_heads=2, hidden_dim=12, **common, **ARCHS[arch])
        model = transformers.DistilBertForSequenceClassification(config)
    elif arch == "roberta":
        config = transformers.RobertaConfig(
            hidden_size=8,
            num_hidden_layers=2,
            num_attention_heads=2,
            intermediate_size=12,
            type_vocab_size=1,
            pad_token_id=1,
            **common,
            **ARCHS[arch],
        )
        model = transformers.RobertaForSequenceClassification(config)
    else:
        config = transformers.BertConfig(
            hidden_size=8, num_hidden_layers=2, num_attention_heads=2, intermediate_size=12, **common, **ARCHS[arch]
        )
        model = (transformers.BertModel if arch == "probe" else transformers.BertForSequenceClassification)(config)
    model = model.double().eval()
    _randomise(model, seed=list(ARCHS).index(arch))
    model.save_pretrained(folder)
    return model


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    """arch -> (transformers model, folder, probe path or None)."""
    out = {}
    for arch in ARCHS:
        tmp = tmp_path_factory.mktemp(arch)
        folder = tmp / "model"
        model = _build(arch, folder, tmp)
        probe = None
        if arch == "probe":
            rng = np.random.default_rng(7)
            probe = tmp / "probe.npz"
            np.savez(probe, w=rng.standard_normal((N_CLASSES, 8)), b=rng.standard_normal(N_CLASSES))
            (folder / "1_Pooling").mkdir()
            (folder / "1_Pooling" / "config.json").write_text(
                json.dumps(
                    {
                        "word_embedding_dimension": 8,
                        "pooling_mode_cls_token": False,
                        "pooling_mode_mean_tokens": True,
                        "pooling_mode_max_tokens": False,
                    }
                )
            )
        out[arch] = (model, folder, probe)
    return out


def _batch(pretrained, texts, extra_pad=0):
    """Ids and attention masks of ``texts``, padded to a common length (plus ``extra_pad``) with the pad id."""
    docs = [pretrained.tokenizer.encode(text) for text in texts]
    T = max(doc.T for doc in docs) + extra_pad
    ids = np.full((len(docs), T), pretrained.tokenizer.pad_id)
    mask = np.zeros((len(docs), T))
    for i, doc in enumerate(docs):
        ids[i, : doc.T] = doc.ids
        mask[i, : doc.T] = 1
    return ids, mask


def _oracle(arch, model, probe, ids, mask, klass, contrast, shrink=1.0):
    """transformers' logits, attentions, hidden states and ∂f/∂inputs_embeds (autograd), at ``inputs_embeds`` =
    ``shrink`` times the word embeddings of ``ids`` (a point of IG's straight path from the zero baseline)."""
    ids_t, mask_t = torch.tensor(ids), torch.tensor(mask, dtype=torch.float64)
    base = model if arch == "probe" else getattr(model, model.base_model_prefix)
    embeds = (shrink * base.embeddings.word_embeddings(ids_t)).detach().requires_grad_(True)
    kwargs = dict(inputs_embeds=embeds, attention_mask=mask_t, output_attentions=True, output_hidden_states=True)
    if arch == "roberta":  # with inputs_embeds, RoBERTa would number positions without looking at the pads
        kwargs["position_ids"] = base.embeddings.create_position_ids_from_input_ids(ids_t, model.config.pad_token_id)
    out = model(**kwargs)
    if arch == "probe":
        w, b = (torch.tensor(np.load(probe)[key]) for key in ("w", "b"))
        pooled = (out.last_hidden_state * mask_t[..., None]).sum(1) / mask_t.sum(1, keepdim=True).clamp(min=1e-9)
        logits = pooled @ w.T + b
    else:
        logits = out.logits
    f = logits[:, klass] - (logits[:, contrast] if contrast is not None else 0.0)
    f.sum().backward()
    return dict(
        f=f.detach().numpy(),
        attention=np.stack([a.detach().numpy() for a in out.attentions], axis=1),
        hidden=np.stack([h.detach().numpy() for h in out.hidden_states], axis=1),
        grad=embeds.grad.numpy(),
    )


def _f_terms(model, fw):
    """The magnitude of the terms of ``f = ⟨u, W_c z + b_c⟩``: ``Σ_c |u_c| (Σ_j |W_cj z_j| + |b_c|)``."""
    u = np.abs(model.u)
    return np.abs(fw.readout.z) @ np.abs(model.classifier_weight).T @ u + np.abs(model.classifier_bias) @ u


def _layers_scale(hidden):
    """The largest entry of each layer's hidden states, ``(B, L + 1, 1, 1)``."""
    return np.abs(hidden).max(axis=(2, 3), keepdims=True)


@pytest.mark.parametrize("arch", list(ARCHS))
def test_matches_transformers(built, arch):
    """bert.matches_transformers: f (a class, and a contrast), every layer's attention and hidden state, and ∇
    agree with transformers to 1e-12 relative to the terms, with padding in the batch."""
    model, folder, probe = built[arch]
    pretrained = read_folder(folder, probe)
    assert pretrained.model.config.readout == ("mean" if arch == "probe" else bert.NATIVE_READOUT[arch])
    ids, mask = _batch(pretrained, TEXTS)
    assert (mask == 0).any()
    for klass, contrast in ((1, None), (2, 0)):
        ours = bert.gradient(replace(pretrained.model, klass=klass, contrast=contrast), ids, mask)
        fw = ours.forward
        want = _oracle(arch, model, probe, ids, mask, klass, contrast)
        terms = _f_terms(pretrained.model, fw)
        assert np.all(np.abs(fw.f - want["f"]) <= TOL * terms), (fw.f, want["f"])
        assert np.abs(fw.attention - want["attention"]).max() <= TOL
        assert np.all(np.abs(fw.hidden - want["hidden"]) <= TOL * _layers_scale(want["hidden"]))
        scale = np.abs(want["grad"]).max(axis=(1, 2), keepdims=True)
        assert np.all(np.abs(ours.grad - want["grad"]) <= TOL * scale)
    # at inputs_embeds other than E[ξ] (IG's path, the zero semantics), positions still from the ids
    path = _oracle(arch, model, probe, ids, mask, 1, None, shrink=0.3)
    at = 0.3 * bert.word_vectors(pretrained.model, ids)
    ours = bert.gradient(replace(pretrained.model, klass=1), ids, mask, at)
    terms = _f_terms(pretrained.model, ours.forward)
    assert np.all(np.abs(ours.forward.f - path["f"]) <= TOL * terms)
    assert np.all(np.abs(bert.evaluate(replace(pretrained.model, klass=1), ids, mask, at) - path["f"]) <= TOL * terms)
    assert np.all(np.abs(ours.grad - path["grad"]) <= TOL * np.abs(path["grad"]).max(axis=(1, 2), keepdims=True))
    # the readout's attention: transformers' last-layer CLS row, or its masked mean over the real rows
    last = want["attention"][:, -1]
    expected = np.einsum("bt,bktu->bku", mask, last) / mask.sum(1)[:, None, None] if arch == "probe" else last[:, :, 0]
    assert np.abs(bert.readout_attention(pretrained.model, fw) - expected).max() <= TOL


@pytest.mark.parametrize("arch", list(ARCHS))
def test_padding_gets_zero_attention_and_changes_nothing(built, arch):
    """bert.padding_invariance: padded keys get exactly 0 attention in every layer and head and padding exactly 0
    gradient; f, the real tokens' attention and ∇ are those of the unpadded documents (to rounding); the batched,
    chunked evaluation gives the forward pass's f."""
    _, folder, probe = built[arch]
    pretrained = read_folder(folder, probe)
    model = pretrained.model
    ids, mask = _batch(pretrained, TEXTS, extra_pad=5)
    g = bert.gradient(model, ids, mask)
    A = g.forward.attention
    assert np.all(A[np.broadcast_to((mask == 0)[:, None, None, None, :], A.shape)] == 0.0)
    for i in range(len(TEXTS)):
        T = int(mask[i].sum())
        alone = bert.gradient(model, ids[i, :T])
        assert abs(g.forward.f[i] - alone.forward.f[0]) <= TOL * _f_terms(model, alone.forward)[0]
        assert np.abs(A[i, :, :, :T, :T] - alone.forward.attention[0]).max() <= TOL
        assert np.abs(g.grad[i, :T] - alone.grad[0]).max() <= TOL * np.abs(alone.grad).max()
        assert np.all(g.grad[i, T:] == 0.0)
    f = bert.evaluate(model, ids, mask, chunk=3)
    assert np.all(np.abs(f - g.forward.f) <= TOL * _f_terms(model, g.forward))


# --- tokenization (bert.tokenize) ----------------------------------------------------------------------------

LONG = " ".join(["the great movie"] * 12)


def _vocab_txt_folder(built, tmp_path):
    """The BERT folder with its tokenizer as vocab.txt (and tokenizer_config.json) instead of tokenizer.json."""
    folder = tmp_path / "vocab_txt"
    shutil.copytree(built["bert"][1], folder)
    (folder / "tokenizer.json").unlink()
    (folder / "vocab.txt").write_text("\n".join(WORDPIECES) + "\n")
    return folder


@pytest.mark.parametrize("arch", ["bert", "roberta", "vocab.txt"])
def test_tokenization_is_the_models_own(built, arch, tmp_path):
    """bert.tokenize: ids, pieces, special tokens, words (their text and positions) and truncation equal the
    transformers tokenizer's (AutoTokenizer from the same folder; for vocab.txt, transformers' BertTokenizer on it)."""
    folder = _vocab_txt_folder(built, tmp_path) if arch == "vocab.txt" else built[arch][1]
    pretrained = read_folder(folder)
    oracle = transformers.AutoTokenizer.from_pretrained(folder)
    for text in [*TEXTS, "", "  two  spaces ", "UNBELIEVABLE!!"]:
        doc = pretrained.tokenizer.encode(text)
        want = oracle(text, return_special_tokens_mask=True, return_offsets_mapping=True)
        assert doc.ids.tolist() == want.input_ids, text
        assert list(doc.pieces) == oracle.convert_ids_to_tokens(want.input_ids)
        assert doc.special.tolist() == [bool(s) for s in want.special_tokens_mask]
        word_ids = want.word_ids()
        words = sorted({w for w in word_ids if w is not None})
        assert [p.tolist() for p in doc.positions] == [[t for t, w in enumerate(word_ids) if w == j] for j in words]
        spans = [want.word_to_chars(j) for j in words]
        assert list(doc.words) == [text[s.start : s.end] for s in spans]
        assert not doc.truncated
    limit = pretrained.model.config.max_tokens
    with pytest.raises(InputError, match=f"more than the model's {limit}; shorten it or pass --truncate"):
        pretrained.tokenizer.encode(LONG)
    doc = pretrained.tokenizer.encode(LONG, truncate=True)
    assert doc.truncated and doc.ids.tolist() == oracle(LONG, truncation=True, max_length=limit).input_ids
    assert pretrained.tokenizer.encode("the").ids.tolist() == oracle("the").input_ids  # truncation switched off again


def test_special_ids(built):
    """The special ids are the tokenizer's own ([CLS]/[SEP]/[MASK]/[UNK]/[PAD], RoBERTa's <s>/</s>/…)."""
    for arch in ("bert", "roberta"):
        wp = read_folder(built[arch][1]).tokenizer
        oracle = transformers.AutoTokenizer.from_pretrained(built[arch][1])
        assert (wp.cls_id, wp.sep_id, wp.mask_id, wp.unk_id, wp.pad_id) == (
            oracle.cls_token_id,
            oracle.sep_token_id,
            oracle.mask_token_id,
            oracle.unk_token_id,
            oracle.pad_token_id,
        )


def test_pytorch_model_bin_and_state_dict_give_the_same_model(built, tmp_path):
    """A folder with pytorch_model.bin (read with torch.load(weights_only=True)), and the in-memory config and
    state dict of the transformers model, give the model of the model.safetensors folder."""
    model, source, _ = built["distilbert"]
    folder = tmp_path / "bin"
    shutil.copytree(source, folder)
    torch.save(
        {k: torch.from_numpy(v) for k, v in load_file(folder / "model.safetensors").items()},
        folder / "pytorch_model.bin",
    )
    (folder / "model.safetensors").unlink()
    in_memory = from_state_dict(model.config.to_dict(), {k: v.numpy() for k, v in model.state_dict().items()})
    a = read_folder(source).model
    for b in (read_folder(folder).model, in_memory):
        assert b.config == a.config
        assert all(np.array_equal(a.weights()[k], b.weights()[k]) for k in a.weights())


# --- bad input: one line each --------------------------------------------------------------------------------


def _edit_weights(folder, edit):
    weights = load_file(folder / "model.safetensors")
    edit(weights)
    save_file(weights, folder / "model.safetensors")


def _edit_config(folder, **changes):
    config = json.loads((folder / "config.json").read_text())
    config.update(changes)
    (folder / "config.json").write_text(json.dumps(config))


def _nan(weights):
    weights["bert.encoder.layer.1.output.dense.weight"][2, 3] = np.nan


def _smaller_vocabulary(folder):
    _edit_config(folder, vocab_size=len(WORDPIECES) - 2)
    _edit_weights(
        folder,
        lambda w: w.update(
            {"bert.embeddings.word_embeddings.weight": w["bert.embeddings.word_embeddings.weight"][:-2]}
        ),
    )


class _Pickled:
    pass


BAD = {
    "no config": (lambda f: (f / "config.json").unlink(), r"has no config\.json: not a Hugging Face model folder"),
    "no weights": (
        lambda f: (f / "model.safetensors").unlink(),
        r"has no model\.safetensors or pytorch_model\.bin: the model's weights are needed",
    ),
    "unsupported model_type": (
        lambda f: _edit_config(f, model_type="gpt2"),
        r"model_type 'gpt2' is not supported; supported: bert, distilbert, roberta",
    ),
    "unsupported activation": (
        lambda f: _edit_config(f, hidden_act="silu"),
        r"activation 'silu' is not supported; supported: gelu, gelu_new, gelu_pytorch_tanh, "
        r"relu",
    ),
    "wrong shape": (
        lambda f: _edit_config(f, intermediate_size=13),
        r"weight 'bert\.encoder\.layer\.0\.intermediate\.dense\.weight' has shape \(12, 8\) but "
        r"config\.json implies \(13, 8\)",
    ),
    "nan weight": (
        lambda f: _edit_weights(f, _nan),
        r"weight 'bert\.encoder\.layer\.1\.output\.dense\.weight' contains NaN or inf",
    ),
    "missing key": (
        lambda f: _edit_weights(f, lambda w: w.pop("bert.encoder.layer.1.attention.self.key.bias")),
        r"the weights lack 'bert\.encoder\.layer\.1\.attention\.self\.key\.bias'$",
    ),
    "no head": (
        lambda f: _edit_weights(f, lambda w: w.pop("classifier.weight")),
        r"the weights lack 'classifier\.weight'; a bare encoder needs a probe \(probe\.npz\)",
    ),
    "tokenizer larger than the embedding": (
        _smaller_vocabulary,
        r"the tokenizer has 26 ids but the word embedding only 24 rows",
    ),
    "no tokenizer": (lambda f: (f / "tokenizer.json").unlink(), r"has no tokenizer\.json or vocab\.txt"),
    "pickled checkpoint": (
        lambda f: ((f / "model.safetensors").unlink(), torch.save({"x": _Pickled()}, f / "pytorch_model.bin")),
        r"pytorch_model\.bin' is not a torch\.save'd state_dict of tensors \(it pickles a [\w.]*_Pickled object",
    ),
    "not json": (lambda f: (f / "config.json").write_text("{"), r"config\.json is not readable JSON"),
}


@pytest.mark.parametrize("case", list(BAD))
def test_bad_folder_is_one_line(built, tmp_path, case):
    """Every bad folder is an InputError with one line saying what is wrong."""
    folder = tmp_path / "model"
    shutil.copytree(built["bert"][1], folder)
    damage, message = BAD[case]
    damage(folder)
    with pytest.raises(InputError, match=message) as error:
        read_folder(folder)
    assert "\n" not in str(error.value)


def test_bad_probe_is_one_line(built, tmp_path):
    """A probe of the wrong width, or a folder that pools otherwise than by the mean, is one line."""
    _, folder, _ = built["probe"]
    probe = tmp_path / "probe.npz"
    np.savez(probe, w=np.ones((2, 5)), b=np.zeros(2))
    with pytest.raises(InputError, match=r"the probe's w has shape \(2, 5\) but the model's width is d = 8"):
        read_folder(folder, probe)
    np.savez(probe, w=np.ones(8), b=np.array(0.5))
    assert read_folder(folder, probe).model.config.n_classes == 1
    np.savez(probe, w=np.ones(8))
    with pytest.raises(InputError, match=r"probe\.npz lacks b: a probe holds w \(n_classes, d\) or \(d,\) and b"):
        read_folder(folder, probe)
    cls_pooling = tmp_path / "cls"
    shutil.copytree(folder, cls_pooling)
    (cls_pooling / "1_Pooling" / "config.json").write_text(
        json.dumps({"pooling_mode_cls_token": True, "pooling_mode_mean_tokens": False})
    )
    np.savez(probe, w=np.ones(8), b=np.array(0.5))
    with pytest.raises(InputError, match=r"pools by pooling_mode_cls_token; the probe readout is mean pooling"):
        read_folder(cls_pooling, probe)


def test_bad_documents_and_classes_are_one_line(built):
    """Ids outside the vocabulary, a document longer than the positions, an all-zero mask, a class the model does
    not have: one line each."""
    model = read_folder(built["bert"][1]).model
    cases = [
        (lambda: bert.forward(model, [2, 99, 3]), r"token id 99 is outside the vocabulary \(0 … 25\)"),
        (
            lambda: bert.forward(model, np.full(25, 5)),
            r"a document of 25 tokens does not fit the model "
            r"\(1 … 24 tokens\)",
        ),
        (lambda: bert.forward(model, [2, 5, 3], [0, 0, 0]), r"attention mask is all 0"),
        (lambda: replace(model, klass=3), r"klass = 3 is not a class of the model \(0 … 2\)"),
        (lambda: replace(model, contrast=0), r"contrast = klass = 0: a logit difference needs two different"),
    ]
    for call, message in cases:
        with pytest.raises(InputError, match=message) as error:
            call()
        assert "\n" not in str(error.value)


def test_missing_packages_name_their_extra(built, tmp_path, monkeypatch):
    """Without safetensors, tokenizers or torch, reading a folder that needs one is one line naming the extra."""
    from theory.models import huggingface, wordpieces

    folder = tmp_path / "bin"
    shutil.copytree(built["bert"][1], folder)
    monkeypatch.setattr(huggingface, "missing", lambda *names: list(names))
    with pytest.raises(InputError, match=r"model\.safetensors needs safetensors: pip install '\.\[huggingface\]'$"):
        read_folder(folder)
    torch.save(
        {k: torch.from_numpy(v) for k, v in load_file(folder / "model.safetensors").items()},
        folder / "pytorch_model.bin",
    )
    (folder / "model.safetensors").unlink()
    with pytest.raises(
        InputError,
        match=r"pytorch_model\.bin \(a PyTorch checkpoint\) needs torch: pip install "
        r"'\.\[oracles\]'; or save the model as model\.safetensors$",
    ):
        read_folder(folder)
    monkeypatch.setattr(huggingface, "missing", lambda *names: [])
    monkeypatch.setattr(wordpieces, "missing", lambda *names: list(names))
    with pytest.raises(
        InputError,
        match=r"reading a Hugging Face tokenizer needs tokenizers: pip install "
        r"'\.\[huggingface\]'$",
    ):
        read_folder(folder)


def test_the_folders_padding_and_truncation_are_switched_off(built, tmp_path):
    """A tokenizer.json that pads (all-MiniLM-L6-v2's pads to 128) or truncates by itself: the documents carry
    neither (padding enters only through the attention mask; truncation only when asked)."""
    folder = tmp_path / "padded"
    shutil.copytree(built["bert"][1], folder)
    tokenizer = tokenizers.Tokenizer.from_file(str(folder / "tokenizer.json"))
    tokenizer.enable_padding(length=20)
    tokenizer.enable_truncation(max_length=4)
    tokenizer.save(str(folder / "tokenizer.json"))
    doc = read_folder(folder).tokenizer.encode(TEXTS[1])
    assert doc.ids.tolist() == transformers.AutoTokenizer.from_pretrained(built["bert"][1])(TEXTS[1]).input_ids
