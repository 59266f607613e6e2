"""The drivers of the three explanation packages on a BERT-family model (docs/theory.md §13, the oracle claims
``bert.lime_matches_lime_package``, ``bert.shapley_matches_shap``, ``bert.ig_matches_captum``): lime 0.2.0.1's
``LimeTextExplainer``, shap's exact explainer with its ``Text`` masker, captum's ``LayerIntegratedGradients`` —
each used as its documentation shows, on the raw text, with a model given as a function of strings (lime, shap)
or the ``transformers`` model of :mod:`reference.oracles.transformers_bert` (captum).

Independent of ``theory``: the strings a package makes are tokenized here with the model's own ``tokenizers``
tokenizer (:func:`encode_batch`: ``[CLS] pieces… [SEP]``, right-padded with the pad id and attention mask 0), and
the caller evaluates ``f`` on those ids.

Feature mappings (what each package calls a feature, stated by the claims):

- lime splits the raw string on ``\\W+`` (``bow=True``: the distinct words, first appearance first; a removed word
  loses every occurrence and the separators stay).  On a text of lower-case letter words joined by single spaces,
  lime's words are the BERT pre-tokenizer's words (whitespace and punctuation split) and the perturbed string
  ``"great  movie"`` tokenizes to the original pieces with the removed words' pieces dropped (``delete``);
- shap's ``Text`` masker makes one feature per *piece* (``[CLS]``/``[SEP]`` kept: ``keep_prefix = keep_suffix = 1``),
  and with a tokenizer that has a ``mask_token`` it writes ``" [MASK]"`` for each masked piece
  (``collapse_mask_token="auto"`` → False) into the string it passes to the model; given another ``mask_token``
  string (e.g. ``[UNK]``) "auto" collapses runs of masked pieces into one, so the claims pass False;
- captum attributes to the output of the word-embedding layer (``E[ξ_t]``), the baseline's layer output computed from
  the baseline ids; the positions and token types are those of the input ids.
"""

from __future__ import annotations

import numpy as np

from reference.oracles.lime_package import coefficients


def encode_batch(tokenizer, strings, pad_id: int) -> tuple[np.ndarray, np.ndarray]:
    """The documents of strings through a ``tokenizers.Tokenizer`` (its post-processor adds the special tokens).

    Args:
        tokenizer: the model's ``tokenizers.Tokenizer`` (no padding, no truncation).
        strings: the texts.
        pad_id: the pad id the shorter documents are padded with.

    Returns:
        ``(ids, mask)``, both ``(B, T)`` with ``T`` the longest document: the ids right-padded with ``pad_id`` and
        the attention mask (1 real, 0 padding).
    """
    encodings = [tokenizer.encode(str(s)).ids for s in strings]
    T = max(len(ids) for ids in encodings)
    ids = np.full((len(encodings), T), pad_id, dtype=np.int64)
    mask = np.zeros((len(encodings), T))
    for i, row in enumerate(encodings):
        ids[i, : len(row)] = row
        mask[i, : len(row)] = 1.0
    return ids, mask


def run_lime_text(f_strings, text: str, n: int, random_state: int) -> tuple[np.ndarray, float, list[str]]:
    """``LimeTextExplainer(random_state=random_state).explain_instance(text, …, num_samples=n)`` with lime's defaults
    (``\\W+`` split, ``bow=True``, cosine kernel of width 25, ``Ridge(alpha=1)``) except ``num_features`` (at least
    the number of words, so that every word is kept).

    The classifier returns the two columns ``(−f, f)`` and label 1 is explained.

    Args:
        f_strings: maps a list of (perturbed) strings to ``f`` ``(B,)``.
        text: the raw text.
        n: the number of samples, the original included.
        random_state: lime's seed.

    Returns:
        ``(coef in lime's feature order, intercept, lime's words)``.
    """
    from lime.lime_text import IndexedString, LimeTextExplainer

    def classifier(strings):
        f = np.asarray(f_strings(list(strings)), dtype=np.float64)
        return np.column_stack([-f, f])

    d = IndexedString(text).num_words()
    explanation = LimeTextExplainer(random_state=random_state).explain_instance(
        text, classifier, num_features=max(d, 10), num_samples=n
    )
    coef = coefficients(explanation, d)
    words = [str(explanation.domain_mapper.indexed_string.word(j)) for j in range(d)]
    return coef, float(explanation.intercept[1]), words


def fast_tokenizer(tokenizer, names: dict[str, str]):
    """The ``transformers`` tokenizer (``PreTrainedTokenizerFast``) around a ``tokenizers.Tokenizer``, as shap's
    ``Text`` masker takes it.

    Args:
        tokenizer: the model's ``tokenizers.Tokenizer``.
        names: the special tokens' strings by kind: ``cls``, ``sep``, ``pad``, ``unk``, ``mask``.

    Returns:
        The ``PreTrainedTokenizerFast`` with those special tokens.
    """
    import transformers

    return transformers.PreTrainedTokenizerFast(
        tokenizer_object=tokenizer, **{f"{kind}_token": name for kind, name in names.items()}
    )


def run_shap_exact_text(
    f_strings, hf_tokenizer, text: str, mask_token: str | None = None
) -> tuple[np.ndarray, float, list[str]]:
    """``shap.explainers.Exact(f, shap.maskers.Text(hf_tokenizer, mask_token, collapse_mask_token=False))([text])``:
    exact Shapley values of the pieces (module docstring: shap's features), the masker's partition tree switched off
    (code comment: Exact would otherwise fail, or compute Owen values).

    Args:
        f_strings: maps an array of (masked) strings to ``f`` ``(B,)``.
        hf_tokenizer: the model's tokenizer as ``transformers`` wraps it (:func:`fast_tokenizer`).
        text: the raw text.
        mask_token: the string written for a masked piece (None: the tokenizer's ``mask_token``).

    Returns:
        ``(values, base value, segments)``: one value per token ``[CLS] pieces… [SEP]`` (0 at the special tokens,
        which shap keeps), ``f`` with every piece masked, and shap's text segment of each token.
    """
    import shap

    masker = shap.maskers.Text(hf_tokenizer, mask_token=mask_token, collapse_mask_token=False)
    # shap 0.51's Exact explainer reads a masker's clustering as a fixed partition tree (then it computes Owen
    # values): Text's is a function of the text, on which Exact.__init__ fails (partition_masks(masker.clustering):
    # "'function' object has no attribute 'shape'").  Without it Exact enumerates every coalition of the pieces
    # (Shapley values); the masking itself (Text.__call__) is unchanged.
    masker.clustering = None
    explainer = shap.explainers.Exact(lambda strings: np.asarray(f_strings(strings), dtype=np.float64), masker)
    explanation = explainer([text], batch_size=2 ** masker.mask_shapes(text)[0][0], silent=True)
    return (
        np.asarray(explanation.values[0], dtype=np.float64),
        float(np.asarray(explanation.base_values).reshape(-1)[0]),
        [str(s) for s in explanation.data[0]],
    )


def run_captum_ig(model, output, ids, mask, baseline_ids, n_steps: int) -> tuple[np.ndarray, float]:
    """``captum.attr.LayerIntegratedGradients(output, word_embeddings).attribute(ids, baseline_ids, n_steps=n_steps,
    method="gausslegendre", return_convergence_delta=True)``, the attention mask passed unchanged.

    Args:
        model: a ``transformers`` model (:func:`reference.oracles.transformers_bert.build`).
        output: ``output(ids, mask) -> f`` ``(B,)`` torch tensor (:func:`reference.oracles.transformers_bert.output`).
        ids: ``(T,)`` token ids of the document.
        mask: ``(T,)`` its attention mask.
        baseline_ids: ``(T,)`` the baseline's ids.
        n_steps: the Gauss–Legendre nodes.

    Returns:
        ``(IG per token (T,), convergence delta)``: ``Σ_k`` of the attributions to ``E[ξ_t]``, and captum's
        ``Σ IG − (f(x) − f(x'))``.
    """
    import torch
    from captum.attr import LayerIntegratedGradients

    base = getattr(model, model.base_model_prefix, model)
    ig = LayerIntegratedGradients(output, base.embeddings.word_embeddings)
    attributions, delta = ig.attribute(
        torch.tensor(np.asarray(ids, dtype=np.int64))[None],
        baselines=torch.tensor(np.asarray(baseline_ids, dtype=np.int64))[None],
        additional_forward_args=(torch.tensor(np.asarray(mask, dtype=np.float64))[None],),
        n_steps=n_steps,
        method="gausslegendre",
        return_convergence_delta=True,
    )
    return attributions[0].sum(-1).detach().numpy(), float(delta[0])
