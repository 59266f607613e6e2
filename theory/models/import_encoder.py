"""The encoder ``.npz`` arrays (docs/theory.md §11.1, :mod:`theory.models.encoder`) of a PyTorch state_dict.

Expected names: ``embedding.weight`` (V, d); torch's own ``nn.TransformerEncoder`` layers under ``encoder.layers.{l}.``
— ``self_attn.in_proj_weight`` (3d, d) and ``self_attn.in_proj_bias`` (3d) (rows: queries, keys, values; head ``i``
owns rows ``i·d/K … (i+1)·d/K`` of each), ``self_attn.out_proj.weight`` (d, d) / ``.bias``, ``linear1.*`` (d_ff, d),
``linear2.*`` (d, d_ff), ``norm1.*``, ``norm2.*`` (d) — optionally the final norm ``encoder.norm.weight`` /
``encoder.norm.bias`` (d) of ``nn.TransformerEncoder(…, norm=nn.LayerNorm(d))`` — and ``classifier.weight`` (C, d) /
``classifier.bias`` (C), whose row ``klass`` is the explained logit ``f = ⟨w, h^(L)_0⟩ + b``.  Every other key is
refused, named in the error: the encoder format has no place for it (a learned positional embedding, a pooler,
``add_bias_kv``'s ``bias_k``, separate ``q/k/v_proj_weight`` …), and dropping it silently would build another model.
The state_dict does not record the number of heads, the activation, the norm order or the positional encoding:
they are arguments (torch's defaults: ReLU, post-norm); :func:`head_candidates` lists the possible head counts.
The embedding plus the §1 sinusoidal encoding (``pe``, on by default) is the layer stack's input.

What the format cannot express: a padding mask.  The encoder attends to every position, UNK padding included
(as the §2 model); a model trained or run with ``src_key_padding_mask`` computes another ``f`` on padded
documents, which ``attnverify import --expect`` shows.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

import numpy as np

from theory.errors import InputError, listed
from theory.models.encoder import ARCH, Encoder

_LAYER = re.compile(r"^encoder\.layers\.(\d+)\.")
_FINAL_NORM = ("encoder.norm.weight", "encoder.norm.bias")
_PER_LAYER = (
    "self_attn.in_proj_weight",
    "self_attn.in_proj_bias",
    "self_attn.out_proj.weight",
    "self_attn.out_proj.bias",
    "linear1.weight",
    "linear1.bias",
    "linear2.weight",
    "linear2.bias",
    "norm1.weight",
    "norm1.bias",
    "norm2.weight",
    "norm2.bias",
)


def _array(value: Any, name: str) -> np.ndarray:
    if hasattr(value, "detach"):  # a torch tensor
        value = value.detach().cpu().double().numpy()
    try:
        return np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError):
        raise InputError(f"state_dict entry {name!r} is not an array of numbers") from None


def head_candidates(d: int) -> list[int]:
    """The head counts ``K`` torch allows for width ``d`` (``nhead`` divides ``d_model``).

    Args:
        d: the model width ``d_model``.

    Returns:
        The divisors of ``d``, increasing.
    """
    return [k for k in range(1, d + 1) if d % k == 0]


def encoder_from_state_dict(
    state_dict: Mapping[str, Any],
    *,
    heads: int,
    cls_id: int,
    unk_id: int,
    max_len: int,
    klass: int,
    pe: bool = True,
    activation: str = "relu",
    norm_first: bool = False,
) -> dict[str, Any]:
    """The public encoder arrays (a dict for :func:`numpy.savez`, ``arch = "encoder"``) of ``state_dict``;
    every shape is checked and the result validated by :class:`~theory.models.encoder.Encoder`.

    Args:
        state_dict: the weights by key (torch tensors or arrays), torch's ``nn.TransformerEncoder`` names (module
            docstring).
        heads: the number of heads ``K`` (``nhead``; a divisor of ``d``).
        cls_id: the CLS token's id.
        unk_id: the UNK (padding) token's id.
        max_len: the document length ``T``.
        klass: the classifier row whose logit is ``f``.
        pe: whether the sinusoidal positional encoding is added to the embeddings.
        activation: the feed-forward's activation, ``relu`` or ``gelu``.
        norm_first: pre-norm layers (torch's ``norm_first=True``) instead of post-norm.

    Returns:
        The encoder file's arrays by key.

    Raises:
        InputError: layers are not numbered ``0..L-1``, a key is missing or unknown, a shape is wrong, ``heads``
            does not divide ``d``, ``klass`` is out of range, or the encoder's own checks fail.
    """
    layers = sorted({int(m.group(1)) for key in state_dict if (m := _LAYER.match(key))})
    if not layers or layers != list(range(len(layers))):
        raise InputError(
            f"the state_dict has encoder layers {layers}; expected encoder.layers.0 … encoder.layers.L-1 "
            "(torch's nn.TransformerEncoder names)"
        )
    needed = [
        "embedding.weight",
        "classifier.weight",
        "classifier.bias",
        *(f"encoder.layers.{l}.{name}" for l in layers for name in _PER_LAYER),
    ]
    missing = [key for key in needed if key not in state_dict]
    final = [key for key in _FINAL_NORM if key in state_dict]
    if len(final) == 1:
        missing.append(next(key for key in _FINAL_NORM if key not in final))
    if missing:
        raise InputError(
            f"the state_dict lacks {', '.join(missing[:4])}{' …' if len(missing) > 4 else ''}; "
            "expected embedding.weight, encoder.layers.{l}.(self_attn.*, linear1/2.*, norm1/2.*), "
            "encoder.norm.weight/.bias (optional, both or neither), classifier.weight/.bias"
        )
    extra = [str(key) for key in state_dict if key not in needed and key not in final]
    if extra:
        raise InputError(
            f"the state_dict has keys the encoder format cannot hold: {listed(extra, 6)}; it holds only "
            "embedding.weight, encoder.layers.{l}.(self_attn.in_proj_*, self_attn.out_proj.*, "
            "linear1/2.*, norm1/2.*), encoder.norm.* and classifier.* (a learned positional embedding, "
            "another layer or separate q/k/v projections cannot be imported; a buffer your model does "
            "not use may be removed from the state_dict before saving)"
        )
    needed += final
    get = {key: _array(state_dict[key], key) for key in needed}
    E = get["embedding.weight"]
    if E.ndim != 2:
        raise InputError(f"embedding.weight has shape {E.shape}; expected (V, d)")
    d = E.shape[1]
    if isinstance(heads, bool) or int(heads) != heads or heads < 1 or d % heads:
        raise InputError(
            f"--heads {heads!r}: the number of heads must be a positive divisor of d = {d} "
            f"({', '.join(map(str, head_candidates(d)))})"
        )
    K, width = int(heads), d // int(heads)
    C = get["classifier.weight"]
    if C.ndim != 2 or C.shape[1] != d or get["classifier.bias"].shape != (C.shape[0],):
        raise InputError(
            f"classifier.weight {C.shape} / classifier.bias {get['classifier.bias'].shape} must be (C, {d}) / (C,)"
        )
    if isinstance(klass, bool) or int(klass) != klass or not 0 <= klass < C.shape[0]:
        raise InputError(f"--class {klass!r}: the classifier has {C.shape[0]} classes (0..{C.shape[0] - 1})")

    def stacked(name: str, shape: tuple[int, ...]) -> np.ndarray:
        out = []
        for l in layers:
            value = get[f"encoder.layers.{l}.{name}"]
            if value.shape != shape:
                raise InputError(f"encoder.layers.{l}.{name} has shape {value.shape}; expected {shape}")
            out.append(value)
        return np.stack(out)

    in_w = stacked("self_attn.in_proj_weight", (3 * d, d)).reshape(len(layers), 3, K, width, d)
    in_b = stacked("self_attn.in_proj_bias", (3 * d,)).reshape(len(layers), 3, K, width)
    d_ff = get["encoder.layers.0.linear1.weight"].shape[0]
    arrays = {
        "arch": np.str_(ARCH),
        "E": E,
        "Wq": in_w[:, 0],
        "Wk": in_w[:, 1],
        "Wv": in_w[:, 2],
        "bq": in_b[:, 0],
        "bk": in_b[:, 1],
        "bv": in_b[:, 2],
        "Wo": stacked("self_attn.out_proj.weight", (d, d)),
        "bo": stacked("self_attn.out_proj.bias", (d,)),
        "W1": stacked("linear1.weight", (d_ff, d)),
        "b1": stacked("linear1.bias", (d_ff,)),
        "W2": stacked("linear2.weight", (d, d_ff)),
        "b2": stacked("linear2.bias", (d,)),
        "norm1_weight": stacked("norm1.weight", (d,)),
        "norm1_bias": stacked("norm1.bias", (d,)),
        "norm2_weight": stacked("norm2.weight", (d,)),
        "norm2_bias": stacked("norm2.bias", (d,)),
        "w": C[int(klass)],
        "b": get["classifier.bias"][int(klass)],
        "cls_id": cls_id,
        "unk_id": unk_id,
        "max_len": max_len,
        "pe": int(bool(pe)),
        "residual": 1,
        "norm": np.str_("pre" if norm_first else "post"),
        "activation": np.str_(activation),
    }
    if final:
        for key, name in zip(_FINAL_NORM, ("final_norm_weight", "final_norm_bias")):
            if get[key].shape != (d,):
                raise InputError(f"{key} has shape {get[key].shape}; expected ({d},)")
            arrays[name] = get[key]
    return Encoder.from_arrays(arrays, "the imported state_dict").arrays()
