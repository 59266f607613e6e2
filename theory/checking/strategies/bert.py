"""Hypothesis strategies for the BERT family's claims (docs/theory.md §13): small random BERT / DistilBERT /
RoBERTa classifiers and encoders with a mean-pooling probe, built in memory without ``transformers``, and
documents with special tokens and padding.

An instance is a :class:`BertCase`: a :class:`BertSpec` (architecture × readout × activation × sizes × ``ε``, and
the seed of the numpy generator that draws the weights) plus a document (its real token ids, then ``pads`` pad
tokens with attention mask 0), so that a counterexample is small, readable and reproducible from its repr, and
shrinks toward one layer, one head, the smallest widths, seed 0 and no padding.

The weights exist once, as a Hugging Face state dict (:meth:`BertSpec.state_dict`: the parameter names of
``BertForSequenceClassification`` …, or of the bare base model for the probe readout); the float64 model is
:func:`theory.models.huggingface.from_state_dict` of it, the mpmath reference (:mod:`reference.models.bert`) reads
the same arrays under the same names (:meth:`BertCase.reference_weights`, :meth:`BertCase.reference_config`), and
the ``transformers`` oracle loads them with ``load_state_dict``.

Scales are those of a model whose attention is neither flat nor one-hot: every matrix ``~ N(0, 1/in)`` (the query
and key matrices times ``√score_scale``, so scores of order ``score_scale``), embeddings ``~ N(0, 1)``, biases and
LayerNorm offsets ``~ N(0, 0.3²)``, LayerNorm gains ``~ 1 + N(0, 0.1²)``.  Hugging Face's own initialisation (std
0.02) would leave every term tiny and every attention uniform.

Vocabulary: BERT and DistilBERT ``[PAD] [UNK] [CLS] [SEP] [MASK]`` = ids 0–4 (``pad_token_id`` 0); RoBERTa
``<s> <pad> </s> <unk> <mask>`` = ids 0–4 (``pad_token_id`` 1, its positions start at 2); ids ≥ 5 are words.
Sizes stay small for the mpmath reference (plain loops): 1–2 layers, 1–2 heads, ``d`` 4–8, feed-forward 1–8,
documents of 3–6 real tokens and 0–2 pads.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from functools import cached_property

import numpy as np
from hypothesis import strategies as st

from theory.models.bert import ARCHITECTURES, Bert
from theory.models.huggingface import from_state_dict

ACTIVATIONS = ("gelu", "gelu_new", "relu")
EPSILONS = (1e-12, 1e-7, 1e-5)  # BERT's, the probe test's, RoBERTa-large's (DistilBERT's code fixes 1e-12)
SCORE_SCALES = (0.3, 1.0, 3.0, 10.0)
#: architecture -> (CLS, SEP, PAD, UNK, MASK) ids of the written vocabulary (module docstring)
SPECIAL = {"bert": (2, 3, 0, 1, 4), "distilbert": (2, 3, 0, 1, 4), "roberta": (0, 2, 1, 3, 4)}
FIRST_WORD = 5
MAX_REAL, MAX_PADS = 6, 2


#: architecture -> the names of layer l's blocks: query, key, value, attention output, its LayerNorm, the two
#: feed-forward matrices, the output LayerNorm (Hugging Face's attribute paths, theory.models.huggingface's table)
_BLOCKS = ("query", "key", "value", "attention_output", "attention_norm", "intermediate", "output", "output_norm")
_LAYERS = {
    "bert": (
        "encoder.layer",
        (
            "attention.self.query",
            "attention.self.key",
            "attention.self.value",
            "attention.output.dense",
            "attention.output.LayerNorm",
            "intermediate.dense",
            "output.dense",
            "output.LayerNorm",
        ),
    ),
    "distilbert": (
        "transformer.layer",
        (
            "attention.q_lin",
            "attention.k_lin",
            "attention.v_lin",
            "attention.out_lin",
            "sa_layer_norm",
            "ffn.lin1",
            "ffn.lin2",
            "output_layer_norm",
        ),
    ),
}
_LAYERS["roberta"] = _LAYERS["bert"]


@dataclass(frozen=True)
class BertSpec:
    """A random BERT-family model: weights drawn from ``numpy.random.default_rng(seed)`` in the order of
    :meth:`state_dict` (module docstring for the scales); ``readout`` is ``"native"`` (the architecture's
    ``…ForSequenceClassification`` head) or ``"mean"`` (the bare base model, mean pooling and a probe)."""

    architecture: str = "bert"
    readout: str = "native"
    layers: int = 1
    heads: int = 1
    d: int = 4
    ffn: int = 1
    activation: str = "gelu"
    eps: float = 1e-12
    n_classes: int = 2
    V: int = 8
    score_scale: float = 1.0
    seed: int = 0

    @property
    def pad_token_id(self) -> int:
        """The pad id (RoBERTa's ``padding_idx`` of the positions)."""
        return SPECIAL[self.architecture][2]

    @property
    def max_positions(self) -> int:
        """Rows of the position table: the longest document, plus RoBERTa's offset ``padding_idx + 1``."""
        offset = self.pad_token_id + 1 if self.architecture == "roberta" else 0
        return MAX_REAL + MAX_PADS + offset

    @property
    def base_prefix(self) -> str:
        """The base model's prefix of the weights' names: ``bert.`` … for a classifier, none for a bare encoder."""
        return "" if self.readout == "mean" else f"{self.architecture}."

    def hf_config(self) -> dict:
        """The Hugging Face config's keys (``config.json`` / ``model.config.to_dict()``) of this spec.

        Returns:
            ``model_type`` and the architecture's own key names (DistilBERT: ``dim``, ``n_layers`` …), with
            ``num_labels``.
        """
        common = {
            "model_type": self.architecture,
            "vocab_size": self.V,
            "max_position_embeddings": self.max_positions,
            "pad_token_id": self.pad_token_id,
            "num_labels": self.n_classes,
        }
        if self.architecture == "distilbert":
            return {
                **common,
                "dim": self.d,
                "n_layers": self.layers,
                "n_heads": self.heads,
                "hidden_dim": self.ffn,
                "activation": self.activation,
            }
        return {
            **common,
            "hidden_size": self.d,
            "num_hidden_layers": self.layers,
            "num_attention_heads": self.heads,
            "intermediate_size": self.ffn,
            "hidden_act": self.activation,
            "layer_norm_eps": self.eps,
            "type_vocab_size": 2 if self.architecture == "bert" else 1,
        }

    @cached_property
    def arrays(self) -> tuple[dict, dict | None]:
        """The spec's weights, drawn once.

        Returns:
            ``(state dict, probe)``: the weights by Hugging Face name (module docstring), float64, and the probe
            ``{"w": (n_classes, d), "b": (n_classes,)}`` of the mean readout (None for the native heads).
        """
        rng = np.random.default_rng(self.seed)
        d, F = self.d, self.ffn
        out: dict[str, np.ndarray] = {}

        def linear(name: str, n_out: int, n_in: int, gain: float = 1.0) -> None:
            out[f"{name}.weight"] = rng.standard_normal((n_out, n_in)) * np.sqrt(gain / n_in)
            out[f"{name}.bias"] = rng.standard_normal(n_out) * 0.3

        def norm(name: str) -> None:
            out[f"{name}.weight"] = 1.0 + 0.1 * rng.standard_normal(d)
            out[f"{name}.bias"] = 0.3 * rng.standard_normal(d)

        arch, base = self.architecture, self.base_prefix
        out[f"{base}embeddings.word_embeddings.weight"] = rng.standard_normal((self.V, d))
        out[f"{base}embeddings.position_embeddings.weight"] = rng.standard_normal((self.max_positions, d))
        if arch != "distilbert":
            types = 2 if arch == "bert" else 1
            out[f"{base}embeddings.token_type_embeddings.weight"] = rng.standard_normal((types, d))
        norm(f"{base}embeddings.LayerNorm")
        for l in range(self.layers):
            query, key, value, output, norm1, lin1, lin2, norm2 = layer_keys(self, l).values()
            linear(query, d, d, self.score_scale)
            linear(key, d, d, self.score_scale)
            linear(value, d, d)
            linear(output, d, d)
            norm(norm1)
            linear(lin1, F, d)
            linear(lin2, d, F)
            norm(norm2)
        if self.readout == "mean":
            return out, {"w": rng.standard_normal((self.n_classes, d)), "b": 0.3 * rng.standard_normal(self.n_classes)}
        dense, head = {
            "bert": ("bert.pooler.dense", "classifier"),
            "distilbert": ("pre_classifier", "classifier"),
            "roberta": ("classifier.dense", "classifier.out_proj"),
        }[arch]
        linear(dense, d, d)
        linear(head, self.n_classes, d)
        return out, None


def layer_keys(spec: BertSpec, l: int) -> dict[str, str]:
    """The Hugging Face names (without ``.weight``/``.bias``) of layer ``l``'s blocks.

    Args:
        spec: the model's spec (its architecture and whether its names carry the base model's prefix).
        l: the layer.

    Returns:
        ``{block: name}`` for the blocks ``query``, ``key``, ``value``, ``attention_output``, ``attention_norm``,
        ``intermediate``, ``output``, ``output_norm``, in that order.
    """
    stack, names = _LAYERS[spec.architecture]
    return {block: f"{spec.base_prefix}{stack}.{l}.{name}" for block, name in zip(_BLOCKS, names)}


@dataclass(frozen=True)
class BertCase:
    """One model and one document: ``tokens`` are the real tokens' ids (special tokens included), followed by
    ``pads`` pad tokens with attention mask 0; ``klass`` is the explained class (``f`` = its logit); ``positions``
    (when drawn) are the positions a claim whose reference costs per position checks."""

    spec: BertSpec
    tokens: tuple
    pads: int = 0
    klass: int = 0
    positions: tuple | None = None

    @cached_property
    def arrays(self) -> tuple[dict, dict | None]:
        """The weights of the case's model.

        Returns:
            ``(state dict, probe)``: the spec's (:attr:`BertSpec.arrays`).
        """
        return self.spec.arrays

    @cached_property
    def model(self) -> Bert:
        """The float64 model of the case's weights.

        Returns:
            :func:`~theory.models.huggingface.from_state_dict` of :attr:`arrays`, explaining class ``klass``.
        """
        weights, probe = self.arrays
        return replace(from_state_dict(self.spec.hf_config(), weights, probe, "the drawn model"), klass=self.klass)

    @property
    def ids(self) -> np.ndarray:
        """The document's token ids ``(T,)``, padding included."""
        return np.array([*self.tokens, *[self.spec.pad_token_id] * self.pads], dtype=np.int64)

    @property
    def mask(self) -> np.ndarray:
        """The attention mask ``(T,)``: 1 for the real tokens, 0 for the pads."""
        return np.array([1.0] * len(self.tokens) + [0.0] * self.pads)

    def reference_weights(self, sign: float = 1.0) -> dict:
        """The weights in :mod:`reference.models.bert`'s input format (Hugging Face names; the probe as
        ``probe.weight``, ``probe.bias``); ``sign = −1`` negates the output layer ``(w, b)``.

        Args:
            sign: the factor of the output layer's weight and bias (1 or −1).

        Returns:
            Name → float64 array.
        """
        weights, probe = self.arrays
        return reference_weights(weights, probe, self.spec.architecture, sign)

    def reference_config(self) -> dict:
        """The config in :mod:`reference.models.bert`'s input format.

        Returns:
            The Hugging Face config's keys and ``readout`` (``head`` or ``mean``).
        """
        return {**self.spec.hf_config(), "readout": "mean" if self.spec.readout == "mean" else "head"}


def reference_weights(weights: dict, probe: dict | None, architecture: str, sign: float = 1.0) -> dict:
    """A Hugging Face state dict and probe in :mod:`reference.models.bert`'s input format (the probe as
    ``probe.weight``, ``probe.bias``), the output layer ``(w, b)`` times ``sign``.

    Args:
        weights: arrays by Hugging Face name.
        probe: ``{"w", "b"}`` of the mean readout, or None.
        architecture: ``bert``, ``distilbert`` or ``roberta`` (where its classification head's output layer is).
        sign: the factor of the output layer's weight and bias (1 or −1).

    Returns:
        Name → float64 array.
    """
    out = dict(weights)
    if probe is not None:
        out["probe.weight"], out["probe.bias"] = probe["w"], probe["b"]
    head = {"bert": "classifier", "distilbert": "classifier", "roberta": "classifier.out_proj"}
    name = "probe" if probe is not None else head[architecture]
    for part in ("weight", "bias"):
        out[f"{name}.{part}"] = sign * out[f"{name}.{part}"]
    return out


@st.composite
def bert_specs(
    draw: st.DrawFn, min_layers: int = 1, max_layers: int = 2, max_d: int = 8, readouts: tuple = ("native", "mean")
) -> BertSpec:
    """Random specs over the whole family (module docstring).

    Args:
        draw: supplied by ``@st.composite`` (callers omit it).
        min_layers: the fewest layers.
        max_layers: the most layers.
        max_d: the largest width ``d`` (a multiple of the number of heads, at least 4).
        readouts: the readouts to draw from (``native``, ``mean``).

    Returns:
        A :class:`BertSpec`: architecture × readout × activation, ``L`` ``min_layers``..``max_layers``,
        ``K`` 1–2, ``d`` 4..``max_d``, feed-forward 1–8, ``ε`` from :data:`EPSILONS` (DistilBERT 1e-12),
        2–3 classes, ``V`` 6–12, the seed in ``0..2³²−1``.
    """
    architecture = draw(st.sampled_from(ARCHITECTURES))
    heads = draw(st.integers(1, 2))
    d = heads * draw(st.integers(-(-4 // heads), max_d // heads))
    return BertSpec(
        architecture=architecture,
        readout=draw(st.sampled_from(readouts)),
        layers=draw(st.integers(min_layers, max_layers)),
        heads=heads,
        d=d,
        ffn=draw(st.integers(1, 8)),
        activation=draw(st.sampled_from(ACTIVATIONS)),
        eps=1e-12 if architecture == "distilbert" else draw(st.sampled_from(EPSILONS)),
        n_classes=draw(st.integers(2, 3)),
        V=draw(st.integers(FIRST_WORD + 1, 12)),
        score_scale=draw(st.sampled_from(SCORE_SCALES)),
        seed=draw(st.integers(0, 2**32 - 1)),
    )


@st.composite
def bert_cases(
    draw: st.DrawFn,
    positions: int = 0,
    min_pads: int = 0,
    max_pads: int = MAX_PADS,
    real_positions: bool = False,
    **spec_ranges,
) -> BertCase:
    """A spec from :func:`bert_specs` and a document ``[CLS] words… [SEP]`` (``<s> … </s>``) of 1–4 words (ids of
    the words, ``[UNK]`` or ``[MASK]``), then ``min_pads``..``max_pads`` pads.

    Args:
        draw: supplied by ``@st.composite`` (callers omit it).
        positions: how many positions to draw for the claims whose reference costs per position: CLS, then
            ``positions − 1`` distinct others (real or padding); 0 draws none.
        min_pads: the fewest pad tokens.
        max_pads: the most pad tokens (at most 2).
        real_positions: draw the positions among the real tokens only.
        **spec_ranges: keyword arguments of :func:`bert_specs`.

    Returns:
        A :class:`BertCase` with a drawn explained class.
    """
    spec = draw(bert_specs(**spec_ranges))
    cls, sep, _, unk, mask = SPECIAL[spec.architecture]
    words = draw(st.lists(st.sampled_from((*range(FIRST_WORD, spec.V), unk, mask)), min_size=1, max_size=MAX_REAL - 2))
    tokens = (cls, *words, sep)
    pads = draw(st.integers(min_pads, max_pads))
    klass = draw(st.integers(0, spec.n_classes - 1))
    if positions <= 0:
        return BertCase(spec, tokens, pads, klass)
    T = len(tokens) + (0 if real_positions else pads)
    others = draw(
        st.lists(
            st.integers(1, T - 1), min_size=min(positions - 1, T - 1), max_size=min(positions - 1, T - 1), unique=True
        )
    )
    return BertCase(spec, tokens, pads, klass, tuple(sorted([0, *others])))
