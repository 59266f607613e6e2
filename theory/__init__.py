"""attnverify's fast side: the closed forms of "Attention Meets Post-hoc Interpretability" (Lopardo, Precioso,
Garreau, ICML 2024) in float64 numpy, and the machinery that checks them.

The packages, each importing only those listed before it (``tests/test_layers.py``):

- :mod:`theory.models` — the classifiers (the §2 one-layer model, the encoder family) and their file formats;
- :mod:`theory.explainers` — the explanations and their closed forms, one method per module, and the registry
  of explanation methods;
- :mod:`theory.sentiment` — the committed trained models and their data;
- :mod:`theory.checking` — the float64-vs-reference comparison, engines, profiles, strategies, populations;
- :mod:`theory.claims` — the claim registry: one declaration per claim (or per family), one module per id prefix;
- :mod:`theory.studies` — the sweeps, tables and figures beyond one instance of one claim (the extras' registry);
- :mod:`theory.running` — the runner, parallel execution, output;
- :mod:`theory.reporting` — the reports, the baseline comparison, the catalogue;
- :mod:`theory.api` — the Python API (load, explain, check) for notebooks, docs/python.md;
- :mod:`theory.cli` — the ``attnverify`` command line.

The mathematics is ``docs/theory.md``; the claims are catalogued in ``docs/claims.md``."""
