"""The classifiers re-implemented independently: the §2 model in plain mpmath
(:mod:`~reference.models.one_layer`) and the authors' architecture in torch
(:mod:`~reference.models.torch_one_layer`, the autograd oracle and the training code)."""
