"""The BERT family's references (docs/theory.md §13) against Hugging Face ``transformers`` as the oracle:
the mpmath forward (:mod:`reference.models.bert`) gives transformers' float64 ``f``, logits, every layer's attention
and hidden state to 1e-12 relative to the magnitude of the terms, on small random BERT / DistilBERT / RoBERTa
classifiers and a BERT encoder with mean pooling and a probe (every activation of §13, padding, the
``inputs_embeds`` path); the Arb engine's balls (:mod:`reference.models.bert_arb`) contain the mpmath values and
transformers' float64 values lie within rounding of them; the reference is invariant under padding."""

import mpmath
import numpy as np
import pytest

torch = pytest.importorskip("torch", reason="transformers oracle: pip install '.[oracles]'")
transformers = pytest.importorskip("transformers", reason="transformers oracle: pip install '.[oracles]'")

from reference.models import bert, bert_arb  # noqa: E402
from reference.models.one_layer_arb import exact  # noqa: E402

RTOL = 1e-12
D, HEADS, LAYERS, FFN, VOCAB, LABELS = 16, 2, 2, 24, 30, 3
# (architecture, readout, activation): every readout of §13 and every activation
CASES = [
    ("bert", "head", "gelu"),
    ("distilbert", "head", "relu"),
    ("roberta", "head", "gelu_new"),
    ("bert", "mean", "gelu_pytorch_tanh"),
]


def _config(arch: str, activation: str):
    common = {"vocab_size": VOCAB, "max_position_embeddings": 24, "num_labels": LABELS, "attn_implementation": "eager"}
    if arch == "distilbert":
        return transformers.DistilBertConfig(
            dim=D, n_layers=LAYERS, n_heads=HEADS, hidden_dim=FFN, activation=activation, pad_token_id=0, **common
        )
    cls = transformers.RobertaConfig if arch == "roberta" else transformers.BertConfig
    return cls(
        hidden_size=D,
        num_hidden_layers=LAYERS,
        num_attention_heads=HEADS,
        intermediate_size=FFN,
        hidden_act=activation,
        pad_token_id=1 if arch == "roberta" else 0,
        layer_norm_eps=1e-12,
        **common,
    )


def _build(arch: str, readout: str, activation: str, seed: int):
    """A float64, eval-mode transformers model with seeded weights of a scale that makes attention far from
    uniform (HF's own initialisation, std 0.02, would leave every term tiny), its weights and config in the
    reference's format (the probe of the mean readout drawn too)."""
    config = _config(arch, activation)
    if readout == "mean":
        model = transformers.BertModel(config, add_pooling_layer=False)
    else:
        model = {
            "bert": transformers.BertForSequenceClassification,
            "distilbert": transformers.DistilBertForSequenceClassification,
            "roberta": transformers.RobertaForSequenceClassification,
        }[arch](config)
    model = model.double().eval()
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, p in model.named_parameters():
            noise = torch.randn(p.shape, generator=generator, dtype=torch.float64)
            is_norm_gain = ("LayerNorm" in name or "layer_norm" in name) and name.endswith("weight")
            p.copy_(1 + 0.1 * noise if is_norm_gain else 0.4 * noise)
    weights = {k: v.detach().numpy().copy() for k, v in model.state_dict().items()}
    cfg = model.config.to_dict()
    if readout == "mean":
        rng = np.random.default_rng(seed)
        weights["probe.weight"], weights["probe.bias"] = rng.normal(0, 0.5, (LABELS, D)), rng.normal(0, 0.5, LABELS)
        cfg["readout"] = "mean"
    return model, weights, cfg


def _oracle(model, weights, cfg, ids=None, mask=None, embeds=None):
    """transformers' float64 ``(logits, attentions, hidden states)``; the mean readout pools HF's last hidden
    states over the mask and applies the probe."""
    kwargs = {"attention_mask": torch.tensor([mask]), "output_attentions": True, "output_hidden_states": True}
    if embeds is None:
        kwargs["input_ids"] = torch.tensor([ids])
    else:
        kwargs["inputs_embeds"] = torch.tensor(np.asarray(embeds)[None])
    with torch.no_grad():
        out = model(**kwargs)
    attentions = np.stack([a[0].numpy() for a in out.attentions])
    hidden = np.stack([h[0].numpy() for h in out.hidden_states])
    if cfg.get("readout") == "mean":
        m = np.asarray(mask, dtype=np.float64)
        pooled = (m[:, None] * hidden[-1]).sum(axis=0) / m.sum()
        logits = weights["probe.weight"] @ pooled + weights["probe.bias"]
    else:
        logits = out.logits[0].numpy()
    return logits, attentions, hidden


def _output_weights(weights, cfg):
    """The output layer's ``(W, b)`` (to measure the terms of each logit)."""
    if cfg.get("readout") == "mean":
        return weights["probe.weight"], weights["probe.bias"]
    name = "classifier.out_proj" if cfg["model_type"] == "roberta" else "classifier"
    return weights[f"{name}.weight"], weights[f"{name}.bias"]


def _compare(fw, logits, attentions, hidden, weights, cfg):
    """Reference (mpmath) against transformers, each error relative to the magnitude of its terms: a logit's terms
    are ``W_cj pooled_j`` and ``b_c``; an attention weight is a probability (magnitude 1); a hidden state's
    coordinate comes out of a LayerNorm, whose row is the magnitude."""
    W, b = _output_weights(weights, cfg)
    pooled = np.array([float(v) for v in fw.pooled])
    term_scale = np.abs(W * pooled).sum(axis=1) + np.abs(b)
    ref_logits = np.array([float(v) for v in fw.logits])
    assert np.all(np.abs(ref_logits - logits) <= RTOL * term_scale), (ref_logits, logits, term_scale)
    ref_attention = np.array([[[[float(a) for a in row] for row in head] for head in layer] for layer in fw.attention])
    assert np.all(np.abs(ref_attention - attentions) <= RTOL), np.abs(ref_attention - attentions).max()
    ref_hidden = np.array([[[float(v) for v in row] for row in layer] for layer in fw.hidden])
    row_scale = np.abs(ref_hidden).max(axis=2, keepdims=True)
    assert np.all(np.abs(ref_hidden - hidden) <= RTOL * row_scale), np.abs(ref_hidden - hidden).max()


def _document(cfg, pads: int):
    """A document of 5 real tokens (special tokens at both ends) followed by ``pads`` pad tokens, and its mask."""
    pad = cfg["pad_token_id"]
    ids = [pad + 1, 7, 11, 5, pad + 2] + [pad] * pads
    return ids, [1] * 5 + [0] * pads


@pytest.mark.parametrize("arch,readout,activation", CASES)
def test_reference_matches_transformers(arch, readout, activation):
    model, weights, cfg = _build(arch, readout, activation, seed=3)
    ids, mask = _document(cfg, pads=2)
    logits, attentions, hidden = _oracle(model, weights, cfg, ids=ids, mask=mask)
    for label in range(LABELS):
        fw = bert.forward(weights, cfg, ids, mask, label=label)
        assert fw.f == fw.logits[label]
    _compare(fw, logits, attentions, hidden, weights, cfg)
    # masked keys: exactly zero weight, in the reference and in transformers' float64
    assert all(row[u] == 0 for layer in fw.attention for head in layer for row in head for u in (5, 6))
    assert np.all(attentions[..., 5:] == 0)


@pytest.mark.parametrize("arch,readout,activation", [CASES[0], CASES[2]])
def test_inputs_embeds_matches_transformers(arch, readout, activation):
    """Word-embedding rows as input (``inputs_embeds``, with the ``zero`` semantics' zero rows), positions as
    transformers assigns them from embeddings (RoBERTa: ``padding_idx + 1 + t``)."""
    model, weights, cfg = _build(arch, readout, activation, seed=5)
    ids, mask = _document(cfg, pads=0)
    prefix = f"{arch}." if f"{arch}.embeddings.word_embeddings.weight" in weights else ""
    rows = weights[f"{prefix}embeddings.word_embeddings.weight"][ids].copy()
    rows[[1, 3]] = 0.0
    logits, attentions, hidden = _oracle(model, weights, cfg, mask=mask, embeds=rows)
    _compare(bert.forward_embedded(weights, cfg, rows, mask), logits, attentions, hidden, weights, cfg)


@pytest.mark.parametrize("arch,readout,activation", CASES)
def test_arb_balls_contain_the_reference_and_transformers(arch, readout, activation):
    """At 128 bits on a 2-layer model the balls are tight (radius < 1e-25) and contain the mpmath values at 60
    digits (whose own error, ~1e-58, is far inside the radius); transformers' float64 ``f`` lies within the
    radius plus float64 rounding (1e-12 of the terms) of the midpoint."""
    model, weights, cfg = _build(arch, readout, activation, seed=11)
    ids, mask = _document(cfg, pads=2)
    ref = bert.forward(weights, cfg, ids, mask, label=1, dps=60)
    balls = bert_arb.forward(bert_arb.ArbModel(weights, cfg), ids, mask, label=1, prec=128)
    pairs = (
        [(balls.f, ref.f)]
        + list(zip(balls.logits, ref.logits))
        + [(x, y) for lb, lr in zip(balls.hidden, ref.hidden) for rb, rr in zip(lb, lr) for x, y in zip(rb, rr)]
        + [
            (x, y)
            for lb, lr in zip(balls.attention, ref.attention)
            for hb, hr in zip(lb, lr)
            for rb, rr in zip(hb, hr)
            for x, y in zip(rb, rr)
        ]
    )
    with mpmath.workdps(60):
        assert all(ball.contains(exact(value)) for ball, value in pairs)
    assert max(float(ball.rad()) for ball, _ in pairs) < 1e-25
    logits, _, _ = _oracle(model, weights, cfg, ids=ids, mask=mask)
    W, b = _output_weights(weights, cfg)
    scale = float(np.abs(W[1] * np.array([float(v) for v in ref.pooled])).sum() + abs(b[1]))
    assert abs(logits[1] - float(balls.f.mid())) <= float(balls.f.rad()) + RTOL * scale


@pytest.mark.parametrize("arch,readout,activation", CASES)
def test_padding_invariance(arch, readout, activation):
    """``bert.padding_invariance`` in the reference: trailing padding (mask 0) changes neither ``f`` nor the real
    tokens' attention and hidden states, and receives exactly zero attention."""
    _, weights, cfg = _build(arch, readout, activation, seed=13)
    short = bert.forward(weights, cfg, *_document(cfg, pads=0))
    padded = bert.forward(weights, cfg, *_document(cfg, pads=4))
    assert padded.f == short.f and padded.logits == short.logits
    for l in range(LAYERS):
        for i in range(HEADS):
            for t in range(5):
                assert padded.attention[l][i][t][:5] == short.attention[l][i][t]
                assert all(a == 0 for a in padded.attention[l][i][t][5:])
    assert all(padded.hidden[l][:5] == short.hidden[l] for l in range(LAYERS + 1))


def test_roberta_positions_skip_pad_tokens():
    """RoBERTa's positions count the non-pad tokens from ``padding_idx + 1``; pad tokens sit at ``padding_idx``."""
    config = bert.config_of(_config("roberta", "gelu").to_dict())
    assert bert.position_ids(config, ids=[0, 5, 1, 6, 2, 1]) == [2, 3, 1, 4, 5, 1]
    assert bert.position_ids(config, T=3) == [2, 3, 4]


def test_bad_input_is_named():
    _, weights, cfg = _build("bert", "head", "gelu", seed=1)
    with pytest.raises(ValueError, match="model_type 'gpt2' is not one of bert, distilbert, roberta"):
        bert.forward(weights, {**cfg, "model_type": "gpt2"}, [2, 3])
    with pytest.raises(ValueError, match="activation 'swish'"):
        bert.forward(weights, {**cfg, "hidden_act": "swish"}, [2, 3])
    del weights["bert.pooler.dense.bias"]
    with pytest.raises(KeyError, match="pooler.dense.bias"):
        bert.forward(weights, cfg, [2, 3])
