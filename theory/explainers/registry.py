"""``attnverify explain``: one document, one explanation method, one JSON-shaped answer (the command asks for
several methods by calling :func:`explain` once per method; :mod:`theory.cli.explain_view` shows them).

Every method returns ``{"method", "f", "positions", "tokens", "scores_of", "scores"}`` where ``positions`` are
``0..L`` (CLS and the words; padding is not explained), ``tokens[k]`` is the token at ``positions[k]``, and
``scores_of`` names the array that ``scores`` (and ``stderr``, when present) index: ``"positions"`` —
``scores[k]`` belongs to ``positions[k]`` — or ``"words"``; the two always have the same length.

LIME methods explain *words*, not positions: they add ``"words"`` (the ``d`` distinct word ids in order of
first appearance, lime's feature order) and ``"intercept"``, and their ``"scores"[j]`` belongs to
``words[j]`` (``scores_of = "words"``); they also record their options (``"semantics"``, ``"samples"``,
``"seed"``).  Methods that take
options list them in :data:`OPTIONS`; :func:`explain` passes each method only its own options and rejects
an option the method does not take.  The approximations of LIME's ``β^∞`` (``eq19``, ``lime-large-d``) answer
like ``lime-inf`` (``"words"``, per-word ``"scores"``, ``"semantics": "replace"``) without an intercept.

Both model families: :data:`METHODS` are the §2 model's, :data:`ENCODER_METHODS` an encoder's, and
:data:`NOT_DEFINED` says in one line why a method of one family is not defined for the other.

**Zeros by LayerNorm** (:func:`layer_norm_zeros`, docs/theory.md §11.1).  In a pre-norm encoder
``Σ_k ∇_{t,k} f = 0`` exactly at every word position, at every input: the residual stream carries ``e_t``
unchanged and every sublayer reads it through a LayerNorm, whose input gradient sums to 0 over the coordinates.
So ``grad-avg`` and ``smoothgrad`` (scores ``Σ_k``, resp. their mean, of gradients) are 0 there; their float64
values are rounding noise, kept in ``scores`` and flagged by ``"exactly_zero": {"positions", "reason"}``.
``clime`` estimates SmoothGrad's population value (Stein's lemma), so its ``"population_zero"`` names the same
positions: its estimates there are sampling noise.
"""

from __future__ import annotations

import numpy as np

from theory.errors import InputError
from theory.explainers.attention import alpha_avg, alpha_max
from theory.models.encoder_gradient import gradient as encoder_gradient
from theory.explainers.gradient import g_avg, g_l1, g_l2, g_x_input, gradient
from theory.models.perturb import distinct_words
from theory.memory import beta_inf_bytes, lime_bytes
from theory.explainers.rollout import rollout
from theory.models.encoder import forward as encoder_forward
from theory.models.one_layer import Model, document, forward
from theory.explainers.finite import finite_result


def _attention(explanation):
    """An attention explanation of the forward pass: the CLS attention ``fw.alpha[0]`` (the last layer's, for an
    encoder) aggregated over heads, or attention rollout over an encoder's layers."""
    def method(model: Model, doc: np.ndarray, length: int) -> dict:
        fw = (forward if isinstance(model, Model) else encoder_forward)(model, doc)
        return {"f": float(fw.f[0]), "scores": explanation(fw)[: length + 1].tolist()}
    return method


def _gradient(aggregate):
    """Gradient aggregates (§4) of the exact ``∇_t`` (CLS query path included at position 0): the closed form
    of the §2 model, backpropagation for an encoder."""
    def method(model: Model, doc: np.ndarray, length: int) -> dict:
        g = (gradient if isinstance(model, Model) else encoder_gradient)(model, doc)
        scores = aggregate(g.grad[0], g.forward.X[0])
        return {"f": float(g.forward.f[0]), "scores": scores[: length + 1].tolist()}
    return method


def _lime(model: Model, doc: np.ndarray, length: int, semantics: str = "delete", samples: int = 5000,
          seed: int = 0) -> dict:
    """Empirical LIME (lime 0.2.0.1 defaults, §5) under the chosen removal semantics."""
    from theory.explainers.lime import lime
    from theory.explainers.registry_posthoc import affordable_evaluations

    if isinstance(samples, int) and samples >= 2:
        d = distinct_words(doc, length).size
        affordable_evaluations(model, doc, length, semantics, samples,
                               f"LIME with --samples {samples} and d = {d} distinct words", lime_bytes(samples, d))
    result = lime(model, doc, length, samples, seed, semantics)
    return {"f": float(result.f[0]), "scores": result.coef.tolist(), "words": result.words.tolist(),
            "intercept": result.intercept, "semantics": semantics, "samples": int(samples), "seed": int(seed)}


def _approximation(name):
    """An approximation of ``β^∞`` under ``replace`` (§5: the paper's Eq. (19), the suite's large-d limit;
    ``theory.explainers.lime_approx.<name>``), per distinct word in lime's feature order, as ``lime-inf``
    reports them (no intercept: neither formula has one)."""
    def method(model: Model, doc: np.ndarray, length: int) -> dict:
        import theory.explainers.lime_approx as approximations

        scores = getattr(approximations, name)(model, doc, length)
        return {"f": float(forward(model, doc).f[0]), "scores": scores.tolist(),
                "words": distinct_words(doc, length).tolist(), "semantics": "replace"}
    return method


def _lime_inf(model: Model, doc: np.ndarray, length: int, semantics: str = "delete", samples: int | None = None,
              seed: int = 0) -> dict:
    """LIME's population limit ``β^∞`` (§5): exact for ``d ≤ 10``, stratified Monte Carlo with standard errors
    otherwise (``samples`` evaluations, default 100 000)."""
    from theory.explainers.lime_inf import EXACT_UP_TO, MC_SAMPLES, beta_inf_model
    from theory.explainers.registry_posthoc import affordable_evaluations

    d = distinct_words(doc, length).size
    count = samples or MC_SAMPLES
    if d > EXACT_UP_TO and isinstance(count, int) and count >= 1:  # (exact: at most 2^10 evaluations)
        affordable_evaluations(model, doc, length, semantics, count,
                               f"β^∞ by Monte Carlo with --samples {count} and d = {d} words",
                               beta_inf_bytes(count, d))
    result = beta_inf_model(model, doc, length, semantics, samples, seed)
    out = {"f": float(model.output(doc[None])[0]), "scores": result.beta[1:].tolist(),
           "words": result.words.tolist(), "intercept": float(result.beta[0]), "semantics": semantics,
           "samples": result.samples, "seed": result.seed, "exact": result.exact}
    if not result.exact:
        out["stderr"] = result.stderr[1:].tolist()
        out["intercept_stderr"] = float(result.stderr[0])
    return out


METHODS = {
    "attention-avg": _attention(lambda fw: alpha_avg(fw.alpha[0])),
    "attention-max": _attention(lambda fw: alpha_max(fw.alpha[0])),
    "grad-avg": _gradient(lambda grad, X: g_avg(grad)),
    "grad-l1": _gradient(lambda grad, X: g_l1(grad)),
    "grad-l2": _gradient(lambda grad, X: g_l2(grad)),
    "grad-x-input": _gradient(g_x_input),
    "lime": _lime,
    "lime-inf": _lime_inf,
    "eq19": _approximation("eq19"),
    "lime-large-d": _approximation("large_d_limit"),
}

# keyword options each method takes (the CLI's --semantics, --samples, --seed)
OPTIONS = {
    "lime": ("semantics", "samples", "seed"),
    "lime-inf": ("semantics", "samples", "seed"),
}

from theory.explainers import registry_posthoc as explain_posthoc  # noqa: E402  (the §6 methods: shapley, kernelshap, occlusion, ig, …)

METHODS.update(explain_posthoc.METHODS)
OPTIONS.update(explain_posthoc.OPTIONS)

#: the methods of an encoder ``.npz`` (docs/theory.md §11.1–§11.2, THEORY.md §5–§6): every method that needs no
#: §2 structure — attention (the last layer's CLS row), gradients (backpropagation), LIME, ``β^∞``, Shapley,
#: KernelSHAP and occlusion through the generic perturbed-document path, IG, SmoothGrad and C-LIME on embedded
#: inputs — and attention rollout (Abnar & Zuidema 2020)
ENCODER_METHODS = {**{name: method for name, method in METHODS.items() if name not in ("eq19", "lime-large-d")},
                   "rollout": _attention(lambda fw: rollout(fw.attention)[0])}

#: why a method of one family is not defined for the other (one line each)
NOT_DEFINED = {
    "eq19": "eq19 is the paper's Eq. (19), a formula in the one-layer model's CLS attention and value scores (§5); "
            "an encoder has no such closed form (its last-layer analogue is measured by claim "
            "encoder.eq19_last_layer, not offered as an explanation): use lime-inf for the exact β^∞",
    "lime-large-d": "lime-large-d is the large-d limit of LIME for the one-layer model (docs/theory.md §8.4), built "
                    "from its per-head sufficient statistics, which an encoder does not have: use lime-inf for the "
                    "exact β^∞",
    "rollout": "rollout multiplies every layer's attention matrices of all positions (Abnar & Zuidema 2020); the "
               "one-layer model has one layer in which only CLS queries: use attention-avg (at one layer rollout "
               "ranks the words as attention-avg does, docs/theory.md §11.1)",
}

#: position methods score positions ``0..L``; word methods score the distinct words (``"words"`` in the result)
WORD_METHODS = ("lime", "lime-inf", "eq19", "lime-large-d", "shapley", "kernelshap", "occlusion")


def family(model) -> str:
    """``"one-layer"`` (the §2 model) or ``"encoder"``."""
    return "one-layer" if isinstance(model, Model) else "encoder"


def methods_of(model) -> dict:
    """The explanation methods defined for ``model``'s family, by name."""
    return METHODS if isinstance(model, Model) else ENCODER_METHODS


def method_names(model, requested) -> list[str]:
    """The methods named by ``requested`` (strings, each one name, a comma-separated list, or ``all``: every
    method of the model's family, in :func:`methods_of`'s order), without repeats; an unknown name, or one not
    defined for the model's family, is an :class:`~theory.errors.InputError` saying why."""
    known = methods_of(model)
    names = [name.strip() for item in requested for name in item.split(",")]
    if not names or any(not name for name in names):
        raise InputError(f"--method needs method names (comma-separated) or all; choose from {', '.join(known)}")
    chosen: list[str] = []
    for name in names:
        for method in (known if name == "all" else [name]):
            if method not in known:
                if method in NOT_DEFINED:
                    which = "the one-layer model" if isinstance(model, Model) else "an encoder"
                    raise InputError(f"method {method!r} is not defined for {which}: {NOT_DEFINED[method]}")
                raise InputError(f"unknown method {method!r}; choose one of {', '.join(known)}, or all")
            if method not in chosen:
                chosen.append(method)
    return chosen


#: position methods whose score at ``t`` is ``Σ_k`` (or the mean over ``k``) of gradients ``∇_{t,k} f``
COORDINATE_SUMS = ("grad-avg", "smoothgrad")

LAYER_NORM_REASON = ("pre-norm encoder: the residual stream carries e_t unchanged and every sublayer reads it through "
                     "a LayerNorm, whose input gradient sums to 0 over the coordinates, so Σ_k ∇_{t,k} f = 0 at "
                     "every input (docs/theory.md §11.1, coordinate sums under pre-norm)")


def layer_norm_zeros(model, length: int) -> list[int]:
    """The positions ``t ∈ 0..length`` where ``Σ_k ∇_{t,k} f = 0`` at every input by LayerNorm (module docstring):
    in a pre-norm encoder every word position, and CLS too when no residual or a final norm puts a LayerNorm
    between ``e_0`` and the readout (otherwise ``Σ_k ∇_{0,k} f = Σ_k w_k``, the readout's direct path).  None
    for the §2 model, a post-norm encoder (``e_t`` also reaches a LayerNorm through attention's linear maps,
    whose gradient does not sum to 0) or an encoder without norms."""
    if isinstance(model, Model) or model.norm != "pre":
        return []
    first = 0 if (not model.residual or model.final_norm) else 1
    return list(range(first, length + 1))


def _zeros(model, method: str, length: int) -> dict:
    """``exactly_zero`` (a gradient sum) or ``population_zero`` (C-LIME) of :func:`layer_norm_zeros`."""
    zeros = layer_norm_zeros(model, length)
    key = ("exactly_zero" if method in COORDINATE_SUMS else "population_zero" if method == "clime" else None)
    if not zeros or key is None:
        return {}
    reason = LAYER_NORM_REASON if key == "exactly_zero" else (
        LAYER_NORM_REASON + "; C-LIME's population value equals SmoothGrad's (Stein's lemma), so its estimates "
        "there are sampling noise")
    return {key: {"positions": zeros, "reason": reason}}


def explain(model: Model, tokens, method: str, allow_unk: bool = False, **options) -> dict:
    """Explain ``tokens`` with ``method``; ``options`` set to ``None`` are left at the method's default;
    ``allow_unk`` lets the text hold UNK (``--oov unk``)."""
    methods = methods_of(model)
    if method not in methods:
        method_names(model, [method])  # raises, saying why
    options = {key: value for key, value in options.items() if value is not None}
    accepted = OPTIONS.get(method, ())
    unknown = [key for key in options if key not in accepted]
    if unknown:
        takers = sorted(name for name, keys in OPTIONS.items() if unknown[0] in keys)
        raise InputError(f"--{unknown[0]} does not apply to method {method!r}"
                         + (f"; it applies to {', '.join(takers)}" if takers else ""))
    if "seed" in options and not 0 <= options["seed"] < 2**32:
        raise InputError(f"--seed {options['seed']} is out of range; use an integer in 0..{2**32 - 1}")
    doc = document(model, tokens, allow_unk=allow_unk)
    length = len(tokens)
    result = finite_result(method, model, doc, lambda: methods[method](model, doc, length, **options))
    return {"method": method, "f": result.pop("f"), "positions": list(range(length + 1)),
            "tokens": doc[: length + 1].tolist(), "scores_of": "words" if "words" in result else "positions",
            **result, **_zeros(model, method, length)}
