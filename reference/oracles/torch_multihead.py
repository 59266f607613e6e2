"""The authors' ``MultiHead`` classifier in torch, with their parameter names: an external oracle for the
PyTorch importer (``attnverify import``) and what a user's ``state_dict`` looks like.

Parameters (``nn.Linear`` weights are ``(out, in)``; no biases):

* ``embedding.weight`` ``(V, d_e)`` — ``nn.Embedding``;
* per head ``i``: ``heads.{i}.query.weight`` and ``heads.{i}.key.weight`` ``(d_att, d_e)``,
  ``heads.{i}.value.weight`` ``(d_out, d_e)``, ``heads.{i}.classifier.weight`` ``(n_classes, d_out)``.

Forward pass (docs/theory.md §2, §11.3; *authors' code*): ``e_t = E[ξ_t] + p_t`` (sinusoidal ``p_t`` when ``pe``);
per head, the CLS query ``q = query(e_0)``, scores ``⟨q, key(e_t)⟩`` divided by ``√d_att`` when ``scale``
(the authors' ``SCALE``), attention ``softmax``, the attention-weighted values through the head's
``classifier``; the logits are the mean of the heads' logits.  Written with torch's own modules and
operations, independent of ``theory`` and of :mod:`reference.oracles.torch_one_layer` (the positional encoding is the
oracles' one, :mod:`reference.oracles.torch_positional`).
"""

from __future__ import annotations

import math

import torch
from torch import nn

from reference.oracles.torch_positional import positional_encoding


class Head(nn.Module):
    def __init__(self, d_e, d_att, d_out, n_classes, scale, dtype):
        super().__init__()
        self.query = nn.Linear(d_e, d_att, bias=False, dtype=dtype)
        self.key = nn.Linear(d_e, d_att, bias=False, dtype=dtype)
        self.value = nn.Linear(d_e, d_out, bias=False, dtype=dtype)
        self.classifier = nn.Linear(d_out, n_classes, bias=False, dtype=dtype)
        self.divisor = math.sqrt(d_att) if scale else 1.0

    def forward(self, X: torch.Tensor):
        """Class logits ``(B, n_classes)`` and CLS attention ``(B, T)`` from embedded tokens ``(B, T, d_e)``.

        Args:
            X: embedded tokens ``(B, T, d_e)`` (position 0 is CLS).

        Returns:
            ``(logits, alpha)`` of shapes ``(B, n_classes)`` and ``(B, T)``.
        """
        q = self.query(X[:, 0])  # (B, d_att)
        scores = torch.bmm(self.key(X), q.unsqueeze(-1)).squeeze(-1) / self.divisor  # (B, T)
        alpha = torch.softmax(scores, dim=-1)
        pooled = torch.bmm(alpha.unsqueeze(1), self.value(X)).squeeze(1)  # (B, d_out)
        return self.classifier(pooled), alpha


class MultiHead(nn.Module):
    """``K`` heads over a shared embedding; weights drawn by torch's default initialisation (seed it with
    ``torch.manual_seed``)."""

    P: torch.Tensor  # the positional encoding (a buffer)

    def __init__(self, V, d_e, K, d_att, d_out, n_classes, max_len, pe=True, scale=True, dtype=torch.float64):
        super().__init__()
        self.embedding = nn.Embedding(V, d_e, dtype=dtype)
        self.heads = nn.ModuleList(Head(d_e, d_att, d_out, n_classes, scale, dtype) for _ in range(K))
        self.register_buffer(
            "P",
            positional_encoding(max_len, d_e).to(dtype) if pe else torch.zeros(max_len, d_e, dtype=dtype),
            persistent=False,
        )

    def embed(self, docs: torch.Tensor) -> torch.Tensor:
        """``e_t = E[ξ_t] + p_t`` (``p_t`` zero without positional encoding).

        Args:
            docs: token ids ``(B, T)``.

        Returns:
            The embedded tokens ``(B, T, d_e)``.
        """
        return self.embedding(docs) + self.P[: docs.shape[-1]]

    def forward_embedded(self, X: torch.Tensor):
        """Logits ``(B, n_classes)`` (mean over heads) and attention ``(B, K, T)``.

        Args:
            X: embedded tokens ``(B, T, d_e)``.

        Returns:
            ``(logits, attention)`` of shapes ``(B, n_classes)`` and ``(B, K, T)``.
        """
        logits, alphas = zip(*(head(X) for head in self.heads))
        return torch.stack(logits, dim=1).mean(dim=1), torch.stack(alphas, dim=1)

    def forward(self, docs: torch.Tensor) -> torch.Tensor:
        """Class logits of token-id documents: the mean of the heads' logits.

        Args:
            docs: token ids ``(B, T)``.

        Returns:
            The logits ``(B, n_classes)``.
        """
        return self.forward_embedded(self.embed(docs))[0]
