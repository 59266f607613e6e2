"""Shapley values of the words by their formula (Shapley 1953), every subset through the full mpmath forward
pass of :mod:`reference.explainers.perturb` (independent of ``theory``; brute force, ``2^d`` forward passes):

    φ_j = Σ_{S ∌ j} |S|! (d − |S| − 1)! / d! · [v(S ∪ {j}) − v(S)],   v(S) = f(ξ with the words outside S removed).

Also occlusion ``o_j = v([d]) − v([d] \\ {j})`` and KernelSHAP's constrained weighted least squares over the full
enumeration, solved in mpmath (Lundberg & Lee 2017; Lagrange multiplier form).
"""

from __future__ import annotations

from itertools import product
from math import comb, factorial

import mpmath
from mpmath import mpf

import reference.models.one_layer as ref
from reference.explainers.perturb import distinct_words, f_perturbed


def values(model, doc, length: int, semantics: str, dps: int = ref.DPS, Wl=None) -> dict:
    """``{z: v(z)}`` over every pattern ``z ∈ {0,1}^d`` (tuples), by the mpmath forward pass.

    Args:
        model: the §2 model (the public ``.npz`` attributes).
        doc: the token document (CLS at 0, the words at ``1..length``).
        length: the number of words.
        semantics: ``delete``, ``replace``, ``mask:ID`` or ``zero``.
        dps: the precision in decimal digits.
        Wl: overrides the model's ``W_ℓ``.

    Returns:
        The game: a dict from every 0/1 tuple ``z`` of length ``d`` to ``f`` of the perturbed document (mpf).
    """
    d = len(distinct_words(doc, length))
    return {z: f_perturbed(model, doc, length, z, semantics, dps, Wl) for z in product((0, 1), repeat=d)}


def shapley(v: dict, d: int, dps: int = ref.DPS) -> list:
    """``[φ_j]`` (mpf) of the game ``v`` (a dict over all patterns) by the formula.

    Args:
        v: the game, a dict from every 0/1 tuple of length ``d`` to its value.
        d: the number of players (distinct words).
        dps: the precision in decimal digits.

    Returns:
        ``[φ_1, …, φ_d]`` (mpf).
    """
    with mpmath.workdps(dps):
        phi = []
        for j in range(d):
            total = mpf(0)
            for z, value in v.items():
                if z[j]:
                    continue
                s = sum(z)
                w = mpf(factorial(s) * factorial(d - s - 1)) / factorial(d)
                total += w * (v[z[:j] + (1,) + z[j + 1 :]] - value)
            phi.append(total)
        return phi


def occlusion(v: dict, d: int) -> list:
    """``[v([d]) − v([d] \\ {j})]``.

    Args:
        v: the game, a dict from every 0/1 tuple of length ``d`` (at least the full one and those with one 0).
        d: the number of players (distinct words).

    Returns:
        ``[o_1, …, o_d]``.
    """
    full = (1,) * d
    return [v[full] - v[full[:j] + (0,) + full[j + 1 :]] for j in range(d)]


def kernelshap(v: dict, d: int, dps: int = ref.DPS) -> list:
    """KernelSHAP's ``β_1..β_d`` over the full enumeration, in mpmath: the KKT system of
    ``min Σ_z π(z)(v(z) − v(∅) − ⟨β, z⟩)²`` s.t. ``Σ β = v([d]) − v(∅)``, ``π = (d−1)/(C(d,|z|)|z|(d−|z|))``.

    Args:
        v: the game, a dict from every 0/1 tuple of length ``d`` to its value.
        d: the number of players (distinct words, at least 2).
        dps: the precision in decimal digits.

    Returns:
        ``[β_1, …, β_d]`` (mpf); they sum to ``v([d]) − v(∅)``.
    """
    with mpmath.workdps(dps):
        empty, full = (0,) * d, (1,) * d
        A = mpmath.zeros(d + 1, d + 1)
        b = mpmath.zeros(d + 1, 1)
        for z, value in v.items():
            s = sum(z)
            if s in (0, d):
                continue
            w = mpf(d - 1) / (comb(d, s) * s * (d - s))
            for i in range(d):
                if z[i]:
                    b[i] += w * (value - v[empty])
                    for k in range(d):
                        if z[k]:
                            A[i, k] += w
        for i in range(d):
            A[i, d] = A[d, i] = 1
        b[d] = v[full] - v[empty]
        x = mpmath.lu_solve(A, b)
        return [x[i] for i in range(d)]
