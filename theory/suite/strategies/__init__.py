"""Hypothesis strategies for the instances the claims are about: random models and texts
(:mod:`~theory.suite.strategies.models`), LIME instances (:mod:`~theory.suite.strategies.lime`) and held-out
documents of the trained model (:mod:`~theory.suite.strategies.trained`)."""
