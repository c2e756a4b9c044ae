"""Gradcheck specs for the losses (loaded by specs.py): the fused primitives of ``ops/loss.py`` and the composites.

Targets that are not differentiated (class indices, weights) are built from
the input's shape, so hypothesis can draw any shape.  Every loss is checked to
second order: cross_entropy's create_graph path is a different formula from
its first-order array path, so both are exercised.  Parity with PyTorch lives
in tests/nn/test_loss_parity.py.
"""

from __future__ import annotations

import numpy as np

import chainrule as cr
import chainrule.nn.functional as F

from .specs import dims, positive, shape_st, spec, unit_interval


def _class_shapes(draw):
    """(C,), (N, C) or (N, C, d) with C >= 2."""
    n_classes = draw(dims) + 1
    kind = draw(dims)
    if kind == 1:
        return [(n_classes,)]
    if kind == 2:
        return [(draw(dims), n_classes)]
    return [(draw(dims), n_classes, draw(dims))]


def _targets(shape, ignore=None):
    """Deterministic class indices for input ``shape``; every third one set to ``ignore`` when given."""
    if len(shape) == 1:
        return np.array(1 % shape[0])
    n_classes = shape[1]
    target_shape = shape[:1] + shape[2:]
    out = (np.arange(int(np.prod(target_shape))) * 7 + 3) % n_classes
    if ignore is not None:
        out[::3] = ignore
    return out.reshape(target_shape)


def _class_weight(shape, dtype):
    n_classes = shape[0] if len(shape) == 1 else shape[1]
    return np.linspace(0.5, 2.0, n_classes).astype(dtype)


def _pair(draw):
    shape = draw(shape_st())
    return [shape, shape]


def _ce_all_options(x):
    w = _class_weight(x.shape, x._data.dtype)
    if x.ndim == 1:  # one example: ignore_index cannot remove it without making the mean 0/0
        return F.cross_entropy(x, _targets(x.shape), w, label_smoothing=0.2)
    return F.cross_entropy(x, _targets(x.shape, ignore=0), w, ignore_index=0, label_smoothing=0.2)


spec("cross_entropy", lambda x: F.cross_entropy(x, _targets(x.shape)), _class_shapes, ["cross_entropy"])
# (N, C) logits, class indices, mean, nothing ignored: the fused one-node path
spec(
    "cross_entropy_mean",
    lambda x: F.cross_entropy(x, _targets(x.shape)),
    lambda d: [(d(dims), d(dims) + 1)],
    ["cross_entropy_mean"],
)
spec("cross_entropy_options", _ce_all_options, _class_shapes, ["cross_entropy"])
spec(
    "cross_entropy_none",
    lambda x: F.cross_entropy(x, _targets(x.shape), reduction="none", label_smoothing=0.1),
    _class_shapes,
    ["cross_entropy"],
)
spec(
    "cross_entropy_probs",
    lambda x, t: F.cross_entropy(x, t, _class_weight(x.shape, x._data.dtype), label_smoothing=0.1),
    lambda d: [s := _class_shapes(d)[0], s],
    ["log_softmax"],
    domains=(None, unit_interval),
)
spec(
    "nll_loss",
    lambda x: F.nll_loss(x, _targets(x.shape, ignore=-100), _class_weight(x.shape, x._data.dtype), reduction="sum"),
    _class_shapes,
    ["gather"],
)
spec(
    "binary_cross_entropy",
    lambda x, t: F.binary_cross_entropy(x, t, reduction="sum"),
    _pair,
    ["binary_cross_entropy"],
    domain=unit_interval,
)
spec(
    "binary_cross_entropy_weighted",
    lambda x, t: F.binary_cross_entropy(x, t, np.float64(0.7), reduction="none"),
    _pair,
    ["binary_cross_entropy"],
    domain=unit_interval,
)
spec(
    "bce_with_logits",
    lambda x, t: F.binary_cross_entropy_with_logits(x, t),
    _pair,
    ["binary_cross_entropy_with_logits"],
    domains=(lambda x: 3 * x, unit_interval),
)
spec(
    "bce_with_logits_pos_weight",
    lambda x, t: F.binary_cross_entropy_with_logits(x, t, reduction="sum", pos_weight=_pos_weight(x)),
    _pair,
    ["binary_cross_entropy_with_logits"],
    domains=(lambda x: 3 * x, unit_interval),
)
spec("mse_loss", lambda x, t: F.mse_loss(x, t), _pair, ["sub", "mul", "mean"])
spec("l1_loss", lambda x, t: F.l1_loss(x, t, reduction="sum"), _pair, ["abs"])
spec("smooth_l1_loss", lambda x, t: F.smooth_l1_loss(x, t, reduction="none", beta=0.8), _pair, ["where"])
spec("huber_loss", lambda x, t: F.huber_loss(x, t, delta=0.6), _pair, ["where"])
spec(
    "kl_div",
    lambda x, t: F.kl_div(x, t, reduction="batchmean"),
    _pair,
    ["log", "masked_fill"],
    domains=(None, positive),
)
spec("kl_div_log_target", lambda x, t: F.kl_div(x, t, reduction="sum", log_target=True), _pair, ["exp"])
spec("margin_ranking_loss", lambda a, b: F.margin_ranking_loss(a, b, _signs(a), margin=0.2), _pair, ["clamp"])


def _pos_weight(x):
    return np.linspace(0.5, 3.0, x.shape[-1]) if x.ndim else np.array(2.5)


def _signs(x):
    return cr.tensor(np.where(np.arange(x._data.size).reshape(x.shape) % 2 == 0, 1.0, -1.0).astype(x._data.dtype))
