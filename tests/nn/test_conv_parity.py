"""Convolution and pooling equal PyTorch's: outputs, indices and every gradient (input, weight, bias).

Committed fixtures (tests/fixtures/conv.npz, made by tests/fixtures/make_conv.py
with torch 2.13.0) are compared without torch; when torch is importable each
case also runs live.  Each case also runs through its Module (``nn.Conv2d``,
``nn.MaxPool2d`` ...) with the weights copied in, which must give the same.
"""

from __future__ import annotations

import numpy as np
import pytest

import chainrule as cr
import chainrule.nn.functional as F
from tests.fixtures.make_conv import CASES, SPECS, TENSOR_ARGS, make_inputs
from tests.parity import HAVE_TORCH, assert_close, load

FIXTURES = load("conv")
TOL = dict(rtol=1e-4, atol=1e-5)  # float32; sums of up to ~50 products in a different order

MODULES = {
    "conv1d": cr.nn.Conv1d,
    "conv2d": cr.nn.Conv2d,
    "conv_transpose1d": cr.nn.ConvTranspose1d,
    "conv_transpose2d": cr.nn.ConvTranspose2d,
    "max_pool1d": cr.nn.MaxPool1d,
    "max_pool2d": cr.nn.MaxPool2d,
    "avg_pool1d": cr.nn.AvgPool1d,
    "avg_pool2d": cr.nn.AvgPool2d,
    "adaptive_avg_pool1d": cr.nn.AdaptiveAvgPool1d,
    "adaptive_avg_pool2d": cr.nn.AdaptiveAvgPool2d,
    "adaptive_max_pool1d": cr.nn.AdaptiveMaxPool1d,
    "adaptive_max_pool2d": cr.nn.AdaptiveMaxPool2d,
}


def _is_conv(spec):
    return spec["fn"].startswith("conv")


def _run(name, ref, call):
    """Run ``call(tensors)`` on the case's inputs, backward with its gout; the arrays to compare."""
    tensors = {k: cr.tensor(ref[k], requires_grad=True) for k in TENSOR_ARGS if k in ref}
    result = call(tensors)
    out, indices = result if isinstance(result, tuple) else (result, None)
    out.backward(cr.tensor(ref["gout"]))
    actual = {"out": out._data}
    if indices is not None:
        actual["indices"] = indices._data
    for k, t in tensors.items():
        actual[f"grad_{k}"] = t.grad._data
    return actual


def _functional(name):
    spec = SPECS[name]
    fn = getattr(F, spec["fn"])
    if _is_conv(spec):
        return lambda t: fn(t["x"], t["weight"], t.get("bias"), **spec["kwargs"])
    return lambda t: fn(t["x"], **spec["kwargs"])


def _module(name, tensors):
    spec = SPECS[name]
    cls = MODULES[spec["fn"]]
    kwargs = dict(spec["kwargs"])
    if not _is_conv(spec):
        return cls(**kwargs)
    weight = tensors["weight"]
    groups = kwargs.get("groups", 1)
    if spec["fn"].startswith("conv_transpose"):
        in_channels, out_channels = weight.shape[0], weight.shape[1] * groups
    else:
        in_channels, out_channels = weight.shape[1] * groups, weight.shape[0]
    layer = cls(in_channels, out_channels, tuple(weight.shape[2:]), bias="bias" in tensors, **kwargs)
    assert layer.weight.shape == weight.shape
    # the layer's own parameters take the recorded values; their gradients are the ones compared
    layer.weight._data[...] = weight._data
    tensors["weight"] = layer.weight
    if "bias" in tensors:
        layer.bias._data[...] = tensors["bias"]._data
        tensors["bias"] = layer.bias
    return layer


def compare(name, actual, expected):
    wanted = {k: v for k, v in expected.items() if k == "out" or k == "indices" or k.startswith("grad_")}
    assert sorted(actual) == sorted(wanted), f"{name}: computed {sorted(actual)}, recorded {sorted(wanted)}"
    for key, want in wanted.items():
        got = np.asarray(actual[key])
        if key == "indices":
            assert got.dtype == np.int64, f"{name}: indices are {got.dtype}"
            np.testing.assert_array_equal(got, want, err_msg=f"{name} indices")
            continue
        assert got.dtype == np.float32, f"{name} {key}: {got.dtype}, expected float32"
        assert_close(got, want, what=f"{name} {key}", **TOL)


@pytest.mark.parametrize("name", sorted(FIXTURES))
def test_matches_torch_fixture(name):
    ref = FIXTURES[name]
    compare(name, _run(name, ref, _functional(name)), ref)


def test_fixtures_cover_every_case_and_inputs_are_reproducible():
    missing = sorted(set(SPECS) - set(FIXTURES))
    assert not missing, f"run tests/fixtures/make_conv.py: fixtures missing for {missing}"
    for name in SPECS:
        for key, values in make_inputs(name).items():
            np.testing.assert_array_equal(values, FIXTURES[name][key], err_msg=f"{name} {key}")


def test_fixtures_exercise_ties():
    """The tie cases really have windows with several equal maxima (else they test nothing)."""
    ref = FIXTURES["max_pool2d_ties_indices"]
    windows = ref["x"].reshape(2, 3, 4, 2, 3, 2).transpose(0, 1, 2, 4, 3, 5).reshape(2, 3, 4, 3, 4)
    assert ((windows == windows.max(-1, keepdims=True)).sum(-1) > 1).any()


@pytest.mark.parametrize("name", sorted(FIXTURES))
def test_module_matches_torch_fixture(name):
    ref = FIXTURES[name]
    compare(name, _run(name, ref, lambda t: _module(name, t)(t["x"])), ref)


@pytest.mark.torch
@pytest.mark.skipif(not HAVE_TORCH, reason="torch is not installed")
@pytest.mark.filterwarnings("ignore:Using padding='same'")
@pytest.mark.parametrize("name", sorted(SPECS))
def test_matches_torch_live(name):
    ref = CASES[name]()
    compare(name, _run(name, ref, _functional(name)), ref)


@pytest.mark.torch
@pytest.mark.skipif(not HAVE_TORCH, reason="torch is not installed")
@pytest.mark.parametrize("cls_name", ["Conv1d", "Conv2d", "ConvTranspose1d", "ConvTranspose2d"])
def test_default_init_matches_torch_distribution(cls_name):
    """Same bounds as torch's reset_parameters: max |w| and |b| approach 1/sqrt(fan_in) from below."""
    import torch

    args = (6, 8, 3) if "1d" in cls_name else (6, 8, (3, 2))
    ours, theirs = getattr(cr.nn, cls_name)(*args, groups=2), getattr(torch.nn, cls_name)(*args, groups=2)
    assert ours.weight.shape == tuple(theirs.weight.shape)
    assert ours.bias.shape == tuple(theirs.bias.shape)
    fan_in = theirs.weight.shape[1] * int(np.prod(theirs.weight.shape[2:]))
    for mine, torch_param in [(ours.weight, theirs.weight), (ours.bias, theirs.bias)]:
        bound = 1 / np.sqrt(fan_in)
        assert np.abs(mine._data).max() <= bound
        assert np.abs(torch_param.detach().numpy()).max() <= bound
        assert np.abs(mine._data).max() > 0.5 * bound
