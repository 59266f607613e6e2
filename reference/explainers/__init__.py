"""Explanations by brute force over the mpmath model: central-difference gradients, every perturbed document
through the full forward pass, lime 0.2.0.1's sampler and ridge (and the driver of the real ``lime``
package), LIME's exact law with ``β^∞`` by enumeration, Shapley values by their formula over every subset, and
Integrated Gradients, SmoothGrad and C-LIME by mpmath quadrature (§6)."""
