"""``attnverify explain``: one document, one explanation method, one JSON-shaped answer.

Every method returns ``{"method", "f", "positions", "tokens", "scores"}`` where ``positions`` are
``0..L`` (CLS and the words; padding is not explained) and ``scores[k]`` belongs to ``positions[k]``.
"""

from __future__ import annotations

import numpy as np

from theory.attention import alpha_avg, alpha_max
from theory.gradient import g_avg, g_l1, g_l2, g_x_input, gradient
from theory.model import InputError, Model, document, forward


def _attention(aggregate):
    def method(model: Model, doc: np.ndarray, length: int) -> dict:
        fw = forward(model, doc)
        return {"f": float(fw.f[0]), "scores": aggregate(fw.alpha[0])[: length + 1].tolist()}
    return method


def _gradient(aggregate):
    """Gradient aggregates (§4) of the exact ``∇_t`` (CLS query path included at position 0)."""
    def method(model: Model, doc: np.ndarray, length: int) -> dict:
        g = gradient(model, doc)
        scores = aggregate(g.grad[0], g.forward.X[0])
        return {"f": float(g.forward.f[0]), "scores": scores[: length + 1].tolist()}
    return method


METHODS = {
    "attention-avg": _attention(alpha_avg),
    "attention-max": _attention(alpha_max),
    "grad-avg": _gradient(lambda grad, X: g_avg(grad)),
    "grad-l1": _gradient(lambda grad, X: g_l1(grad)),
    "grad-l2": _gradient(lambda grad, X: g_l2(grad)),
    "grad-x-input": _gradient(g_x_input),
}


def explain(model: Model, tokens, method: str) -> dict:
    if method not in METHODS:
        raise InputError(f"unknown method {method!r}; choose one of {', '.join(METHODS)}")
    doc = document(model, tokens)
    length = len(tokens)
    result = METHODS[method](model, doc, length)
    return {"method": method, "f": result.pop("f"), "positions": list(range(length + 1)),
            "tokens": doc[: length + 1].tolist(), **result}
