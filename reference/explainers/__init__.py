"""Explanations by brute force over the mpmath models: central-difference gradients
(:mod:`reference.central_difference`), every perturbed document through the full forward pass of a reference
engine, lime 0.2.0.1's sampler and ridge, LIME's exact law with ``β^∞`` by enumeration, Shapley values by their
formula over every subset, and Integrated Gradients, SmoothGrad and C-LIME by mpmath quadrature (§6)."""
