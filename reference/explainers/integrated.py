"""Integrated Gradients (Sundararajan et al. 2017) and the SmoothGrad / C-LIME populations, in mpmath
(independent of ``theory``):

- :func:`integrated_gradients` — ``IG_{t,k} = (e_t − e'_t)_k ∫_0^1 ∂_{t,k} f(e' + a(e − e')) da`` by Gauss–Legendre
  quadrature in mpmath (mpmath's own nodes, degree ``m``: ``3·2^{m−1}`` points) of the brute-force gradient of
  :func:`reference.explainers.gradient.gradient_embedded`; the quadrature error is estimated by the change from
  degree ``m − 1`` to ``m``.  Slow: small models only (``T ≤ 5``, ``d_e ≤ 4``).
- :func:`noise_populations` — ``SG = E[∇f(e + ε)]`` and ``β = E[ε f(e + ε)]/σ²`` (C-LIME's population slope),
  ``ε ~ N(0, σ² I)`` on every coordinate of every position, by tensor Gauss–Hermite quadrature (Golub–Welsch
  nodes computed in mpmath) over all ``T·d_e`` noise coordinates: low-dimensional instances only.
"""

from __future__ import annotations

from itertools import product

import mpmath
from mpmath import mpf

import reference.models.one_layer as ref
from reference.explainers.gradient import gradient_embedded


def baseline_rows(model, doc, length: int, baseline: str, dps: int):
    """The embedded document and its baseline (every word position replaced by ``E[UNK] + p_t``,
    ``E[m] + p_t`` or ``p_t`` for ``replace``, ``mask:m``, ``zero``).

    Args:
        model: the §2 model (the public ``.npz`` attributes).
        doc: the token document of length ``T`` (CLS at position 0, the words at ``1..length``).
        length: the number of words (positions ``1..length`` are replaced in the baseline).
        baseline: ``replace``, ``mask:ID`` or ``zero``.
        dps: the precision in decimal digits.

    Returns:
        ``(X, X0)``: the embedded document and its baseline, each ``T`` rows of ``d_e`` mpf.

    Raises:
        ValueError: for an unknown ``baseline``.
    """
    X = ref.embeddings(model, doc, dps)
    if baseline == "replace":
        token = int(model.unk_id)
    elif baseline.startswith("mask:"):
        token = int(baseline[5:])
    elif baseline == "zero":
        token = None
    else:
        raise ValueError(f"unknown baseline {baseline!r}; use replace, mask:ID or zero")
    with mpmath.workdps(dps):
        pe = ref.positional_encoding(len(doc), model.E.shape[1], dps) if model.pe else None
        X0 = [list(row) for row in X]
        for t in range(1, length + 1):
            E = ref.to_mp(model.E[token]) if token is not None else [mpf(0)] * model.E.shape[1]
            X0[t] = [e + (pe[t][k] if pe else 0) for k, e in enumerate(E)]
        return X, X0


def integrated_gradients(
    model, doc, length: int, baseline: str, degree: int = 4, dps: int = 60, target=None, max_degree: int = 8
):
    """``(IG rows of positions 1..length, error estimate, f(e) − f(e'))`` — mpf.  Gauss–Legendre of degree
    ``degree`` (``3·2^(degree−1)`` nodes: 24 at 4) against the one below it; with ``target``, the degree goes up
    (the nodes double) until the estimate is at most ``target``, to ``max_degree`` (384 nodes) at most.

    Args:
        model: the §2 model (the public ``.npz`` attributes).
        doc: the token document of length ``T`` (CLS at position 0, the words at ``1..length``).
        length: the number of words (the positions explained).
        baseline: ``replace``, ``mask:ID`` or ``zero`` (see :func:`baseline_rows`).
        degree: the Gauss–Legendre degree ``m`` (``3·2^(m−1)`` nodes).
        dps: the precision in decimal digits.
        target: the largest quadrature error estimate accepted (None: degree ``degree`` only).
        max_degree: the highest degree tried when ``target`` is given.

    Returns:
        ``(IG, error, f_diff)``: the IG rows of positions ``1..length`` (``length`` rows of ``d_e`` mpf), the
        largest change of an entry from degree ``m − 1`` to ``m``, and ``f(e) − f(e')`` (mpf).
    """
    with mpmath.workdps(dps):
        X, X0 = baseline_rows(model, doc, length, baseline, dps)
        positions = range(1, length + 1)

        def integral(m):
            rule = mpmath.calculus.quadrature.GaussLegendre(mpmath.mp)
            total = [[mpf(0)] * len(X[0]) for _ in positions]
            for x, w in rule.calc_nodes(m, mpmath.mp.prec):
                a = (x + 1) / 2
                point = [[x0 + a * (x1 - x0) for x0, x1 in zip(r0, r1)] for r0, r1 in zip(X0, X)]
                grad = gradient_embedded(model, point, positions, dps=dps)
                for i, row in enumerate(grad):
                    for k, g in enumerate(row):
                        total[i][k] += w / 2 * g
            return [[(X[t][k] - X0[t][k]) * total[i][k] for k in range(len(X[0]))] for i, t in enumerate(positions)]

        coarse, fine = integral(degree - 1), integral(degree)
        error = max(abs(a - b) for ra, rb in zip(fine, coarse) for a, b in zip(ra, rb))
        while target is not None and error > target and degree < max_degree:
            degree += 1
            coarse, fine = fine, integral(degree)
            error = max(abs(a - b) for ra, rb in zip(fine, coarse) for a, b in zip(ra, rb))
        f_diff = ref.forward_embedded(model, X, dps).f - ref.forward_embedded(model, X0, dps).f
        return fine, error, f_diff


def hermite_rule(n: int, dps: int):
    """Gauss–Hermite nodes and weights for ``E[g(Z)]``, ``Z ~ N(0, 1)`` (probabilists' form): eigenvalues and
    first eigenvector components of the Jacobi matrix with off-diagonal ``√k`` (Golub–Welsch), in mpmath.

    Args:
        n: the number of nodes.
        dps: the precision in decimal digits.

    Returns:
        ``(nodes, weights)``: two lists of ``n`` mpf (the weights sum to 1).
    """
    with mpmath.workdps(dps):
        J = mpmath.zeros(n, n)
        for k in range(1, n):
            J[k - 1, k] = J[k, k - 1] = mpmath.sqrt(k)
        values, vectors = mpmath.eigsy(J)
        return [values[i] for i in range(n)], [vectors[0, i] ** 2 for i in range(n)]


def noise_populations(model, doc, sigma, nodes: int = 6, dps: int = 30, step_exponent: int = -10):
    """``(SG, C-LIME)``, each ``[[· for k in d_e] for t in 0..T-1]`` (mpf), by tensor Gauss–Hermite quadrature.

    Args:
        model: the §2 model (the public ``.npz`` attributes).
        doc: the token document of length ``T``.
        sigma: the noise standard deviation ``σ`` (in embedding units).
        nodes: the Gauss–Hermite nodes per noise coordinate (``nodes^(T·d_e)`` forward passes in all).
        dps: the precision in decimal digits.
        step_exponent: the finite-difference step ``10^step_exponent`` of the brute-force gradient.

    Returns:
        ``(SG, C-LIME)``: two ``T × d_e`` nested lists of mpf.
    """
    with mpmath.workdps(dps):
        X = ref.embeddings(model, doc, dps)
        T, d_e = len(X), len(X[0])
        x, w = hermite_rule(nodes, dps)
        sigma = mpf(sigma)
        sg = [[mpf(0)] * d_e for _ in range(T)]
        cl = [[mpf(0)] * d_e for _ in range(T)]
        for index in product(range(nodes), repeat=T * d_e):
            weight = mpmath.fprod(w[i] for i in index)
            eps = [[sigma * x[index[t * d_e + k]] for k in range(d_e)] for t in range(T)]
            point = [[X[t][k] + eps[t][k] for k in range(d_e)] for t in range(T)]
            f = ref.forward_embedded(model, point, dps).f
            grad = gradient_embedded(model, point, dps=dps, step_exponent=step_exponent)
            for t in range(T):
                for k in range(d_e):
                    sg[t][k] += weight * grad[t][k]
                    cl[t][k] += weight * eps[t][k] * f / sigma**2
        return sg, cl
