"""The op table and the layers on a CUDA GPU (CuPy), compared with the CPU at float32 tolerance.

Skipped with a reason where no GPU is usable; on a GPU machine
``python -m pytest tests/gpu`` runs every op spec that has parity shapes and
every layer below, forward and backward, on ``cuda`` tensors.
"""

from __future__ import annotations

import copy

import numpy as np
import pytest

import chainrule as cr
from chainrule import nn

from ..ops.specs import SPECS

pytestmark = pytest.mark.skipif(not cr.cuda.is_available(), reason="no CUDA GPU (CuPy) on this machine")

CASES = [(s, shapes) for s in SPECS for shapes in s.parity_shapes]


def run(fn, arrays, device):
    inputs = [cr.tensor(a, device=device, requires_grad=True) for a in arrays]
    out = fn(*inputs)
    outs = out if isinstance(out, tuple) else (out,)
    total = None
    for o in outs:
        if o.requires_grad:
            term = o.sum()
            total = term if total is None else total + term
    total.backward()
    return [o.cpu().numpy() for o in outs], [None if x.grad is None else x.grad.cpu().numpy() for x in inputs]


@pytest.mark.parametrize(("spec", "shapes"), CASES, ids=[f"{s.name}-{i}" for i, (s, _) in enumerate(CASES)])
def test_op_matches_cpu(spec, shapes):
    rng = np.random.default_rng(0)
    arrays = [spec.domain_for(i)(rng.standard_normal(shape)).astype(np.float32) for i, shape in enumerate(shapes)]
    cpu_out, cpu_grads = run(spec.fn, arrays, "cpu")
    gpu_out, gpu_grads = run(spec.fn, arrays, "cuda")
    for a, b in zip(cpu_out, gpu_out):
        np.testing.assert_allclose(b, a, rtol=2e-5, atol=2e-6)
    for a, b in zip(cpu_grads, gpu_grads):
        if a is not None:
            np.testing.assert_allclose(b, a, rtol=2e-5, atol=2e-6)


LAYERS = {
    "linear": (lambda: nn.Linear(8, 5), (4, 8)),
    "conv2d": (lambda: nn.Conv2d(3, 6, 3, padding=1, stride=2), (2, 3, 9, 9)),
    "conv_transpose2d": (lambda: nn.ConvTranspose2d(3, 4, 3, stride=2), (2, 3, 5, 5)),
    "maxpool": (lambda: nn.MaxPool2d(2), (2, 3, 8, 8)),
    "avgpool": (lambda: nn.AvgPool2d(3, stride=2, padding=1), (2, 3, 8, 8)),
    "batchnorm": (lambda: nn.BatchNorm2d(3), (4, 3, 5, 5)),
    "layernorm": (lambda: nn.LayerNorm(6), (3, 4, 6)),
    "groupnorm": (lambda: nn.GroupNorm(2, 4), (3, 4, 5)),
    "lstm": (lambda: nn.LSTM(5, 7, num_layers=2, batch_first=True, bidirectional=True), (3, 4, 5)),
    "gru": (lambda: nn.GRU(5, 7, batch_first=True), (3, 4, 5)),
    "mha": (lambda: nn.MultiheadAttention(8, 2, batch_first=True), (2, 5, 8)),
    "encoder": (lambda: nn.TransformerEncoderLayer(8, 2, 16, dropout=0.0, batch_first=True), (2, 5, 8)),
}


def call(layer, x):
    if isinstance(layer, nn.MultiheadAttention):
        return layer(x, x, x)[0]
    out = layer(x)
    return out[0] if isinstance(out, tuple) else out


@pytest.mark.parametrize("name", sorted(LAYERS))
def test_layer_matches_cpu(name):
    make, shape = LAYERS[name]
    cr.manual_seed(0)
    cpu_layer = make()
    gpu_layer = copy.deepcopy(cpu_layer).to("cuda")
    data = np.random.default_rng(1).standard_normal(shape).astype(np.float32)
    results = []
    for layer, device in ((cpu_layer, "cpu"), (gpu_layer, "cuda")):
        x = cr.tensor(data, device=device, requires_grad=True)
        out = call(layer, x)
        out.sum().backward()
        grads = [p.grad.cpu().numpy() for p in layer.parameters()]
        results.append((out.cpu().numpy(), x.grad.cpu().numpy(), grads))
    (a_out, a_gx, a_gp), (b_out, b_gx, b_gp) = results
    np.testing.assert_allclose(b_out, a_out, rtol=2e-5, atol=2e-5)
    np.testing.assert_allclose(b_gx, a_gx, rtol=2e-5, atol=2e-5)
    for a, b in zip(a_gp, b_gp):
        np.testing.assert_allclose(b, a, rtol=2e-4, atol=2e-5)


def test_mixed_precision_on_the_gpu_skips_overflowing_steps():
    model = nn.Linear(4, 2).to("cuda")
    opt = cr.optim.SGD(model.parameters(), lr=0.1)
    scaler = cr.amp.GradScaler(init_scale=1024.0)
    with cr.amp.autocast("cuda", dtype=cr.float16):
        out = model(cr.randn(3, 4, device="cuda"))
        assert out.dtype == cr.float16
        loss = out.float().sum()
    scaler.scale(loss).backward()
    model.weight.grad._data[0, 0] = float("inf")
    before = model.weight.cpu().numpy().copy()
    scaler.step(opt)
    scaler.update()
    np.testing.assert_array_equal(model.weight.cpu().numpy(), before)
    assert scaler.get_scale() == 512.0


def test_checkpoints_are_saved_from_host_arrays(tmp_path):
    model = nn.Linear(3, 2).to("cuda")
    cr.io.save(model.state_dict(), tmp_path / "w.safetensors")
    back = cr.io.load(tmp_path / "w.safetensors")
    assert back["weight"].device == "cpu"
    np.testing.assert_array_equal(back["weight"].numpy(), model.weight.cpu().numpy())
