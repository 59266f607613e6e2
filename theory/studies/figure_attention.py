"""Figure 3 of the paper, analog: the full self-attention matrices of every head on one document, of which the
§2 classifier reads only the CLS row (paper §3)."""

from __future__ import annotations

from theory.checking.strategies.models import ModelSpec
from theory.models.one_layer import attention_matrices, document, forward
from theory.studies import ExtraResult, extra, figures


@extra("attention.figure3", section="§3", title="Figure 3 analog: the heads' attention matrices")
def figure3(profile, seed):
    """The full self-attention matrices of every head on one document; the classifier only reads row 0."""
    spec = ModelSpec(K=4, d_e=16, d_att=8, d_out=8, V=30, T=12, pe=True, score_scale=3.0, seed=seed)
    model = spec.build()
    tokens = (5, 9, 12, 9, 17, 5, 23, 8)
    matrices = attention_matrices(model, document(model, tokens))
    cls_row = forward(model, document(model, tokens)).alpha[0]
    markdown = (
        f"One random model (`{spec!r}`) on the text {list(tokens)} (CLS first, UNK padding after position "
        f"{len(tokens)}). "
        "Each panel is one head's attention matrix (row = query position, column = key position). The "
        "classifier of the paper only uses the first row — the CLS query — so the other rows, which are what "
        "attention heat maps usually show, play no role in its output. Row 0 of every panel equals the α that "
        f"the model uses (max difference {float(abs(matrices[:, 0, :] - cls_row).max()):.1e})."
    )
    files, skipped = {}, []
    if figures.available():
        plt = figures.pyplot()
        labels = ["CLS", *map(str, tokens), *["UNK"] * (model.T - 1 - len(tokens))]
        fig, axes = plt.subplots(1, model.K, figsize=(3.2 * model.K, 3.4))
        for i, ax in enumerate(axes):
            ax.imshow(matrices[i], cmap="Blues", vmin=0, vmax=1)
            ax.set_title(f"head {i + 1}")
            ax.set_xticks(range(model.T), labels, rotation=90, fontsize=7)
            ax.set_yticks(range(model.T), labels, fontsize=7)
            ax.add_patch(plt.Rectangle((-0.5, -0.5), model.T, 1, fill=False, edgecolor="crimson", lw=1.5))
        fig.suptitle("Self-attention matrices (red: the CLS row used by the classifier)")
        files["figures/fig3_attention_matrices.png"] = figures.png(fig)
        markdown += "\n\n![Figure 3 analog](figures/fig3_attention_matrices.png)"
    else:
        skipped.append(figures.not_drawn("figures/fig3_attention_matrices.png"))
    return ExtraResult(markdown=markdown, files=files, skipped=skipped)
