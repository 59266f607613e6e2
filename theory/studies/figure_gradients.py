"""Figure 5 of the paper: the closed-form gradient against autodiff (torch autograd, or the mpmath central
differences without torch), and the authors' formula's error at CLS (paper §4)."""

from __future__ import annotations

import numpy as np

import reference.explainers.gradient as ref_grad
from theory import optional
from theory.checking.strategies.models import ModelSpec
from theory.explainers.gradient import magnitudes
from theory.models.one_layer import document
from theory.models.one_layer_gradient import authors_gradient, gradient
from theory.studies import ExtraResult, extra, figures
from theory.studies.query_path import autograd


@extra("gradient.figure5", section="§4", title="Figure 5: closed-form gradient vs autodiff")
def figure5_extra(profile, seed):
    """Heatmaps (positions × embedding coordinates) of the closed-form ``∇_t``, the autodiff gradient (torch, or
    the mpmath central differences without torch), their difference, and the authors' formula's difference."""
    spec = ModelSpec(K=4, d_e=32, d_att=16, d_out=16, V=60, T=24, pe=True, score_scale=1.0, seed=seed)
    tokens = tuple(np.random.default_rng(seed).integers(2, 60, size=14).tolist())
    model = spec.build()
    doc = document(model, tokens)
    L = len(tokens)
    exact = gradient(model, doc).grad[0, : L + 1]
    authors = authors_gradient(model, doc)[0, : L + 1]
    torch_missing, skipped = optional.missing("torch"), []
    if not torch_missing:
        source = "torch autograd"
        auto = autograd(model, doc)[: L + 1]
    else:
        source = "mpmath central differences"
        auto = np.array([[float(x) for x in row] for row in ref_grad.gradient(model, doc, positions=range(L + 1))])
        skipped.append(f"torch autograd (mpmath central differences compared instead): {optional.needs(torch_missing)}")
    mag = magnitudes(model, doc)[0, : L + 1]
    err = float((np.abs(exact - auto) / mag).max())
    normwise = float(np.abs(exact - auto).max() / np.abs(auto).max())
    authors_err = np.linalg.norm(authors[0] - auto[0]) / np.linalg.norm(auto[0])
    md = [
        f"One document (L = {L} words, T = {spec.T}, K = {spec.K}, d_e = {spec.d_e}, random model seed {seed}). "
        f"Closed form vs {source}: max error {err:.1e} relative to the magnitude of the terms "
        f"({normwise:.1e} relative to the largest gradient entry). The authors' "
        f"formula at CLS is off by {authors_err:.1%} of ‖∇_0‖ (row 0 of the last panel); elsewhere it is exact."
    ]
    files = {}
    if figures.available():
        plt = figures.pyplot()
        fig, axes = plt.subplots(1, 4, figsize=(19, 4.8), constrained_layout=True)
        vmax = float(np.abs(exact).max())
        with np.errstate(divide="ignore"):
            diff = np.log10(np.abs(exact - auto) + 1e-300)
            adiff = np.log10(np.abs(authors - auto) + 1e-300)
        panels = [
            (exact, "closed form ∇_t (exact, ours at CLS)", "RdBu_r", -vmax, vmax),
            (auto, source, "RdBu_r", -vmax, vmax),
            (np.clip(diff, -20, 0), "log10 |closed form − autodiff|", "viridis", -20, 0),
            (np.clip(adiff, -20, 0), "log10 |authors' formula − autodiff|", "viridis", -20, 0),
        ]
        for ax, (values, title, cmap, lo, hi) in zip(axes, panels):
            im = ax.imshow(values, cmap=cmap, vmin=lo, vmax=hi, aspect="auto")
            ax.set_title(title, fontsize=10)
            fig.colorbar(im, ax=ax, fraction=0.06, pad=0.02)
            ax.set_xlabel("embedding coordinate")
            ax.set_yticks(range(L + 1))
            ax.set_yticklabels(["CLS"] + [f"{t}: {w}" for t, w in enumerate(tokens, 1)], fontsize=7)
        axes[0].set_ylabel("position: token id")
        files["figures/fig5_gradients.png"] = figures.png(fig)
        md += ["", "![closed-form gradient vs autodiff](figures/fig5_gradients.png)"]
    else:
        skipped.append(figures.not_drawn("figures/fig5_gradients.png"))
    return ExtraResult(
        "\n".join(md),
        {
            "max error vs autodiff": err,
            "normwise error vs autodiff": normwise,
            "autodiff": source,
            "authors' CLS error / ‖∇_0‖": float(authors_err),
        },
        files,
        skipped,
    )
