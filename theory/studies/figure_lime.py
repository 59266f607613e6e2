"""Figure 4 of the paper, analog: empirical LIME against Eq. (19), the large-d limit and ``β^∞`` on one
regime-map instance (paper §5)."""

from __future__ import annotations

import numpy as np

from theory.checking.approximation import relative_error
from theory.explainers import lime_inf
from theory.explainers.lime import lime
from theory.explainers.lime_approx import eq19, large_d_limit
from theory.studies import ExtraResult, extra, figures, regimes

FIG4_RUNS = 20


@extra("lime.figure4", section="§5", title="Figure 4 analog: empirical LIME vs Eq. (19), the large-d limit and β^∞")
def figure4_extra(profile, seed):
    """One document (a regime-map instance: UNK shift 0, temperature 1, d = 15, replace): per word, the boxplot
    of empirical LIME (theory.explainers.lime, 5000 samples, seeds seed..seed+19), and Eq. (19), the large-d limit
    and β^∞."""
    cell = regimes.Cell(0.0, 1.0, 15, "replace")
    inst = regimes.instance(cell, (seed, 999, 0))
    model, doc, length = inst.model, inst.doc, inst.length
    runs = np.array(
        [lime(model, doc, length, semantics="replace", samples=5000, seed=seed + k).coef for k in range(FIG4_RUNS)]
    )
    bi = lime_inf.beta_inf_model(model, doc, length, semantics="replace", samples=200_000, seed=seed)
    e19, lim = eq19(model, doc, length), large_d_limit(model, doc, length)
    beta = bi.beta[1:]
    err19 = relative_error(e19, beta, bi.stderr[1:])[0]
    errlim = relative_error(lim, beta, bi.stderr[1:])[0]
    md = [
        f"Instance `regimes.instance(Cell(0, 1, 15, 'replace'), ({seed}, 999, 0))` (T = 256, K = 4, {length} tokens, "
        f"d = 15), replace semantics; {FIG4_RUNS} runs of empirical LIME (5000 samples, seeds "
        f"{seed}..{seed + FIG4_RUNS - 1}); "
        f"β^∞ by stratified Monte Carlo (200 000 samples, relative SE "
        f"{np.linalg.norm(bi.stderr[1:]) / np.linalg.norm(beta):.2%}). "
        f"Relative error: Eq. (19) {err19:.3f}, large-d limit {errlim:.4f}; mean empirical LIME vs β^∞ "
        f"{np.linalg.norm(runs.mean(axis=0) - beta) / np.linalg.norm(beta):.4f}."
    ]
    files, skipped = {}, []
    if figures.available():
        plt = figures.pyplot()
        fig, ax = plt.subplots(figsize=(11, 4))
        x = np.arange(1, beta.size + 1)
        ax.boxplot(runs, positions=x, widths=0.5, showfliers=False)
        ax.plot(x, e19, "rx", ms=8, label="Eq. (19) (with 3/2)")
        ax.plot(x, lim, "g^", ms=7, mfc="none", label="large-d limit (ours)")
        ax.plot(x, beta, "b.", ms=9, label="β^∞ (Monte Carlo)")
        ax.axhline(0, color="grey", lw=0.5)
        ax.set_xlabel("word (lime's feature order)")
        ax.set_ylabel("LIME coefficient")
        ax.set_title(f"Empirical LIME ({FIG4_RUNS} runs × 5000 samples, replace) vs approximations", fontsize=10)
        ax.legend(fontsize=8)
        files["figures/fig4_lime_eq19.png"] = figures.png(fig)
        md += ["", "![Figure 4 analog](figures/fig4_lime_eq19.png)"]
    else:
        skipped.append(figures.not_drawn("figures/fig4_lime_eq19.png"))
    return ExtraResult(
        "\n".join(md),
        {"eq19_error": err19, "limit_error": errlim, "seed": seed, "instance_seed": [seed, 999, 0]},
        files,
        skipped,
    )
