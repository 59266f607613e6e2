"""Hugging Face ``transformers``' own BERT-family classes as the external oracle of the BERT family (docs/theory.md
§13, ``bert.matches_transformers``).

Independent of ``theory``: :func:`build` takes the weights and config in :mod:`reference.models.bert`'s input
format (Hugging Face parameter names → arrays; the config's keys, with ``readout`` ``head`` or ``mean``), builds
the model class from the config — ``BertForSequenceClassification``, ``DistilBertForSequenceClassification``,
``RobertaForSequenceClassification``, or for the mean readout the bare ``BertModel`` / ``DistilBertModel`` /
``RobertaModel`` (no pooling layer) — in float64, eval mode, eager attention (the one that returns the attention
weights), and loads the weights with ``load_state_dict(strict=True)`` (every parameter given, no other name).

:func:`evaluate` runs one batch of documents with ``inputs_embeds = E[ξ]`` (a leaf tensor; for RoBERTa the
position ids its embeddings' ``create_position_ids_from_input_ids`` makes from the ids, as RoBERTa does without
``inputs_embeds``) and returns ``f`` (the logit of ``label``; the mean readout pools the last hidden states over
the mask, sentence-transformers' way, and applies the probe ``probe.weight``, ``probe.bias``), every layer's
attention, every hidden state and ``∇_t = ∂f/∂E[ξ_t]`` by autograd; :func:`output` is ``f`` of the ids (captum's
call, :mod:`reference.oracles.bert_packages`).
"""

from __future__ import annotations

import numpy as np
import torch
import transformers

_CLASSES = {
    "bert": (transformers.BertConfig, transformers.BertForSequenceClassification, transformers.BertModel),
    "distilbert": (
        transformers.DistilBertConfig,
        transformers.DistilBertForSequenceClassification,
        transformers.DistilBertModel,
    ),
    "roberta": (transformers.RobertaConfig, transformers.RobertaForSequenceClassification, transformers.RobertaModel),
}


def build(weights: dict, config: dict):
    """The ``transformers`` model of the weights (module docstring).

    Args:
        weights: Hugging Face parameter names → float64 arrays (the probe's ``probe.*`` are left out of the model).
        config: the config's keys (``model_type`` …) and ``readout``.

    Returns:
        The float64, eval-mode ``transformers`` model with the weights loaded.
    """
    arch = config["model_type"]
    config_class, head_class, base_class = _CLASSES[arch]
    keys = {k: v for k, v in config.items() if k not in ("model_type", "readout")}
    hf_config = config_class(**keys, attn_implementation="eager")
    if config.get("readout") == "mean":
        model = base_class(hf_config) if arch == "distilbert" else base_class(hf_config, add_pooling_layer=False)
    else:
        model = head_class(hf_config)
    state = {k: torch.tensor(np.asarray(v, dtype=np.float64)) for k, v in weights.items() if not k.startswith("probe.")}
    model = model.double().eval()
    model.load_state_dict(state, strict=True)
    return model


def evaluate(model, weights: dict, config: dict, ids, mask, label: int, embed_ids=None) -> dict:
    """``f``, every layer's attention and hidden state, and ``∇ = ∂f/∂inputs_embeds`` of a batch of documents.

    Args:
        model: from :func:`build`.
        weights: the same weights (for the probe of the mean readout).
        config: the same config.
        ids: ``(B, T)`` token ids.
        mask: ``(B, T)`` attention masks (1 real, 0 padding).
        label: the class whose logit is ``f``.
        embed_ids: ``(B, T)`` ids whose word embeddings are ``inputs_embeds`` (default ``ids``; the positions are
            always those of ``ids``, e.g. the start of captum's path to a baseline of other ids).

    Returns:
        ``{"f": (B,), "attention": (B, L, K, T, T), "hidden": (B, L + 1, T, d), "grad": (B, T, d)}`` as numpy.
    """
    ids_t = torch.tensor(np.asarray(ids, dtype=np.int64))
    mask_t = torch.tensor(np.asarray(mask, dtype=np.float64))
    base = model if config.get("readout") == "mean" else getattr(model, model.base_model_prefix)
    embed_t = ids_t if embed_ids is None else torch.tensor(np.asarray(embed_ids, dtype=np.int64))
    embeds = base.embeddings.word_embeddings(embed_t).detach().requires_grad_(True)
    kwargs = dict(inputs_embeds=embeds, attention_mask=mask_t, output_attentions=True, output_hidden_states=True)
    if config["model_type"] == "roberta":
        kwargs["position_ids"] = base.embeddings.create_position_ids_from_input_ids(ids_t, config["pad_token_id"])
    out = model(**kwargs)
    f = _logits(out, weights, config, mask_t)[:, label]
    f.sum().backward()
    return {
        "f": f.detach().numpy(),
        "attention": np.stack([a.detach().numpy() for a in out.attentions], axis=1),
        "hidden": np.stack([h.detach().numpy() for h in out.hidden_states], axis=1),
        "grad": embeds.grad.numpy(),
    }


def _logits(out, weights: dict, config: dict, mask_t):
    """The logits of a model's output: the head's, or for the mean readout the probe on the last hidden states
    pooled over the mask (sentence-transformers' way)."""
    if config.get("readout") != "mean":
        return out.logits
    w = torch.tensor(np.atleast_2d(np.asarray(weights["probe.weight"], dtype=np.float64)))
    b = torch.tensor(np.atleast_1d(np.asarray(weights["probe.bias"], dtype=np.float64)))
    pooled = (out.last_hidden_state * mask_t[..., None]).sum(1) / mask_t.sum(1, keepdim=True)
    return pooled @ w.T + b


def output(model, weights: dict, config: dict, label: int):
    """``f`` as a function of the token ids, as captum calls a model.

    Args:
        model: from :func:`build`.
        weights: the same weights (for the probe of the mean readout).
        config: the same config.
        label: the class whose logit is ``f``.

    Returns:
        ``f(ids, mask) -> (B,)`` on ``(B, T)`` long ids and float64 attention masks (RoBERTa's positions from the
        ids, by its own embeddings).
    """

    def f(ids, mask):
        return _logits(model(input_ids=ids, attention_mask=mask), weights, config, mask)[:, label]

    return f
