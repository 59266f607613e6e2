"""The classifiers re-implemented independently: the §2 model in plain mpmath
(:mod:`~reference.models.one_layer`), the authors' architecture in torch
(:mod:`~reference.models.torch_one_layer`, the autograd oracle and the training code) and with the authors'
parameter names (:mod:`~reference.models.torch_multihead`, the oracle of the PyTorch importer)."""
