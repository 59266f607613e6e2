"""Hugging Face ``transformers``' own BERT-family classes as the external oracle of the BERT family (docs/theory.md
Part III §8, ``bert.matches_transformers``).

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
attention, every hidden state and ``∇_t = ∂f/∂E[ξ_t]`` by autograd.
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


def evaluate(model, weights: dict, config: dict, ids, mask, label: int) -> dict:
    """``f``, every layer's attention and hidden state, and ``∇ = ∂f/∂inputs_embeds`` of a batch of documents.

    Args:
        model: from :func:`build`.
        weights: the same weights (for the probe of the mean readout).
        config: the same config.
        ids: ``(B, T)`` token ids.
        mask: ``(B, T)`` attention masks (1 real, 0 padding).
        label: the class whose logit is ``f``.

    Returns:
        ``{"f": (B,), "attention": (B, L, K, T, T), "hidden": (B, L + 1, T, d), "grad": (B, T, d)}`` as numpy.
    """
    ids_t = torch.tensor(np.asarray(ids, dtype=np.int64))
    mask_t = torch.tensor(np.asarray(mask, dtype=np.float64))
    base = model if config.get("readout") == "mean" else getattr(model, model.base_model_prefix)
    embeds = base.embeddings.word_embeddings(ids_t).detach().requires_grad_(True)
    kwargs = dict(inputs_embeds=embeds, attention_mask=mask_t, output_attentions=True, output_hidden_states=True)
    if config["model_type"] == "roberta":
        kwargs["position_ids"] = base.embeddings.create_position_ids_from_input_ids(ids_t, config["pad_token_id"])
    out = model(**kwargs)
    if config.get("readout") == "mean":
        w = torch.tensor(np.atleast_2d(np.asarray(weights["probe.weight"], dtype=np.float64)))
        b = torch.tensor(np.atleast_1d(np.asarray(weights["probe.bias"], dtype=np.float64)))
        pooled = (out.last_hidden_state * mask_t[..., None]).sum(1) / mask_t.sum(1, keepdim=True)
        logits = pooled @ w.T + b
    else:
        logits = out.logits
    f = logits[:, label]
    f.sum().backward()
    return {
        "f": f.detach().numpy(),
        "attention": np.stack([a.detach().numpy() for a in out.attentions], axis=1),
        "hidden": np.stack([h.detach().numpy() for h in out.hidden_states], axis=1),
        "grad": embeds.grad.numpy(),
    }
