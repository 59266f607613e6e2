"""Where do the approximations of LIME's ``β^∞`` hold?  The regime map of Eq. (19) and of the large-d limit
(paper §5 Eq. (19); docs/theory.md §8–§9; the map and its verdict rule are ours).

**Instances.**  A cell fixes the regime; each of its instances is a random model at the authors' document
length (``T = 256``, ``K = 4`` heads, ``d_e = 32``, ``d_att = d_out = 16``) and a text of ``L = ⌈1.25 d⌉``
tokens with ``d`` distinct words (each word at least once, the rest repeats), padded with UNK.  Weights are
``N(0, 1)`` (``W_q``, ``W_k``, ``W_v`` scaled by ``1/√d_e``, ``W_ℓ`` by ``1/√d_out``), drawn from
``numpy.random.default_rng([seed, cell index, instance index])``.  Two knobs are then set exactly:

- **temperature** ``τ``: in every head ``W_q`` is rescaled so that the standard deviation of the scores
  ``s_t`` over the text's positions ``1..L`` equals ``τ`` (small ``τ``: flat attention; large: peaked);
- **UNK shift** ``δ``: ``E[UNK]`` is moved by the least-norm ``Δ`` solving the ``2K`` linear equations

      ⟨u_i, E[UNK] + Δ⟩ − mean_{t ≤ L} ⟨u_i, E[ξ_t]⟩ = δ,    ⟨w_c^(i), Δ⟩ = 0     (i = 1..K),

  with ``u_i = W_k^(i)ᵀ q_i / √d_att`` and ``w_c^(i) = W_v^(i)ᵀ W_ℓ^(i)ᵀ`` (``q_i`` is CLS's query, which does not
  involve UNK).  So in every head UNK's score at a position exceeds the mean score the text's words get at
  that same position by exactly ``δ`` (UNK gets ``e^δ`` times the attention of an average word), while the
  value scores ``c̃_t`` are unchanged.  Positional encoding cancels in the difference, so ``δ`` means the same
  with it on or off.  The padding is UNK, so it moves with ``δ`` too.

**Per instance** (word coefficients only: Eq. (19) has no intercept): ``β^∞`` (exact enumeration when
``d ≤ 10``, :func:`theory.explainers.lime_inf.beta_inf_model` otherwise, stratified Monte Carlo with standard errors
``SE_j``), Eq. (19) (:func:`theory.explainers.lime_approx.eq19`) and the large-d limit
(:func:`theory.explainers.lime_approx.large_d_limit`), and

- the relative error ``e = ‖β_approx − β^∞‖ / ‖β^∞‖``, debiased for Monte Carlo noise
  (``E‖β̂ − β_a‖² = ‖β^∞ − β_a‖² + ‖SE‖²``, so ``e² = max(‖β̂ − β_a‖² − ‖SE‖², 0) / max(‖β̂‖² − ‖SE‖², ·)``),
  with its Monte Carlo standard error ``√(Σ_j Δ_j² SE_j²) / (‖Δ‖ ‖β‖)`` (delta method); when
  ``‖β^∞‖`` is below ``10⁻⁹`` of the spread of the value scores the instance is *degenerate* (``f`` barely
  depends on the words): it is counted and left out of the error statistics;
- the least-squares ratio ``ρ = ⟨β^∞, b⟩ / ‖b‖²`` of ``β^∞`` on Eq. (19) *without* its 3/2 (``b = eq19/1.5``)
  — Eq. (19)'s 3/2 is right where ``ρ ≈ 1.5`` — and the error of the best rescaling,
  ``‖β^∞ − ρ b‖ / ‖β^∞‖`` (the part of Eq. (19)'s error no constant can fix);
- Pearson's correlation of ``β^∞`` and Eq. (19) over the words;
- the share of words where ``sign β_j^∞ = sign eq19_j``, over the words whose ``|β_j^∞| > 2 SE_j``.

**Per cell** (``n`` instances): the median of each per-instance number; for the errors its standard error is
the bootstrap standard error of the median over instances (1000 resamples, seeded) combined with the median
Monte Carlo standard error; for ``ρ`` the mean and its standard error ``sd/√n``.

**Verdict rule** (stated before measuring): an approximation *holds* in a cell when the upper confidence
bound of its median relative error, ``median + 2·SE``, is at most ``THRESHOLD = 10%``; it *fails* when the
lower bound ``median − 2·SE`` exceeds 10%; otherwise the cell is *undecided*.  The 3/2 of Eq. (19) is
*consistent* with a cell when ``|mean ρ − 1.5| ≤ 2·SE(ρ)``.
"""

from __future__ import annotations

import math
import sys
import time
from dataclasses import asdict, dataclass
from typing import Any, Generic, TypeVar

import numpy as np

from theory.checking.approximation import DEGENERATE, THRESHOLD, relative_error
from theory.explainers.lime_approx import eq19, large_d_limit
from theory.explainers.lime_inf import beta_inf_model
from theory.models.one_layer import Model, document, forward, head_vectors
from theory.models.perturb import single_threaded_blas
from theory.models.protocol import AttentionClassifier

T, K, D_E, D_ATT, D_OUT = 256, 4, 32, 16, 16
MC_SAMPLES = {"replace": 40_000, "delete": 100_000}
BOOTSTRAP = 1000
APPROXIMATIONS = ("lime.eq19", "lime.large_d_limit")


@dataclass(frozen=True)
class Cell:
    """One regime: UNK shift ``δ``, temperature ``τ``, number ``d`` of distinct words, removal semantics,
    positional encoding, LIME kernel width ``ν``."""

    unk_shift: float = 0.0
    temperature: float = 1.0
    d: int = 50
    semantics: str = "replace"
    pe: bool = True
    nu: float = 0.25

    @property
    def name(self) -> str:
        return (
            f"shift={self.unk_shift:g} temp={self.temperature:g} d={self.d} {self.semantics} "
            f"pe={'on' if self.pe else 'off'} nu={self.nu:g}"
        )


# --- instances ------------------------------------------------------------------------------------------------


def _shift_unk(model: Model, tokens, delta: float) -> Model:
    """The model with ``E[UNK]`` moved by the least-norm ``Δ`` that makes UNK's score exceed the mean score of
    ``tokens`` by ``delta`` in every head, with the value scores of UNK unchanged (module docstring)."""
    u, w_c = head_vectors(model)
    words = model.E[np.asarray(tokens)].mean(axis=0)
    current = u @ (model.E[model.unk_id] - words)  # (K,) UNK's advantage now
    C = np.concatenate([u, w_c])  # (2K, d_e)
    r = np.concatenate([delta - current, np.zeros(model.K)])
    E = model.E.copy()
    E[model.unk_id] += np.linalg.lstsq(C, r, rcond=None)[0]
    return model.replace(E=E)


def _set_temperature(model: Model, doc, length: int, tau: float) -> Model:
    """The model with each head's ``W_q`` rescaled so that the scores of positions ``1..length`` have standard
    deviation ``tau``."""
    spread = forward(model, doc).scores[0][:, 1 : length + 1].std(axis=1)  # (K,)
    Wq = model.Wq * (tau / np.maximum(spread, 1e-300))[:, None, None]
    return model.replace(Wq=Wq)


#: the model of an :class:`Instance`: the §2 model of a regime cell (:func:`instance`), or a given model of any
#: family (:mod:`theory.studies.given_model`)
M = TypeVar("M", bound=AttentionClassifier)


@dataclass(frozen=True)
class Instance(Generic[M]):
    """A model, one of its documents (token ids, CLS first, padded), its number of words and the seed it came
    from."""

    model: M
    doc: np.ndarray
    length: int
    seed: tuple


def instance(cell: Cell, seed: tuple) -> Instance[Model]:
    """The random model and document of ``cell`` for the seed tuple ``seed`` (module docstring).

    Args:
        cell: the regime.
        seed: the seed tuple ``(seed, cell index, instance index)`` of ``numpy.random.default_rng``.

    Returns:
        The :class:`Instance`: the model (temperature and UNK shift set), its document and number of words.
    """
    rng = np.random.default_rng(list(seed))
    d = cell.d
    V = d + 2
    length = min(T - 1, math.ceil(1.25 * d))
    E = rng.standard_normal((V, D_E))
    Wq = rng.standard_normal((K, D_ATT, D_E)) / np.sqrt(D_E)
    Wk = rng.standard_normal((K, D_ATT, D_E)) / np.sqrt(D_E)
    Wv = rng.standard_normal((K, D_OUT, D_E)) / np.sqrt(D_E)
    Wl = rng.standard_normal((K, D_OUT)) / np.sqrt(D_OUT)
    model = Model(E, Wq, Wk, Wv, Wl, cls_id=0, unk_id=1, max_len=T, pe=cell.pe)
    words = np.arange(2, V)
    tokens = np.concatenate([words, rng.choice(words, length - d)])
    rng.shuffle(tokens)
    doc = document(model, tokens)
    model = _set_temperature(model, doc, length, cell.temperature)
    model = _shift_unk(model, tokens, cell.unk_shift)
    return Instance(model, doc, length, tuple(seed))


# --- measures -------------------------------------------------------------------------------------------------


def measure(inst: Instance[Model], semantics: str, nu: float, samples: int | None = None, mc_seed: int = 0) -> dict:
    """Every per-instance number of the module docstring, as a dict.

    Args:
        inst: the instance: a §2 model, its token document and its number of words.
        semantics: the removal semantics of ``β^∞``.
        nu: the LIME kernel width ``ν``.
        samples: the Monte Carlo samples of ``β^∞`` when ``d > 10`` (None: :data:`MC_SAMPLES` of the semantics).
        mc_seed: the Monte Carlo seed.

    Returns:
        The errors (with their Monte Carlo SE), ``ratio``, ``eq19_shape_error``, ``correlation``,
        ``sign_agreement``, ``degenerate``, ``exact``, ``mc_relative_se`` and the arrays ``beta``, ``eq19``,
        ``limit``, ``stderr`` (shape ``(d,)``; ``stderr`` None when exact).
    """
    model, doc, length = inst.model, inst.doc, inst.length
    samples = MC_SAMPLES[semantics] if samples is None else samples
    with single_threaded_blas():
        bi = beta_inf_model(model, doc, length, semantics=semantics, samples=samples, seed=mc_seed, nu=nu)
    beta = bi.beta[1:]
    se = None if bi.exact or bi.stderr is None else bi.stderr[1:]
    fw = forward(model, doc)
    floor = DEGENERATE * float(np.ptp(fw.c[0]) + 1e-300)
    e19 = eq19(model, doc, length)
    lim = large_d_limit(model, doc, length, nu)
    base = e19 / 1.5
    err19, se19, degenerate = relative_error(e19, beta, se, floor)
    errlim, selim, _ = relative_error(lim, beta, se, floor)
    rho = float(beta @ base / (base @ base)) if base @ base > 0 else math.nan
    shape, _, _ = relative_error(rho * base, beta, se, floor)
    significant = np.abs(beta) > (2 * se if se is not None else 0.0)
    signs = float(np.mean(np.sign(beta[significant]) == np.sign(e19[significant]))) if significant.any() else math.nan
    corr = float(np.corrcoef(beta, e19)[0, 1]) if np.std(beta) > 0 and np.std(e19) > 0 else math.nan
    return {
        "eq19_error": err19,
        "eq19_error_se": se19,
        "limit_error": errlim,
        "limit_error_se": selim,
        "ratio": rho,
        "eq19_shape_error": shape,
        "correlation": corr,
        "sign_agreement": signs,
        "degenerate": bool(degenerate),
        "exact": bi.exact,
        "mc_relative_se": 0.0 if se is None else float(np.linalg.norm(se) / np.linalg.norm(beta)),
        "beta": beta,
        "eq19": e19,
        "limit": lim,
        "stderr": se,
    }


def _bootstrap_median_se(values: np.ndarray, rng) -> float:
    if values.size < 2:
        return math.nan
    draws = rng.integers(0, values.size, (BOOTSTRAP, values.size))
    return float(np.std(np.median(values[draws], axis=1), ddof=1))


def run_cell(args) -> dict:
    """Measure ``n`` instances of one cell; returns its summary (JSON-able).

    Args:
        args: ``(index, cell, n, seed)``: the cell's index in the sweep, the cell, its number of instances and the
            run's seed (one tuple, for the process pool's map).

    Returns:
        The cell, its name, index, seeds, the :func:`summarize` statistics and the seconds it took.
    """
    index, cell, n, seed = args
    started = time.perf_counter()
    rows = [
        measure(instance(cell, (seed, index, k)), cell.semantics, cell.nu, mc_seed=seed + 1000 * index + k)
        for k in range(n)
    ]
    out = {
        "cell": asdict(cell),
        "name": cell.name,
        "index": index,
        "instances": n,
        "seeds": f"default_rng([{seed}, {index}, k]), k = 0..{n - 1}; Monte Carlo seed {seed} + 1000·{index} + k",
        **summarize(rows, np.random.default_rng([seed, index, 10**6])),
    }
    out["seconds"] = time.perf_counter() - started
    return out


def summarize(rows: list[dict], rng) -> dict:
    """The per-cell statistics of the module docstring over the per-instance :func:`measure` results ``rows``
    (``rng`` drives the bootstrap).

    Args:
        rows: :func:`measure` results, one per instance.
        rng: a ``numpy.random.Generator``.

    Returns:
        ``degenerate`` (count), ``exact``, per error median/se/p90/max, ``ratio`` mean/se/median/min/max,
        median ``correlation`` and ``sign_agreement``, median ``mc_relative_se``.
    """
    rows = [
        {key: value for key, value in m.items() if not isinstance(value, np.ndarray) and value is not None}
        for m in rows
    ]
    ok = [r for r in rows if not r["degenerate"]]
    out: dict[str, Any] = {"degenerate": len(rows) - len(ok), "exact": bool(all(r["exact"] for r in rows))}
    for key in ("eq19_error", "limit_error", "eq19_shape_error"):
        values = np.array([r[key] for r in ok])
        mc = np.array([r.get(key + "_se", 0.0) for r in ok]) if key != "eq19_shape_error" else np.zeros(len(ok))
        if values.size == 0:
            out[key] = {"median": math.nan, "se": math.nan, "p90": math.nan, "max": math.nan}
            continue
        boot = _bootstrap_median_se(values, rng)
        out[key] = {
            "median": float(np.median(values)),
            "se": float(math.hypot(boot if boot == boot else 0.0, float(np.median(mc)))),
            "p90": float(np.quantile(values, 0.9)),
            "max": float(values.max()),
        }
    ratios = np.array([r["ratio"] for r in ok if r["ratio"] == r["ratio"]])
    out["ratio"] = {
        "mean": float(ratios.mean()) if ratios.size else math.nan,
        "se": float(ratios.std(ddof=1) / math.sqrt(ratios.size)) if ratios.size > 1 else math.nan,
        "median": float(np.median(ratios)) if ratios.size else math.nan,
        "min": float(ratios.min()) if ratios.size else math.nan,
        "max": float(ratios.max()) if ratios.size else math.nan,
    }
    for key in ("correlation", "sign_agreement"):
        values = np.array([r[key] for r in ok if r[key] == r[key]])
        out[key] = float(np.median(values)) if values.size else math.nan
    out["mc_relative_se"] = float(np.median([r["mc_relative_se"] for r in rows]))
    return out


def verdict(median: float, se: float, threshold: float = THRESHOLD) -> str:
    """``holds`` / ``fails`` / ``undecided`` by the rule of the module docstring.

    Args:
        median: the median relative error.
        se: its standard error.
        threshold: the relative error an approximation may reach and still hold.

    Returns:
        ``"holds"``, ``"fails"`` or ``"undecided"`` (also for a NaN median).
    """
    if not median == median:
        return "undecided"
    if median + 2 * se <= threshold:
        return "holds"
    if median - 2 * se > threshold:
        return "fails"
    return "undecided"


def sweep(cells: list[Cell], n: int, seed: int, workers: int = 2, progress=sys.stderr) -> list[dict]:
    """Run every cell (``n`` instances each), in ``workers`` processes; one progress line per cell.

    Args:
        cells: the regimes.
        n: the instances per cell.
        seed: the run's seed.
        workers: the local processes (or the cluster under ``--scheduler``).
        progress: where the progress lines go (None: nowhere).

    Returns:
        The :func:`run_cell` results, in the order of ``cells``.
    """
    jobs = [(i, cell, n, seed) for i, cell in enumerate(cells)]
    results: list[dict] = []

    def report(r):
        if progress is not None:
            print(
                f"  regime {len(results)}/{len(cells)}: {r['name']}  eq19 {r['eq19_error']['median']:.3f}  "
                f"limit {r['limit_error']['median']:.4f}  ({r['seconds']:.1f} s)",
                file=progress,
                flush=True,
            )

    from theory.pool import cell_map

    for r in cell_map(run_cell, jobs, workers):  # local processes, or Dask tasks under --scheduler
        results.append(r)
        report(r)
    return sorted(results, key=lambda r: r["index"])


def loglog_slope(d, errors, se) -> tuple[float, float]:
    """Weighted least-squares slope of ``log e`` on ``log d`` (weights ``e/SE``, SE floored at 5% of ``e``) and
    its standard error (the larger of the model-based and the residual-based one).

    Args:
        d: the numbers of distinct words.
        errors: the relative errors at each ``d``.
        se: their standard errors.

    Returns:
        ``(slope, SE)``; NaNs with fewer than three positive errors.
    """
    d, e, s = np.asarray(d, float), np.asarray(errors, float), np.asarray(se, float)
    keep = e > 0
    x, y = np.log(d[keep]), np.log(e[keep])
    sigma = np.maximum(s[keep] / e[keep], 0.05)
    if x.size < 3:
        return math.nan, math.nan
    W = 1 / sigma**2
    X = np.stack([np.ones_like(x), x], axis=1)
    cov = np.linalg.inv(X.T @ (X * W[:, None]))
    coef = cov @ (X.T @ (W * y))
    chi2 = float(np.sum(W * (y - X @ coef) ** 2)) / (x.size - 2)
    return float(coef[1]), float(math.sqrt(cov[1, 1] * max(1.0, chi2)))
