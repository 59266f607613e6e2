"""The CLS query-path term that the authors' gradient formula omits (ours; paper §4, claim
``gradient.cls_query_path``): its size relative to the exact CLS gradient over random models, and the closed
form's agreement with torch autograd on the same cases."""

from __future__ import annotations

import numpy as np

from theory import optional
from theory.checking.strategies.models import SCORE_SCALES, Case, ModelSpec
from theory.explainers.gradient import magnitudes
from theory.markdown import table
from theory.models.one_layer_gradient import gradient
from theory.studies import ExtraResult, extra

AUTHORS_SIZE = dict(K=6, d_e=128, d_att=64, d_out=64, T=256)


def autograd(model, doc) -> np.ndarray:
    """``∇_t`` by torch autograd (the external oracle); the caller checks that torch is installed.

    Args:
        model: a §2 model.
        doc: one token document.

    Returns:
        The gradient of ``f`` with respect to every embedding, shape ``(T, d_e)``.
    """
    import torch

    from reference.oracles.torch_one_layer import AttentionClassifier

    module = AttentionClassifier.from_npz_arrays(model)
    X = module.embed(torch.as_tensor(np.atleast_2d(doc))).detach().requires_grad_(True)
    module.forward_embedded(X)[0, 0].backward()
    grad = X.grad
    assert grad is not None  # backward() fills the gradient of X, a leaf that requires grad
    return grad[0].numpy()


def _random_case(rng, score_scale, authors_size=False):
    if authors_size:
        spec = ModelSpec(**AUTHORS_SIZE, V=1000, pe=True, score_scale=score_scale, seed=int(rng.integers(2**32)))
        L = int(rng.integers(10, 255))
    else:
        T = int(rng.integers(2, 33))
        spec = ModelSpec(
            K=int(rng.integers(1, 5)),
            d_e=int(rng.integers(2, 17)),
            d_att=int(rng.integers(1, 9)),
            d_out=int(rng.integers(1, 9)),
            V=50,
            T=T,
            pe=bool(rng.integers(2)),
            score_scale=score_scale,
            seed=int(rng.integers(2**32)),
        )
        L = int(rng.integers(1, T))
    return Case(spec, tuple(rng.integers(2, spec.V, size=L).tolist()))


@extra("gradient.query_path", section="§4", title="The CLS query-path term the authors' code omits (ours)")
def query_path_extra(profile, seed):
    """``‖∇_0 − authors' ∇_0‖ / ‖∇_0‖`` (the missing query path relative to the exact CLS gradient) over random
    models, by attention peakedness; plus the closed form's agreement with torch autograd on the same cases."""
    rng = np.random.default_rng(seed)
    n_small, n_large = (100, 4) if profile == "ci" else (1000, 20)
    rows, data, worst = [], {}, {"terms": 0.0, "normwise": 0.0}
    torch_missing = optional.missing("torch")
    for authors_size in (False, True):
        for scale in SCORE_SCALES:
            ratios, cls_share, alpha0 = [], [], []
            for _ in range(n_large if authors_size else n_small):
                case = _random_case(rng, scale, authors_size)
                g = gradient(case.model, case.doc)
                norms = np.linalg.norm(g.grad[0], axis=-1)
                ratios.append(float(np.linalg.norm(g.query_path[0]) / norms[0]) if norms[0] > 0 else 0.0)
                cls_share.append(float(norms[0] / norms.max()) if norms.max() > 0 else 0.0)
                alpha0.append(float(g.forward.alpha[0, :, 0].mean()))
                if not torch_missing:
                    auto = autograd(case.model, case.doc)
                    mag = magnitudes(case.model, case.doc)[0]
                    diff = np.abs(g.grad[0] - auto)
                    worst["terms"] = max(worst["terms"], float((diff / np.where(mag > 0, mag, 1)).max()))
                    if np.abs(auto).max() > 0:
                        worst["normwise"] = max(worst["normwise"], float(diff.max() / np.abs(auto).max()))
            label = "authors' size" if authors_size else "small"
            r = np.array(ratios)
            data[f"{label}, score scale {scale}"] = {
                "n": len(r),
                "min": float(r.min()),
                "median": float(np.median(r)),
                "max": float(r.max()),
                "share > 1%": float(np.mean(r > 0.01)),
                "median ‖∇_0‖ / max_t ‖∇_t‖": float(np.median(cls_share)),
                "median α-avg_0": float(np.median(alpha0)),
            }
            rows.append(
                [
                    label,
                    f"{scale:g}",
                    len(r),
                    f"{r.min():.2e}",
                    f"{np.median(r):.2e}",
                    f"{r.max():.2e}",
                    f"{np.mean(r > 0.01):.0%}",
                    f"{np.median(cls_share):.2f}",
                    f"{np.median(alpha0):.2g}",
                ]
            )
    md = [
        "The authors' code applies the word-position formula at the CLS position too. The exact gradient there "
        "has the extra query path `(1/K) Σ_i W_qᵀ W_k Σ_u α_u (c_u − f^(i)) e_u / √d_att` (claim "
        "`gradient.cls_query_path`, ours). Size of the missing term relative to the exact gradient, "
        "`‖query path‖₂ / ‖∇_0‖₂`, over random models (small: K 1–4, d_e 2–16, d_att, d_out 1–8, T 2–32; authors' "
        "size: K = 6, d_e = 128, d_att = d_out = 64, T = 256, 10–254 words), by the standard deviation of the "
        "attention scores (score scale). The last two columns say how large the CLS gradient is next to the "
        "largest gradient of the document and how much attention CLS gets.",
        "",
        table(
            [
                "models",
                "score scale",
                "n",
                "min",
                "median",
                "max",
                "share > 1%",
                "median ‖∇_0‖ / max_t ‖∇_t‖",
                "median α-avg_0",
            ],
            rows,
        ),
        "",
        "Reading: the authors' value at CLS carries the factor `α_0`, the query path collects every position's "
        "`α_u (c_u − f^(i))`. Whenever CLS itself gets little attention (long documents, or attention peaked on a "
        "word) the missing term is essentially the whole CLS gradient (ratio ≈ 1), and the CLS gradient is then "
        "typically the largest of the document. The term is small only when the scores barely depend on the "
        "embeddings (it is proportional to `W_qᵀ W_k`: score scale 0.01) or when CLS takes most of the attention, "
        "so that every `α_u (c_u − f^(i))` vanishes. A ratio above 1 means the two parts partly cancel. Word and "
        "padding positions are unaffected.",
    ]
    if torch_missing:
        return ExtraResult(
            "\n".join(md), data, skipped=[f"the agreement with torch autograd: {optional.needs(torch_missing)}"]
        )
    md += [
        "",
        f"On the same cases the closed form (every position, CLS included) agrees with torch autograd to "
        f"{worst['terms']:.1e} relative to the magnitude of the terms, {worst['normwise']:.1e} relative "
        f"to the largest gradient entry of the document (worst cases).",
    ]
    data["torch agreement, worst, relative to the magnitude of the terms"] = worst["terms"]
    data["torch agreement, worst, relative to the largest gradient entry"] = worst["normwise"]
    return ExtraResult("\n".join(md), data)
