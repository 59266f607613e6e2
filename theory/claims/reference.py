"""The two reference engines against each other (ours): Arb balls (``reference.engines.arb`` over
``reference.models.one_layer_arb``) and mpmath (``reference.models.one_layer``, ``reference.explainers.gradient``,
``reference.explainers.perturb``: the functions behind ``reference.engines.mpmath``).

The Arb engine certifies its rounding (the exact value lies in each ball); the mpmath engine is run with
more digits than the balls' precision (30 more for forward passes, 20 more for gradients, at the same exact
step), so that its own rounding is far inside the balls' radii: a value outside a ball is a disagreement of
the two implementations, not rounding.  "Agree to ≥ 30 digits" is measured as ``(|mid − mpmath| + radius)``
relative to the magnitude of the terms (``theory.models.one_layer.term_magnitudes``, ``magnitudes``).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from typing import cast

import mpmath
import numpy as np
from hypothesis import strategies as st

import reference.engines.arb as arb
import reference.explainers.gradient as ref_grad
import reference.explainers.perturb as ref_perturb
import reference.models.one_layer as ref
from theory.checking.compare import MP_TOL, Outcome, combine, nstr
from theory.checking.population import GivenCase, checked_coordinates, given_cases
from theory.checking.strategies.models import gradient_cases
from theory.claims import claim
from theory.explainers.gradient import magnitudes
from theory.models.one_layer import Model, term_magnitudes

FORWARD_EXTRA, GRADIENT_EXTRA = 30, 20  # mpmath digits above the balls' precision
MPMATH_COORDINATES = 8  # trained model: gradient coordinates per document (two mpmath forward passes each)
TRAINED_HEAD = 0  # trained model: the head checked, as a one-head model (f = f^(1)); see first_head_cases
GAP_PREC = 1024  # bits at which |mid − mpmath| is formed (both operands are exact; the gap needs few digits)


def agree(label: str, balls, values, scale, tol: float = MP_TOL) -> Outcome:
    """Every ball contains its mpmath value (exactly: the mpf converts to an exact ball), and
    ``(|mid − value| + radius) / scale ≤ tol`` — formed in mpmath, since attention weights, their radii and
    scales may lie far below the float range (α ~ 1e-700 at peaked attention).

    Args:
        label: the quantity's name, for the detail.
        balls: Arb balls, nested lists of any shape.
        values: the mpmath values, nested like ``balls``.
        scale: the magnitude of each entry's terms: nested like ``balls``, or a number or array broadcast to them.
        tol: the largest relative ``(|mid − value| + radius) / scale`` accepted.

    Returns:
        The outcome, with the worst entries (or those outside their ball) in its detail.
    """
    balls, values = _flat(balls), _flat(values)
    scales = (
        _flat(scale)
        if isinstance(scale, (list, tuple))
        else list(np.broadcast_to(np.ravel(np.asarray(scale, dtype=np.float64)), (len(balls),)))
    )
    outside = [k for k, (b, v) in enumerate(zip(balls, values)) if not b.contains(arb.exact(v))]
    with mpmath.workprec(GAP_PREC):
        gaps = [abs(arb.midpoint(b) - v) for b, v in zip(balls, values)]
        radii = [arb.midpoint(b.rad()) for b in balls]
        safe = [mpmath.mpf(m) if m > 0 else mpmath.mpf(1) for m in scales]
        err = [float((g + r) / m) for g, r, m in zip(gaps, radii, safe)]
        rel_radius = max((float(r / m) for r, m in zip(radii, safe)), default=0.0)
    worst = int(np.argmax(err)) if err else 0
    error = max(err, default=0.0)
    detail = (
        f"{label}: {len(outside)} of {len(balls)} mpmath values outside their Arb ball; max (|mid − mpmath| + "
        f"radius) / scale {error:.3e} (tolerance {tol:.1e}), max radius / scale {rel_radius:.1e}"
    )
    for k in (outside or [worst])[:3]:
        detail += (
            f"\n  entry {k}: ball {balls[k].str(30, radius=True)}  mpmath {nstr(values[k], 30)}  "
            f"scale {nstr(scales[k], 4)}"
        )
    return Outcome(
        holds=not outside and error <= tol,
        error=error,
        tolerance=tol,
        detail=detail,
        engine="arb+mpmath",
        radius=rel_radius,
    )


def _flat(nested) -> list:
    """The leaves of nested lists, in order."""
    if isinstance(nested, (list, tuple)):
        return [leaf for item in nested for leaf in _flat(item)]
    return [nested]


@dataclass(frozen=True)
class HeadCase:
    """Head :data:`TRAINED_HEAD` of a given population's model alone — a one-head model at the population's
    widths, whose ``f`` is that head's ``f^(i)`` — on one of the population's documents."""

    case: GivenCase

    @property
    def model(self) -> Model:
        # reference.* runs on populations of the §2 model only (theory.running.given.given_strategy)
        return _one_head(cast(Model, self.case.model), TRAINED_HEAD)

    def __getattr__(self, name):  # doc, tokens, positions, coordinates: the document's
        if name == "case":  # not yet set (unpickling)
            raise AttributeError(name)
        return getattr(self.case, name)

    def __repr__(self) -> str:
        return f"HeadCase(head={TRAINED_HEAD}, {self.case!r})"


@lru_cache(maxsize=2)
def _one_head(model: Model, i: int) -> Model:
    """``model.head(i)``, one object per model (so the reference engines' memos serve all its documents)."""
    return model.head(i)


def first_head_cases() -> st.SearchStrategy[HeadCase]:
    """The trained model's documents (8 words, one drawn word position, :data:`MPMATH_COORDINATES` drawn
    coordinates) for its first head alone.  The mpmath engine evaluates every product as written, and at the
    authors' widths a document costs it K·T·d_e·(d_att + d_out) ≈ 25 million multiplications (about 100 s for
    the first document, whose UNK padding rows later documents share, and 10 s for each further one with all
    six heads); one head makes that 6 times less.  Every head runs the same code in both engines, and the
    random population checks models of up to 4 heads whole.

    Returns:
        The Hypothesis strategy of :class:`HeadCase` instances.
    """
    return st.builds(HeadCase, given_cases(max_words=8, positions=1, coordinates=MPMATH_COORDINATES))


def _positions(case) -> list[int]:
    """Random models: CLS (every score moves) and the first word, every coordinate.  The trained model: the
    drawn word position at :data:`MPMATH_COORDINATES` drawn coordinates (the mpmath engine's cost at the
    authors' widths is what limits this claim — hence also the documents' first 8 words, whose UNK padding
    rows the mpmath engine computes once; CLS is checked there by the Arb engine against the closed form,
    ``gradient.cls_query_path``)."""
    return list(case.positions) if getattr(case, "positions", None) else [0, 1]


@claim(
    "reference.engines_agree",
    section="§2",
    source="ours",
    kind="identity",
    statement="the two reference engines agree: every Arb ball (forward pass f, f^(i), α_t, c_t; f of a perturbed "
    "document under both removal semantics; the central-difference gradient at CLS and a word) "
    "contains the mpmath value, and the two agree to ≥ 30 digits of the magnitude of the terms",
    reference="Arb balls at 40 digits (forward) / the gradient's working precision vs mpmath with 30 / 20 more "
    "digits (same exact step); on the trained model its first head alone, a one-head model at the "
    "authors' widths (what the mpmath engine affords there: first_head_cases)",
    strategy=gradient_cases,
    budget=1.0,
    trained=first_head_cases,
    given_budget=0.5,
)
def check_engines_agree(case):
    model, doc, L = case.model, case.doc, len(case.tokens)
    balls = arb.forward(model, doc, ref.DPS)
    mp_fw = ref.forward(model, doc, ref.DPS + FORWARD_EXTRA)
    mag = term_magnitudes(model, doc)
    # the first word switched off under each semantics
    words = ref_perturb.distinct_words(doc, L)
    z = [0] + [1] * (len(words) - 1)
    perturbed = []
    for semantics in ("delete", "replace"):  # the token documents of LIME's pipeline (Arb builds token documents)
        other = ref_perturb.perturbed_document(doc, L, z, semantics, int(model.unk_id))
        perturbed.append(
            agree(
                f"f of the perturbed document ({semantics})",
                [arb.forward_perturbed(model, doc, L, z, semantics, ref.DPS).f],
                [ref_perturb.f_perturbed(model, doc, L, z, semantics, ref.DPS + FORWARD_EXTRA)],
                term_magnitudes(model, np.array(other)).f[0].mean(),
            )
        )
    positions, coordinates = _positions(case), getattr(case, "coordinates", None)
    dps = arb.working_dps(model, doc)
    grad = arb.gradient(model, doc, positions=positions, dps=dps, coordinates=coordinates)
    mp_grad = ref_grad.gradient(
        model, doc, positions=positions, dps=dps + GRADIENT_EXTRA, h=ref_grad.step(dps), coordinates=coordinates
    )
    grad_mag = magnitudes(model, doc)[0, positions][:, checked_coordinates(case)]
    return combine(
        agree("f", [balls.f], [mp_fw.f], mag.f[0].mean()),
        agree("f^(i)", balls.f_heads, mp_fw.f_heads, mag.f[0]),
        # α_t relative to itself (times 1 + max_t s, the rounding growth of the softmax): ≥ 30 digits of every weight
        agree(
            "α", balls.alpha, mp_fw.alpha, [[a * float(m) for a in row] for row, m in zip(mp_fw.alpha, mag.alpha[0])]
        ),
        agree("c", balls.c, mp_fw.c, mag.c[0]),
        *perturbed,
        agree(f"∇_t at t = {positions}", grad, mp_grad, grad_mag),
    )
