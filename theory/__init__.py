"""attnverify's closed forms: the §2 model and the claims of "Attention Meets Post-hoc Interpretability"
(Lopardo, Precioso, Garreau, ICML 2024), in float64 numpy.  See THEORY.md and the README."""
