"""The trained 6-layer encoder against the one-layer fixture (depth, ours): rank agreement of last-layer attention
and rollout with the gradient and empirical LIME on held-out documents."""

from __future__ import annotations

import numpy as np

from theory.claims.encoder import spearman
from theory.explainers.attention import alpha_avg
from theory.explainers.gradient import g_l2
from theory.explainers.lime import lime
from theory.explainers.rollout import rollout
from theory.markdown import table
from theory.models.encoder_gradient import gradient
from theory.models.one_layer import document
from theory.models.one_layer import forward as one_layer_forward
from theory.models.one_layer_gradient import gradient as one_layer_gradient
from theory.models.perturb import word_index
from theory.sentiment.encoder_fixture import available, load_encoder_fixture
from theory.sentiment.fixture import load_fixture
from theory.studies import ExtraResult, extra

TRAINED_DOCS = {"ci": 3, "thorough": 12}
TRAINED_LIME_SAMPLES = 300


def _rank_rows(attention: dict, posthoc: dict) -> dict:
    return {f"ρ({a}, {p})": spearman(x, y) for a, x in attention.items() for p, y in posthoc.items()}


@extra(
    "encoder.trained_comparison",
    section="depth",
    title="Trained 6-layer encoder vs the one-layer fixture: attention vs gradient and LIME rank agreement",
)
def trained_comparison_extra(profile, seed):
    """On the first held-out documents of the trained encoder: Spearman (over word positions; LIME's per-word
    coefficient assigned to each occurrence) of last-layer α-avg and rollout with G-l2 and empirical LIME (delete,
    300 samples), next to α-avg of the one-layer fixture on the same documents."""
    if not available():
        return ExtraResult(markdown="The trained encoder is not committed.", data={})
    enc, one = load_encoder_fixture(), load_fixture().model
    rows = {"encoder (L = 6)": [], "one-layer fixture": []}
    for index in range(TRAINED_DOCS.get(profile, TRAINED_DOCS["ci"])):
        tokens = enc.docs[index]
        length, words = len(tokens), slice(1, len(tokens) + 1)
        doc = document(enc.model, tokens)
        g = gradient(enc.model, doc)
        positions = word_index(doc, length)
        coef = lime(enc.model, doc, length, semantics="delete", samples=TRAINED_LIME_SAMPLES, seed=seed).coef[positions]
        rows["encoder (L = 6)"].append(
            _rank_rows(
                {
                    "last-layer α-avg": alpha_avg(g.forward.alpha[0])[words],
                    "rollout": rollout(g.forward.attention)[0, words],
                },
                {"G-l2": g_l2(g.grad[0])[words], "abs(LIME)": np.abs(coef)},
            )
        )
        doc1 = document(one, tokens)
        coef1 = lime(one, doc1, length, semantics="delete", samples=TRAINED_LIME_SAMPLES, seed=seed).coef[positions]
        rows["one-layer fixture"].append(
            _rank_rows(
                {"α-avg": alpha_avg(one_layer_forward(one, doc1).alpha[0])[words]},
                {"G-l2": g_l2(one_layer_gradient(one, doc1).grad[0])[words], "abs(LIME)": np.abs(coef1)},
            )
        )
    intro = (
        f"Held-out documents 0..{len(rows['one-layer fixture']) - 1} of the trained encoder (held-out accuracy "
        f"{enc.training['test_accuracy']:.3f}; the one-layer fixture: "
        f"{load_fixture().training['test_accuracy']:.3f}); median Spearman ρ over the documents (LIME: delete, "
        f"{TRAINED_LIME_SAMPLES} samples, seed {seed})."
    )
    cells, data = [], {}
    for model_name, per_doc in rows.items():
        for key in per_doc[0]:
            values = [r[key] for r in per_doc]
            data[f"{model_name}: {key}"] = values
            cells.append([model_name, key, f"{np.median(values):.2f}", f"{min(values):.2f}", f"{max(values):.2f}"])
    lines = [intro, "", table(["model", "pair", "median ρ", "min", "max"], cells)]
    return ExtraResult(markdown="\n".join(lines), data=data)
