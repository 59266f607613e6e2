"""Independent reference computations (mpmath, Arb balls, brute force, external oracles); never imports ``theory``.

- :mod:`reference.models` mirrors :mod:`theory.models`: the classifiers in plain mpmath (and the §2 model on Arb
  balls);
- :mod:`reference.explainers` mirrors :mod:`theory.explainers`: every explanation by brute force;
- :mod:`reference.engines` — the two reference engines of the §2 model behind one interface, chosen by name with
  :func:`reference.engines.engine` (``"mpmath"`` or ``"arb"``);
- :mod:`reference.central_difference` — the one central-difference routine of every reference gradient;
- :mod:`reference.oracles` — the external oracles: the torch modules (autograd, the importers' layouts, the
  training code) and the driver of the real ``lime`` package.
"""
