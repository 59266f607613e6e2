"""Approximations of LIME's population coefficients ``β^∞`` for the §2 model: the paper's Eq. (19) and
the suite's large-d limit (docs/theory.md §8).

Both are closed forms in the attention weights and value scores of the original document and of the
all-UNK document (CLS kept at position 0, UNK at every other position, same CLS query).  Neither is exact:
the claims ``lime.eq19`` and ``lime.large_d_limit`` measure how far they are from the exact ``β^∞``.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np

from theory.models.one_layer import Model, forward
from theory.models.perturb import word_index
from theory.models.protocol import AttentionClassifier

NU = 0.25  # LIME's default kernel width 25 on distances × 100
QUADRATURE_NODES = 400


def word_positions(doc: np.ndarray, length: int) -> np.ndarray:
    """The ``(d, T)`` 0/1 matrix ``M[j, t] = [ξ_t = w_j]`` for the distinct words ``w_1..w_d`` in lime's
    feature order (CLS and padding columns are zero).

    Args:
        doc: the document's ids, shape ``(T,)``.
        length: its number of words ``L``.

    Returns:
        ``M``, shape ``(d, T)``, float.
    """
    index = word_index(doc, length)
    M = np.zeros((index.max() + 1, len(doc)))
    M[index, np.arange(1, length + 1)] = 1.0
    return M


def unk_document(model: AttentionClassifier) -> np.ndarray:
    """``(CLS, UNK, …, UNK)``: the document in which every word is removed under ``replace``.

    Args:
        model: a model of any family (its ``T``, ``cls_id``, ``unk_id``).

    Returns:
        The ids, shape ``(T,)``, int64.
    """
    doc = np.full(model.T, model.unk_id, dtype=np.int64)
    doc[0] = model.cls_id
    return doc


def eq19(model: Model, doc: np.ndarray, length: int) -> np.ndarray:
    """Eq. (19) of the paper (§5), as implemented in the authors' code:

        β_j ≈ (3/2) · (1/K) Σ_i Σ_{t: ξ_t = w_j} (α_t c_t − α̃_t c̃_t),

    with ``α̃_t`` the attention the original CLS query gives position ``t`` in the all-UNK document and
    ``c̃_t = W_ℓ W_v (E[UNK] + p_t)``.

    Args:
        model: the §2 model.
        doc: the document's ids, shape ``(T,)``.
        length: its number of words ``L``.

    Returns:
        The ``d`` coefficients in lime's feature order, shape ``(d,)``.
    """
    M = word_positions(doc, length)
    fw = forward(model, np.stack([doc, unk_document(model)]))
    term = (fw.alpha[0] * fw.c[0] - fw.alpha[1] * fw.c[1]).mean(axis=0)
    return 1.5 * (M @ term)


@lru_cache(maxsize=32)
def _legendre(nodes: int) -> tuple[np.ndarray, np.ndarray]:
    """Gauss–Legendre nodes and weights on [−1, 1], computed once per size (an eigenvalue problem: ~1 s for
    400 nodes on a busy machine)."""
    x, w = np.polynomial.legendre.leggauss(nodes)
    x.setflags(write=False)
    w.setflags(write=False)
    return x, w


def kept_fraction_law(nu: float = NU, nodes: int = QUADRATURE_NODES) -> tuple[np.ndarray, np.ndarray]:
    """Nodes ``p`` and normalised weights of the law on [0, 1] with density ∝ ``exp(−(1−√p)²/(2ν²))``:
    the kept fraction of words under LIME's weights as d → ∞.  Gauss–Legendre in ``u = √p`` (``dp = 2u du``),
    where the integrand is smooth.

    Args:
        nu: the kernel width ``ν`` (LIME's default 25 on distances × 100: 0.25).
        nodes: the number of quadrature nodes.

    Returns:
        ``(p, weights)``, each of shape ``(nodes,)``, the weights summing to 1.
    """
    x, w = _legendre(nodes)
    u = (x + 1) / 2
    weights = w * 2 * u * np.exp(-((1 - u) ** 2) / (2 * nu**2))
    return u**2, weights / weights.sum()


def large_d_limit(model: Model, doc: np.ndarray, length: int, nu: float = NU) -> np.ndarray:
    """The large-d approximation of ``β^∞`` under ``replace`` (ours, docs/theory.md §8.4):

        β_j ≈ (1/a) · [ s_j + κ − (b / (a + d·b)) · (S + d·κ) ],

    ``a = E_w[p(1−p)]``, ``b = Var_w(p)``, ``s_j = E_w[p(1−p) φ_j'(p)]``, ``S = Σ_j s_j``,
    ``κ = Cov_w(p, φ(p))``, where ``φ(p) = (1/K) Σ_i N_i(p)/D_i(p)`` is the model output when a fraction ``p``
    of every word's attention mass and value mass is kept, and ``φ_j'`` its derivative in word ``j``'s share.

    Args:
        model: the §2 model.
        doc: the document's ids, shape ``(T,)``.
        length: its number of words ``L``.
        nu: the kernel width ``ν``.

    Returns:
        The ``d`` coefficients in lime's feature order, shape ``(d,)``.
    """
    M = word_positions(doc, length)
    d = M.shape[0]
    fw = forward(model, np.stack([doc, unk_document(model)]))
    s, s_unk, c, c_unk = fw.scores[0], fw.scores[1], fw.c[0], fw.c[1]
    shift = np.maximum(s.max(axis=-1), s_unk.max(axis=-1))[:, None]  # cancels in every ratio
    g, g_unk = np.exp(s - shift), np.exp(s_unk - shift)  # (K, T)
    always = np.ones(model.T, dtype=bool)
    always[1 : length + 1] = False  # CLS and padding: present in every perturbed document
    B = (g * always).sum(axis=-1)  # (K,)
    N0 = (g * c * always).sum(axis=-1)
    A, A_unk = (g * c) @ M.T, (g_unk * c_unk) @ M.T  # (K, d)
    G, G_unk = g @ M.T, g_unk @ M.T

    p, w = kept_fraction_law(nu)
    D = B[:, None] + p * G.sum(-1)[:, None] + (1 - p) * G_unk.sum(-1)[:, None]  # (K, P)
    N = N0[:, None] + p * A.sum(-1)[:, None] + (1 - p) * A_unk.sum(-1)[:, None]
    phi_heads = N / D
    phi = phi_heads.mean(axis=0)  # (P,)
    # φ_j'(p) = (1/K) Σ_i [A_j − Ã_j − φ_i(p)(G_j − G̃_j)] / D_i(p), shape (P, d)
    dphi = np.einsum("kp,kj->pj", 1 / D, A - A_unk) - np.einsum("kp,kj->pj", phi_heads / D, G - G_unk)
    dphi /= model.K
    mean_p = w @ p
    a = w @ (p * (1 - p))
    b = w @ (p - mean_p) ** 2
    s_j = (w * p * (1 - p)) @ dphi
    kappa = w @ ((p - mean_p) * phi)
    return (s_j + kappa - b / (a + d * b) * (s_j.sum() + d * kappa)) / a
