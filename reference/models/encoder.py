"""The encoder family of docs/theory.md §11.1 in plain mpmath: loops over mpf numbers, every quantity as defined.

Independent of ``theory`` (docs/theory.md §1.5).  A model is anything with the attributes of the public encoder
format (``E``, ``Wq``, ``bq``, …, ``w``, ``b``, ``residual``, ``norm``, ``activation``; see the encoder file
format); float64 weights convert to mpf exactly.  Layer ``l``, written out:

    a^(i)_{t,u} = exp(s_{tu}) / Σ_v exp(s_{tv}),  s_{tu} = ⟨W_q x_t + b_q, W_k x_u + b_k⟩ / √d_att,
    SA(x)_t = W_o concat_i(Σ_u a^(i)_{t,u} (W_v x_u + b_v)) + b_o,
    LN(x) = (x − mean x)/√(var x + 10⁻⁵)·γ + β   (biased variance),
    FF(x) = W_2 act(W_1 x + b_1) + b_2,   act = max(·, 0) or x·(1 + erf(x/√2))/2 (mpmath.erf),

post-norm ``h ← LN(h + SA(h)); h ← LN(h + FF(h))`` or pre-norm ``h ← h + SA(LN(h)); h ← h + FF(LN(h))``
(residual ``+`` dropped when ``residual`` is off, ``LN`` the identity when ``norm`` is none, ``FF`` skipped when
``d_ff = 0``); then, when the model has ``final_norm_weight`` and ``final_norm_bias`` (not ``None``: torch's
``nn.TransformerEncoder(norm=nn.LayerNorm(d))``), ``h^(L) ← LN(h^(L))`` with them at every position (the last
hidden state is that normalised output); and ``f = ⟨w, h^(L)_0⟩ + b``.  The input is ``e_t = E[ξ_t] + p_t``
(:func:`reference.models.one_layer.embeddings`).
"""

from __future__ import annotations

from dataclasses import dataclass

import mpmath
from mpmath import mp, mpf

from reference.models.one_layer import DPS, embeddings, to_mp

EPS = mpf(1) / 100000


@dataclass
class Forward:
    f: mpf
    attention: list  # [layer][head][t][u]
    hidden: list  # [layer 0..L][t][j]


def _weights(model, l):
    """Layer ``l``'s parameters as mpf nested lists (one conversion per call of :func:`forward_embedded`)."""
    names = (
        "Wq",
        "bq",
        "Wk",
        "bk",
        "Wv",
        "bv",
        "Wo",
        "bo",
        "norm1_weight",
        "norm1_bias",
        "norm2_weight",
        "norm2_bias",
        "W1",
        "b1",
        "W2",
        "b2",
    )
    return {name: to_mp(getattr(model, name)[l]) for name in names}


def _matvec(M, x, bias):
    return [mp.fdot(row, x) + b for row, b in zip(M, bias)]


def _layer_norm(x, gamma, beta):
    n = len(x)
    mean = mpmath.fsum(x) / n
    var = mpmath.fsum((v - mean) ** 2 for v in x) / n
    root = mpmath.sqrt(var + EPS)
    return [(v - mean) / root * g + b for v, g, b in zip(x, gamma, beta)]


def _norm(norm, W, name):
    """The layer's LayerNorm ``name`` as a function (the identity when ``norm`` is none)."""
    if norm == "none":
        return lambda x: x
    return lambda x: _layer_norm(x, W[f"{name}_weight"], W[f"{name}_bias"])


def _self_attention(W, h, K, d_att):
    """``(SA(h), attention [head][t][u])``."""
    T, root = len(h), mpmath.sqrt(d_att)
    outputs = [[] for _ in range(T)]  # concat over heads
    maps = []
    for i in range(K):
        Q = [_matvec(W["Wq"][i], x, W["bq"][i]) for x in h]
        Kmat = [_matvec(W["Wk"][i], x, W["bk"][i]) for x in h]
        V = [_matvec(W["Wv"][i], x, W["bv"][i]) for x in h]
        head = []
        for t in range(T):
            scores = [mp.fdot(Q[t], Kmat[u]) / root for u in range(T)]
            top = max(scores)
            g = [mpmath.exp(s - top) for s in scores]
            total = mpmath.fsum(g)
            a = [gu / total for gu in g]
            head.append(a)
            outputs[t] += [mpmath.fsum(a[u] * V[u][o] for u in range(T)) for o in range(len(V[0]))]
        maps.append(head)
    return [_matvec(W["Wo"], concat, W["bo"]) for concat in outputs], maps


def _activation(kind, z):
    if kind == "relu":
        return max(z, mpf(0))
    return z * (1 + mpmath.erf(z / mpmath.sqrt(2))) / 2


def _feed_forward(W, x, kind):
    hidden = [_activation(kind, z) for z in _matvec(W["W1"], x, W["b1"])]
    return _matvec(W["W2"], hidden, W["b2"])


def _plus(residual, x, y):
    return [a + b for a, b in zip(x, y)] if residual else y


def forward_embedded(model, X, dps: int = DPS, w=None, b=None) -> Forward:
    """Forward pass from embedded tokens ``X`` (T rows of d mpf); ``w``, ``b`` override the readout.

    Args:
        model: the encoder (the public encoder arrays as attributes).
        X: the embedded document, ``T`` rows of ``d`` mpf.
        dps: the precision in decimal digits.
        w: overrides the readout vector ``w`` (shape ``(d,)``).
        b: overrides the readout bias ``b``.

    Returns:
        The :class:`Forward` record: ``f``, every layer's attention ``[l][head][t][u]`` and the hidden states
        ``[l][t]`` (``L + 1`` of them, the input first).
    """
    with mpmath.workdps(dps):
        L, K, d_att = model.Wq.shape[:3]
        has_ff = model.W1.shape[1] > 0
        residual, norm, kind = bool(model.residual), str(model.norm), str(model.activation)
        h = [list(x) for x in X]
        hidden, attention = [h], []
        for l in range(L):
            W = _weights(model, l)
            ln1, ln2 = _norm(norm, W, "norm1"), _norm(norm, W, "norm2")
            if norm == "pre":
                sa, maps = _self_attention(W, [ln1(x) for x in h], K, d_att)
                h = [_plus(residual, x, y) for x, y in zip(h, sa)]
                if has_ff:
                    h = [_plus(residual, x, _feed_forward(W, ln2(x), kind)) for x in h]
            else:
                sa, maps = _self_attention(W, h, K, d_att)
                h = [ln1(_plus(residual, x, y)) for x, y in zip(h, sa)]
                if has_ff:
                    h = [ln2(_plus(residual, x, _feed_forward(W, x, kind))) for x in h]
            hidden.append(h)
            attention.append(maps)
        if getattr(model, "final_norm_weight", None) is not None:
            gamma, beta = to_mp(model.final_norm_weight), to_mp(model.final_norm_bias)
            h = [_layer_norm(x, gamma, beta) for x in h]
            hidden[-1] = h
        w = to_mp(model.w) if w is None else to_mp(w)
        b = mpf(float(model.b)) if b is None else mpf(float(b))
        return Forward(f=mp.fdot(w, h[0]) + b, attention=attention, hidden=hidden)


def forward(model, doc, dps: int = DPS, w=None, b=None) -> Forward:
    """Forward pass on one document (token ids, CLS first, padded to T).

    Args:
        model: the encoder (the public encoder arrays as attributes).
        doc: the token ids, length ``T``.
        dps: the precision in decimal digits.
        w: overrides the readout vector ``w``.
        b: overrides the readout bias ``b``.

    Returns:
        The :class:`Forward` record (see :func:`forward_embedded`).
    """
    return forward_embedded(model, embeddings(model, doc, dps), dps, w, b)
