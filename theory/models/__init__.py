"""The classifiers the claims are about, in float64 numpy: :mod:`~theory.models.one_layer` is the paper's §2
model (one layer, K heads, CLS readout) with its public ``.npz`` format; :mod:`~theory.models.from_torch`
converts the authors' PyTorch ``MultiHead`` state_dict into it; :mod:`~theory.models.tokenizer` (torchtext's
``basic_english``) and :mod:`~theory.models.vocabulary` turn a user's texts into its documents."""
