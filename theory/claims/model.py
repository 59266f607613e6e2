"""Claims about the §2 model itself (docs/theory.md §2.5)."""

from __future__ import annotations

import mpmath
import numpy as np

import reference.models.one_layer as ref
from theory.claims import claim
from theory.models.one_layer import forward, term_magnitudes
from theory.checking.compare import check_mp, combine, compare, engines
from theory.checking.engines import reference_engine, reference_forward
from theory.checking.population import given_cases
from theory.checking.strategies.models import cases


@claim("model.forward", section="§2", source="paper", kind="identity",
       statement="the float64 forward pass (f, f^(i), α, scores s, value scores c) equals the mpmath "
                 "forward pass",
       reference="pure-mpmath re-implementation of §1 at 40 digits",
       strategy=cases, trained=given_cases)
def check_forward(case):
    model, doc = case.model, case.doc
    (mp_fw, rad), fw, mag = reference_forward(case, radii=True), forward(model, doc), term_magnitudes(model, doc)
    rad = rad or ref.Forward(None, None, None, None, None, None)  # mpmath: no radii
    return combine(
        compare("f", fw.f[0], mp_fw.f, mag.f[0].mean(), radius=rad.f),
        compare("f_head", fw.f_heads[0], mp_fw.f_heads, mag.f[0], radius=rad.f_heads),
        compare("alpha", fw.alpha[0], mp_fw.alpha, mag.alpha_scale(fw.alpha[0]), radius=rad.alpha),
        compare("s", fw.scores[0], mp_fw.scores, mag.s[0], radius=rad.scores),
        compare("c", fw.c[0], mp_fw.c, mag.c[0], radius=rad.c),
    )


@claim("model.simplex", section="§2", source="paper", kind="identity",
       statement="per head, α_t > 0 and Σ_t α_t = 1",
       reference="mpmath (positivity and the sum at 40 digits); float64 sum against 1",
       strategy=cases, trained=given_cases)
def check_simplex(case):
    fw, mp_fw = forward(case.model, case.doc), reference_forward(case)
    with mpmath.workdps(ref.DPS):
        mp_sum = max(abs(mpmath.fsum(alpha) - 1) for alpha in mp_fw.alpha)
        mp_min = min(min(alpha) for alpha in mp_fw.alpha)
    outcome = combine(
        check_mp("|Σ α − 1| (mpmath)", mp_sum),
        check_mp("min α ≤ 0 (mpmath)", 0 if mp_min > 0 else 1),
        compare("Σ α (float64)", fw.alpha[0].sum(axis=-1), [1] * case.model.K, 1.0),
    )
    # float64 α_t underflows to 0 once s_t − max s < −745: positivity is a statement about the exact model.
    outcome.measures["float64 α underflowed to 0 (share of positions)"] = float(np.mean(fw.alpha[0] == 0))
    outcome.engine = engines(outcome.engine, reference_engine(case))
    return outcome


@claim("model.convex", section="§2", source="consequence", kind="bound",
       statement="per head, min_t c_t ≤ f^(i) ≤ max_t c_t (f^(i) is a convex combination of value scores)",
       reference="mpmath; the float64 violation relative to the magnitude of the terms",
       strategy=cases, trained=given_cases)
def check_convex(case):
    fw, mp_fw = forward(case.model, case.doc), reference_forward(case)
    mag = term_magnitudes(case.model, case.doc)
    with mpmath.workdps(ref.DPS):
        mp_violation = max(max(min(c) - f, f - max(c), 0) for c, f in zip(mp_fw.c, mp_fw.f_heads))
    c, f = fw.c[0], fw.f_heads[0]
    violation = np.maximum(np.maximum(c.min(axis=-1) - f, f - c.max(axis=-1)), 0) / mag.f[0]
    outcome = combine(
        check_mp("bound violation (mpmath)", mp_violation, scale=mag.f[0].max()),
        compare("bound violation (float64)", violation, [0] * case.model.K, 1.0),
    )
    outcome.engine = engines(outcome.engine, reference_engine(case))
    return outcome
