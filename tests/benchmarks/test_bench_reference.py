"""Reference-engine benchmarks (issue 12), side by side in one run: the Arb ball forward pass
(``reference.models.one_layer_arb``) vs the mpmath one (``reference.models.one_layer``) at the authors' widths
(T = 256, K = 6, d_e = 128, d_att = d_out = 64, 100 words; goal: Arb ≥ 50× faster), and reference gradient
entries per second of both engines on the trained fixture (T = 256) and at the small size.

Every round uses a fresh copy of the model, so that no memo of an earlier round (the mpmath engine keeps
per-row products per model) is reused: these are cold forward passes.  Both engines at 40 digits
(the mpmath reference's ``DPS``; Arb at the same number of bits).
"""

from __future__ import annotations

import numpy as np
import pytest

from reference.engines import ENGINES as ENGINE_NAMES
from reference.engines import engine
from reference.models.one_layer import DPS
from theory.checking.strategies.models import Case, ModelSpec

AUTHORS = (ModelSpec(K=6, d_e=128, d_att=64, d_out=64, V=1000, T=256, pe=True, seed=0), 100)
SMALL = (ModelSpec(K=2, d_e=6, d_att=4, d_out=4, V=12, T=8, pe=True, seed=0), 5)
ENGINES = {name: engine(name).forward for name in ENGINE_NAMES}  # at the mpmath reference's DPS (Arb: as many bits)
GRADIENTS = {name: engine(name).gradient for name in ENGINE_NAMES}


def _case(size):
    spec, length = size
    return Case(spec, tuple(np.random.default_rng(0).integers(2, spec.V, size=length).tolist()))


def _fresh(model):
    """A copy of ``model`` (a new object: no memo of an earlier round applies)."""
    return model.with_Wl(model.Wl.copy())


@pytest.mark.parametrize("engine", ENGINES)
def test_bench_forward_authors_size(benchmark, engine):
    if engine == "mpmath" and benchmark.disabled:  # half a minute per call: timed runs only
        pytest.skip("seconds-long comparison: run with --benchmark-enable")
    case = _case(AUTHORS)
    benchmark.group = "reference forward: authors' size"
    benchmark.extra_info.update(engine=engine, T=case.spec.T, K=case.spec.K, d_e=case.spec.d_e, digits=DPS)
    fw = benchmark.pedantic(ENGINES[engine], setup=lambda: ((_fresh(case.model), case.doc), {}), rounds=2, iterations=1)
    assert len(fw.alpha) == case.spec.K and len(fw.alpha[0]) == case.spec.T


@pytest.mark.parametrize("engine", GRADIENTS)
@pytest.mark.parametrize("size", ["trained", "small"])
def test_bench_gradient_entries(benchmark, engine, size):
    """One position's ``d_e`` entries (two forward passes each) at the working precision of the reference."""
    if size == "trained" and engine == "mpmath" and benchmark.disabled:  # minutes per call at the authors' widths
        pytest.skip("minutes-long comparison: run with --benchmark-enable")
    if size == "trained":
        from theory.checking.population import GivenCase

        case = GivenCase(0)  # held-out document 0 of the trained fixture (the default population)
        model, doc, positions = case.model, case.doc, [1]
    else:
        case = _case(SMALL)
        model, doc, positions = case.model, case.doc, range(case.spec.T)
    entries = len(positions) * model.d_e
    benchmark.group = f"reference gradient entries: {size}"
    rounds = 1 if size == "trained" and engine == "mpmath" else 2  # about 3 minutes per cold round
    rows = benchmark.pedantic(
        GRADIENTS[engine], setup=lambda: ((_fresh(model), doc), {"positions": positions}), rounds=rounds, iterations=1
    )
    benchmark.extra_info.update(engine=engine, T=model.T, d_e=model.d_e, entries=entries)
    if benchmark.stats is not None:  # timed (--benchmark-enable); a disabled run only checks the result
        benchmark.extra_info["entries_per_second"] = entries / benchmark.stats.stats.mean
    assert len(rows) == len(positions) and len(rows[0]) == model.d_e
