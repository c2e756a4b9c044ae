"""The device API without a GPU: the seam, the errors, and what runs the same on the CPU."""

from __future__ import annotations

import pytest

import chainrule as cr
from chainrule import nn

HAVE_GPU = cr.cuda.is_available()


def test_cpu_device_everywhere():
    x = cr.zeros(2, 3, device="cpu")
    assert x.device == "cpu" and str(x.device) == "cpu" and x.device == cr.device("cpu")
    assert x.to("cpu") is x and x.cpu() is x
    m = nn.Linear(2, 2).to("cpu")
    assert all(p.device == "cpu" for p in m.parameters())
    assert not x.is_cuda


@pytest.mark.skipif(HAVE_GPU, reason="checks the messages given when no GPU is usable")
def test_asking_for_cuda_without_a_gpu_is_a_clear_error():
    assert cr.cuda.device_count() == 0
    for make in (
        lambda: cr.zeros(2, device="cuda"),
        lambda: cr.ones(2).to("cuda"),
        lambda: cr.ones(2).cuda(),
        lambda: nn.Linear(2, 2).to("cuda"),
        lambda: cr.randn(2, device="cuda:0"),
    ):
        with pytest.raises(RuntimeError, match="CuPy|CUDA|cuda"):
            make()
    with pytest.raises(RuntimeError, match="not available"):
        cr.cuda.get_device_name()


def test_bad_device_names():
    with pytest.raises(ValueError, match="unknown device"):
        cr.zeros(2, device="tpu")


@pytest.mark.skipif(not HAVE_GPU, reason="no CUDA GPU (CuPy) on this machine")
def test_round_trip_through_the_gpu():
    x = cr.randn(3, 4, requires_grad=True)
    y = (x.to("cuda") * 2).relu().sum()
    y.backward()
    assert x.grad.device == "cpu"
    with pytest.raises(cr.DeviceError, match="different devices"):
        cr.ones(2) + cr.ones(2, device="cuda")
