"""Claims about occlusion (docs/theory.md §11.2, paper §6): the closed form from the sufficient statistics.  Reference:
:mod:`reference.explainers.shapley` (mpmath forward on every leave-one-out document)."""

from __future__ import annotations

import reference.explainers.shapley as ref_shap
from theory.checking.strategies.explainers import (
    removal_cases,
)
from theory.claims import claim
from theory.claims.removal import TRAINED, versus_reference
from theory.explainers.occlusion import occlusion


@claim(
    "occlusion.closed_form",
    section="§6",
    source="ours",
    kind="identity",
    statement="o_j = v([d]) − v([d] \\ {j}) from the sufficient statistics (substitutions: each leave-one-out "
    "document's numerator and denominator per head, own max-shift) and from the fast evaluator (delete)",
    reference="mpmath forward on the document and on each leave-one-out document",
    strategy=removal_cases,
    trained=TRAINED,
)
def check_occlusion(case):
    return versus_reference(case, "o", occlusion, ref_shap.occlusion)
