"""Every kink choice stated in docs/subgradients.md, checked against the documented value and live against PyTorch."""

from __future__ import annotations

import math
import re
from pathlib import Path

import numpy as np
import pytest

import chainrule as cr
from chainrule.nn import functional as F
from tests.parity import HAVE_TORCH

DOC = Path(__file__).resolve().parents[2] / "docs" / "subgradients.md"
inf = math.inf


def z(x):
    return x * 0


# name: (chainrule fn, torch fn (built lazily from the module t and functional tf), input, documented gradient)
CASES = {
    "relu at 0": (lambda x: x.relu(), lambda t, tf, x: x.relu(), [0.0, -1.0, 2.0], [0.0, 0.0, 1.0]),
    "leaky_relu at 0": (
        lambda x: F.leaky_relu(x, 0.1),
        lambda t, tf, x: tf.leaky_relu(x, 0.1),
        [0.0, -1.0, 2.0],
        [0.1, 0.1, 1.0],
    ),
    "elu at 0": (lambda x: F.elu(x, alpha=0.5), lambda t, tf, x: tf.elu(x, alpha=0.5), [0.0], [0.5]),
    "abs at 0": (lambda x: x.abs(), lambda t, tf, x: x.abs(), [0.0, -2.0, 3.0], [0.0, -1.0, 1.0]),
    "clamp at its bounds": (
        lambda x: x.clamp(-1.0, 1.0),
        lambda t, tf, x: x.clamp(-1.0, 1.0),
        [-1.0, 1.0, 1.5, -1.5, 0.0],
        [1.0, 1.0, 0.0, 0.0, 1.0],
    ),
    "clamp to one value": (lambda x: x.clamp(0.5, 0.5), lambda t, tf, x: x.clamp(0.5, 0.5), [0.5, 0.7], [1.0, 0.0]),
    "maximum tie": (
        lambda x: cr.maximum(x, cr.ones(2, dtype=cr.float64)),
        lambda t, tf, x: t.maximum(x, t.ones(2, dtype=t.float64)),
        [1.0, 2.0],
        [0.5, 1.0],
    ),
    "minimum tie": (
        lambda x: cr.minimum(x, cr.ones(2, dtype=cr.float64)),
        lambda t, tf, x: t.minimum(x, t.ones(2, dtype=t.float64)),
        [1.0, 2.0],
        [0.5, 0.0],
    ),
    "sign everywhere": (lambda x: x.sign(), lambda t, tf, x: x.sign(), [0.0, 1.0, -2.0], [0.0, 0.0, 0.0]),
    "round at a jump": (lambda x: x.round(), lambda t, tf, x: x.round(), [0.5, 1.2], [0.0, 0.0]),
    "floor at a jump": (lambda x: x.floor(), lambda t, tf, x: x.floor(), [1.0, 1.5], [0.0, 0.0]),
    "remainder at a jump": (lambda x: x % 1.0, lambda t, tf, x: x % 1.0, [1.0, 1.5], [1.0, 1.0]),
    "sqrt at 0": (lambda x: x.sqrt(), lambda t, tf, x: x.sqrt(), [0.0, 4.0], [inf, 0.25]),
    "pow 0 at 0": (lambda x: x**0.0, lambda t, tf, x: x**0.0, [0.0, 2.0], [0.0, 0.0]),
    "max() ties split": (lambda x: x.max(), lambda t, tf, x: x.max(), [1.0, 3.0, 3.0], [0.0, 0.5, 0.5]),
    "min() ties split": (lambda x: x.min(), lambda t, tf, x: x.min(), [1.0, 1.0, 3.0], [0.5, 0.5, 0.0]),
    "amax ties split": (lambda x: x.amax(), lambda t, tf, x: x.amax(), [3.0, 1.0, 3.0], [0.5, 0.0, 0.5]),
    "max(dim) ties to the first": (
        lambda x: x.max(dim=0)[0],
        lambda t, tf, x: x.max(dim=0)[0],
        [1.0, 3.0, 3.0],
        [0.0, 1.0, 0.0],
    ),
    "min(dim) ties to the first": (
        lambda x: x.min(dim=0)[0],
        lambda t, tf, x: x.min(dim=0)[0],
        [2.0, 1.0, 1.0],
        [0.0, 1.0, 0.0],
    ),
    "norm inf ties": (
        lambda x: cr.norm(x, p=inf),
        lambda t, tf, x: t.norm(x, p=inf),
        [2.0, -2.0, 1.0],
        [0.5, -0.5, 0.0],
    ),
    "norm 2 at 0": (lambda x: x.norm(), lambda t, tf, x: x.norm(), [0.0, 0.0], [0.0, 0.0]),
    "norm 1 at 0": (lambda x: x.norm(p=1), lambda t, tf, x: x.norm(p=1), [0.0, 2.0], [0.0, 1.0]),
    "std at zero variance": (lambda x: x.std(), lambda t, tf, x: x.std(), [1.0, 1.0], [0.0, 0.0]),
    "prod with a zero": (lambda x: x.prod(), lambda t, tf, x: x.prod(), [0.0, 2.0, 3.0], [6.0, 0.0, 0.0]),
    "prod with two zeros": (lambda x: x.prod(), lambda t, tf, x: x.prod(), [0.0, 0.0, 3.0], [0.0, 0.0, 0.0]),
    "max_pool ties to the first": (
        lambda x: F.max_pool1d(x.reshape(1, 1, 4), 2),
        lambda t, tf, x: tf.max_pool1d(x.reshape(1, 1, 4), 2),
        [2.0, 2.0, 1.0, 1.0],
        [1.0, 0.0, 1.0, 0.0],
    ),
    "l1_loss at 0": (
        lambda x: F.l1_loss(x, z(x).detach(), reduction="sum"),
        lambda t, tf, x: tf.l1_loss(x, z(x).detach(), reduction="sum"),
        [0.0, 2.0],
        [0.0, 1.0],
    ),
    "smooth_l1 at beta": (
        lambda x: F.smooth_l1_loss(x, z(x).detach(), reduction="sum", beta=1.0),
        lambda t, tf, x: tf.smooth_l1_loss(x, z(x).detach(), reduction="sum", beta=1.0),
        [1.0, -1.0],
        [1.0, -1.0],
    ),
    "huber at delta": (
        lambda x: F.huber_loss(x, z(x).detach(), reduction="sum", delta=1.0),
        lambda t, tf, x: tf.huber_loss(x, z(x).detach(), reduction="sum", delta=1.0),
        [1.0, -1.0],
        [1.0, -1.0],
    ),
    "where trap": (
        lambda x: cr.where(x > 0, x.sqrt(), cr.zeros_like(x)),
        lambda t, tf, x: t.where(x > 0, x.sqrt(), t.zeros_like(x)),
        [0.0, 4.0],
        [math.nan, 0.25],
    ),
}


def grad_of(fn, values):
    x = cr.tensor(values, dtype=cr.float64, requires_grad=True)
    with np.errstate(divide="ignore", invalid="ignore"):
        fn(x).sum().backward()
    return x.grad.numpy()


@pytest.mark.parametrize("name", list(CASES))
def test_documented_choice(name):
    fn, _, values, expected = CASES[name]
    np.testing.assert_array_equal(grad_of(fn, values), np.array(expected))


@pytest.mark.torch
@pytest.mark.skipif(not HAVE_TORCH, reason="torch is not installed")
@pytest.mark.parametrize("name", list(CASES))
def test_same_choice_as_pytorch(name):
    import torch
    import torch.nn.functional as tf

    _, torch_fn, values, _ = CASES[name]
    x = torch.tensor(values, dtype=torch.float64, requires_grad=True)
    torch_fn(torch, tf, x).sum().backward()
    np.testing.assert_array_equal(grad_of(CASES[name][0], values), x.grad.numpy())


def test_zero_dim_masked_fill_backward():
    # the backward of a 0-d masked_fill (which the std rule above relies on) used to fail in backend.select
    x = cr.tensor(2.0, requires_grad=True)
    x.masked_fill(np.array(True), 0.0).backward()
    assert x.grad.item() == 0.0
    y = cr.tensor(3.0, requires_grad=True)
    y.masked_fill(np.array(False), 0.0).backward()
    assert y.grad.item() == 1.0


def test_double_where_avoids_the_trap():
    x = cr.tensor([0.0, 4.0], dtype=cr.float64, requires_grad=True)
    safe = cr.where(x > 0, x, cr.ones_like(x))
    cr.where(x > 0, safe.sqrt(), cr.zeros_like(x)).sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [0.0, 0.25])


def test_the_doc_lists_every_op_tested():
    text = DOC.read_text()
    for op in ("relu", "leaky_relu", "elu", "abs", "clamp", "maximum", "sign", "round", "remainder", "sqrt", "amax"):
        assert f"`{op}" in text, op
    for phrase in ("max(dim)", "max_pool", "prod", "std", "where"):
        assert phrase in text, phrase
    # every example value stated in the doc's prose comes out as stated
    assert re.search(r"\[1, 3, 3\]\.amax\(\)` gives `\[0, 0\.5, 0\.5\]", text)
    np.testing.assert_array_equal(grad_of(lambda x: x.amax(), [1.0, 3.0, 3.0]), [0, 0.5, 0.5])
    assert "`[0, 2, 3].prod()` gives `[6, 0, 0]`" in text
