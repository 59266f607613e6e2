"""Explanations of a model's output and their closed forms, one method per module, for any model of the protocol
(:class:`~theory.models.protocol.AttentionClassifier`): attention (§3), gradient aggregates (§4), empirical LIME, its
population limit ``β^∞`` and the approximations of ``β^∞`` (Eq. (19), the large-d limit) (§5); and the other
post-hoc explainers of docs/theory.md §11.2 — Shapley values, KernelSHAP, occlusion, Integrated Gradients, SmoothGrad
and C-LIME — on ``f`` of perturbed documents (:mod:`~theory.models.perturb`, :mod:`~theory.models.removal`).
:mod:`~theory.explainers.registry` is the one registry of methods (``explain(model, text, method, *, semantics,
samples, seed)``), each returning an :class:`~theory.explainers.explanation.Explanation`."""
