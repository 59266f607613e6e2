"""Explanations of a model's output and their closed forms, one method per module: attention (§3), gradients
(§4), ``f`` on perturbed documents under a removal semantics (:mod:`~theory.models.perturb`), empirical
LIME, its population limit ``β^∞`` and the approximations of ``β^∞`` (Eq. (19), the large-d limit) (§5); and the
other post-hoc explainers of docs/theory.md §11.2 — the removal semantics they share (:mod:`~theory.models.removal`),
Shapley values, KernelSHAP, occlusion, Integrated Gradients, SmoothGrad and C-LIME."""
