"""The classifiers re-implemented independently: the §2 model in plain mpmath (:mod:`~reference.models.one_layer`)
and on Arb balls (:mod:`~reference.models.one_layer_arb`; both behind :mod:`reference.engines`), and the encoder
family in plain mpmath (:mod:`~reference.models.encoder`).  The torch re-implementations are external oracles:
:mod:`reference.oracles`."""
