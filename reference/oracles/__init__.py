"""The external oracles, in one place: other people's code run on our models.

- :mod:`~reference.oracles.torch_one_layer` — the authors' architecture in torch (the autograd oracle of the
  gradient and the training code of the committed model);
- :mod:`~reference.oracles.torch_multihead` — the authors' ``MultiHead`` with their parameter names (the oracle of
  the PyTorch importer);
- :mod:`~reference.oracles.torch_encoder` — torch's own ``nn.TransformerEncoder`` (the oracle of the encoder
  family and its importer);
- :mod:`~reference.oracles.torch_positional` — the sinusoidal positional encoding the three share;
- :mod:`~reference.oracles.lime_package` — the driver of the real ``lime`` 0.2.0.1 package;
- :mod:`~reference.oracles.transformers_bert` — ``transformers``' own BERT-family classes (the oracle of the BERT
  family);
- :mod:`~reference.oracles.bert_packages` — lime, shap's exact explainer with its ``Text`` masker and captum's
  ``LayerIntegratedGradients`` on a BERT-family model and its tokenizer.

shap and captum on the §2 model are driven from ``tests/test_explainer_oracles.py``.
"""
