"""The stratified Monte Carlo ``β^∞`` at realistic d (paper §5): its precision, calibration and cost at the
authors' size."""

from __future__ import annotations

import time

import numpy as np

from theory.checking.strategies.models import authors_size_document
from theory.explainers import lime_inf
from theory.markdown import table
from theory.models.perturb import distinct_words, evaluator
from theory.studies import ExtraResult, extra


@extra(
    "lime.beta_inf_monte_carlo_precision",
    section="§5",
    title="β^∞ at realistic d: stratified Monte Carlo precision and cost (authors' size)",
)
def monte_carlo_precision_extra(profile, seed):
    """Relative standard error ``‖SE‖/‖β^∞‖`` and wall time of :func:`theory.explainers.lime_inf.beta_inf_mc` at the
    authors' size (T = 256, K = 6, d_e = 128, d_att = d_out = 64; 200 words, d = 150 distinct; random model), per
    semantics and number of samples; the calibration column compares two seeds: ``‖β(seed) − β(seed+1)‖`` over
    ``√2·‖SE‖`` (≈ 1 when the standard errors are right)."""
    words = 200
    model, doc = authors_size_document(seed, words=words)
    distinct = distinct_words(doc, words).size
    sizes = (10_000, 20_000, 50_000, 400_000)
    if profile != "ci":
        sizes = (10_000, 20_000, 50_000, 100_000, 200_000, 400_000)
    rows, data = [], {}
    for sem in ("replace", "delete"):
        f = evaluator(model, doc, words, sem)
        for n in sizes:
            started = time.perf_counter()
            first = lime_inf.beta_inf_mc(f, distinct, n, seed=seed)
            elapsed = time.perf_counter() - started
            second = lime_inf.beta_inf_mc(f, distinct, n, seed=seed + 1)
            spread = np.linalg.norm(first.beta[1:] - second.beta[1:])
            predicted = np.sqrt(np.sum(first.stderr[1:] ** 2 + second.stderr[1:] ** 2))
            entry = {
                "samples": first.samples,
                "seconds": elapsed,
                "relative_stderr": first.relative_stderr,
                "seed_spread_over_predicted": float(spread / predicted),
            }
            data[f"{sem}, n = {n}"] = entry
            rows.append(
                [sem, first.samples, f"{elapsed:.2f}", f"{first.relative_stderr:.2%}", f"{spread / predicted:.2f}"]
            )
    md = [
        f"Random model at the authors' size (T = {model.T}, K = {model.K}, d_e = {model.d_e}, d_att = d_out = "
        f"{model.d_att}), {words} words with d = {distinct} distinct, positional encoding "
        f"on (`theory.checking.strategies.models.authors_size_document({seed})`). Relative standard "
        "error = ‖SE(β_1..d)‖ / ‖β_1..d‖; calibration = ‖β(seed) − β(seed+1)‖ / √(‖SE‖² + ‖SE'‖²) (≈ 1). "
        "Wall time on the machine that ran the report.",
        "",
        table(["semantics", "samples", "seconds", "relative SE", "calibration"], rows),
    ]
    return ExtraResult("\n".join(md), data)
