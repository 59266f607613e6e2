"""Read a Hugging Face model folder offline into the BERT family of :mod:`theory.models.bert` (docs/theory.md §13).

The folder is what ``save_pretrained`` writes (and what a sentence-transformers model ships): ``config.json``
(``model_type`` bert, distilbert or roberta), the weights in ``model.safetensors`` (read with the ``safetensors``
package's numpy interface) or ``pytorch_model.bin`` (``torch.load(weights_only=True)``: tensors only, no code),
and the tokenizer (:func:`theory.models.wordpieces.read_tokenizer`).  Nothing from the folder is executed and
``transformers`` is not needed.

The weights' names are the attribute paths of ``transformers``' classes, prefixed by the base model
(``bert.``, ``distilbert.``, ``roberta.``; absent in a bare ``BertModel`` folder).  Per layer ``l``:

==========================  ======================================  ==========================================
:class:`~theory.models.bert.Bert` field  BERT, RoBERTa (``encoder.layer.{l}.``)  DistilBERT (``transformer.layer.{l}.``)
==========================  ======================================  ==========================================
``query``/``key``/``value``  ``attention.self.query|key|value``      ``attention.q_lin|k_lin|v_lin``
``attention_output``         ``attention.output.dense``              ``attention.out_lin``
``attention_norm``           ``attention.output.LayerNorm``          ``sa_layer_norm``
``intermediate``             ``intermediate.dense``                  ``ffn.lin1``
``output``                   ``output.dense``                        ``ffn.lin2``
``output_norm``              ``output.LayerNorm``                    ``output_layer_norm``
==========================  ======================================  ==========================================

each with ``.weight`` and ``.bias``; the embeddings are ``embeddings.word_embeddings``, ``.position_embeddings``,
``.token_type_embeddings`` (not DistilBERT) and ``.LayerNorm``.  The readouts: BERT ``{base}.pooler.dense`` and
``classifier``; DistilBERT ``pre_classifier`` and ``classifier``; RoBERTa ``classifier.dense`` and
``classifier.out_proj``.  A probe (``probe.npz`` with ``w`` of shape ``(n_classes, d)`` or ``(d,)`` and ``b``)
makes the readout mean pooling + the probe, on any of the three (a bare encoder, or a sentence-transformers folder
whose ``1_Pooling/config.json`` says mean pooling).  Old checkpoints' LayerNorm ``gamma``/``beta`` are read as
``weight``/``bias``, as ``transformers`` does.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from theory.errors import InputError
from theory.models.bert import ACTIVATIONS, ARCHITECTURES, NATIVE_READOUT, Bert, BertConfig, check_vocabulary, shapes
from theory.models.wordpieces import WordPieces, first_line, read_json, read_tokenizer
from theory.optional import missing, needs

_BERT_LAYER = {
    "query": "attention.self.query",
    "key": "attention.self.key",
    "value": "attention.self.value",
    "attention_output": "attention.output.dense",
    "attention_norm": "attention.output.LayerNorm",
    "intermediate": "intermediate.dense",
    "output": "output.dense",
    "output_norm": "output.LayerNorm",
}
_DISTILBERT_LAYER = {
    "query": "attention.q_lin",
    "key": "attention.k_lin",
    "value": "attention.v_lin",
    "attention_output": "attention.out_lin",
    "attention_norm": "sa_layer_norm",
    "intermediate": "ffn.lin1",
    "output": "ffn.lin2",
    "output_norm": "output_layer_norm",
}
#: model_type -> (layer prefix, per-layer names)
_LAYERS = {
    "bert": ("encoder.layer", _BERT_LAYER),
    "roberta": ("encoder.layer", _BERT_LAYER),
    "distilbert": ("transformer.layer", _DISTILBERT_LAYER),
}
_EMBEDDINGS = {
    "word_embeddings": "embeddings.word_embeddings.weight",
    "position_embeddings": "embeddings.position_embeddings.weight",
    "token_type_embeddings": "embeddings.token_type_embeddings.weight",
    "embeddings_norm_weight": "embeddings.LayerNorm.weight",
    "embeddings_norm_bias": "embeddings.LayerNorm.bias",
}
#: readout -> {field: key} (the head's keys have no base-model prefix; the pooler's has)
_READOUTS = {
    "pooler": {
        "pooler_weight": "pooler.dense.weight",
        "pooler_bias": "pooler.dense.bias",
        "classifier_weight": "classifier.weight",
        "classifier_bias": "classifier.bias",
    },
    "pre_classifier": {
        "pooler_weight": "pre_classifier.weight",
        "pooler_bias": "pre_classifier.bias",
        "classifier_weight": "classifier.weight",
        "classifier_bias": "classifier.bias",
    },
    "classification_head": {
        "pooler_weight": "classifier.dense.weight",
        "pooler_bias": "classifier.dense.bias",
        "classifier_weight": "classifier.out_proj.weight",
        "classifier_bias": "classifier.out_proj.bias",
    },
}
#: model_type -> BertConfig field -> (config.json key, default or None when required)
_CONFIG_KEYS: dict[str, dict[str, tuple[str, object]]] = {
    "bert": {
        "d": ("hidden_size", None),
        "layers": ("num_hidden_layers", None),
        "heads": ("num_attention_heads", None),
        "ffn": ("intermediate_size", None),
        "vocab_size": ("vocab_size", None),
        "max_positions": ("max_position_embeddings", None),
        "type_vocab_size": ("type_vocab_size", 2),
        "activation": ("hidden_act", "gelu"),
        "layer_norm_eps": ("layer_norm_eps", 1e-12),
        "pad_token_id": ("pad_token_id", 0),
    },
    "distilbert": {
        "d": ("dim", None),
        "layers": ("n_layers", None),
        "heads": ("n_heads", None),
        "ffn": ("hidden_dim", None),
        "vocab_size": ("vocab_size", None),
        "max_positions": ("max_position_embeddings", None),
        "activation": ("activation", "gelu"),
        "pad_token_id": ("pad_token_id", 0),
    },
}
_CONFIG_KEYS["roberta"] = {**_CONFIG_KEYS["bert"], "pad_token_id": ("pad_token_id", 1)}
_DISTILBERT_EPS = 1e-12  # fixed in modeling_distilbert.py, not in its config
_HEAD_KEYS = ("classifier", "pre_classifier")  # the classification head's keys: no base-model prefix


@dataclass(frozen=True)
class Pretrained:
    """A model folder read: the model (carrying its tokenizer) and its tokenizer."""

    model: Bert
    tokenizer: WordPieces
    folder: Path


def read_folder(folder: str | Path, probe: str | Path | None = None) -> Pretrained:
    """Read a Hugging Face model folder (module docstring) offline.

    Args:
        folder: the folder ``save_pretrained`` wrote (``config.json``, weights, tokenizer).
        probe: a ``probe.npz`` (``w`` (n_classes, d) or (d,), ``b``): the readout becomes mean pooling + the probe.

    Returns:
        The :class:`Pretrained` model and tokenizer.

    Raises:
        InputError: with one line saying what is wrong (no config or weights, an unsupported ``model_type``, a
            missing key, a weight whose shape disagrees with the config, a non-finite weight, a tokenizer with more
            ids than the embedding has rows …).
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise InputError(
            f"{folder} is not a folder: a Hugging Face model is a folder with config.json, its weights "
            "and its tokenizer"
        )
    if not (folder / "config.json").is_file():
        raise InputError(f"{folder} has no config.json: not a Hugging Face model folder")
    hf = read_json(folder / "config.json")
    _model_type(hf, folder / "config.json")
    weights = _read_weights(folder)
    probe_arrays = None if probe is None else _read_probe(Path(probe))
    if probe is not None:
        _check_pooling(folder)
    model = from_state_dict(hf, weights, probe_arrays, str(folder))
    tokenizer = read_tokenizer(folder, model.config.max_tokens)
    check_vocabulary(model, tokenizer, str(folder))
    return Pretrained(model.replace(tokenizer=tokenizer), tokenizer, folder)


def from_state_dict(hf: dict, weights: dict, probe: dict | None = None, where: str = "the weights") -> Bert:
    """The model of a Hugging Face config and state dict held in memory (what :func:`read_folder` reads from files).

    Args:
        hf: the config's keys (``config.json``, or ``model.config.to_dict()``).
        weights: arrays by Hugging Face parameter name (module docstring), any real dtype.
        probe: ``{"w": (n_classes, d), "b": (n_classes,)}`` for the mean-pooling readout, or None for the
            architecture's own classification head.
        where: what the messages name (the folder).

    Returns:
        The :class:`~theory.models.bert.Bert` (explaining class 0).
    """
    config = _config(where, hf, _model_type(hf, f"{where}/config.json"), probe)
    return Bert(config, **_map_weights(weights, config, where, probe))


def to_state_dict(model: Bert) -> tuple[dict, dict, dict | None]:
    """The Hugging Face config, state dict and probe of a model: the inverse of :func:`from_state_dict`, so that
    ``from_state_dict(*to_state_dict(model))`` has ``model``'s config and weights (the explained class aside).

    The names are those of the module docstring's table: a model with its architecture's classification head is a
    ``…ForSequenceClassification`` (the base model's keys prefixed by ``bert.``, ``distilbert.`` or ``roberta.``,
    BERT's pooler among them; the head's keys unprefixed); a mean-pooling model is the bare base model (no prefix,
    no pooler) and its probe.  The config holds the architecture's own key names (``hidden_size`` …, DistilBERT's
    ``dim`` …) and ``num_labels``; DistilBERT's ``ε`` is not a config key (its code fixes 1e-12).  The arrays are
    the model's own (read-only float64), per layer a slice of its stacked weights.

    Args:
        model: the model.

    Returns:
        ``(config, weights, probe)``: the config's keys (``model_type`` …), the arrays by Hugging Face name, and
        ``{"w": (n_classes, d), "b": (n_classes,)}`` for the mean readout (None for the classification heads).

    Raises:
        InputError: a DistilBERT model whose ``ε`` is not 1e-12 (its Hugging Face form cannot say so).
    """
    config = model.config
    arch = config.architecture
    if arch == "distilbert" and config.layer_norm_eps != _DISTILBERT_EPS:
        raise InputError(
            f"a distilbert model with layer_norm_eps = {config.layer_norm_eps:g} has no Hugging Face form: "
            f"DistilBERT's code fixes ε = {_DISTILBERT_EPS:g}"
        )
    hf: dict = {"model_type": arch}
    hf.update({key: getattr(config, field) for field, (key, _) in _CONFIG_KEYS[arch].items()})
    hf["num_labels"] = config.n_classes
    mean = config.readout == "mean"

    def name(key: str) -> str:
        return key if mean or key.startswith(_HEAD_KEYS) else f"{arch}.{key}"

    want = shapes(config)
    weights = {name(key): getattr(model, field) for field, key in _EMBEDDINGS.items() if field in want}
    layer_prefix, layer_names = _LAYERS[arch]
    for block, path in layer_names.items():
        for part in ("weight", "bias"):
            stacked = getattr(model, f"{block}_{part}")
            weights.update({name(f"{layer_prefix}.{l}.{path}.{part}"): stacked[l] for l in range(config.layers)})
    if mean:
        return hf, weights, {"w": model.classifier_weight, "b": model.classifier_bias}
    weights.update({name(key): getattr(model, field) for field, key in _READOUTS[config.readout].items()})
    return hf, weights, None


def _model_type(hf: dict, where) -> str:
    model_type = hf.get("model_type")
    if model_type not in ARCHITECTURES:
        raise InputError(f"{where}: model_type {model_type!r} is not supported; supported: {', '.join(ARCHITECTURES)}")
    return model_type


def _config(folder: str, hf: dict, model_type: str, probe: dict | None) -> BertConfig:
    where = f"{folder}/config.json"
    values = {}
    for field, (key, default) in _CONFIG_KEYS[model_type].items():
        value = hf.get(key, default)
        if value is None:
            raise InputError(f"{where} lacks {key!r} (the model's {field})")
        values[field] = value
    if model_type == "distilbert":
        values.update(type_vocab_size=0, layer_norm_eps=_DISTILBERT_EPS)
    if values["activation"] not in ACTIVATIONS:
        raise InputError(
            f"{where}: activation {values['activation']!r} is not supported; supported: {', '.join(ACTIVATIONS)}"
        )
    if hf.get("position_embedding_type", "absolute") != "absolute":
        raise InputError(
            f"{where}: position_embedding_type {hf['position_embedding_type']!r} is not supported; "
            "only absolute (learned) positions are"
        )
    if hf.get("is_decoder") or hf.get("add_cross_attention"):
        raise InputError(f"{where}: a decoder (is_decoder / add_cross_attention) is not a sequence classifier")
    for field in ("d", "layers", "heads", "ffn", "vocab_size", "max_positions", "type_vocab_size", "pad_token_id"):
        if not isinstance(values[field], int) or isinstance(values[field], bool):
            raise InputError(
                f"{where}: {_CONFIG_KEYS[model_type].get(field, (field,))[0]} must be an integer, got {values[field]!r}"
            )
    if not isinstance(values["layer_norm_eps"], int | float) or not math.isfinite(values["layer_norm_eps"]):
        raise InputError(f"{where}: layer_norm_eps must be a number, got {values['layer_norm_eps']!r}")
    if probe is not None:
        n_classes = probe["w"].shape[0]
    else:
        labels = hf.get("id2label")
        n_classes = len(labels) if isinstance(labels, dict) and labels else hf.get("num_labels", 2)
    readout = "mean" if probe is not None else NATIVE_READOUT[model_type]
    return BertConfig(architecture=model_type, readout=readout, n_classes=n_classes, **values)


def _read_weights(folder: Path) -> dict:
    """The folder's tensors by name, as numpy arrays (float64 conversion comes with the shape checks)."""
    for sharded in ("model.safetensors.index.json", "pytorch_model.bin.index.json"):
        if (folder / sharded).is_file():
            raise InputError(f"{folder / sharded}: sharded checkpoints are not supported; save the model in one file")
    path = folder / "model.safetensors"
    if path.is_file():
        if missing("safetensors"):
            raise InputError(f"reading {path} {needs(['safetensors'])}")
        from safetensors.numpy import load_file

        try:
            return load_file(str(path))
        except Exception as error:  # the Rust library's errors carry no common type
            raise InputError(f"{path} cannot be read as safetensors: {first_line(error)}") from None
    path = folder / "pytorch_model.bin"
    if path.is_file():
        if missing("torch"):
            raise InputError(
                f"reading {path} (a PyTorch checkpoint) {needs(['torch'])}; or save the model as model.safetensors"
            )
        from theory.models.from_torch import load_state_dict  # torch.load(weights_only=True), its refusals

        return load_state_dict(path)
    raise InputError(f"{folder} has no model.safetensors or pytorch_model.bin: the model's weights are needed")


def _map_weights(weights: dict, config: BertConfig, folder: str, probe: dict | None) -> dict:
    """The :class:`Bert` fields from the checkpoint's names (module docstring), each checked against the shape the
    config implies."""
    base = config.architecture
    legacy = {"gamma": "weight", "beta": "bias"}
    named = {}
    for key, value in weights.items():
        head, _, last = key.rpartition(".")
        named[f"{head}.{legacy[last]}" if "LayerNorm" in head and last in legacy else key] = value
    prefixed = any(key.startswith(base + ".") for key in named)

    def take(key: str, shape: tuple) -> np.ndarray:
        head = key.startswith(_HEAD_KEYS)
        full = f"{base}.{key}" if prefixed and not head else key
        if full not in named:
            hint = "; a bare encoder needs a probe (probe.npz)" if head or "pooler" in key else ""
            raise InputError(f"{folder}: the weights lack {full!r}{hint}")
        value = np.asarray(named[full])
        if value.shape != shape:
            raise InputError(
                f"{folder}: weight {full!r} has shape {tuple(value.shape)} but config.json implies {shape}"
            )
        if not np.issubdtype(value.dtype, np.number) or not np.all(np.isfinite(value.astype(np.float64))):
            raise InputError(f"{folder}: weight {full!r} contains NaN or inf (or is not numeric)")
        return value.astype(np.float64)

    want = shapes(config)
    out = {field: take(key, want[field]) for field, key in _EMBEDDINGS.items() if field in want}
    layer_prefix, layer_names = _LAYERS[config.architecture]
    for block, name in layer_names.items():
        for part in ("weight", "bias"):
            field = f"{block}_{part}"
            out[field] = np.stack(
                [take(f"{layer_prefix}.{l}.{name}.{part}", want[field][1:]) for l in range(config.layers)]
            )
    if probe is not None:
        if probe["w"].shape[1] != config.d:
            raise InputError(
                f"the probe's w has shape {probe['w'].shape} but the model's width is d = {config.d}: "
                f"it needs (n_classes, {config.d}) or ({config.d},)"
            )
        out.update(classifier_weight=probe["w"], classifier_bias=probe["b"])
    else:
        out.update({field: take(key, want[field]) for field, key in _READOUTS[config.readout].items()})
    return out


def _read_probe(path: Path) -> dict:
    """``w`` as ``(n_classes, d)`` and ``b`` as ``(n_classes,)`` from a probe ``.npz``."""
    try:
        with np.load(path, allow_pickle=False) as data:
            arrays = {key: data[key] for key in data.files}
    except (OSError, ValueError, EOFError) as error:
        raise InputError(f"{path} is not a readable .npz probe: {first_line(error)}") from None
    lacking = [key for key in ("w", "b") if key not in arrays]
    if lacking:
        raise InputError(f"{path} lacks {', '.join(lacking)}: a probe holds w (n_classes, d) or (d,) and b")
    w, b = np.asarray(arrays["w"]), np.asarray(arrays["b"])
    if w.ndim not in (1, 2) or not np.issubdtype(w.dtype, np.number) or not np.issubdtype(b.dtype, np.number):
        raise InputError(f"{path}: w must be a numeric (n_classes, d) or (d,) array, got {w.dtype} {w.shape}")
    w = np.atleast_2d(w).astype(np.float64)
    b = np.atleast_1d(b).astype(np.float64)
    if b.shape != (w.shape[0],):
        raise InputError(f"{path}: b has shape {b.shape} but w {w.shape} needs {(w.shape[0],)}")
    if not (np.isfinite(w).all() and np.isfinite(b).all()):
        raise InputError(f"{path}: the probe contains NaN or inf")
    return {"w": w, "b": b}


def _check_pooling(folder: Path) -> None:
    """A sentence-transformers folder's pooling must be the mean (``1_Pooling/config.json``); a bare encoder's is."""
    path = folder / "1_Pooling" / "config.json"
    if not path.is_file():
        return
    modes = {key: value for key, value in read_json(path).items() if key.startswith("pooling_mode")}
    used = sorted(key for key, value in modes.items() if value)
    if used != ["pooling_mode_mean_tokens"]:
        raise InputError(
            f"{path} pools by {', '.join(used) or 'nothing'}; the probe readout is mean pooling "
            "(pooling_mode_mean_tokens only)"
        )
