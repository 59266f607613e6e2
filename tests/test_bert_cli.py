"""The BERT family through the model protocol and the command line (docs/theory.md §13): small random
``BertForSequenceClassification``, ``DistilBertForSequenceClassification``, ``RobertaForSequenceClassification``
and a bare ``BertModel`` with a linear probe, built with ``transformers`` from configs and saved with
``save_pretrained`` next to a tokenizer this file writes, go through ``attnverify explain DIR --text``, ``import DIR
--out M.npz`` (the same scores back), ``run --model DIR --texts FILE``; the evaluator under each removal semantics
equals ``transformers`` run on the perturbed document built here by hand; per-word scores equal the pieces'
gradients from ``transformers``' autograd aggregated by hand; bad folders and texts are one-line errors (exit 2,
nothing written)."""

from __future__ import annotations

import json
from fractions import Fraction

import numpy as np
import pytest

torch = pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")
pytest.importorskip("safetensors")
tokenizers = pytest.importorskip("tokenizers")

from safetensors.numpy import load_file, save_file  # noqa: E402

from theory.cli.main import main  # noqa: E402
from theory.explainers.registry import METHODS  # noqa: E402
from theory.models import load  # noqa: E402
from theory.models.perturb import evaluator  # noqa: E402

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
    "a",
    "it",
    "not",
    "very",
    "good",
]
CORPUS = [
    "The movie was great, truly unbelievable!",
    "A bad film; the plot was thin.",
    "great great movie",
    "It was not bad at all.",
    "not very good films",
]
# repeated words, a word of several pieces, punctuation, an out-of-vocabulary word
TEXT = "The film was unbelievable, not very good; the films!"
ARCHS = ("bert", "distilbert", "roberta", "probe")
N_CLASSES = 3
SEMANTICS = ("delete", "unk", "mask", "mask:PAD", "pad", "zero")  # mask:PAD: mask:<the pad id> (captum's baseline)


def _tokenizer(arch, folder, tmp):
    if arch != "roberta":
        transformers.BertTokenizer(vocab={piece: i for i, piece in enumerate(WORDPIECES)}).save_pretrained(folder)
        return
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


def _build(arch, tmp):
    """A random model of ``arch`` saved with its tokenizer in ``tmp/model``; returns (transformers model, folder,
    probe arrays or None)."""
    folder = tmp / "model"
    folder.mkdir()
    _tokenizer(arch, folder, tmp)
    V = transformers.AutoTokenizer.from_pretrained(folder).backend_tokenizer.get_vocab_size()
    common = dict(vocab_size=V, max_position_embeddings=40, num_labels=N_CLASSES, attn_implementation="eager")
    sizes = dict(hidden_size=8, num_hidden_layers=2, num_attention_heads=2, intermediate_size=12)
    if arch == "distilbert":
        model = transformers.DistilBertForSequenceClassification(
            transformers.DistilBertConfig(dim=8, n_layers=2, n_heads=2, hidden_dim=12, activation="gelu", **common)
        )
    elif arch == "roberta":
        model = transformers.RobertaForSequenceClassification(
            transformers.RobertaConfig(
                type_vocab_size=1, pad_token_id=1, hidden_act="gelu_new", layer_norm_eps=1e-5, **sizes, **common
            )
        )
    else:
        config = transformers.BertConfig(hidden_act="gelu", **sizes, **common)
        model = (transformers.BertModel if arch == "probe" else transformers.BertForSequenceClassification)(config)
    model = model.double().eval()
    generator = torch.Generator().manual_seed(ARCHS.index(arch))
    with torch.no_grad():
        for name, p in model.named_parameters():
            p.copy_(
                torch.randn(p.shape, generator=generator, dtype=torch.float64) * 0.5
                + (1.0 if "LayerNorm.weight" in name or "layer_norm.weight" in name else 0.0)
            )
    model.save_pretrained(folder)
    probe = None
    if arch == "probe":
        rng = np.random.default_rng(3)
        probe = {"w": rng.standard_normal((N_CLASSES, 8)), "b": rng.standard_normal(N_CLASSES)}
        np.savez(tmp / "probe.npz", **probe)
    return model, folder, probe


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    """arch -> (transformers model, folder, probe arrays or None, the CLI's model options)."""
    out = {}
    for arch in ARCHS:
        tmp = tmp_path_factory.mktemp(arch)
        model, folder, probe = _build(arch, tmp)
        options = ["--probe", str(tmp / "probe.npz")] if probe is not None else []
        out[arch] = (model, folder, probe, options)
    return out


def _json(capsys, argv):
    code = main(argv)
    captured = capsys.readouterr()
    assert code == 0, captured.err
    return json.loads(captured.out)


def _words_by_hand(arch, folder, text):
    """The distinct words of ``text`` (by their text, first appearance first) and the word of each piece, from
    ``transformers``' fast tokenizer (its word ids and offsets), with the ids."""
    encoding = transformers.AutoTokenizer.from_pretrained(folder)(text, return_offsets_mapping=True)
    ids, word_ids, offsets = encoding["input_ids"], encoding.word_ids(), encoding["offset_mapping"]
    spans = {}
    for t, w in enumerate(word_ids):
        if w is not None:
            start, end = spans.get(w, (offsets[t][0], offsets[t][1]))
            spans[w] = (min(start, offsets[t][0]), max(end, offsets[t][1]))
    names = list(dict.fromkeys(text[a:b] for a, b in spans.values()))
    piece_word = [names.index(text[slice(*spans[w])]) for w in word_ids[1:-1]]
    return names, np.array(piece_word), np.array(ids)


def _logits(arch, model, probe, ids, mask=None, embeds=None):
    """``transformers``' logits (the probe on its mean-pooled states for the bare encoder)."""
    ids_t = torch.tensor(np.atleast_2d(ids))
    mask_t = torch.ones(ids_t.shape, dtype=torch.float64) if mask is None else torch.tensor(np.atleast_2d(mask))
    kwargs = {"attention_mask": mask_t}
    if embeds is None:
        kwargs["input_ids"] = ids_t
    else:
        kwargs["inputs_embeds"] = embeds
        if arch == "roberta":  # positions from the ids, as with input_ids
            base = model.roberta
            kwargs["position_ids"] = base.embeddings.create_position_ids_from_input_ids(ids_t, 1)
    with torch.no_grad():
        out = model(**kwargs)
    if arch != "probe":
        return out.logits.numpy()
    h = out.last_hidden_state.numpy()
    m = mask_t.numpy()
    pooled = (m[:, :, None] * h).sum(axis=1) / m.sum(axis=1, keepdims=True)
    return pooled @ probe["w"].T + probe["b"]


@pytest.mark.parametrize("arch", ARCHS)
def test_explain_folder_every_method_scores_words(built, arch, capsys):
    """``explain DIR --text``: every method defined for the family gives one finite score per distinct word (the
    words the tokenizer makes of the text, by hand from transformers), at the model's own f."""
    model, folder, probe, options = built[arch]
    results = _json(capsys, ["explain", str(folder), "--text", TEXT, "--json", "--class", "2", *options])
    names, _, ids = _words_by_hand(arch, folder, TEXT)
    defined = {name for name, method in METHODS.items() if method.requires != "cls-only-attention"}
    assert {r["method"] for r in results} == defined
    f = _logits(arch, model, probe, ids)[0, 2]
    for r in results:
        assert r["scores_of"] == "words" and r["word_strings"] == names, r["method"]
        assert len(r["scores"]) == len(names) and np.all(np.isfinite(r["scores"])), r["method"]
        assert abs(r["f"] - f) <= 1e-12 * (1 + abs(f)), r["method"]


@pytest.mark.parametrize("method", ["eq19", "lime-large-d"])
def test_the_one_layer_methods_say_why_not(built, method, capsys):
    _, folder, _, _ = built["bert"]
    assert main(["explain", str(folder), "--text", TEXT, "--method", method]) == 2
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and f"method {method!r} is not defined for a BERT-family model" in err


@pytest.mark.parametrize("arch", ["bert", "roberta"])
def test_gradient_scores_are_the_pieces_aggregated(built, arch, capsys):
    """G×I sums ⟨∇_t, E[ξ_t]⟩ over a word's pieces, G-l2 is the norm of the concatenated piece gradients, G-avg the
    mean over all the word's coordinates; ∇ from transformers' autograd on inputs_embeds, words by hand."""
    model, folder, probe, options = built[arch]
    names, piece_word, ids = _words_by_hand(arch, folder, TEXT)
    base = getattr(model, model.base_model_prefix)
    embeds = base.embeddings.word_embeddings(torch.tensor(ids[None])).detach().requires_grad_(True)
    kwargs = {"inputs_embeds": embeds}
    if arch == "roberta":
        kwargs["position_ids"] = base.embeddings.create_position_ids_from_input_ids(torch.tensor(ids[None]), 1)
    model(**kwargs).logits[0, 1].backward()
    grad, E = embeds.grad[0, 1:-1].numpy(), embeds[0, 1:-1].detach().numpy()
    results = {
        r["method"]: r["scores"]
        for r in _json(
            capsys,
            [
                "explain",
                str(folder),
                "--text",
                TEXT,
                "--json",
                "--class",
                "1",
                "--method",
                "grad-x-input,grad-l2,grad-avg,grad-l1",
            ],
        )
    }
    for j in range(len(names)):
        at = piece_word == j
        expected = {
            "grad-x-input": (grad[at] * E[at]).sum(),
            "grad-l2": np.sqrt((grad[at] ** 2).sum()),
            "grad-avg": grad[at].mean(),
            "grad-l1": np.abs(grad[at]).sum(),
        }
        for method, value in expected.items():
            scale = np.abs(grad[at]).sum() * (np.abs(E[at]).max() if method == "grad-x-input" else 1.0)
            assert abs(results[method][j] - value) <= 1e-12 * scale, (method, names[j])


def _perturbed_by_hand(semantics, ids, piece_word, z, special):
    """The document of kept words ``z`` built by hand: (ids, mask, pieces whose word embedding is 0)."""
    keep = np.concatenate([[True], z[piece_word] > 0, [True]])
    if semantics == "delete":
        return ids[keep], None, None
    if semantics == "pad":
        return ids, keep.astype(np.float64), None
    if semantics == "zero":
        return ids, None, ~keep
    return np.where(keep, ids, special[semantics]), None, None


@pytest.mark.parametrize("semantics", SEMANTICS)
@pytest.mark.parametrize("arch", ARCHS)
def test_evaluator_equals_transformers_on_the_perturbed_documents(built, arch, semantics):
    """f on perturbed documents (words switched off, all their pieces) under each removal semantics = transformers
    on the perturbed document built by hand: pieces dropped (delete), [UNK]/[MASK]/[PAD]-id substituted, attention
    mask 0 (pad), word embedding 0 (zero)."""
    model, folder, probe, _ = built[arch]
    ours = load(folder, None if probe is None else folder.parent / "probe.npz").replace(klass=1, contrast=0)
    names, piece_word, ids = _words_by_hand(arch, folder, TEXT)
    doc = ours.document(TEXT)
    assert doc.ids.tolist() == ids.tolist() and doc.word_of.tolist() == piece_word.tolist()
    special = {"unk": ours.tokenizer.unk_id, "mask": ours.tokenizer.mask_id, "mask:PAD": ours.tokenizer.pad_id}
    Z = np.random.default_rng(11).integers(0, 2, size=(6, len(names))).astype(np.float64)
    Z[0], Z[1] = 1, 0
    f = evaluator(ours, doc, doc.length, semantics.replace("PAD", str(ours.tokenizer.pad_id)))(Z)
    base = getattr(model, model.base_model_prefix) if arch != "probe" else model
    for z, value in zip(Z, f):
        pids, mask, zeroed = _perturbed_by_hand(semantics, ids, piece_word, z, special)
        embeds = None
        if zeroed is not None:
            embeds = base.embeddings.word_embeddings(torch.tensor(pids[None])).detach()
            embeds[0, torch.tensor(zeroed)] = 0.0
        logits = _logits(arch, model, probe, pids, mask, embeds)[0]
        expected = logits[1] - logits[0]
        assert abs(value - expected) <= 1e-12 * (1 + np.abs(logits).sum()), (z, value, expected)


@pytest.mark.parametrize("arch", ARCHS)
def test_import_writes_an_npz_that_explains_the_same(built, arch, tmp_path, capsys):
    """``import DIR --out M.npz`` then ``explain M.npz``: the same JSON as ``explain DIR`` (a method of each kind:
    attention, gradient, perturbation under each default semantics, IG)."""
    _, folder, _, options = built[arch]
    out = tmp_path / "m.npz"
    assert main(["import", str(folder), "--out", str(out), "--contrast", "2,0", *options]) == 0
    capsys.readouterr()
    methods = ["--method", "attention-avg,rollout,grad-x-input,lime-inf,shapley,occlusion,ig"]
    direct = _json(capsys, ["explain", str(folder), "--text", TEXT, "--json", "--contrast", "2,0", *methods, *options])
    imported = _json(capsys, ["explain", str(out), "--text", TEXT, "--json", *methods])
    assert imported == direct


def test_run_on_a_folder_writes_a_report(built, tmp_path, capsys):
    _, folder, _, options = built["probe"]
    texts = tmp_path / "texts.txt"
    texts.write_text("\n".join(CORPUS) + "\n", encoding="utf-8")
    out = tmp_path / "report"
    assert (
        main(
            [
                "run",
                "--model",
                str(folder),
                "--texts",
                str(texts),
                "--only",
                "shapley.efficiency",
                "--out",
                str(out),
                *options,
            ]
        )
        == 0
    )
    report = (out / "REPORT.md").read_text(encoding="utf-8")
    assert "a BERT-family model" in report and (out / "summary.json").is_file()


# --- bad input: one line, exit 2, nothing written ---------------------------------------------------------------


def _edit_weights(folder, edit):
    weights = load_file(str(folder / "model.safetensors"))
    edit(weights)
    save_file(weights, str(folder / "model.safetensors"))


def _bigger_tokenizer(folder):
    vocab = {piece: i for i, piece in enumerate(WORDPIECES + [f"extra{i}" for i in range(20)])}
    transformers.BertTokenizer(vocab=vocab).save_pretrained(folder)


def _pickled(folder):
    (folder / "model.safetensors").unlink()
    torch.save({"weights": Fraction(1, 3)}, folder / "pytorch_model.bin")  # a pickled object, not a tensor


KEY = "bert.encoder.layer.0.attention.self.query.weight"
BAD_FOLDERS = [
    ("no config", lambda f: (f / "config.json").unlink(), "(this one has no config.json)"),
    ("no weights", lambda f: (f / "model.safetensors").unlink(), "has no model.safetensors or pytorch_model.bin"),
    (
        "model_type",
        lambda f: (f / "config.json").write_text(
            json.dumps({**json.loads((f / "config.json").read_text()), "model_type": "gpt2"})
        ),
        "model_type 'gpt2' is not supported; supported: bert, distilbert, roberta",
    ),
    (
        "shape",
        lambda f: _edit_weights(f, lambda w: w.update({KEY: np.zeros((8, 6))})),
        f"weight '{KEY}' has shape (8, 6) but config.json implies (8, 8)",
    ),
    ("nan", lambda f: _edit_weights(f, lambda w: w[KEY].__setitem__((0, 0), np.nan)), "contains NaN or inf"),
    ("tokenizer", _bigger_tokenizer, "the tokenizer has 44 ids but the word embedding only 24 rows"),
    ("pickle", _pickled, "is not a torch.save'd state_dict of tensors (it pickles a fractions.Fraction object"),
]


@pytest.mark.parametrize("command", ["explain", "import"])
@pytest.mark.parametrize("case", BAD_FOLDERS, ids=[case[0] for case in BAD_FOLDERS])
def test_bad_folders_are_one_line_errors(built, tmp_path, capsys, case, command):
    import shutil

    _, message_case, message = case[0], case[1], case[2]
    folder = tmp_path / "model"
    shutil.copytree(built["bert"][1], folder)
    message_case(folder)
    out = tmp_path / "out"
    out.mkdir()
    argv = (
        ["explain", str(folder), "--text", "the movie"]
        if command == "explain"
        else ["import", str(folder), "--out", str(out / "m.npz")]
    )
    if case[0] == "no config" and command == "import":
        message = "is a folder; pass the path of a torch.save'd state_dict, or a Hugging Face model folder"
    assert main(argv) == 2
    captured = capsys.readouterr()
    error = captured.err.strip()
    assert captured.out == "" and "\n" not in error and error.startswith("attnverify: error:"), error
    assert message in error, error
    assert list(out.iterdir()) == []


def test_a_text_longer_than_the_model_needs_truncate(built, capsys):
    _, folder, _, _ = built["bert"]
    long = " ".join(["the movie was great"] * 12)  # 48 pieces + 2 > 40 positions
    assert main(["explain", str(folder), "--text", long, "--method", "attention-avg"]) == 2
    error = capsys.readouterr().err.strip()
    assert (
        "\n" not in error and "the text has 50 tokens, more than the model's 40; shorten it or pass --truncate" in error
    )
    result = _json(
        capsys, ["explain", str(folder), "--text", long, "--method", "attention-avg", "--json", "--truncate"]
    )
    assert len(result["piece_scores"]) == 39  # CLS and 38 pieces: [SEP] kept at position 39


def test_words_outside_the_vocabulary_are_noted(built, capsys):
    """A word the tokenizer reads as [UNK] is named on stderr (the output itself is unchanged); a text of such words
    only says that the explanations cannot tell its words apart."""
    _, folder, _, options = built["bert"]
    assert main(["explain", str(folder), "--text", "the zebra movie", "--method", "occlusion", *options]) == 0
    err = capsys.readouterr().err
    assert "1 of 3 distinct words are outside the model's vocabulary" in err and "'zebra'" in err
    assert "every word" not in err
    assert main(["explain", str(folder), "--text", "zebra quokka", "--method", "occlusion", *options]) == 0
    assert "2 of 2 distinct words" in capsys.readouterr().err.replace("\n", " ")
    assert main(["explain", str(folder), "--text", "the movie", "--method", "occlusion", *options]) == 0
    assert "outside the model's vocabulary" not in capsys.readouterr().err
