"""The population limit ``β^∞`` of LIME for text (§5 of the paper; Mardaoui & Garreau 2021).

**Law** (lime 0.2.0.1, ``LimeTextExplainer`` defaults).  With ``d`` distinct words, a sample is
``z ∈ {0,1}^d``: lime draws ``s ~ Uniform{1..d}`` words to switch off, then which ones uniformly, so
``P(z) = 1/(d·C(d, s))`` for ``s = d − |z| ≥ 1``.  lime's sample 0 (the original ``z = 1``) is one sample in
``n``: its weight in the objective vanishes as ``n → ∞`` and the population limit ignores it; so does the
ridge penalty ``λ = 1``.  The weight of a sample with ``s`` words off is ``π = ψ(s/d)``,
``ψ(x) = exp(−(1 − √(1 − x))² / (2ν²))`` with ``ν = w/100 = 0.25`` (kernel width ``w = 25``).

**Population limit.**  ``β^∞ = argmin E[π (f(z) − β_0 − ⟨β, z⟩)²]``.  Its normal matrix only involves the
weighted moments (Mardaoui & Garreau 2021)

    α_p = E[π z_1 ⋯ z_p] = (1/d) Σ_{s=1}^{d} ψ(s/d) · C(d−p, s)/C(d, s),   p = 0, 1, 2,

and its inverse is ``c_d^{-1} [[σ_0, σ_1 1ᵀ], [σ_1 1, (σ_2 − σ_3) I + σ_3 11ᵀ]]`` with

    c_d = (d−1)α_0α_2 − dα_1² + α_0α_1,   σ_0 = (d−1)α_2 + α_1,   σ_1 = −α_1,
    σ_2 = [(d−2)α_0α_2 − (d−1)α_1² + α_0α_1]/(α_1 − α_2),   σ_3 = (α_1² − α_0α_2)/(α_1 − α_2),

so that (docs/theory.md §7.3, ``lime.beta_inf_closed_form``)

    β_0^∞ = c_d^{-1} (σ_0 E[πf] + σ_1 Σ_k E[π z_k f]),
    β_j^∞ = c_d^{-1} (σ_1 E[πf] + σ_2 E[π z_j f] + σ_3 Σ_{k≠j} E[π z_k f]).

For ``d = 1`` the law only produces ``z = 0`` and ``β^∞`` is not identified (``c_1 = 0``): an error.

Three ways to get the expectations:

- :func:`beta_inf_table` — exact, from the values of ``f`` on all ``2^d`` patterns (pattern ``k`` has
  ``z_j = (k >> j) & 1``; small ``d``);
- :func:`beta_inf_exact` — the same for a model and document (``f`` from :func:`theory.models.perturb.f_perturbed`);
- :func:`beta_inf_mc` — Monte Carlo stratified over ``s`` (ours): the per-stratum weights ``ψ(s/d)/d`` are
  exact, subsets are sampled given ``s``, strata small enough are enumerated exactly, and a control variate
  whose ``β^∞`` is known in closed form (fitted on a pilot run) removes the part of ``f`` that is affine in
  ``z`` within each stratum.  ``β^∞`` is linear in ``f``, so the estimator is unbiased and its standard
  error is exact up to the estimation of the per-stratum variances.
"""

from __future__ import annotations

from dataclasses import dataclass
from math import comb

import numpy as np
from numpy.typing import ArrayLike
from scipy.special import gammaln

from theory.errors import InputError
from theory.memory import beta_inf_bytes, require
from theory.models.jit import cached_njit
from theory.models.perturb import (
    Evaluate,
    check_semantics,
    distinct_words,
    evaluator,
    f_perturbed,
    single_threaded_blas,
)
from theory.models.protocol import AttentionClassifier

NU = 0.25  # kernel width 25 of lime, on the scale of the cosine distance (×100)
MAX_EXACT_D = 16  # enumerate the 2^d patterns up to this d


def psi(x: ArrayLike, nu: float = NU) -> np.ndarray:
    """``ψ(x) = exp(−(1 − √(1 − x))² / (2ν²))``: LIME's weight of a sample with a fraction ``x`` of words off.

    Args:
        x: the fractions of words switched off, in ``[0, 1]``, any shape.
        nu: the kernel width ``ν``.

    Returns:
        ``ψ(x)``, the shape of ``x``.
    """
    x = np.asarray(x, dtype=np.float64)
    return np.exp(-((1.0 - np.sqrt(1.0 - x)) ** 2) / (2.0 * nu**2))


def _check(d: int, nu: float) -> None:
    if isinstance(d, bool) or not float(d).is_integer():
        raise InputError(f"d must be an integer (the number of distinct words), got {d!r}")
    if d < 1:
        raise InputError("d = 0: the text has no words, so LIME has no feature to explain; give a non-empty text")
    if d == 1:
        raise InputError(
            "d = 1: LIME's law only draws z = 0 (the single word switched off), so β^∞ is not "
            "identified (c_1 = 0); explain a text with at least two distinct words"
        )
    if not (np.isfinite(nu) and nu > 0):
        raise InputError(f"the kernel width ν must be a positive number, got {nu!r}")


def stratum_weights(d: int, nu: float = NU) -> np.ndarray:
    """``w_s = P(s)·ψ(s/d) = ψ(s/d)/d`` for ``s = 1..d`` words off (index ``s − 1``).

    Args:
        d: the number of distinct words.
        nu: the kernel width ``ν``.

    Returns:
        ``w``, shape ``(d,)``.
    """
    s = np.arange(1, d + 1)
    return psi(s / d, nu) / d


def weighted_moments(d: int, nu: float = NU) -> np.ndarray:
    """``(α_0, α_1, α_2)``, ``α_p = (1/d) Σ_{s=1}^{d} ψ(s/d) C(d−p, s)/C(d, s)`` (Mardaoui & Garreau 2021).

    ``C(d−p, s)/C(d, s) = (d−s)⋯(d−s−p+1) / (d⋯(d−p+1))`` is the probability that ``p`` given words are kept
    when ``s`` are switched off (0 when ``s > d − p``).

    Args:
        d: the number of distinct words, at least 2.
        nu: the kernel width ``ν``.

    Returns:
        ``(α_0, α_1, α_2)``, shape ``(3,)``.

    Raises:
        InputError: ``d`` is not an integer ≥ 2 or ``ν`` is not a positive number.
    """
    _check(d, nu)
    s = np.arange(1, d + 1, dtype=np.float64)
    w = stratum_weights(d, nu)
    keep1 = (d - s) / d
    keep2 = keep1 * (d - s - 1) / (d - 1)
    return np.array([w.sum(), (w * keep1).sum(), (w * np.maximum(keep2, 0.0)).sum()])


@dataclass(frozen=True)
class Coefficients:
    """``α_p``, ``c_d`` and ``σ_0..σ_3`` for one ``(d, ν)``, with the magnitudes of their terms (``c_mag``,
    ``sigma_mag``: the same expressions with every term in absolute value, divisions included, so that
    ``ε·magnitude`` bounds the float64 rounding error of each coefficient to first order)."""

    d: int
    nu: float
    alpha: np.ndarray  # (α_0, α_1, α_2)
    c_d: float
    sigma: np.ndarray  # (σ_0, σ_1, σ_2, σ_3)
    c_mag: float
    sigma_mag: np.ndarray

    def inverse(self) -> np.ndarray:
        """``M^{-1}``, the inverse of the weighted normal matrix ``E[π x xᵀ]``, ``x = (1, z)``.

        Returns:
            ``M^{-1}``, shape ``(d + 1, d + 1)``, intercept first.
        """
        d, (s0, s1, s2, s3) = self.d, self.sigma
        inv = np.full((d + 1, d + 1), s3)
        inv[np.arange(1, d + 1), np.arange(1, d + 1)] = s2
        inv[0, :] = inv[:, 0] = s1
        inv[0, 0] = s0
        return inv / self.c_d


ILL_CONDITIONED = 1e10  # c_d loses more than 10 of float64's 16 digits: refuse


def coefficients(d: int, nu: float = NU) -> Coefficients:
    """The closed-form coefficients of ``β^∞`` (Mardaoui & Garreau 2021; see the module docstring).

    Args:
        d: the number of distinct words, at least 2.
        nu: the kernel width ``ν``.

    Returns:
        The :class:`Coefficients` (``α_p``, ``c_d``, ``σ_0..σ_3`` and their magnitudes).

    Raises:
        InputError: ``d`` or ``ν`` is refused, or ``c_d`` loses more than 10 digits (:data:`ILL_CONDITIONED`).
    """
    a0, a1, a2 = weighted_moments(d, nu)
    gap = a1 - a2  # > 0: E[π z_1 (1 − z_2)] > 0
    c_d = (d - 1) * a0 * a2 - d * a1**2 + a0 * a1
    c_mag = (d - 1) * a0 * a2 + d * a1**2 + a0 * a1
    if not c_d > 0 or c_mag / c_d > ILL_CONDITIONED:
        raise InputError(
            f"d = {d}, ν = {nu}: LIME's weighted normal matrix is singular in float64 (c_d = {c_d:.3e} against "
            f"terms of size {c_mag:.3e}); the weights ψ vary too much over the law — use a larger kernel width"
        )
    n2 = (d - 2) * a0 * a2 - (d - 1) * a1**2 + a0 * a1
    n3 = a1**2 - a0 * a2
    sigma = np.array([(d - 1) * a2 + a1, -a1, n2 / gap, n3 / gap])
    gap_factor = 1.0 + (a1 + a2) / gap
    sigma_mag = np.array(
        [
            (d - 1) * a2 + a1,
            a1,
            (abs(d - 2) * a0 * a2 + (d - 1) * a1**2 + a0 * a1) / gap * gap_factor,
            (a1**2 + a0 * a2) / gap * gap_factor,
        ]
    )
    return Coefficients(d, nu, np.array([a0, a1, a2]), c_d, sigma, c_mag, sigma_mag)


def beta_from_expectations(Ef: ArrayLike, Ezf: ArrayLike, d: int, nu: float = NU) -> np.ndarray:
    """``β^∞ = (β_0, β_1..β_d)`` from ``E[πf]`` and ``E[π z_j f]``.

    The closed form of docs/theory.md §7.3, ``lime.beta_inf_closed_form`` (Mardaoui & Garreau 2021).

    Args:
        Ef: ``E[πf]``, a scalar or ``(m,)`` for ``m`` functions at once.
        Ezf: ``E[π z_j f]``, shape ``(d,)`` or ``(m, d)``.
        d: the number of distinct words.
        nu: the kernel width ``ν``.

    Returns:
        ``β^∞``, intercept first, shape ``(d + 1,)`` or ``(m, d + 1)``.
    """
    co = coefficients(d, nu)
    s0, s1, s2, s3 = co.sigma
    Ef, Ezf = np.asarray(Ef, dtype=np.float64), np.asarray(Ezf, dtype=np.float64)
    total = Ezf.sum(axis=-1)
    beta0 = (s0 * Ef + s1 * total) / co.c_d
    beta = (s1 * Ef[..., None] + s2 * Ezf + s3 * (total[..., None] - Ezf)) / co.c_d
    return np.concatenate([np.asarray(beta0)[..., None], beta], axis=-1)


def beta_magnitude(Ef_abs: ArrayLike, Ezf_abs: ArrayLike, d: int, nu: float = NU) -> np.ndarray:
    """The magnitude of the terms of :func:`beta_from_expectations`, the scale of rounding-error tolerances:
    the same sums with ``E[π|f|]``, ``E[π z_j |f|]`` and the coefficients' magnitudes, times
    ``1 + c_mag/c_d`` (the relative rounding error of the cancelling ``c_d`` multiplies every entry).

    Args:
        Ef_abs: ``E[π|f|]``, a scalar or ``(m,)``.
        Ezf_abs: ``E[π z_j |f|]``, shape ``(d,)`` or ``(m, d)``.
        d: the number of distinct words.
        nu: the kernel width ``ν``.

    Returns:
        The magnitudes, the shape of :func:`beta_from_expectations`'s result.
    """
    co = coefficients(d, nu)
    s0, s1, s2, s3 = co.sigma_mag
    Ef_abs, Ezf_abs = np.asarray(Ef_abs, dtype=np.float64), np.asarray(Ezf_abs, dtype=np.float64)
    total = Ezf_abs.sum(axis=-1)
    m0 = s0 * Ef_abs + s1 * total
    m = s1 * Ef_abs[..., None] + s2 * Ezf_abs + s3 * (total[..., None] - Ezf_abs)
    return np.concatenate([np.asarray(m0)[..., None], m], axis=-1) / co.c_d * (1.0 + co.c_mag / co.c_d)


# --- exact: enumeration of the 2^d patterns ------------------------------------------------------------------


def patterns(d: int) -> np.ndarray:
    """All ``2^d`` patterns, row ``k`` has ``z_j = (k >> j) & 1`` (so the last row is the original ``z = 1``).

    Args:
        d: the number of distinct words, at most :data:`MAX_EXACT_D`.

    Returns:
        The 0/1 patterns, shape ``(2^d, d)``, float64.

    Raises:
        InputError: ``d > MAX_EXACT_D``.
    """
    if d > MAX_EXACT_D:
        raise InputError(
            f"d = {d}: exact enumeration of 2^d patterns is limited to d <= {MAX_EXACT_D}; "
            "use the stratified Monte Carlo (beta_inf_mc)"
        )
    k = np.arange(2**d)
    return ((k[:, None] >> np.arange(d)) & 1).astype(np.float64)


def law(d: int) -> np.ndarray:
    """``P(z)`` for the patterns of :func:`patterns`: ``1/(d·C(d, s))``, and 0 for ``z = 1``.

    Args:
        d: the number of distinct words.

    Returns:
        The probabilities, shape ``(2^d,)``.
    """
    Z = patterns(d)
    s = (d - Z.sum(axis=1)).astype(int)
    logc = gammaln(d + 1) - gammaln(s + 1) - gammaln(d - s + 1)
    return np.where(s > 0, np.exp(-logc) / d, 0.0)


def expectations_table(values: ArrayLike, d: int, nu: float = NU) -> tuple[np.ndarray, np.ndarray]:
    """``E[πf]`` and ``E[π z_j f]`` for ``values[k] = f(pattern k)``, summed over the law.

    Args:
        values: ``f`` of the ``2^d`` patterns of :func:`patterns`, shape ``(..., 2^d)``.
        d: the number of distinct words.
        nu: the kernel width ``ν``.

    Returns:
        ``(E[πf], E[π z_j f])``, shapes ``(...)`` and ``(..., d)``.

    Raises:
        InputError: ``values`` does not have ``2^d`` entries on its last axis.
    """
    values = np.asarray(values, dtype=np.float64)
    if values.shape[-1] != 2**d:
        raise InputError(f"values must have 2^d = {2**d} entries (one per pattern), got {values.shape[-1]}")
    Z = patterns(d)
    weight = law(d) * psi((d - Z.sum(axis=1)) / d, nu)
    wf = values * weight
    return wf.sum(axis=-1), wf @ Z


def beta_inf_table(values: ArrayLike, d: int, nu: float = NU) -> np.ndarray:
    """Exact ``β^∞`` of the function with ``values[k] = f(pattern k)``.

    Args:
        values: ``f`` of the ``2^d`` patterns of :func:`patterns`.
        d: the number of distinct words, ``2 ≤ d ≤ 16``.
        nu: the kernel width ``ν``.

    Returns:
        ``β^∞``, shape ``(d + 1,)``, intercept first.
    """
    _check(d, nu)
    Ef, Ezf = expectations_table(values, d, nu)
    return beta_from_expectations(Ef, Ezf, d, nu)


def table(model: AttentionClassifier, doc: ArrayLike, length: int, *, semantics: str) -> np.ndarray:
    """``f`` on all ``2^d`` perturbed documents, in pattern order.

    Args:
        model: a model of any family.
        doc: the document's ids, shape ``(T,)``.
        length: its number of words ``L``.
        semantics: the removal semantics (:mod:`theory.models.removal`).

    Returns:
        ``f``, shape ``(2^d,)``, row ``k`` for pattern ``k`` of :func:`patterns`.
    """
    d = distinct_words(doc, length).size
    return f_perturbed(model, doc, length, patterns(d), semantics)


def beta_inf_exact(
    model: AttentionClassifier, doc: ArrayLike, length: int, *, semantics: str = "delete", nu: float = NU
) -> np.ndarray:
    """Exact ``β^∞`` of a model's LIME on one document (``d ≤ 16``), under ``semantics``.

    Args:
        model: a model of any family.
        doc: the document's ids, shape ``(T,)``.
        length: its number of words ``L``.
        semantics: the removal semantics.
        nu: the kernel width ``ν``.

    Returns:
        ``β^∞``, shape ``(d + 1,)``, intercept first.
    """
    check_semantics(semantics)
    d = distinct_words(doc, length).size
    _check(d, nu)
    return beta_inf_table(table(model, doc, length, semantics=semantics), d, nu)


# --- realistic d: Monte Carlo stratified over s ---------------------------------------------------------------


@dataclass(frozen=True)
class MonteCarlo:
    """A stratified Monte Carlo estimate of ``β^∞`` (intercept first) with its standard errors."""

    beta: np.ndarray  # (d+1,)
    stderr: np.ndarray  # (d+1,)
    samples: int  # evaluations of f (pilot included)
    exact_strata: int  # strata enumerated exactly (zero variance)
    seed: int

    @property
    def relative_stderr(self) -> float:
        """``‖SE(β_{1..d})‖₂ / ‖β_{1..d}‖₂``: the standard error relative to the size of the coefficients."""
        return float(np.linalg.norm(self.stderr[1:]) / np.linalg.norm(self.beta[1:]))


def _subsets(rng: np.random.Generator, d: int, s: int, m: int) -> np.ndarray:
    """``m`` uniformly random patterns with exactly ``s`` of the ``d`` words off (float 0/1, (m, d))."""
    k = min(s, d - s)  # draw the smaller of the two sets: the words switched off or the words kept
    Z = np.empty((m, d))
    _partial_shuffles(rng.random((m, k)), k == s, Z)
    return Z


@cached_njit
def _partial_shuffles(u, draw_off, Z):
    """Row ``r`` of ``Z``: the first ``k`` steps of a Fisher–Yates shuffle of ``0..d−1`` driven by the uniforms
    ``u[r, :k]`` (step ``i`` swaps ``i`` with ``i + ⌊u (d − i)⌋``) pick a uniformly random ``k``-subset, which is
    switched off (``draw_off``) or is the set of words kept."""
    d, k = Z.shape[1], u.shape[1]
    perm = np.empty(d, np.int64)
    for r in range(Z.shape[0]):
        for q in range(d):
            perm[q] = q
        for i in range(k):
            j = i + min(int(u[r, i] * (d - i)), d - i - 1)
            perm[i], perm[j] = perm[j], perm[i]
        Z[r, :] = 1.0 if draw_off else 0.0
        for i in range(k):
            Z[r, perm[i]] = 0.0 if draw_off else 1.0


def _all_subsets(d: int, s: int) -> np.ndarray:
    """Every pattern with exactly ``s`` words off (``C(d, s)`` rows)."""
    from itertools import combinations

    combos = np.array(list(combinations(range(d), s)), dtype=np.int64).reshape(-1, s)
    Z = np.ones((combos.shape[0], d))
    np.put_along_axis(Z, combos, 0.0, axis=1)
    return Z


def _control_expectations(gamma, slopes, d: int, nu: float):
    """``E[πc]`` and ``E[π z_j c]`` of the control variate ``c(z) = γ_s + Σ_k β_k(s) z_k`` (``slopes[s − 1, k]``
    is ``β_k(s)``), exactly.

    Given ``s`` words off (kept fraction ``p_s = 1 − s/d``), ``E[z_k | s] = p_s`` and, for ``j ≠ k``,
    ``E[z_j z_k | s] = q_s = (d−s)(d−s−1)/(d(d−1))`` (hypergeometric), so with ``B_s = Σ_k β_k(s)``:
    ``E[c | s] = γ_s + p_s B_s`` and ``E[z_j c | s] = p_s γ_s + p_s β_j(s) + q_s (B_s − β_j(s))``.
    """
    s = np.arange(1, d + 1, dtype=np.float64)
    w = stratum_weights(d, nu)
    p = (d - s) / d
    q = p * (d - s - 1) / (d - 1)
    B = slopes.sum(axis=1)
    Ec = w @ (gamma + p * B)
    Ezc = w @ (p[:, None] * gamma[:, None] + (p - q)[:, None] * slopes + (q * B)[:, None])
    return Ec, Ezc


def beta_inf_mc(
    f: Evaluate,
    d: int,
    samples: int = 100_000,
    seed: int = 0,
    nu: float = NU,
    pilot_share: float = 0.2,
    degree: int = 1,
) -> MonteCarlo:
    """``β^∞`` of ``f`` (a function of a 0/1 matrix ``Z`` (m, d) returning ``f`` per row) by Monte Carlo
    stratified over the number ``s`` of words off (ours).

    ``β^∞`` is linear in ``f``:  ``β^∞(f) = Σ_s w_s E[h(z) f(z) | s]`` with the exact stratum weights
    ``w_s = ψ(s/d)/d`` and ``h(z) = M^{-1}(1, z)`` (closed form; for ``j ≥ 1``
    ``h_j(z) = a(|z|) + D z_j`` with ``a(k) = (σ_1 + σ_3 k)/c_d`` and ``D = (σ_2 − σ_3)/c_d``).  Steps:

    1. pilot (``pilot_share`` of the budget, allocation ``∝ w_s``, at least 5 per stratum): fit the control variate
       ``c(z) = γ_s + Σ_k β_k(s) z_k`` with slopes ``β_k(s)`` polynomial of ``degree`` in ``s/d``, by least
       squares weighted by ``w_s``;
    2. ``β^∞(c)`` exactly (:func:`_control_expectations`, then the closed form);
    3. main run, independent of the pilot: ``β^∞(r)``, ``r = f − c``, from per-stratum sample means with the
       Neyman allocation ``m_s ∝ w_s·sd_s`` (``sd_s`` the pilot's residual spread, floored at 10% of the
       largest; at least 10 samples per stratum); a stratum with
       ``C(d, s) ≤ max(2 m_s, 2d)`` patterns (always ``s = 1, d − 1, d``) is enumerated exactly.  The standard error is
       ``√(Σ_s w_s² Var_s(h_j r)/m_s)`` with the per-stratum sample variances.

    Unbiased (the control variate's ``β^∞`` is exact and the main run is independent of the pilot).  Every
    draw comes from ``numpy.random.default_rng(seed)``; ``f`` is called on chunks of ~``2^21/d`` rows.

    Args:
        f: the function: 0/1 patterns ``Z`` ``(m, d)`` to ``f`` per row ``(m,)``.
        d: the number of distinct words, at least 2.
        samples: the budget of evaluations of ``f``, pilot included; at least ``20·d``.
        seed: the seed of every draw.
        nu: the kernel width ``ν``.
        pilot_share: the share of ``samples`` spent on the pilot.
        degree: the degree in ``s/d`` of the control variate's slopes.

    Returns:
        The :class:`MonteCarlo` estimate: ``β^∞`` and its standard errors, intercept first, ``(d + 1,)`` each.

    Raises:
        InputError: ``d`` or ``ν`` is refused, or ``samples < 20·d``.
    """
    with single_threaded_blas():  # hundreds of small products: BLAS threads only contend (see perturb)
        return _beta_inf_mc(f, d, samples, seed, nu, pilot_share, degree)


def _beta_inf_mc(
    f: Evaluate, d: int, samples: int, seed: int, nu: float, pilot_share: float, degree: int
) -> MonteCarlo:
    _check(d, nu)
    if samples < 20 * d:
        raise InputError(f"samples={samples}: the stratified Monte Carlo needs at least 20·d = {20 * d}")
    rng = np.random.default_rng(seed)
    co = coefficients(d, nu)
    s1, s2, s3 = co.sigma[1:]
    strata = np.arange(1, d + 1)
    x = strata / d
    w = psi(x, nu) / d
    n_features = (degree + 1) * d

    def features(Z, s):
        return np.concatenate([(s / d) ** k * Z for k in range(degree + 1)], axis=1)

    # 1. pilot: least squares of f on (stratum indicator, z, x·z), the indicators eliminated by centering
    n_pilot = int(samples * pilot_share)
    m_pilot = np.maximum(5, np.round(n_pilot * w / w.sum())).astype(int)
    pilot_Z = [_subsets(rng, d, int(s), int(m)) for s, m in zip(strata, m_pilot)]
    pilot_f = np.split(np.asarray(f(np.concatenate(pilot_Z)), dtype=np.float64), np.cumsum(m_pilot)[:-1])
    pilot, rows, targets = [], [], []
    for s, m, ws, Z, fz in zip(strata, m_pilot, w, pilot_Z, pilot_f):
        F = features(Z, s)
        root = np.sqrt(ws / m)
        rows.append((F - F.mean(axis=0)) * root)
        targets.append((fz - fz.mean()) * root)
        pilot.append((F, fz))
    design, response = np.concatenate(rows), np.concatenate(targets)
    XtX, Xtf = design.T @ design, design.T @ response  # one product (many small ones are slow with threaded BLAS)
    ridge = 1e-12 * np.trace(XtX) / n_features + 1e-300
    theta = np.linalg.solve(XtX + ridge * np.eye(n_features), Xtf)
    gamma = np.array([fz.mean() - F.mean(axis=0) @ theta for F, fz in pilot])
    resid_sd = np.array([np.std(fz - g - F @ theta) for (F, fz), g in zip(pilot, gamma)])
    slopes = (x[:, None] ** np.arange(degree + 1)[None, :]) @ theta.reshape(degree + 1, d)  # β_k(s), (d, d)
    Ec, Ezc = _control_expectations(gamma, slopes, d, nu)
    beta_c = beta_from_expectations(Ec, Ezc, d, nu)

    # 2. main run on r = f − c, strata evaluated in chunks of rows
    n_main = samples - int(m_pilot.sum())
    # Neyman allocation, with the pilot's spreads floored at 10% of the largest (a few pilot samples can
    # underestimate a stratum's spread) and at least 10 samples per stratum
    score = w * np.maximum(resid_sd, 0.1 * resid_sd.max() + 1e-300)
    alloc = np.maximum(10, np.round(n_main * score / score.sum())).astype(int)
    sizes = np.array([comb(d, int(s)) for s in strata], dtype=float)
    exact = sizes <= np.maximum(2 * alloc, 2 * d)  # enumerating costs at most twice sampling, and is exact
    sum_r, sum_r2 = np.zeros(d), np.zeros(d)
    sum_zr, sum_zr2 = np.zeros((d, d)), np.zeros((d, d))
    counts = np.zeros(d, dtype=int)
    chunk = max(1, (1 << 21) // d)
    blocks, buffered = [], 0  # strata drawn, not yet evaluated, and their rows
    for index, (s, m) in enumerate(zip(strata, alloc)):
        Z = _all_subsets(d, int(s)) if exact[index] else _subsets(rng, d, int(s), int(m))
        blocks.append((index, Z))
        buffered += Z.shape[0]
        if buffered >= chunk or index == d - 1:
            Zall = np.concatenate([Z for _, Z in blocks])
            fall = np.asarray(f(Zall), dtype=np.float64)
            start = 0
            for i, Z in blocks:
                stop = start + Z.shape[0]
                r = fall[start:stop] - gamma[i] - Z @ slopes[i]
                sum_r[i], sum_r2[i] = r.sum(), r @ r
                sum_zr[i], sum_zr2[i] = np.stack([r, r * r]) @ Z
                counts[i] = Z.shape[0]
                start = stop
            blocks, buffered = [], 0
    # per stratum: h_0 r = (σ_0 + σ_1 k) r / c_d and h_j r = (a_k + D z_j) r with k = d − s kept words
    kept = d - strata
    a = (s1 + s3 * kept) / co.c_d
    D = (s2 - s3) / co.c_d
    a0 = (co.sigma[0] + s1 * kept) / co.c_d
    mean0 = a0 * sum_r / counts
    second0 = a0**2 * sum_r2 / counts
    mean = (a[:, None] * sum_r[:, None] + D * sum_zr) / counts[:, None]
    second = (a[:, None] ** 2 * sum_r2[:, None] + (2 * a[:, None] * D + D**2) * sum_zr2) / counts[:, None]
    beta_r = np.concatenate([[w @ mean0], w @ mean])
    m = counts[:, None].astype(float)
    var_s = np.concatenate([(second0 - mean0**2)[:, None], second - mean**2], axis=1) * m / np.maximum(m - 1, 1)
    var_s[exact] = 0.0
    var = (w**2 / counts) @ np.maximum(var_s, 0.0)
    return MonteCarlo(
        beta=beta_c + beta_r,
        stderr=np.sqrt(var),
        samples=int(m_pilot.sum() + counts.sum()),
        exact_strata=int(exact.sum()),
        seed=seed,
    )


EXACT_UP_TO = 10  # beta_inf_model enumerates the 2^d patterns up to this d
MC_SAMPLES = 100_000


@dataclass(frozen=True)
class BetaInf:
    """``β^∞`` of a model's LIME on one document, exact or by stratified Monte Carlo."""

    semantics: str
    words: np.ndarray  # (d,) distinct word ids, lime's feature order
    beta: np.ndarray  # (d+1,) intercept first
    stderr: np.ndarray | None  # (d+1,) Monte Carlo standard errors; None when exact
    samples: int  # evaluations of f
    seed: int | None  # None when exact

    @property
    def exact(self) -> bool:
        """Whether ``β^∞`` is exact (enumeration) rather than a Monte Carlo estimate."""
        return self.stderr is None


def beta_inf_model(
    model: AttentionClassifier,
    doc: ArrayLike,
    length: int,
    *,
    semantics: str = "delete",
    samples: int | None = None,
    seed: int = 0,
    nu: float = NU,
) -> BetaInf:
    """``β^∞`` of a model's LIME on one document under ``semantics``: exact (enumeration of the ``2^d``
    patterns) when ``d ≤ 10``, otherwise :func:`beta_inf_mc` with ``samples`` evaluations (default 100 000).

    Args:
        model: a model of any family.
        doc: the document's ids, shape ``(T,)``.
        length: its number of words ``L``.
        semantics: the removal semantics (default ``delete``, what lime does).
        samples: the Monte Carlo budget for ``d > 10``; None: :data:`MC_SAMPLES`.
        seed: the Monte Carlo seed.
        nu: the kernel width ``ν``.

    Returns:
        The :class:`BetaInf`: ``β^∞`` (intercept first) with standard errors when estimated.

    Raises:
        InputError: the semantics is unknown, ``d < 2``, ``samples`` is not a positive integer, or the Monte Carlo
            would not fit in memory.
    """
    check_semantics(semantics)
    words = distinct_words(doc, length)
    d = words.size
    _check(d, nu)
    if samples is not None and (isinstance(samples, bool) or int(samples) != samples or samples < 1):
        raise InputError(f"--samples {samples!r} must be a positive integer")
    if d <= EXACT_UP_TO:
        beta = beta_inf_exact(model, doc, length, semantics=semantics, nu=nu)
        return BetaInf(semantics, words, beta, None, 2**d, None)
    samples = MC_SAMPLES if samples is None else samples
    require(
        beta_inf_bytes(int(samples), d),
        f"β^∞ by Monte Carlo with --samples {samples} and d = {d} words",
        "use fewer --samples",
    )
    mc = beta_inf_mc(evaluator(model, doc, length, semantics), d, int(samples), seed, nu)
    return BetaInf(semantics, words, mc.beta, mc.stderr, mc.samples, seed)
