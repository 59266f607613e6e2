"""Checking a claim on an instance: the float64-vs-reference comparison (:mod:`~theory.checking.compare`), the
choice of reference engine (:mod:`~theory.checking.engines`), the Hypothesis profiles and strategies that draw
the instances (:mod:`~theory.checking.strategies`), and the given populations (the trained fixture, a user's
model: :mod:`~theory.checking.population`).  Used by the claims; imports nothing above them."""
