"""Hypothesis strategies for the instances the claims are about: random models and texts
(:mod:`~theory.checking.strategies.models`), LIME instances (:mod:`~theory.checking.strategies.lime`), the §6
explainers' instances (:mod:`~theory.checking.strategies.explainers`) and held-out
documents of the trained model (:mod:`~theory.checking.strategies.trained`)."""
