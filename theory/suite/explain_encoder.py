"""``attnverify explain`` on an encoder ``.npz`` (docs/theory.md §11.1): the same methods and JSON as the §2 model
(:mod:`theory.suite.explain`), plus ``rollout``.

* ``attention-avg`` / ``attention-max``: the last layer's CLS attention ``a^(i,L)_{0,·}`` averaged / maxed over heads;
* ``rollout``: attention rollout ``R_{0,·}`` (Abnar & Zuidema 2020, :mod:`theory.explainers.rollout`);
* ``grad-*``: aggregates of ``∇_t = ∂f/∂e_t`` by backpropagation (:mod:`theory.explainers.encoder_gradient`);
* ``lime`` / ``lime-inf``: as for the §2 model, ``f`` on the perturbed documents through the encoder's batched
  forward pass (:func:`theory.explainers.perturb.evaluator`).
"""

from __future__ import annotations

from theory.explainers.attention import alpha_avg, alpha_max
from theory.explainers.encoder_gradient import gradient
from theory.explainers.gradient import g_avg, g_l1, g_l2, g_x_input
from theory.explainers.rollout import rollout
from theory.models.encoder import forward


def _attention(explanation):
    def method(model, doc, length: int) -> dict:
        fw = forward(model, doc)
        return {"f": float(fw.f[0]), "scores": explanation(fw)[: length + 1].tolist()}
    return method


def _gradient(aggregate):
    def method(model, doc, length: int) -> dict:
        g = gradient(model, doc)
        return {"f": float(g.forward.f[0]), "scores": aggregate(g.grad[0], g.forward.X[0])[: length + 1].tolist()}
    return method


def encoder_methods() -> dict:
    from theory.suite.explain import _lime, _lime_inf

    return {
        "attention-avg": _attention(lambda fw: alpha_avg(fw.alpha[0])),
        "attention-max": _attention(lambda fw: alpha_max(fw.alpha[0])),
        "rollout": _attention(lambda fw: rollout(fw.attention)[0]),
        "grad-avg": _gradient(lambda grad, X: g_avg(grad)),
        "grad-l1": _gradient(lambda grad, X: g_l1(grad)),
        "grad-l2": _gradient(lambda grad, X: g_l2(grad)),
        "grad-x-input": _gradient(g_x_input),
        "lime": _lime,
        "lime-inf": _lime_inf,
    }
