"""Hypothesis strategies for the instances the claims are about: random models and texts
(:mod:`~theory.suite.strategies.models`), LIME instances (:mod:`~theory.suite.strategies.lime`), the §6 explainers'
instances (:mod:`~theory.suite.strategies.explainers`) and held-out
documents of the trained model (:mod:`~theory.suite.strategies.trained`)."""
