"""Work that needs more memory than the machine has is refused with the estimate, before allocating."""

import io
import zipfile
from dataclasses import replace

import numpy as np
import pytest

from theory.checking.strategies.models import ModelSpec
from theory.cli.main import main
from theory.errors import InputError
from theory.explainers.registry import METHODS
from theory.memory import human, physical_memory
from theory.models import load
from theory.models.one_layer import Model


@pytest.fixture
def model():
    return ModelSpec(K=2, d_e=4, d_att=3, d_out=2, V=30, T=16, pe=True, seed=5).build()


def _explain(path, *extra):
    return main(["explain", str(path), "--tokens", "2,3,4,5,6,7,8,9,10,11,12", "--method", *extra])


def test_physical_memory_and_units():
    assert physical_memory() > 2**28  # this machine has more than 256 MiB
    assert human(512) == "512 B" and human(3 * 2**30) == "3.0 GiB" and human(8e12) == "7.3 TiB"


def test_absurd_max_len_is_refused(model):
    with pytest.raises(InputError, match=r"max_len=1000000000000 .* would need about 116\.4 TiB"):
        Model(model.E, model.Wq, model.Wk, model.Wv, model.Wl, model.cls_id, model.unk_id, 10**12, model.pe)


def test_array_shapes_declared_in_headers_are_refused_before_reading(model, tmp_path):
    # E's .npy header declares 10^6 × 10^6 float64 (7.3 TiB) and the member holds no data at all
    good, bomb = tmp_path / "m.npz", tmp_path / "bomb.npz"
    model.save(good)
    with zipfile.ZipFile(good) as source, zipfile.ZipFile(bomb, "w") as target:
        for name in source.namelist():
            content = source.read(name)
            if name == "E.npy":
                header = io.BytesIO()
                np.lib.format.write_array_header_1_0(
                    header, {"descr": "<f8", "fortran_order": False, "shape": (10**6, 10**6)}
                )
                content = header.getvalue()
            target.writestr(name, content)
    with pytest.raises(InputError, match=r"arrays of .* would need about 7\.3 TiB \(8000000000"):
        load(bomb)


def test_real_arrays_larger_than_memory_are_refused(model, tmp_path, monkeypatch):
    path = tmp_path / "m.npz"
    model.save(path)
    monkeypatch.setattr("theory.memory.physical_memory", lambda: 1024)  # a machine with 1 KiB
    with pytest.raises(InputError, match="machine has 1.0 KiB"):
        load(path)


@pytest.mark.parametrize(
    "method, samples, message",
    [
        ("lime", 10**12, "LIME with --samples 1000000000000 and d = 11 distinct words would need about 109.1 TiB"),
        ("lime-inf", 10**13, "β^∞ by Monte Carlo with --samples 10000000000000 and d = 11 words would need"),
        ("lime-inf", -3, "--samples -3 must be a positive integer"),
    ],
)
def test_sample_counts(model, tmp_path, capsys, method, samples, message):
    path = tmp_path / "m.npz"
    model.save(path)
    assert _explain(path, method, "--samples", str(samples)) == 2
    captured = capsys.readouterr()
    assert message in captured.err and captured.out == ""


def test_memory_error_past_the_estimates_is_one_line(model, tmp_path, capsys, monkeypatch):
    path = tmp_path / "m.npz"
    model.save(path)

    def exhausted(*args, **kwargs):
        raise MemoryError

    monkeypatch.setitem(METHODS, "lime", replace(METHODS["lime"], compute=exhausted))
    assert _explain(path, "lime") == 2
    captured = capsys.readouterr()
    assert captured.err.startswith("attnverify: error: out of memory") and len(captured.err.splitlines()) == 1
