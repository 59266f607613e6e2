"""The authors' architecture in torch: an external oracle for gradients (autograd) and the trainable model.

K heads; each head attends from the CLS query to every position (sinusoidal positional encoding added to the
embeddings when ``pe``), maps the attention-weighted values to class logits with its own output layer, and
the classifier averages the heads' logits (docs/theory.md §2; *authors' code*); the scores are divided by ``√d_att``
unless ``scale`` is off (the authors' ``SCALE = False``, docs/theory.md §11.3).  Independent of ``theory``: it
reads and writes the public ``.npz`` parameter names directly.
"""

from __future__ import annotations

import math

import numpy as np
import torch
from torch import nn

from reference.oracles.torch_positional import positional_encoding


class AttentionClassifier(nn.Module):
    """Multi-head CLS-attention classifier with ``n_classes`` outputs (``Wl`` has shape (K, n_classes, d_out))."""

    P: torch.Tensor  # the positional encoding (a buffer)

    def __init__(
        self, V, d_e, K, d_att, d_out, n_classes, max_len, pe, cls_id, unk_id, dtype=torch.float64, scale=True
    ):
        super().__init__()
        self.max_len, self.pe, self.cls_id, self.unk_id, self.scale = max_len, bool(pe), cls_id, unk_id, bool(scale)

        def param(*shape, scale):
            return nn.Parameter(torch.randn(*shape, dtype=dtype) * scale)

        self.E = param(V, d_e, scale=1.0)
        self.Wq = param(K, d_att, d_e, scale=d_e**-0.5)
        self.Wk = param(K, d_att, d_e, scale=d_e**-0.5)
        self.Wv = param(K, d_out, d_e, scale=d_e**-0.5)
        self.Wl = param(K, n_classes, d_out, scale=d_out**-0.5)
        self.register_buffer(
            "P", positional_encoding(max_len, d_e).to(dtype) if pe else torch.zeros(max_len, d_e, dtype=dtype)
        )

    def embed(self, docs: torch.Tensor) -> torch.Tensor:
        """``e_t = E[ξ_t] + p_t`` for token ids of shape (B, T).

        Args:
            docs: token ids ``(B, T)``.

        Returns:
            The embedded tokens ``(B, T, d_e)``.
        """
        return self.E[docs] + self.P[: docs.shape[-1]]

    def forward_embedded(self, X: torch.Tensor, return_attention: bool = False):
        """Class logits (B, n_classes) from embedded tokens X (B, T, d_e): mean over heads.

        Args:
            X: embedded tokens ``(B, T, d_e)`` (position 0 is CLS).
            return_attention: also return the attention.

        Returns:
            The logits ``(B, n_classes)``; with ``return_attention``, ``(logits, α)`` with ``α`` of shape ``(B, K, T)``.
        """
        q = torch.einsum("kad,bd->bka", self.Wq, X[:, 0])
        keys = torch.einsum("kad,btd->bkta", self.Wk, X)
        values = torch.einsum("kod,btd->bkto", self.Wv, X)
        divisor = math.sqrt(self.Wq.shape[1]) if self.scale else 1.0
        alpha = torch.softmax(torch.einsum("bka,bkta->bkt", q, keys) / divisor, dim=-1)
        head_logits = torch.einsum("kco,bko->bkc", self.Wl, torch.einsum("bkt,bkto->bko", alpha, values))
        logits = head_logits.mean(dim=1)
        return (logits, alpha) if return_attention else logits

    def forward(self, docs: torch.Tensor) -> torch.Tensor:
        """Class logits of token-id documents (mean over heads).

        Args:
            docs: token ids ``(B, T)``.

        Returns:
            The logits ``(B, n_classes)``.
        """
        return self.forward_embedded(self.embed(docs))

    @classmethod
    def from_npz_arrays(cls, arrays) -> AttentionClassifier:
        """The one-class module of a model given by the public ``.npz`` arrays (an ``np.load`` result, a dict,
        or any object with those attributes; ``scale`` defaults to 1 when absent).

        Args:
            arrays: the public ``.npz`` arrays (``E``, ``Wq``, ``Wk``, ``Wv``, ``Wl`` of shape ``(K, d_out)``,
                ``cls_id``, ``unk_id``, ``max_len``, ``pe``, optional ``scale``).

        Returns:
            The module (float64), its output class 0 the model's ``f``.
        """

        def get(key, default=None):
            if hasattr(arrays, "__getitem__"):
                return arrays[key] if key in arrays else default
            return getattr(arrays, key, default)

        E, Wq, Wv = np.asarray(get("E")), np.asarray(get("Wq")), np.asarray(get("Wv"))
        module = cls(
            E.shape[0],
            E.shape[1],
            Wq.shape[0],
            Wq.shape[1],
            Wv.shape[1],
            1,
            int(get("max_len")),
            bool(get("pe")),
            int(get("cls_id")),
            int(get("unk_id")),
            scale=bool(get("scale", 1)),
        )
        with torch.no_grad():
            for name in ("E", "Wq", "Wk", "Wv"):
                getattr(module, name).copy_(torch.from_numpy(np.array(get(name), dtype=np.float64)))
            module.Wl.copy_(torch.from_numpy(np.array(get("Wl"), dtype=np.float64))[:, None, :])
        return module

    def npz_arrays(self, explained_class: int) -> dict:
        """The public ``.npz`` arrays explaining class ``explained_class`` (its logit is the model output).

        Args:
            explained_class: the class whose logit becomes ``f``.

        Returns:
            The arrays by name (float64 weights, ``Wl`` of shape ``(K, d_out)``, int metadata).
        """

        def array(tensor):
            return tensor.detach().to(torch.float64).cpu().numpy()

        return {
            "E": array(self.E),
            "Wq": array(self.Wq),
            "Wk": array(self.Wk),
            "Wv": array(self.Wv),
            "Wl": array(self.Wl[:, explained_class, :]),
            "cls_id": self.cls_id,
            "unk_id": self.unk_id,
            "max_len": self.max_len,
            "pe": int(self.pe),
            "scale": int(self.scale),
        }
