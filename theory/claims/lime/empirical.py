"""Claims about empirical LIME (docs/theory.md §6; paper §5); its perturbed documents are the model's (``model.py``).

The float64 side is :mod:`theory.models.perturb` and :mod:`theory.explainers.lime`; the reference side is
:mod:`reference.explainers.perturb` (the full mpmath forward pass on each perturbed document) and
:mod:`reference.explainers.lime` (lime 0.2.0.1's sampler and the weighted ridge solved in mpmath); the external
oracle is the ``lime`` package itself.

LIME coefficients are linear in the outputs: ``(b, β) = H y`` with ``H = M⁻¹ [1 Z]ᵀ diag(π)`` and ``M`` the
ridge normal matrix.  Their errors are measured relative to the magnitude of those terms,
``Σ_i |H_ji| · m_i`` with ``m_i`` the magnitude of the terms of ``f`` on sample ``i``.
"""

from __future__ import annotations

import numpy as np

import reference.explainers.lime as ref_lime
import reference.oracles.lime_package as lime_package
from theory.checking.compare import combine, compare, engines
from theory.checking.engines import reference_engine
from theory.checking.strategies.lime import lime_cases
from theory.checking.strategies.trained import trained_lime_cases
from theory.claims import claim
from theory.claims.model import f_magnitudes
from theory.explainers.lime import kernel_weights, lime
from theory.models.one_layer import forward

N_SAMPLES = 100  # per reference LIME (each distinct sample is one mpmath forward pass)
N_ORACLE = 300  # samples in the comparison with the lime package
ORACLE_RTOL = 1e-10


def lime_scales(Z, mag_f) -> tuple[float, np.ndarray]:
    """``|H| m``: the magnitude of the terms of ``(intercept, β)`` as linear functions of the outputs.

    Args:
        Z: LIME's samples (removal patterns), one row each.
        mag_f: the magnitude of the terms of ``f`` on each sample.

    Returns:
        The intercept's scale and the coefficients' scales.
    """
    Z = np.asarray(Z, dtype=np.float64)
    pi = kernel_weights(Z)
    X = np.column_stack([np.ones(len(Z)), Z])
    M = X.T @ (pi[:, None] * X)
    M[1:, 1:] += np.eye(Z.shape[1])
    H = np.linalg.solve(M, X.T * pi)
    scale = np.abs(H) @ mag_f
    return scale[0], scale[1:]


def _float(values):
    return np.array([float(v) for v in values])


@claim(
    "lime.matches_lime_package",
    section="§5",
    source="ours",
    kind="identity",
    statement="for the same random_state, the reference LIME (mpmath) and the fast LIME (float64) reproduce "
    "lime 0.2.0.1's LimeTextExplainer(...).explain_instance coefficients and intercept, feature "
    "order included (delete semantics, lime's own; replace checked too through the empty slots "
    "lime leaves; string ↔ token mapping in reference/explainers/lime.py)",
    reference=f"the real lime package driving the float64 forward pass, {N_ORACLE} samples; tolerance "
    f"{ORACLE_RTOL:g} for lime (float64 sklearn Ridge) and 1e-12 for the fast LIME, both against "
    "the mpmath reference LIME, relative to the magnitude of the terms",
    strategy=lime_cases,
    budget=1.0,
    requires=("lime", "sklearn"),
    trained=trained_lime_cases,
)
def check_matches_lime_package(lcase):
    case = lcase.case
    model, doc, length = case.model, case.doc, len(case.tokens)
    outcomes = []
    for semantics in ("delete", "replace"):
        coef, intercept, words = lime_package.run_lime_package(
            lambda docs: forward(model, docs).f,
            doc,
            length,
            N_ORACLE,
            lcase.seed,
            semantics,
            model.cls_id,
            model.unk_id,
            model.T,
        )
        reference = ref_lime.lime_model(
            model, doc, length, N_ORACLE, lcase.seed, semantics, engine=reference_engine(case)
        )
        fast = lime(model, doc, length, semantics=semantics, samples=N_ORACLE, seed=lcase.seed)
        s0, s = lime_scales(reference.Z, f_magnitudes(case, reference.Z, semantics))
        same_samples = bool(np.array_equal(fast.Z, reference.Z))
        same_words = words == reference.words == fast.words.tolist()
        outcome = combine(
            compare(f"lime β ({semantics})", coef, reference.coef[0], s, rtol=ORACLE_RTOL),
            compare(f"lime intercept ({semantics})", intercept, reference.intercept[0], s0, rtol=ORACLE_RTOL),
            compare(f"fast β ({semantics})", fast.coef, reference.coef[0], s),
            compare(f"fast intercept ({semantics})", fast.intercept, reference.intercept[0], s0),
            compare(f"fast samples ≠ reference samples ({semantics})", float(not same_samples), 0, 1.0),
            compare(f"feature order differs ({semantics})", float(not same_words), 0, 1.0),
        )
        ref_coef = _float(reference.coef[0])
        outcome.measures[f"max |β_lime − β_ref| ({semantics})"] = float(
            max(np.abs(coef - ref_coef).max(), abs(intercept - float(reference.intercept[0])))
        )
        outcomes.append(outcome)
    outcome = combine(*outcomes)
    outcome.engine = engines(outcome.engine, reference_engine(case))
    return outcome
