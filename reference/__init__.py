"""Independent reference computations (mpmath, brute force, external oracles); never imports ``theory``.
:mod:`reference.models` mirrors :mod:`theory.models`, :mod:`reference.explainers` mirrors
:mod:`theory.explainers`."""
