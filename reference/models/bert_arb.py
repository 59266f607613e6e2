"""The BERT family of docs/theory.md §13 on Arb balls (python-flint): the forward pass of
:mod:`reference.models.bert` as defined, with matrix products, returning certified enclosures.

The second reference engine of the family, for the real widths (MiniLM: d = 384, 12 heads, 6 layers, FFN 1536,
T ≤ 32) where the mpmath loops are too slow.  Same input format (the Hugging Face parameter names and config
dictionary of :mod:`reference.models.bert`, read by its :func:`~reference.models.bert.parameters`), same
definitions — embedding LayerNorm with the config's ``ε``, learned positions (RoBERTa's offset), token type 0,
key mask (a masked key's weight is the exact ball 0), post-LN blocks, the activation the config names, the four
readouts — but every number is a ball (``flint.arb``) that contains the exact real number the definition gives
for the float64 weights (which convert exactly).  The radius therefore *certifies* the result: the exact
``f`` lies in ``[mid − rad, mid + rad]``.

The linear maps are ``arb_mat`` products ``H W^T + 1 b`` (in C); LayerNorm, softmax and the activations are
evaluated entry by entry.  Ball arithmetic forgets correlations (a product's radius is bounded by ``|W| rad(h)``,
not ``|W h|``; ``x − mean x`` as if ``x`` and its mean were independent), so radii grow through the layers —
measured on random MiniLM-shaped weights of realistic scale (``W`` entries of std ``1/√fan_in``, LayerNorm
gains near 1): about ×10⁷ per layer, whatever ``ε`` (``1e-12`` and ``1e-5`` alike).  At 128 bits the fifth
layer's hidden states already have radius ≈ 0.04, the sixth layer's are unbounded and ``f`` is ``[nan ± inf]``;
at 256 bits ``f``'s radius is about 4e-33.  A model deeper or wider than MiniLM needs more bits.  ``prec`` is in
bits (default :data:`PREC`; ``flint.ctx.prec`` is set for the computation and restored afterwards).

The weights are converted to ball matrices once (:class:`ArbModel`, independent of the precision: a double is
an exact ball); the word-embedding table is read row by row as the input needs it.

**Directional derivatives** (:func:`directional`): forward-mode differentiation on balls.  Every quantity ``x`` of
the forward pass travels with its tangent ``ẋ = d/ds x(E + s·v)|_{s=0}`` along a direction ``v`` of the
word-embedding rows (Hugging Face's ``inputs_embeds``), by the exact derivative rules of each operation — linear
maps ``Ẏ = Ẋ W^T``; LayerNorm ``ẏ = γ (ċ − c σ̇/σ) / σ`` with ``c = x − mean x``, ``ċ = ẋ − mean ẋ``,
``σ = √(var + ε)``, ``σ̇ = (Σ c ċ / n) / σ``; the masked softmax ``ȧ_{tu} = a_{tu} (ṡ_{tu} − Σ_v a_{tv} ṡ_{tv})``
with ``ṡ = (Q̇ Kᵀ + Q K̇ᵀ)/√d_head``; attention outputs ``Ȧ V + A V̇``; ``gelu`` ``g'(z) = Φ(z) + z φ(z)``, the tanh
form's and ReLU's derivatives; mean pooling and the readout's linear maps (tanh ``1 − tanh²``).  There is no step
and no truncation: the ball of ``ḟ`` contains the exact ``⟨∇f, v⟩`` of the float64 model (a ReLU ball straddling
0 gets the derivative ball ``[0, 1]``, still an enclosure of every one-sided derivative).  Cost: the tangent rows
ride with the primal rows through the same ball matrix products (one product of ``2T`` rows), about 1.3–1.6× a
forward pass.
"""

from __future__ import annotations

import numpy as np
from flint import arb, arb_mat

from reference.models.bert import GELU_TANH_CUBIC, Forward, config_of, parameters, position_ids
from reference.models.one_layer_arb import matrix, workprec

PREC = 256  # bits (≈ 77 digits): see the module docstring for why not 128


class ArbModel:
    """A BERT-family model's parameters as ball matrices (transposed, ``in × out``) and ball rows.

    Args:
        weights: Hugging Face parameter names → arrays (:mod:`reference.models.bert`'s format).
        config: the Hugging Face config dictionary (same format).
    """

    def __init__(self, weights: dict, config: dict):
        self.config = config_of(config)
        P = parameters(weights, self.config)
        self.word, self.position, self.type0 = P["word"], P["position"], P["type0"]
        self.eps = arb(self.config.eps)  # the config's double, exactly
        self.norm_emb = _norm(P["norm_emb"])
        self.layers = [
            {name: _norm(p) if name.startswith("norm") else _affine(p) for name, p in layer.items()}
            for layer in P["layers"]
        ]
        self.probe = None if P["probe"] is None else _affine(P["probe"])
        self.head = None if P["head"] is None else (_affine(P["head"][0]), P["head"][1], _affine(P["head"][2]))


def _affine(layer: tuple) -> tuple:
    """``(W^T, b)`` as an ``in × out`` ball matrix and a ``1 × out`` ball row, from Hugging Face's ``(W, b)``."""
    W, b = layer
    return matrix(np.ascontiguousarray(W.T)), matrix(b.reshape(1, -1))


def _norm(layer: tuple) -> tuple:
    """LayerNorm's ``(γ, β)`` as lists of exact balls."""
    return [arb(float(v)) for v in layer[0]], [arb(float(v)) for v in layer[1]]


def _apply(H: arb_mat, affine: tuple) -> arb_mat:
    """``H W^T + 1 b`` (``1`` the column of ones: the bias added to every row, exactly)."""
    WT, b = affine
    return H * WT + arb_mat(H.nrows(), 1, [1] * H.nrows()) * b


def _rows(M: arb_mat) -> list:
    entries, n = M.entries(), M.ncols()
    return [entries[r * n : (r + 1) * n] for r in range(M.nrows())]


def _layer_norm(M: arb_mat, norm: tuple, eps: arb) -> arb_mat:
    """``(x − mean x) / √(var x + ε) · γ + β`` on every row of ``M`` (biased variance)."""
    gamma, beta = norm
    out = []
    for x in _rows(M):
        n = len(x)
        mean = sum(x[1:], x[0]) / n
        centred = [v - mean for v in x]
        var = sum((c * c for c in centred[1:]), centred[0] * centred[0]) / n
        root = (var + eps).sqrt()
        out += [c / root * g + b for c, g, b in zip(centred, gamma, beta)]
    return arb_mat(M.nrows(), M.ncols(), out)


def _activation(kind: str, M: arb_mat) -> arb_mat:
    """The activation entry by entry (``gelu``: erf form; ``gelu_new``/``gelu_pytorch_tanh``: tanh form)."""
    if kind == "relu":
        values = [_relu(z) for z in M.entries()]
    elif kind == "gelu":
        root2 = arb(2).sqrt()
        values = [z * (1 + (z / root2).erf()) / 2 for z in M.entries()]
    else:
        c, cubic = (2 / arb.pi()).sqrt(), arb(GELU_TANH_CUBIC)
        values = [z * (1 + (c * (z + cubic * z * z * z)).tanh()) / 2 for z in M.entries()]
    return arb_mat(M.nrows(), M.ncols(), values)


def _relu(z: arb) -> arb:
    """``max(z, 0)`` of a ball: the ball itself, 0, or (when the ball straddles 0) a ball containing ``z`` and 0."""
    if z >= 0:
        return z
    if z <= 0:
        return arb(0)
    return z.union(arb(0))


def _self_attention(layer: dict, H: arb_mat, mask: list, heads: int) -> tuple:
    """``(SA(H), attention [head][t][u])``: per head the softmax over unmasked keys of ``Q_i K_iᵀ / √d_head``."""
    T, d = H.nrows(), H.ncols()
    Q, K, V = (_apply(H, layer[name]).entries() for name in ("query", "key", "value"))
    d_head = d // heads
    root = arb(d_head).sqrt()
    concat: list[list[arb]] = [[] for _ in range(T)]
    maps = []
    for i in range(heads):

        def block(E, i=i):
            return arb_mat(T, d_head, [E[t * d + i * d_head + j] for t in range(T) for j in range(d_head)])

        scores = _rows(block(Q) * block(K).transpose())
        head = []
        for t in range(T):
            g = [(s / root).exp() if mask[u] else arb(0) for u, s in enumerate(scores[t])]
            total = sum(g[1:], g[0])
            head.append([gu / total for gu in g])
        outputs = _rows(arb_mat(T, T, [a for row in head for a in row]) * block(V))
        for t in range(T):
            concat[t] += outputs[t]
        maps.append(head)
    return _apply(arb_mat(T, d, [v for row in concat for v in row]), layer["output"]), maps


def _readout(model: ArbModel, H: arb_mat, mask: list) -> tuple[list, list]:
    """``(logits, pooled)``: the architecture's head on ``h^(L)_0``, or the probe on the masked mean of the rows."""
    rows = _rows(H)
    if model.probe is not None:
        kept = [row for row, m in zip(rows, mask) if m]
        pooled = [sum((row[j] for row in kept[1:]), kept[0][j]) / len(kept) for j in range(H.ncols())]
        return _apply(arb_mat(1, H.ncols(), pooled), model.probe).entries(), pooled
    assert model.head is not None  # parameters() gives the classification head when the readout has no probe
    dense, nonlinearity, out = model.head
    z = _apply(arb_mat(1, H.ncols(), rows[0]), dense).entries()
    pooled = [v.tanh() for v in z] if nonlinearity == "tanh" else [_relu(v) for v in z]
    return _apply(arb_mat(1, len(pooled), pooled), out).entries(), pooled


def forward_embedded(model: ArbModel, rows, mask=None, positions=None, label: int = 0, prec: int = PREC) -> Forward:
    """The forward pass from word-embedding rows (Hugging Face's ``inputs_embeds``), in balls.

    Args:
        model: the converted model.
        rows: the ``T × d`` word-embedding rows, a float64 array (or an ``arb_mat``).
        mask: the attention mask ``m_t ∈ {0, 1}`` (default: all ones).
        positions: the position ids (default: :func:`reference.models.bert.position_ids` for ``T`` rows).
        label: the class ``c`` whose logit is ``f``.
        prec: the working precision in bits.

    Returns:
        :class:`reference.models.bert.Forward` whose numbers are ``flint.arb`` balls (``f``, ``logits``,
        ``pooled``, ``attention[layer][head][t][u]``, ``hidden[layer][t][j]``).
    """
    cfg = model.config
    X = rows if isinstance(rows, arb_mat) else matrix(np.asarray(rows, dtype=np.float64))
    T = X.nrows()
    mask = [1] * T if mask is None else [int(m) for m in mask]
    positions = position_ids(cfg, T=T) if positions is None else [int(p) for p in positions]
    with workprec(prec):
        H = _layer_norm(
            X + matrix(model.position[positions]) + matrix(np.tile(model.type0, (T, 1))), model.norm_emb, model.eps
        )
        hidden, attention = [_rows(H)], []
        for layer in model.layers:
            sa, maps = _self_attention(layer, H, mask, cfg.heads)
            H = _layer_norm(H + sa, layer["norm1"], model.eps)
            ff = _apply(_activation(cfg.activation, _apply(H, layer["intermediate"])), layer["ffn_output"])
            H = _layer_norm(H + ff, layer["norm2"], model.eps)
            hidden.append(_rows(H))
            attention.append(maps)
        logits, pooled = _readout(model, H, mask)
        return Forward(f=logits[label], logits=logits, pooled=pooled, attention=attention, hidden=hidden)


def forward(model: ArbModel, ids, mask=None, label: int = 0, prec: int = PREC) -> Forward:
    """The forward pass on token ids, in balls (word rows looked up, positions from the ids).

    Args:
        model: the converted model.
        ids: the token ids (special tokens and padding included).
        mask: the attention mask (default: all ones).
        label: the class ``c`` whose logit is ``f``.
        prec: the working precision in bits.

    Returns:
        The ball :class:`reference.models.bert.Forward` record.
    """
    ids = [int(token) for token in ids]
    return forward_embedded(model, model.word[ids], mask, position_ids(model.config, ids=ids), label, prec)


# --- forward-mode: directional derivatives ---------------------------------------------------------------------


def _stacked(H: arb_mat, D: arb_mat, affine: tuple) -> tuple[arb_mat, arb_mat]:
    """``(H W^T + 1 b, D W^T)``: a linear map on rows and on their tangents, in one ball product of ``2T`` rows."""
    WT, b = affine
    T = H.nrows()
    both = arb_mat(2 * T, H.ncols(), H.entries() + D.entries()) * WT
    rows = _rows(both)
    n = WT.ncols()
    bias = b.entries()
    return (
        arb_mat(T, n, [v + bj for row in rows[:T] for v, bj in zip(row, bias)]),
        arb_mat(T, n, [v for row in rows[T:] for v in row]),
    )


def _layer_norm_tangent(M: arb_mat, D: arb_mat, norm: tuple, eps: arb) -> tuple[arb_mat, arb_mat]:
    """LayerNorm of every row of ``M`` and its tangent along ``D`` (module docstring's rule)."""
    gamma, beta = norm
    out, tangent = [], []
    for x, dx in zip(_rows(M), _rows(D)):
        n = len(x)
        mean, dmean = sum(x[1:], x[0]) / n, sum(dx[1:], dx[0]) / n
        c = [v - mean for v in x]
        dc = [v - dmean for v in dx]
        var = sum((u * u for u in c[1:]), c[0] * c[0]) / n
        dvar_half = sum((u * du for u, du in zip(c[1:], dc[1:])), c[0] * dc[0]) / n
        root = (var + eps).sqrt()
        droot = dvar_half / root
        out += [u / root * g + b for u, g, b in zip(c, gamma, beta)]
        tangent += [(du - u * droot / root) / root * g for u, du, g in zip(c, dc, gamma)]
    return arb_mat(M.nrows(), M.ncols(), out), arb_mat(M.nrows(), M.ncols(), tangent)


def _activation_tangent(kind: str, M: arb_mat, D: arb_mat) -> tuple[arb_mat, arb_mat]:
    """The activation entry by entry and its tangent ``g'(z) ż``."""
    values, tangent = [], []
    if kind == "relu":
        for z, dz in zip(M.entries(), D.entries()):
            values.append(_relu(z))
            slope = arb(1) if z >= 0 else arb(0) if z <= 0 else arb(0).union(arb(1))
            tangent.append(slope * dz)
    elif kind == "gelu":
        root2, density = arb(2).sqrt(), 1 / (2 * arb.pi()).sqrt()
        for z, dz in zip(M.entries(), D.entries()):
            phi = (1 + (z / root2).erf()) / 2
            values.append(z * phi)
            tangent.append((phi + z * density * (-z * z / 2).exp()) * dz)
    else:
        c, cubic = (2 / arb.pi()).sqrt(), arb(GELU_TANH_CUBIC)
        for z, dz in zip(M.entries(), D.entries()):
            t = (c * (z + cubic * z * z * z)).tanh()
            values.append(z * (1 + t) / 2)
            tangent.append(((1 + t) / 2 + z * (1 - t * t) * c * (1 + 3 * cubic * z * z) / 2) * dz)
    return arb_mat(M.nrows(), M.ncols(), values), arb_mat(M.nrows(), M.ncols(), tangent)


def _self_attention_tangent(layer: dict, H: arb_mat, D: arb_mat, mask: list, heads: int) -> tuple[arb_mat, arb_mat]:
    """``SA(H)`` and its tangent along ``D`` (module docstring's rules for the scores, softmax and outputs)."""
    T, d = H.nrows(), H.ncols()
    (Q, dQ), (K, dK), (V, dV) = (
        tuple(m.entries() for m in _stacked(H, D, layer[name])) for name in ("query", "key", "value")
    )
    d_head = d // heads
    root = arb(d_head).sqrt()
    concat: list[list[arb]] = [[] for _ in range(T)]
    dconcat: list[list[arb]] = [[] for _ in range(T)]
    for i in range(heads):

        def block(E, i=i):
            return arb_mat(T, d_head, [E[t * d + i * d_head + j] for t in range(T) for j in range(d_head)])

        q, k, dq, dk = block(Q), block(K), block(dQ), block(dK)
        scores = _rows(q * k.transpose())
        dscores = _rows(dq * k.transpose() + q * dk.transpose())
        A, dA = [], []
        for t in range(T):
            g = [(s / root).exp() if mask[u] else arb(0) for u, s in enumerate(scores[t])]
            total = sum(g[1:], g[0])
            a = [gu / total for gu in g]
            ds = [s / root for s in dscores[t]]
            mean = sum((au * su for au, su in zip(a[1:], ds[1:])), a[0] * ds[0])
            A += a
            dA += [au * (su - mean) if mask[u] else arb(0) for u, (au, su) in enumerate(zip(a, ds))]
        A_mat, dA_mat = arb_mat(T, T, A), arb_mat(T, T, dA)
        outputs = _rows(A_mat * block(V))
        doutputs = _rows(dA_mat * block(V) + A_mat * block(dV))
        for t in range(T):
            concat[t] += outputs[t]
            dconcat[t] += doutputs[t]
    return _stacked(
        arb_mat(T, d, [v for row in concat for v in row]),
        arb_mat(T, d, [v for row in dconcat for v in row]),
        layer["output"],
    )


def _readout_tangent(model: ArbModel, H: arb_mat, D: arb_mat, mask: list) -> tuple[list, list]:
    """``(logits, their tangents)``: :func:`_readout` and its derivative along ``D``."""
    d = H.ncols()
    if model.probe is not None:
        kept = [(row, drow) for row, drow, m in zip(_rows(H), _rows(D), mask) if m]
        pooled = [sum((row[j] for row, _ in kept[1:]), kept[0][0][j]) / len(kept) for j in range(d)]
        dpooled = [sum((drow[j] for _, drow in kept[1:]), kept[0][1][j]) / len(kept) for j in range(d)]
        logits, dlogits = _stacked(arb_mat(1, d, pooled), arb_mat(1, d, dpooled), model.probe)
        return logits.entries(), dlogits.entries()
    assert model.head is not None  # parameters() gives the classification head when the readout has no probe
    dense, nonlinearity, out = model.head
    z, dz = (m.entries() for m in _stacked(arb_mat(1, d, _rows(H)[0]), arb_mat(1, d, _rows(D)[0]), dense))
    if nonlinearity == "tanh":
        pooled = [v.tanh() for v in z]
        dpooled = [(1 - p * p) * dv for p, dv in zip(pooled, dz)]
    else:
        pooled, dpooled = (
            m.entries() for m in _activation_tangent("relu", arb_mat(1, len(z), z), arb_mat(1, len(z), dz))
        )
    logits, dlogits = _stacked(arb_mat(1, len(pooled), pooled), arb_mat(1, len(pooled), dpooled), out)
    return logits.entries(), dlogits.entries()


def directional(model: ArbModel, ids, direction, mask=None, label: int = 0, prec: int = PREC) -> tuple[arb, arb]:
    """``f`` and the directional derivative ``⟨∇f, v⟩ = Σ_{t,j} ∂f/∂E[ξ_t]_j · v_{t,j}`` of the token ids' forward
    pass, in balls, by forward-mode differentiation (module docstring): certified, no step, no truncation.

    Args:
        model: the converted model.
        ids: the token ids (special tokens and padding included).
        direction: ``v``, a ``T × d`` float64 array on the word-embedding rows (Hugging Face's ``inputs_embeds``;
            the positions stay those of the ids).
        mask: the attention mask (default: all ones).
        label: the class ``c`` whose logit is ``f``.
        prec: the working precision in bits.

    Returns:
        ``(f, ḟ)``: balls containing the exact logit of ``label`` and its derivative along ``v``.
    """
    cfg = model.config
    ids = [int(token) for token in ids]
    T = len(ids)
    mask = [1] * T if mask is None else [int(m) for m in mask]
    positions = position_ids(cfg, ids=ids)
    with workprec(prec):
        X = matrix(model.word[ids]) + matrix(model.position[positions]) + matrix(np.tile(model.type0, (T, 1)))
        H, D = _layer_norm_tangent(X, matrix(np.asarray(direction, dtype=np.float64)), model.norm_emb, model.eps)
        for layer in model.layers:
            sa, dsa = _self_attention_tangent(layer, H, D, mask, cfg.heads)
            H, D = _layer_norm_tangent(H + sa, D + dsa, layer["norm1"], model.eps)
            inner, dinner = _activation_tangent(cfg.activation, *_stacked(H, D, layer["intermediate"]))
            ff, dff = _stacked(inner, dinner, layer["ffn_output"])
            H, D = _layer_norm_tangent(H + ff, D + dff, layer["norm2"], model.eps)
        logits, dlogits = _readout_tangent(model, H, D, mask)
        return logits[label], dlogits[label]
