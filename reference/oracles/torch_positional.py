"""The sinusoidal positional encoding in torch, shared by the torch oracles (:mod:`~reference.oracles.torch_one_layer`,
:mod:`~reference.oracles.torch_multihead`, :mod:`~reference.oracles.torch_encoder`)."""

from __future__ import annotations

import torch


def positional_encoding(T: int, d: int) -> torch.Tensor:
    """``p_{t,2m} = sin(t·10000^{-2m/d})``, ``p_{t,2m+1} = cos(t·10000^{-2m/d})`` in float64.

    Args:
        T: the number of positions.
        d: the embedding width.

    Returns:
        The ``(T, d)`` float64 tensor of the ``p_t``.
    """
    t = torch.arange(T, dtype=torch.float64)[:, None]
    j = torch.arange(d)
    angle = t * 10000.0 ** (-(j - j % 2).to(torch.float64) / d)
    return torch.where(j % 2 == 0, torch.sin(angle), torch.cos(angle))
