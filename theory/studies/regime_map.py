"""Where Eq. (19) and the large-d limit hold (paper §5): the regime map's grid, its tables, its heatmaps
(the sweep and the verdict rule are :mod:`theory.studies.regimes`)."""

from __future__ import annotations

import math
import time

import numpy as np

from theory.checking.approximation import THRESHOLD
from theory.markdown import table
from theory.studies import ExtraResult, extra, figures, regimes


def _regime_grid(profile: str) -> list[regimes.Cell]:
    """The cells of the map: a main grid (replace, positional encoding on, ν = 0.25) over UNK shift ×
    temperature × d, and one-factor slices for delete, positional encoding off and ν."""
    C = regimes.Cell
    shifts: tuple[float, ...]
    temps: tuple[float, ...]
    ds: tuple[int, ...]
    if profile == "thorough":
        shifts, temps, ds = (-4, -2, 0, 2, 4), (0.25, 0.5, 1, 2, 4), (10, 25, 50, 100, 200)
        cells = [C(s, t, d) for s in shifts for t in temps for d in ds]
        cells += [C(s, 1, d, "delete") for s in shifts for d in ds]
        cells += [C(s, 1, d, "replace", False) for s in shifts for d in ds]
        cells += [C(s, 1, 50, "delete", False) for s in (-2, 0, 2)]
        cells += [C(s, 1, 50, nu=nu) for nu in (0.5, 1.0, 2.0) for s in shifts]
        return cells
    shifts, temps, ds = (-3, 0, 3), (0.5, 2), (10, 25, 50)
    cells = [C(s, t, d) for s in shifts for t in temps for d in ds]
    cells += [C(0, t, 50, "delete") for t in temps]
    cells += [C(0, 2, 50, "replace", False), C(0, 2, 50, nu=1.0)]
    return cells


def _fmt(entry) -> str:
    return f"{entry['median']:.3f} ± {entry['se']:.3f}"


@extra(
    "lime.regime_map",
    section="§5",
    title="Where Eq. (19) and the large-d limit hold: regime map (UNK shift, temperature, d, semantics, PE, ν)",
)
def regime_map_extra(profile, seed):
    started = time.perf_counter()
    n = 16
    cells = _regime_grid(profile)
    results = regimes.sweep(cells, n, seed, workers=2)
    records, rows = [], []
    holds = {name: {"holds": [], "fails": [], "undecided": []} for name in regimes.APPROXIMATIONS}
    for r in results:
        for name, key in (("lime.eq19", "eq19_error"), ("lime.large_d_limit", "limit_error")):
            e = r[key]
            v = regimes.verdict(e["median"], e["se"])
            holds[name][v].append(r["name"])
            records.append(
                {"claim": name, "regime": r["name"], "error": e["median"], "se": e["se"], "verdict": v, "p90": e["p90"]}
            )
        ratio = r["ratio"]
        consistent = abs(ratio["mean"] - 1.5) <= 2 * ratio["se"]
        rows.append(
            [
                r["name"],
                r["instances"] - r["degenerate"],
                f"{_fmt(r['eq19_error'])} ({regimes.verdict(r['eq19_error']['median'], r['eq19_error']['se'])})",
                _fmt(r["eq19_shape_error"]),
                f"{ratio['mean']:.2f} ± {ratio['se']:.2f}{' ✓' if consistent else ''}",
                f"{r['correlation']:.2f}",
                f"{r['sign_agreement']:.2f}",
                f"{_fmt(r['limit_error'])} ({regimes.verdict(r['limit_error']['median'], r['limit_error']['se'])})",
                "exact" if r["exact"] else format(r["mc_relative_se"], ".2%"),
            ]
        )
    # convergence rate of the large-d limit in d, per (shift, temperature, semantics, pe, ν) slice
    slices = {}
    for r in results:
        c = r["cell"]
        key = (c["unk_shift"], c["temperature"], c["semantics"], c["pe"], c["nu"])
        slices.setdefault(key, []).append(r)
    rates = []
    for key, group in slices.items():
        if len(group) < 3:
            continue
        group = sorted(group, key=lambda r: r["cell"]["d"])
        slope, se = regimes.loglog_slope(
            [g["cell"]["d"] for g in group],
            [g["limit_error"]["median"] for g in group],
            [g["limit_error"]["se"] for g in group],
        )
        rates.append(
            {
                "shift": key[0],
                "temperature": key[1],
                "semantics": key[2],
                "pe": key[3],
                "nu": key[4],
                "ds": [g["cell"]["d"] for g in group],
                "errors": [g["limit_error"]["median"] for g in group],
                "slope": slope,
                "se": se,
            }
        )
    rate_rows = [
        [
            f"{q['shift']:g}",
            f"{q['temperature']:g}",
            q["semantics"],
            "on" if q["pe"] else "off",
            ", ".join(f"{e:.4f}" for e in q["errors"]),
            f"{q['slope']:.2f} ± {q['se']:.2f}",
        ]
        for q in rates
    ]
    replace_rates = [q for q in rates if q["semantics"] == "replace" and q["slope"] == q["slope"]]
    if replace_rates:
        w = np.array([1 / max(q["se"], 1e-3) ** 2 for q in replace_rates])
        pooled = float(np.sum(w * [q["slope"] for q in replace_rates]) / w.sum())
        pooled_se = float(1 / np.sqrt(w.sum()))
        spread = float(np.std([q["slope"] for q in replace_rates], ddof=1)) if len(replace_rates) > 1 else math.nan
    else:
        pooled = pooled_se = spread = math.nan
    ratios = [r["ratio"] for r in results if r["cell"]["semantics"] == "replace"]
    md = [
        f"Profile `{profile}`: {len(cells)} cells × {n} random models (the instances of `theory/studies/regimes.py`: T "
        f"= 256, K = 4, d_e = 32, d_att = d_out = 16, L = ⌈1.25 d⌉ tokens with d distinct words; **temperature** = the "
        "standard deviation of each head's scores over the text; **UNK shift** δ = how much higher UNK's score is "
        "than the text's mean word score at the same position, in every head (E[UNK] moved by the least-norm "
        "solution of 2K linear equations that also keep c̃ unchanged): UNK gets e^δ times an average word's "
        "attention). β^∞ exact for d = 10, stratified Monte Carlo beyond (40 000 samples replace, 100 000 delete); "
        f"seeds: instance k of cell i is `default_rng([{seed}, i, k])`, its Monte Carlo seed {seed} + 1000·i + k.",
        "",
        f"**Verdict rule** (declared before measuring): an approximation *holds* in a cell when the upper bound "
        f"median + 2·SE of its relative error ‖β_a − β^∞‖/‖β^∞‖ (Monte-Carlo-debiased per instance) is ≤ "
        f"{THRESHOLD:.0%}; it *fails* when median − 2·SE > {THRESHOLD:.0%}; otherwise *undecided*. SE = bootstrap SE "
        f"of the median over models ⊕ median Monte Carlo SE. The 3/2 of Eq. (19) is *consistent* with a cell (✓) when "
        "the mean least-squares ratio ρ of β^∞ on Eq. (19) without its 3/2 is within 2 SE of 1.5.",
        "",
        f"- Eq. (19) holds in {len(holds['lime.eq19']['holds'])} cells, fails in {len(holds['lime.eq19']['fails'])}, "
        f"undecided in {len(holds['lime.eq19']['undecided'])}."
        + (f" Holds: {'; '.join(holds['lime.eq19']['holds'])}." if holds["lime.eq19"]["holds"] else ""),
        f"- The large-d limit holds in {len(holds['lime.large_d_limit']['holds'])} cells, fails in "
        f"{len(holds['lime.large_d_limit']['fails'])}, undecided in {len(holds['lime.large_d_limit']['undecided'])}."
        + (
            f" Fails: {'; '.join(holds['lime.large_d_limit']['fails'])}."
            if holds["lime.large_d_limit"]["fails"]
            else ""
        ),
        f"- LS ratio ρ (replace cells): from {min(q['mean'] for q in ratios):.2f} to "
        f"{max(q['mean'] for q in ratios):.2f}; "
        f"3/2 consistent in {sum(abs(q['mean'] - 1.5) <= 2 * q['se'] for q in ratios)} of {len(ratios)} replace cells.",
        f"- Convergence of the large-d limit in d (replace): pooled log-log slope {pooled:.2f} ± {pooled_se:.2f} "
        f"(slice-to-slice spread {spread:.2f}); per slice below.",
        "",
        table(
            [
                "cell",
                "models",
                "Eq. (19) error",
                "best-rescaled error",
                "ρ (1.5 = Eq. (19))",
                "corr",
                "sign agree",
                "large-d error",
                "MC rel. SE",
            ],
            rows,
        ),
        "",
        "Convergence in d of the large-d limit's median error (weighted fit of log error on log d):",
        "",
        table(["UNK shift", "temperature", "semantics", "PE", "median errors", "slope ± SE"], rate_rows),
    ]
    data = {
        "profile": profile,
        "seed": seed,
        "models_per_cell": n,
        "threshold": THRESHOLD,
        "cells": results,
        "regimes": records,
        "convergence": rates,
        "pooled_slope": pooled,
        "pooled_slope_se": pooled_se,
    }
    files, skipped = {}, []
    if figures.available():
        files["figures/regime_heatmaps.png"] = _heatmaps(results)
        md += ["", "![regime heatmaps](figures/regime_heatmaps.png)"]
    else:
        skipped.append(figures.not_drawn("figures/regime_heatmaps.png"))
    data["seconds"] = time.perf_counter() - started
    return ExtraResult("\n".join(md), data, files, skipped)


def _heatmaps(results) -> bytes:
    plt = figures.pyplot()
    main = [r for r in results if r["cell"]["semantics"] == "replace" and r["cell"]["pe"] and r["cell"]["nu"] == 0.25]
    d_max = max(r["cell"]["d"] for r in main)
    main = [r for r in main if r["cell"]["d"] == d_max]
    shifts = sorted({r["cell"]["unk_shift"] for r in main})
    temps = sorted({r["cell"]["temperature"] for r in main})
    panels = (
        ("Eq. (19) relative error", lambda r: r["eq19_error"]["median"], "magma"),
        ("large-d limit relative error", lambda r: r["limit_error"]["median"], "magma"),
        ("LS ratio ρ (Eq. (19) assumes 1.5)", lambda r: r["ratio"]["mean"], "coolwarm"),
    )
    fig, axes = plt.subplots(1, 3, figsize=(15, 4.2))
    for ax, (title, get, cmap) in zip(axes, panels):
        grid = np.full((len(temps), len(shifts)), np.nan)
        for r in main:
            grid[temps.index(r["cell"]["temperature"]), shifts.index(r["cell"]["unk_shift"])] = get(r)
        im = ax.imshow(grid, origin="lower", cmap=cmap, aspect="auto")
        for i in range(len(temps)):
            for j in range(len(shifts)):
                dark = cmap == "magma" and im.norm(grid[i, j]) < 0.6
                ax.text(
                    j, i, f"{grid[i, j]:.3g}", ha="center", va="center", fontsize=8, color="white" if dark else "black"
                )
        ax.set_xticks(range(len(shifts)), [f"{s:g}" for s in shifts])
        ax.set_yticks(range(len(temps)), [f"{t:g}" for t in temps])
        ax.set_xlabel("UNK shift δ (UNK gets e^δ × a word's attention)")
        ax.set_ylabel("temperature (score SD)")
        ax.set_title(f"{title}\nreplace, PE on, ν = 0.25, d = {d_max}", fontsize=9)
        fig.colorbar(im, ax=ax)
    fig.tight_layout()
    return figures.png(fig)
