"""attnverify's fast side: the closed forms of "Attention Meets Post-hoc Interpretability" (Lopardo, Precioso,
Garreau, ICML 2024) in float64 numpy, and the machinery that checks them.

- :mod:`theory.models` — the classifiers (the §2 one-layer model and its ``.npz`` format);
- :mod:`theory.explainers` — the explanations and their closed forms (attention, gradients, LIME, ``β^∞``,
  Eq. (19) and the large-d limit), one method per module;
- :mod:`theory.claims` — the claim registry: one declaration per claim, one module per topic;
- :mod:`theory.suite` — the verification machinery (strategies, the float64-vs-mpmath comparison, runner,
  report, regression check, figures, ``explain``, the command line);
- :mod:`theory.sentiment` — the committed trained model and its data.

The mathematics is ``docs/theory.md``; the claims are catalogued in ``docs/claims.md``."""
