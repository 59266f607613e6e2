"""torch's own ``nn.TransformerEncoder`` as the external oracle of the encoder family (docs/theory.md §11.1).

Independent of ``theory``: :func:`build` reads the public encoder arrays by name (``E``, ``Wq`` …, see the
encoder file format) into ``nn.TransformerEncoderLayer(d, K, d_ff, dropout=0, activation, batch_first=True,
norm_first)`` stacked by ``nn.TransformerEncoder`` (float64, eval mode; with ``norm=nn.LayerNorm(d)`` when the
arrays hold ``final_norm_weight``/``final_norm_bias``), an ``nn.Embedding`` and an ``nn.Linear(d, 1)`` readout.
The positional encoding is a non-persistent buffer: the state_dict holds only the weights (what
``attnverify import`` reads).  Only models torch can express are accepted: residual on, a norm (post or pre),
``d_att = d_out = d/K``, a feed-forward.

:func:`evaluate` returns ``f``, every layer's attention and ``∇_t = ∂f/∂e_t`` by autograd with respect to the
embedded input ``X = E[ξ] + P`` (a leaf tensor).  About torch's fast path: ``TransformerEncoderLayer`` (and
``MultiheadAttention``) take a fused kernel in eval mode only when autograd is off or no parameter requires
grad; here grad is enabled and ``X`` requires grad, so the documented Python path runs.  The layer calls its
``self_attn`` with ``need_weights=False``, so the attention of layer ``l`` is recomputed by calling that same
``self_attn`` module on the layer's own input (``norm1(x)`` when ``norm_first``), with ``need_weights=True`` and
``average_attn_weights=False``.
"""

from __future__ import annotations

import math

import numpy as np
import torch
from torch import nn

from reference.oracles.torch_positional import positional_encoding


class TorchEncoderClassifier(nn.Module):
    P: torch.Tensor  # the positional encoding (a buffer)

    def __init__(
        self, V, d, K, d_ff, L, activation, norm_first, pe, T, n_classes=1, dtype=torch.float64, final_norm=False
    ):
        super().__init__()
        self.embedding = nn.Embedding(V, d, dtype=dtype)
        layer = nn.TransformerEncoderLayer(
            d, K, d_ff, dropout=0.0, activation=activation, batch_first=True, norm_first=norm_first, dtype=dtype
        )
        norm = nn.LayerNorm(d, eps=1e-5, dtype=dtype) if final_norm else None
        self.encoder = nn.TransformerEncoder(layer, L, norm=norm, enable_nested_tensor=False)
        self.classifier = nn.Linear(d, n_classes, dtype=dtype)
        P = positional_encoding(T, d) if pe else torch.zeros(T, d, dtype=torch.float64)
        self.register_buffer("P", P.to(dtype), persistent=False)
        self.norm_first = norm_first

    def forward_embedded(self, X):
        """The readout ``f = ⟨w, h_0⟩ + b`` of the encoder's last hidden state at CLS.

        Args:
            X: the embedded documents ``(B, T, d)`` (``E[ξ] + P``).

        Returns:
            ``f`` of class 0, shape ``(B,)``.
        """
        return self.classifier(self.encoder(X)[:, 0])[:, 0]

    def forward(self, docs):
        """Every class's logit ``(B, n_classes)`` of token-id documents ``(B, T)`` (training).

        Args:
            docs: token ids ``(B, T)``.

        Returns:
            The logits ``(B, n_classes)``.
        """
        return self.classifier(self.encoder(self.embedding(docs) + self.P[: docs.shape[1]])[:, 0])

    def attention(self, X):
        """Every layer's attention ``(B, L, K, T, T)`` from the layers' own ``self_attn`` modules.

        Args:
            X: the embedded documents ``(B, T, d)``.

        Returns:
            The attention ``(B, L, K, T, T)`` (row: the query position).
        """
        maps, x = [], X
        for layer in self.encoder.layers:
            inp = layer.norm1(x) if self.norm_first else x
            maps.append(layer.self_attn(inp, inp, inp, need_weights=True, average_attn_weights=False)[1])
            x = layer(x)
        return torch.stack(maps, dim=1)


def build(arrays) -> TorchEncoderClassifier:
    """The torch module with the weights of an encoder's public arrays (a dict or any object with the keys as
    attributes); raises ``ValueError`` for a model torch's layer cannot express.

    Args:
        arrays: the encoder's public arrays (``E``, ``Wq`` ``(L, K, d_att, d)`` …, ``w``, ``b``, ``norm``,
            ``activation``, ``residual``, ``pe``, ``max_len``), as a dict or attributes.

    Returns:
        The module, float64, in eval mode.

    Raises:
        ValueError: when torch's ``TransformerEncoderLayer`` cannot express the model.
    """
    get = (lambda k: arrays[k]) if isinstance(arrays, dict) else (lambda k: getattr(arrays, k))
    E, Wq, Wv = np.asarray(get("E")), np.asarray(get("Wq")), np.asarray(get("Wv"))
    V, d = E.shape
    L, K, d_att, _ = Wq.shape
    W1 = np.asarray(get("W1"))
    if (
        not bool(get("residual"))
        or str(get("norm")) not in ("post", "pre")
        or d_att * K != d
        or Wv.shape[2] != d_att
        or W1.shape[1] == 0
    ):
        raise ValueError(
            "torch's TransformerEncoderLayer needs residual, a post/pre norm, d_att = d_out = d/K and a feed-forward"
        )
    final = arrays.get("final_norm_weight") if isinstance(arrays, dict) else getattr(arrays, "final_norm_weight", None)
    module = TorchEncoderClassifier(
        V,
        d,
        K,
        W1.shape[1],
        L,
        str(get("activation")),
        str(get("norm")) == "pre",
        bool(get("pe")),
        int(get("max_len")),
        final_norm=final is not None,
    )

    def t(a):
        return torch.as_tensor(np.array(a, dtype=np.float64))

    with torch.no_grad():
        module.embedding.weight.copy_(t(E))
        for l, layer in enumerate(module.encoder.layers):
            attn = layer.self_attn
            attn.in_proj_weight.copy_(torch.cat([t(get(k)[l]).reshape(d, d) for k in ("Wq", "Wk", "Wv")]))
            attn.in_proj_bias.copy_(torch.cat([t(get(k)[l]).reshape(d) for k in ("bq", "bk", "bv")]))
            attn.out_proj.weight.copy_(t(get("Wo")[l]))
            attn.out_proj.bias.copy_(t(get("bo")[l]))
            layer.linear1.weight.copy_(t(get("W1")[l]))
            layer.linear1.bias.copy_(t(get("b1")[l]))
            layer.linear2.weight.copy_(t(get("W2")[l]))
            layer.linear2.bias.copy_(t(get("b2")[l]))
            layer.norm1.weight.copy_(t(get("norm1_weight")[l]))
            layer.norm1.bias.copy_(t(get("norm1_bias")[l]))
            layer.norm2.weight.copy_(t(get("norm2_weight")[l]))
            layer.norm2.bias.copy_(t(get("norm2_bias")[l]))
        if final is not None:
            module.encoder.norm.weight.copy_(t(final))
            module.encoder.norm.bias.copy_(t(get("final_norm_bias")))
        module.classifier.weight.copy_(t(get("w"))[None])
        module.classifier.bias.fill_(float(get("b")))
    assert all(math.isclose(layer.norm1.eps, 1e-5) for layer in module.encoder.layers)
    assert module.encoder.norm is None or math.isclose(module.encoder.norm.eps, 1e-5)
    return module.eval()


def evaluate(module: TorchEncoderClassifier, docs):
    """``(f (B,), attention (B, L, K, T, T), ∇ (B, T, d))`` as numpy float64, by torch (autograd for ∇).

    Args:
        module: the module of :func:`build`.
        docs: token ids, ``(T,)`` or ``(B, T)``.

    Returns:
        ``(f, attention, gradient)``: numpy float64 of shapes ``(B,)``, ``(B, L, K, T, T)`` and ``(B, T, d)``.
    """
    docs = torch.as_tensor(np.atleast_2d(np.asarray(docs)), dtype=torch.long)
    with torch.enable_grad():
        X = (module.embedding(docs) + module.P[: docs.shape[1]]).detach().requires_grad_(True)
        f = module.forward_embedded(X)
        (grad,) = torch.autograd.grad(f.sum(), X)
        attention = module.attention(X)
    return f.detach().numpy(), attention.detach().numpy(), grad.numpy()
