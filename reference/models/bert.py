"""The BERT family of docs/theory.md §13 (BERT, DistilBERT, RoBERTa, and a BERT encoder with mean pooling
and a linear probe) in plain mpmath: loops over mpf numbers, every quantity as defined.

Independent of ``theory`` (docs/theory.md §1.5) and of its float64 implementation: this module reads Hugging
Face parameter names itself, and the only thing shared with :mod:`reference.models.bert_arb` is that reading
(:func:`parameters`) — the arithmetic is written twice, once per engine.

**Input format.**  A model is two plain objects:

- ``weights``: a mapping from Hugging Face parameter names to arrays (nested lists, numpy arrays, or anything
  ``numpy.asarray`` reads — ``{k: v.double().numpy() for k, v in model.state_dict().items()}`` works), float64
  values converted exactly.  The names are those of ``BertForSequenceClassification``,
  ``DistilBertForSequenceClassification``, ``RobertaForSequenceClassification`` or of the bare ``BertModel`` /
  ``DistilBertModel`` / ``RobertaModel``: the base model's keys with or without their ``bert.`` /
  ``distilbert.`` / ``roberta.`` prefix.  For the mean-pooling readout the probe is ``probe.weight`` (shape
  ``(n_classes, d)`` or ``(d,)``) and ``probe.bias`` (``(n_classes,)`` or a scalar).
- ``config``: a mapping with the Hugging Face config's keys (``model.config.to_dict()`` works): ``model_type``
  (``bert``, ``distilbert`` or ``roberta``), the number of heads (``num_attention_heads``; DistilBERT:
  ``n_heads``), the LayerNorm ``ε`` (``layer_norm_eps``; DistilBERT's code fixes it at ``1e-12``), the
  activation (``hidden_act``; DistilBERT: ``activation``) and ``pad_token_id``; plus the optional key
  ``readout``: ``"head"`` (the default: the architecture's classification head) or ``"mean"`` (mean pooling and
  the probe).  The number of layers is read from the weights.

**The forward pass** (§13), written out.  Embedding ``x_t = E[ξ_t] + P[π(t)] + T_y[0]`` (DistilBERT: no token
type), ``π(t) = t``, RoBERTa ``π(t) = padding_idx + (number of non-pad tokens among ξ_0..ξ_t)`` for a non-pad
token and ``padding_idx`` for a pad token (from word-embedding rows, where the ids are unknown, Hugging Face's
``padding_idx + 1 + t`` unless positions are given); ``h^(0)_t = LN_emb(x_t)``, ``LN(x) = (x − mean x) /
√(var x + ε) · γ + β`` (biased variance).  Layer ``l``, post-LN:

    s^(i)_{t,u} = ⟨W_q^(i) h_t + b_q^(i), W_k^(i) h_u + b_k^(i)⟩ / √d_head,
    a^(i)_{t,u} = m_u exp(s^(i)_{t,u}) / Σ_v m_v exp(s^(i)_{t,v})   (a masked key gets exactly 0),
    SA(h)_t = W_o concat_i(Σ_u a^(i)_{t,u} (W_v^(i) h_u + b_v^(i))) + b_o,
    h ← LN_1(h + SA(h)),   h ← LN_2(h + W_2 act(W_1 h + b_1) + b_2),

``act`` = ``x·(1 + erf(x/√2))/2`` (``gelu``), ``x·(1 + tanh(√(2/π)(x + 0.044715 x³)))/2`` (``gelu_new``,
``gelu_pytorch_tanh``) or ``max(x, 0)`` (``relu``).  Every position is computed (padded ones too: their rows
attend to the real tokens, as in Hugging Face).  Readouts, ``z`` the logits and ``f = z_c`` for the class ``c``:
BERT ``z = W_c tanh(W_p h^(L)_0 + b_p) + b_c`` (pooler, classifier); DistilBERT ``z = W_c ReLU(W_pre h^(L)_0 +
b_pre) + b_c``; RoBERTa ``z = W_out tanh(W_d h^(L)_0 + b_d) + b_out``; mean pooling ``z = W Σ_t m_t h^(L)_t /
Σ_t m_t + b``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import mpmath
import numpy as np
from mpmath import mp, mpf

from reference.models.one_layer import DPS, to_mp

ARCHITECTURES = ("bert", "distilbert", "roberta")
ACTIVATIONS = ("gelu", "gelu_new", "gelu_pytorch_tanh", "relu")
READOUTS = ("head", "mean")
GELU_TANH_CUBIC = "0.044715"  # the tanh form's coefficient, a decimal constant (Hendrycks & Gimpel 2016)

# Each block's matrices: (our name, the Hugging Face module path inside layer l of the base model).
_LAYER_NAMES = {
    "bert": {
        "query": "attention.self.query",
        "key": "attention.self.key",
        "value": "attention.self.value",
        "output": "attention.output.dense",
        "norm1": "attention.output.LayerNorm",
        "intermediate": "intermediate.dense",
        "ffn_output": "output.dense",
        "norm2": "output.LayerNorm",
    },
    "distilbert": {
        "query": "attention.q_lin",
        "key": "attention.k_lin",
        "value": "attention.v_lin",
        "output": "attention.out_lin",
        "norm1": "sa_layer_norm",
        "intermediate": "ffn.lin1",
        "ffn_output": "ffn.lin2",
        "norm2": "output_layer_norm",
    },
}
_LAYER_NAMES["roberta"] = _LAYER_NAMES["bert"]
_STACK = {"bert": "encoder.layer", "distilbert": "transformer.layer", "roberta": "encoder.layer"}
# The classification heads: (the dense layer on h^(L)_0 and its nonlinearity, the output layer).
_HEADS = {
    "bert": ("pooler.dense", "tanh", "classifier"),
    "distilbert": ("pre_classifier", "relu", "classifier"),
    "roberta": ("classifier.dense", "tanh", "classifier.out_proj"),
}
_BASE_KEYS = ("pooler.",)  # head keys that live inside the base model (BertModel's pooler)


@dataclass(frozen=True)
class Config:
    """What the forward pass reads from a Hugging Face config (see the module docstring)."""

    model_type: str
    heads: int
    eps: float
    activation: str
    pad_token_id: int
    readout: str


def config_of(config: dict) -> Config:
    """The :class:`Config` of a Hugging Face config dictionary (``model.config.to_dict()``).

    Args:
        config: the config's keys (``model_type``, heads, ``ε``, activation, ``pad_token_id``, optional
            ``readout``), as the module docstring lists them.

    Returns:
        The parsed config.

    Raises:
        ValueError: an unsupported ``model_type``, activation or readout.
    """
    model_type = config.get("model_type")
    if model_type not in ARCHITECTURES:
        raise ValueError(f"model_type {model_type!r} is not one of {', '.join(ARCHITECTURES)}")
    distil = model_type == "distilbert"
    activation = config["activation" if distil else "hidden_act"]
    if activation not in ACTIVATIONS:
        raise ValueError(f"activation {activation!r} is not one of {', '.join(ACTIVATIONS)}")
    readout = config.get("readout", "head")
    if readout not in READOUTS:
        raise ValueError(f"readout {readout!r} is not one of {', '.join(READOUTS)}")
    return Config(
        model_type=model_type,
        heads=int(config["n_heads" if distil else "num_attention_heads"]),
        eps=1e-12 if distil else float(config["layer_norm_eps"]),
        activation=activation,
        pad_token_id=int(config["pad_token_id"]),
        readout=readout,
    )


def parameters(weights: dict, config: Config) -> dict:
    """The model's parameters as float64 numpy arrays under the names of §13's blocks.

    Args:
        weights: Hugging Face parameter names → arrays (the module docstring's format).
        config: the parsed config.

    Returns:
        ``{"word": E, "position": P, "type0": T_y[0] (zeros for DistilBERT), "norm_emb": (γ, β), "layers":
        [{"query": (W, b), "key", "value", "output", "norm1", "intermediate", "ffn_output", "norm2"}, …],
        "head": ((W, b), nonlinearity, (W, b)) or None, "probe": (W, b) or None}``, every ``W`` of shape
        ``(out, in)`` as Hugging Face stores it; a 1-d probe becomes one row.

    Raises:
        KeyError: a parameter the architecture needs is missing (its name is in the message).
    """
    arch = config.model_type
    prefix = f"{arch}."
    base = {k[len(prefix) :] if k.startswith(prefix) else k: v for k, v in weights.items()}

    def get(name: str) -> np.ndarray:
        if name not in base:
            raise KeyError(f"missing parameter {name!r} ({arch})")
        return np.asarray(base[name], dtype=np.float64)

    def linear(name: str) -> tuple:
        return get(f"{name}.weight"), get(f"{name}.bias")

    layers: list[dict] = []
    while f"{_STACK[arch]}.{len(layers)}.{_LAYER_NAMES[arch]['query']}.weight" in base:
        stem = f"{_STACK[arch]}.{len(layers)}"
        layers.append({ours: linear(f"{stem}.{path}") for ours, path in _LAYER_NAMES[arch].items()})
    word = get("embeddings.word_embeddings.weight")
    type0 = np.zeros(word.shape[1]) if arch == "distilbert" else get("embeddings.token_type_embeddings.weight")[0]
    head = probe = None
    if config.readout == "mean":
        W, b = get("probe.weight"), get("probe.bias")
        probe = (W.reshape(1, -1) if W.ndim == 1 else W, b.reshape(-1))
    else:
        dense, nonlinearity, out = _HEADS[arch]
        head = (linear(dense), nonlinearity, linear(out))
    return {
        "word": word,
        "position": get("embeddings.position_embeddings.weight"),
        "type0": type0,
        "norm_emb": linear("embeddings.LayerNorm"),
        "layers": layers,
        "head": head,
        "probe": probe,
    }


def position_ids(config: Config, ids=None, T: int | None = None) -> list:
    """``π(t)`` for each position: from token ids (RoBERTa counts the non-pad tokens), or for ``T`` word-embedding
    rows (RoBERTa: Hugging Face's ``padding_idx + 1 + t``).

    Args:
        config: the parsed config.
        ids: the token ids, or None.
        T: the number of positions when ``ids`` is None.

    Returns:
        The position ids, a list of ints.
    """
    if ids is None:
        if T is None:
            raise ValueError("position_ids needs the token ids or the number of positions T")
        first = config.pad_token_id + 1 if config.model_type == "roberta" else 0
        return [first + t for t in range(T)]
    if config.model_type != "roberta":
        return list(range(len(ids)))
    pad = config.pad_token_id
    positions, count = [], 0
    for token in ids:
        count += int(token) != pad
        positions.append(pad + count if int(token) != pad else pad)
    return positions


@dataclass
class Forward:
    """The forward record: ``f = z_c``, the logits ``z``, the features the output layer reads (``pooled``: the
    head's ``tanh``/ReLU output, or the masked mean), every layer's attention ``[layer][head][t][u]`` and the
    hidden states ``[layer 0..L][t][j]`` (``hidden[0]`` = the embedding LayerNorm's output)."""

    f: Any  # the engine's number: an mpf here, a flint.arb ball in reference.models.bert_arb
    logits: list
    pooled: list
    attention: list
    hidden: list


def _linear(layer, x):
    """``W x + b`` for ``layer = (W, b)`` (``W`` of shape ``(out, in)``)."""
    W, bias = layer
    return [mp.fdot(row, x) + b for row, b in zip(W, bias)]


def _layer_norm(x, norm, eps):
    gamma, beta = norm
    n = len(x)
    mean = mpmath.fsum(x) / n
    var = mpmath.fsum((v - mean) ** 2 for v in x) / n
    root = mpmath.sqrt(var + eps)
    return [(v - mean) / root * g + b for v, g, b in zip(x, gamma, beta)]


def _activation(kind: str, z):
    if kind == "relu":
        return max(z, mpf(0))
    if kind == "gelu":
        return z * (1 + mpmath.erf(z / mpmath.sqrt(2))) / 2
    return z * (1 + mpmath.tanh(mpmath.sqrt(2 / mpmath.pi) * (z + mpf(GELU_TANH_CUBIC) * z**3))) / 2


def _self_attention(W, h, mask, heads):
    """``(SA(h), attention [head][t][u])`` with the key mask ``mask``."""
    T = len(h)
    Q, K, V = ([_linear(W[name], x) for x in h] for name in ("query", "key", "value"))
    d_head = len(Q[0]) // heads
    root = mpmath.sqrt(d_head)
    concat = [[] for _ in range(T)]
    maps = []
    for i in range(heads):
        cols = slice(i * d_head, (i + 1) * d_head)
        head = []
        for t in range(T):
            g = [mpmath.exp(mp.fdot(Q[t][cols], K[u][cols]) / root) if mask[u] else mpf(0) for u in range(T)]
            total = mpmath.fsum(g)
            a = [gu / total for gu in g]
            head.append(a)
            concat[t] += [mpmath.fsum(a[u] * V[u][o] for u in range(T)) for o in range(cols.start, cols.stop)]
        maps.append(head)
    return [_linear(W["output"], c) for c in concat], maps


def _readout(P, h, mask):
    """``(logits z, pooled)`` from the last hidden states (the head on ``h_0``, or mean pooling and the probe)."""
    if P["probe"] is not None:
        n = sum(mask)
        pooled = [mpmath.fsum(h[t][j] for t in range(len(h)) if mask[t]) / n for j in range(len(h[0]))]
        return _linear(P["probe"], pooled), pooled
    dense, nonlinearity, out = P["head"]
    z = _linear(dense, h[0])
    pooled = [mpmath.tanh(v) for v in z] if nonlinearity == "tanh" else [max(v, mpf(0)) for v in z]
    return _linear(out, pooled), pooled


def _to_mp(P: dict) -> dict:
    """The parameters (:func:`parameters`) as mpf nested lists, converted exactly."""

    def pair(p):
        return to_mp(p[0]), to_mp(p[1])

    return {
        "norm_emb": pair(P["norm_emb"]),
        "layers": [{name: pair(p) for name, p in layer.items()} for layer in P["layers"]],
        "head": None if P["head"] is None else (pair(P["head"][0]), P["head"][1], pair(P["head"][2])),
        "probe": None if P["probe"] is None else pair(P["probe"]),
    }


def forward_embedded(
    weights: dict, config: dict, rows, mask=None, positions=None, label: int = 0, dps: int = DPS
) -> Forward:
    """The forward pass from word-embedding rows (Hugging Face's ``inputs_embeds``).

    Args:
        weights: Hugging Face parameter names → arrays (module docstring).
        config: the Hugging Face config dictionary (module docstring).
        rows: ``T`` word-embedding rows ``E[ξ_t]`` (or any vectors: ``zero`` puts 0 there), floats or mpf.
        mask: the attention mask ``m_t ∈ {0, 1}`` (default: all ones).
        positions: the position ids ``π(t)`` (default: :func:`position_ids` for ``T`` rows).
        label: the class ``c`` whose logit is ``f``.
        dps: mpmath's working precision (digits), restored afterwards.

    Returns:
        The :class:`Forward` record (mpf numbers).
    """
    cfg = config_of(config)
    P = parameters(weights, cfg)
    T = len(rows)
    mask = [1] * T if mask is None else [int(m) for m in mask]
    positions = position_ids(cfg, T=T) if positions is None else [int(p) for p in positions]
    with mpmath.workdps(dps):
        W = _to_mp(P)
        h = []
        for row, p in zip(rows, positions):
            x = [mpf(v) + mpf(float(q)) + mpf(float(y)) for v, q, y in zip(row, P["position"][p], P["type0"])]
            h.append(_layer_norm(x, W["norm_emb"], cfg.eps))
        hidden, attention = [h], []
        for layer in W["layers"]:
            sa, maps = _self_attention(layer, h, mask, cfg.heads)
            h = [_layer_norm([a + b for a, b in zip(x, y)], layer["norm1"], cfg.eps) for x, y in zip(h, sa)]
            ff = [
                _linear(
                    layer["ffn_output"], [_activation(cfg.activation, z) for z in _linear(layer["intermediate"], x)]
                )
                for x in h
            ]
            h = [_layer_norm([a + b for a, b in zip(x, y)], layer["norm2"], cfg.eps) for x, y in zip(h, ff)]
            hidden.append(h)
            attention.append(maps)
        logits, pooled = _readout(W, h, mask)
        return Forward(f=logits[label], logits=logits, pooled=pooled, attention=attention, hidden=hidden)


def forward(weights: dict, config: dict, ids, mask=None, label: int = 0, dps: int = DPS) -> Forward:
    """The forward pass on token ids: ``E[ξ_t]`` looked up, positions from the ids (:func:`position_ids`).

    Args:
        weights: Hugging Face parameter names → arrays (module docstring).
        config: the Hugging Face config dictionary (module docstring).
        ids: the token ids ``ξ_0..ξ_{T-1}`` (special tokens included, padding included).
        mask: the attention mask (default: all ones).
        label: the class ``c`` whose logit is ``f``.
        dps: mpmath's working precision (digits).

    Returns:
        The :class:`Forward` record (mpf numbers).
    """
    cfg = config_of(config)
    ids = [int(token) for token in ids]
    word = parameters(weights, cfg)["word"]
    with mpmath.workdps(dps):
        rows = [to_mp(word[token]) for token in ids]
    return forward_embedded(weights, config, rows, mask, position_ids(cfg, ids=ids), label, dps)
