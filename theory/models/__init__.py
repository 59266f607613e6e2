"""The classifiers the claims are about, in float64 numpy: :mod:`~theory.models.one_layer` is the paper's §2
model (one layer, K heads, CLS readout) with its public ``.npz`` format."""
