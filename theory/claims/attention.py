"""Claims about attention-based explanations (docs/theory.md §4, paper §3)."""

from __future__ import annotations

import mpmath
import numpy as np

import reference.models.one_layer as ref
from theory.checking.compare import RTOL, check_mp, combine, compare, engines, quotient_dps
from theory.checking.engines import reference_engine, reference_forward
from theory.checking.population import given_cases
from theory.checking.strategies.models import cases
from theory.claims import claim
from theory.explainers.attention import (
    admissible_step,
    alpha_avg,
    alpha_max,
    null_direction,
)
from theory.models.one_layer import (
    forward,
    term_magnitudes,
)


@claim(
    "attention.aggregates",
    section="§3",
    source="consequence",
    kind="identity",
    statement="α-avg is a probability vector; α-max ≥ α-avg pointwise; 1 ≤ Σ_t α-max_t ≤ K",
    reference="mpmath α-avg and α-max at 40 digits",
    strategy=cases,
    trained=given_cases,
)
def check_aggregates(case):
    K = case.model.K
    fw, mp_fw = forward(case.model, case.doc), reference_forward(case)
    factor = term_magnitudes(case.model, case.doc).alpha[0].max()
    with mpmath.workdps(ref.DPS):
        columns = list(zip(*mp_fw.alpha))
        mp_avg = [mpmath.fsum(col) / K for col in columns]
        mp_max = [max(col) for col in columns]
    avg, amax = alpha_avg(fw.alpha[0]), alpha_max(fw.alpha[0])
    total_max = amax.sum()
    outcome = combine(
        compare("α-avg", avg, mp_avg, np.maximum(avg, 1e-300) * factor),
        compare("α-max", amax, mp_max, np.maximum(amax, 1e-300) * factor),
        compare("Σ α-avg", avg.sum(), 1, 1.0),
        compare("α-max < α-avg (violation)", np.maximum(avg - amax, 0).max(), 0, 1.0),
        compare("Σ α-max outside [1, K] (violation)", max(1 - total_max, total_max - K, 0), 0, 1.0),
        check_mp("Σ α-max outside [1, K] (mpmath)", max(1 - mpmath.fsum(mp_max), mpmath.fsum(mp_max) - K, 0)),
    )
    outcome.engine = engines(outcome.engine, reference_engine(case))
    return outcome


@claim(
    "attention.non_identifiable",
    section="§3",
    source="consequence",
    kind="witness",
    statement="for T ≥ 3, per head there is δ ≠ 0 with Σ δ_t = 0 and Σ δ_t c_t = 0, so α + εδ is another "
    "attention vector with the same f^(i): the output does not determine the attention",
    reference="δ built from the float64 value scores (three most attended positions), checked in mpmath",
    strategy=lambda: cases(min_T=3),
    trained=given_cases,
)
def check_non_identifiable(case):
    fw, mp_fw = forward(case.model, case.doc), reference_forward(case)
    mag_c = term_magnitudes(case.model, case.doc).c[0]
    outcomes, moved = [], []
    with mpmath.workdps(ref.DPS):
        for i in range(case.model.K):
            alpha, c = mp_fw.alpha[i], mp_fw.c[i]
            delta = null_direction(fw.alpha[0, i], fw.c[0, i])
            # orient δ so that the admissible step is largest (at peaked attention one orientation may be
            # blocked by an attention weight that is astronomically small, though never zero)
            eps, delta = max(
                ((admissible_step(np.array(alpha, dtype=object), sign * delta), sign * delta) for sign in (1.0, -1.0)),
                key=lambda pair: pair[0],
            )
            new_alpha = [a + eps * d for a, d in zip(alpha, delta)]
            # the quotient divides a difference by ε (down to the third-largest attention weight): both sides
            # are formed from the same α, c at the precision that ε asks for (compare.quotient_dps)
            with mpmath.workdps(quotient_dps(eps, ref.DPS)):
                f_old = mpmath.fsum(a * ct for a, ct in zip(alpha, c))
                quotient = (mpmath.fsum((a + eps * d) * ct for a, d, ct in zip(alpha, delta, c)) - f_old) / eps
            scale = float(np.abs(delta) @ mag_c[i])
            outcomes += [
                compare(f"Σ δ (head {i})", 0.0, [mpmath.fsum(delta)], float(np.abs(delta).sum())),
                compare(f"Σ δ c (head {i})", 0.0, [mpmath.fdot(delta, c)], scale),
                check_mp(f"(f^(i)(α + εδ) − f^(i)(α)) / ε (head {i})", quotient, scale=scale, tol=RTOL),
                check_mp(f"min(α + εδ) ≤ 0 (head {i})", 0 if min(new_alpha) > 0 else 1),
            ]
            moved.append(mpmath.log10(eps * mpmath.fsum(abs(d) for d in delta) / 2))
    outcome = combine(*outcomes)
    # the freedom is exact but can be astronomically small when attention sits on a vertex of the simplex
    outcome.measures["log10 total variation between α and α + εδ"] = float(min(moved))
    outcome.engine = engines(outcome.engine, reference_engine(case))
    return outcome
