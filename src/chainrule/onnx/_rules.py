"""ONNX for each primitive of the derivative table: ``RULES[name](graph, record) -> output names``.

A rule reads the traced record (its arrays, arguments and output arrays:
shapes are static, taken from the trace) and adds nodes through the
:class:`chainrule.onnx._graph.Graph` it is given.  It returns one ONNX value
name per output of the primitive, or an :class:`Unavailable` for an output
that does not export (max pooling's indices); a rule that cannot express one
particular use raises :class:`RuleError` with the reason.  Primitives with no
rule are listed, all at once, by the exporter; ``UNSUPPORTED`` says why the
known ones have none.
"""

from __future__ import annotations

import math

import numpy as np

INT64_MIN = -(2**63)


class RuleError(Exception):
    """This use of the primitive has no ONNX form (the message says why)."""


class Unavailable:
    """An output that does not export; using it is an error naming the reason."""

    def __init__(self, reason: str):
        self.reason = reason


RULES: dict = {}

# primitives that have no rule, and why (the rest of the table has one)
UNSUPPORTED = {
    "batch_norm_train": "batch norm with batch statistics runs in training mode; export calls model.eval(), so this "
    "means a forward that calls F.batch_norm(training=True) itself",
    "cross_entropy": "a loss: export the model's forward and compute the loss outside the graph",
    "cross_entropy_mean": "a loss: export the model's forward and compute the loss outside the graph",
    "binary_cross_entropy": "a loss: export the model's forward and compute the loss outside the graph",
    "binary_cross_entropy_with_logits": "a loss: export the model's forward and compute the loss outside the graph",
    "setitem": "in-place assignment x[i] = v; build the tensor with cat/where instead",
    "index_scatter": "a backward op (the gradient of indexing)",
    "conv_weight_grad": "a backward op (the gradient of a convolution's weight)",
    "max_pool_scatter": "a backward op",
    "max_pool_gather": "a backward op",
    "avg_pool_backward": "a backward op",
    "embedding_dense_backward": "a backward op",
    "inv": "standard ONNX has no matrix inverse",
    "slogdet": "standard ONNX has no log-determinant (Det is exported; take its log outside)",
    "solve": "standard ONNX has no linear solver",
    "svd": "standard ONNX has no SVD",
    "eigh": "standard ONNX has no eigendecomposition",
    "cholesky": "standard ONNX has no Cholesky factorization",
    "qr": "standard ONNX has no QR factorization",
}


def rule(*names):
    def register(fn):
        for name in names:
            RULES[name] = fn
        return fn

    return register


# ---------------------------------------------------------------------------
# elementwise

_UNARY = {
    "neg": "Neg",
    "abs": "Abs",
    "exp": "Exp",
    "log": "Log",
    "sqrt": "Sqrt",
    "sin": "Sin",
    "cos": "Cos",
    "tanh": "Tanh",
    "sigmoid": "Sigmoid",
    "erf": "Erf",
    "relu": "Relu",
    "sign": "Sign",
    "floor": "Floor",
    "ceil": "Ceil",
    "round": "Round",
}
_BINARY = {"add": "Add", "sub": "Sub", "mul": "Mul", "div": "Div", "pow": "Pow", "maximum": "Max", "minimum": "Min"}


@rule(*_UNARY)
def _unary(g, rec):
    return [g.node(_UNARY[rec.name], [g.value(rec.values[0])])]


@rule(*_BINARY)
def _binary(g, rec):
    dtype = rec.outputs[0].dtype
    a = g.value_as(rec.values[0], dtype)
    b = g.value_as(rec.values[1], dtype)
    if rec.name == "pow" and isinstance(rec.values[1], np.ndarray) and rec.values[1].dtype.kind in "iu":
        b = g.value(rec.values[1])  # an integer exponent stays an integer (exact powers)
    return [g.node(_BINARY[rec.name], [a, b])]


def _scalar_operands(g, rec):
    dtype = rec.outputs[0].dtype
    return g.value_as(rec.values[0], dtype), g.scalar(rec.values[1], dtype)


@rule("add_scalar", "mul_scalar", "div_scalar")
def _scalar_right(g, rec):
    x, c = _scalar_operands(g, rec)
    op = {"add_scalar": "Add", "mul_scalar": "Mul", "div_scalar": "Div"}[rec.name]
    return [g.node(op, [x, c])]


@rule("rsub_scalar", "rdiv_scalar", "rpow_scalar")
def _scalar_left(g, rec):
    x, c = _scalar_operands(g, rec)
    op = {"rsub_scalar": "Sub", "rdiv_scalar": "Div", "rpow_scalar": "Pow"}[rec.name]
    return [g.node(op, [c, x])]


@rule("pow_scalar")
def _pow_scalar(g, rec):
    x, c = _scalar_operands(g, rec)
    if rec.values[1] == 2:
        return [g.node("Mul", [x, x])]  # as the forward computes it
    return [g.node("Pow", [x, c])]


@rule("trunc")
def _trunc(g, rec):
    # ONNX has no Trunc: toward zero is Ceil below 0 and Floor above
    x = rec.values[0]
    if x.dtype.kind != "f":
        return [g.node("Identity", [g.value(x)])]
    name = g.value(x)
    negative = g.node("Less", [name, g.scalar(0, x.dtype)])
    return [g.node("Where", [negative, g.node("Ceil", [name]), g.node("Floor", [name])])]


@rule("expm1")
def _expm1(g, rec):
    x = g.value(rec.values[0])
    return [g.node("Sub", [g.node("Exp", [x]), g.scalar(1, rec.outputs[0].dtype)])]


@rule("log1p")
def _log1p(g, rec):
    x = g.value(rec.values[0])
    return [g.node("Log", [g.node("Add", [x, g.scalar(1, rec.outputs[0].dtype)])])]


@rule("leaky_relu")
def _leaky_relu(g, rec):
    return [g.node("LeakyRelu", [g.value(rec.values[0])], alpha=float(rec.values[1]))]


@rule("elu")
def _elu(g, rec):
    return [g.node("Elu", [g.value(rec.values[0])], alpha=float(rec.values[1]))]


@rule("gelu")
def _gelu(g, rec):
    x, approximate = g.value(rec.values[0]), rec.values[1]
    dtype = rec.outputs[0].dtype
    half = g.node("Mul", [x, g.scalar(0.5, dtype)])
    if approximate == "tanh":  # 0.5 x (1 + tanh(sqrt(2 / pi) (x + 0.044715 x^3)))
        cube = g.node("Mul", [g.node("Mul", [x, x]), x])
        inner = g.node("Add", [x, g.node("Mul", [cube, g.scalar(0.044715, dtype)])])
        t = g.node("Tanh", [g.node("Mul", [inner, g.scalar(math.sqrt(2 / math.pi), dtype)])])
    else:  # 0.5 x (1 + erf(x / sqrt 2))
        t = g.node("Erf", [g.node("Mul", [x, g.scalar(1 / math.sqrt(2), dtype)])])
    return [g.node("Mul", [half, g.node("Add", [t, g.scalar(1, dtype)])])]


@rule("silu")
def _silu(g, rec):
    x = g.value(rec.values[0])
    return [g.node("Mul", [x, g.node("Sigmoid", [x])])]


@rule("softplus")
def _softplus(g, rec):
    x, beta, threshold = g.value(rec.values[0]), float(rec.values[1]), float(rec.values[2])
    dtype = rec.outputs[0].dtype
    scaled = g.node("Mul", [x, g.scalar(beta, dtype)]) if beta != 1 else x
    soft = g.node("Softplus", [scaled])
    if beta != 1:
        soft = g.node("Div", [soft, g.scalar(beta, dtype)])
    return [g.node("Where", [g.node("Greater", [scaled, g.scalar(threshold, dtype)]), x, soft])]


def _division_operands(g, rec):
    """(a, b, dtype): both operands in the result's dtype."""
    dtype = rec.outputs[0].dtype
    return g.value_as(rec.values[0], dtype), g.value_as(rec.values[1], dtype), dtype


@rule("fmod")
def _fmod(g, rec):
    a, b, _ = _division_operands(g, rec)
    return [g.node("Mod", [a, b], fmod=1)]


def _c_remainder(g, a, b, dtype):
    """(r, wrong): r = fmod(a, b), and where its sign disagrees with b's (r != 0): Python's modulo and floor
    division step one divisor away from C's there (ONNX Mod with fmod=1 is C's fmod on floats)."""
    r = g.node("Mod", [a, b], fmod=1)
    zero = g.scalar(0, dtype)
    signs_differ = g.node("Xor", [g.node("Less", [r, zero]), g.node("Less", [b, zero])])
    wrong = g.node("And", [g.node("Not", [g.node("Equal", [r, zero])]), signs_differ])
    return r, wrong


@rule("remainder")
def _remainder(g, rec):
    a, b, dtype = _division_operands(g, rec)
    if dtype.kind != "f":  # on integers ONNX Mod (fmod=0) is Python's modulo
        return [g.node("Mod", [a, b], fmod=0)]
    r, wrong = _c_remainder(g, a, b, dtype)
    return [g.node("Where", [wrong, g.node("Add", [r, b]), r])]


@rule("floor_divide")
def _floor_divide(g, rec):
    a, b, dtype = _division_operands(g, rec)
    if dtype.kind != "f":  # (a - a mod b) / b divides exactly: no rounding toward zero to undo
        return [g.node("Div", [g.node("Sub", [a, g.node("Mod", [a, b], fmod=0)]), b])]
    # NumPy's floor division of floats (npy_divmod): (a - fmod(a, b)) / b, one less where the fmod's sign is wrong,
    # then rounded to the nearest integer (the quotient is an integer up to rounding)
    r, wrong = _c_remainder(g, a, b, dtype)
    quotient = g.node("Div", [g.node("Sub", [a, r]), b])
    quotient = g.node("Where", [wrong, g.node("Sub", [quotient, g.scalar(1, dtype)]), quotient])
    down = g.node("Floor", [quotient])
    above_half = g.node("Greater", [g.node("Sub", [quotient, down]), g.scalar(0.5, dtype)])
    return [g.node("Where", [above_half, g.node("Add", [down, g.scalar(1, dtype)]), down])]


@rule("clamp_tensor")
def _clamp_tensor(g, rec):
    *arrays, (has_min, has_max) = rec.values
    dtype = rec.outputs[0].dtype
    name = g.value_as(arrays[0], dtype)
    if has_min:
        name = g.node("Max", [name, g.value_as(arrays[1], dtype)])
    if has_max:
        name = g.node("Min", [name, g.value_as(arrays[-1], dtype)])
    return [name]


@rule("det")
def _det(g, rec):
    return [g.node("Det", [g.value(rec.values[0])])]


@rule("clamp", "hardtanh")
def _clamp(g, rec):
    x, lo, hi = rec.values[0], rec.values[1], rec.values[2]
    dtype = rec.outputs[0].dtype
    name = g.value(x)
    if isinstance(lo, np.ndarray) or isinstance(hi, np.ndarray):  # tensor bounds: Max / Min broadcast
        if lo is not None:
            name = g.node("Max", [name, g.value_as(lo, dtype) if isinstance(lo, np.ndarray) else g.scalar(lo, dtype)])
        if hi is not None:
            name = g.node("Min", [name, g.value_as(hi, dtype) if isinstance(hi, np.ndarray) else g.scalar(hi, dtype)])
        return [name]
    bounds = [g.scalar(lo, dtype) if lo is not None else "", g.scalar(hi, dtype) if hi is not None else ""]
    while bounds and bounds[-1] == "":
        bounds.pop()
    return [g.node("Clip", [name, *bounds])]


@rule("where")
def _where(g, rec):
    dtype = rec.outputs[0].dtype
    a, b, cond = rec.values[0], rec.values[1], rec.values[2]
    return [g.node("Where", [g.value_as(cond, np.dtype(bool)), g.value_as(a, dtype), g.value_as(b, dtype)])]


@rule("masked_fill")
def _masked_fill(g, rec):
    x, mask, value = rec.values[0], rec.values[1], rec.values[2]
    dtype = rec.outputs[0].dtype
    return [g.node("Where", [g.value_as(mask, np.dtype(bool)), g.scalar(value, dtype), g.value(x)])]


@rule("select")
def _select(g, rec):
    x, mask, keep = rec.values[0], rec.values[1], rec.values[2]
    dtype = rec.outputs[0].dtype
    equal = g.node("Equal", [g.value(mask), g.scalar(keep, np.asarray(mask).dtype)])
    return [g.node("Where", [equal, g.value(x), g.scalar(0, dtype)])]


@rule("cast")
def _cast(g, rec):
    return [g.cast(g.value(rec.values[0]), rec.outputs[0].dtype)]


@rule("to_device", "clone", "contiguous")
def _identity(g, rec):
    return [g.node("Identity", [g.value(rec.values[0])])]


# ---------------------------------------------------------------------------
# reductions


def _axes(axis):
    if axis is None:
        return None
    return [int(a) for a in axis] if isinstance(axis, (tuple, list)) else [int(axis)]


def _reduce(g, op, rec, axis, keepdims):
    x = g.value_as(rec.values[0], rec.outputs[0].dtype)
    axes = _axes(axis)
    inputs = [x] if axes is None else [x, g.const(np.asarray(axes, dtype=np.int64))]
    out = g.node(op, inputs, keepdims=int(bool(keepdims)))
    if axes is None and keepdims is False and rec.outputs[0].shape != ():
        raise RuleError("a full reduction without keepdims gave a shape that is not a scalar")
    return out


_REDUCTIONS = {
    "sum": "ReduceSum",
    "mean": "ReduceMean",
    "amax": "ReduceMax",
    "amin": "ReduceMin",
    "prod": "ReduceProd",
    "logsumexp": "ReduceLogSumExp",
    "norm2": "ReduceL2",
}


@rule(*_REDUCTIONS)
def _reduction(g, rec):
    axis, keepdims = rec.values[1], rec.values[2]
    return [_reduce(g, _REDUCTIONS[rec.name], rec, axis, keepdims)]


@rule("max_dim", "min_dim")
def _max_min_dim(g, rec):
    x, axis, keepdims = g.value(rec.values[0]), rec.values[1], rec.values[2]
    if axis is None or isinstance(axis, (tuple, list)):
        raise RuleError("max/min with indices over several dimensions")
    reduce_op, arg_op = ("ReduceMax", "ArgMax") if rec.name == "max_dim" else ("ReduceMin", "ArgMin")
    values = g.node(reduce_op, [x, g.const(np.asarray([axis], dtype=np.int64))], keepdims=int(bool(keepdims)))
    indices = g.node(arg_op, [x], axis=int(axis), keepdims=int(bool(keepdims)))
    return [values, g.cast(indices, rec.outputs[1].dtype)]


@rule("cumsum")
def _cumsum(g, rec):
    x, axis = g.value(rec.values[0]), rec.values[1]
    if axis is None:
        x, axis = g.node("Reshape", [x, g.const(np.asarray([-1], dtype=np.int64))]), 0
    return [g.node("CumSum", [x, g.const(np.asarray(axis, dtype=np.int64))])]


# ---------------------------------------------------------------------------
# shapes


def _shape(array) -> np.ndarray:
    return np.asarray(array.shape, dtype=np.int64)


@rule("reshape")
def _reshape(g, rec):
    return [g.node("Reshape", [g.value(rec.values[0]), g.const(_shape(rec.outputs[0]))])]


@rule("permute")
def _permute(g, rec):
    return [g.node("Transpose", [g.value(rec.values[0])], perm=[int(a) for a in rec.values[1]])]


@rule("expand")
def _expand(g, rec):
    return [g.node("Expand", [g.value(rec.values[0]), g.const(_shape(rec.outputs[0]))])]


@rule("flip")
def _flip(g, rec):
    x, axes = g.value(rec.values[0]), [int(a) for a in rec.values[1]]
    k = len(axes)
    return [
        g.node(
            "Slice",
            [x, g.ints([-1] * k), g.ints([INT64_MIN] * k), g.ints(axes), g.ints([-1] * k)],
        )
    ]


@rule("cat")
def _cat(g, rec):
    *arrays, axis, _sizes = rec.values
    dtype = rec.outputs[0].dtype
    return [g.node("Concat", [g.value_as(a, dtype) for a in arrays], axis=int(axis))]


@rule("stack")
def _stack(g, rec):
    *arrays, axis = rec.values
    dtype = rec.outputs[0].dtype
    axes = g.ints([int(axis)])
    return [g.node("Concat", [g.node("Unsqueeze", [g.value_as(a, dtype), axes]) for a in arrays], axis=int(axis))]


@rule("split")
def _split(g, rec):
    x, axis, sizes = g.value(rec.values[0]), rec.values[1], rec.values[2]
    outs = g.node("Split", [x, g.ints([int(s) for s in sizes])], outputs=len(sizes), axis=int(axis))
    return list(outs)


@rule("pad")
def _pad(g, rec):
    x, widths, value = g.value(rec.values[0]), rec.values[1], rec.values[2]
    pads = [int(lo) for lo, _ in widths] + [int(hi) for _, hi in widths]
    return [g.node("Pad", [x, g.ints(pads), g.scalar(value, rec.outputs[0].dtype)], mode="constant")]


# ---------------------------------------------------------------------------
# indexing


def _full_index(index, ndim):
    """``index`` as a tuple with the Ellipsis expanded and every dimension of x covered."""
    items = index if isinstance(index, tuple) else (index,)
    real = sum(1 for item in items if item is not None and item is not Ellipsis)
    if any(item is Ellipsis for item in items):
        at = next(i for i, item in enumerate(items) if item is Ellipsis)
        items = items[:at] + (slice(None),) * (ndim - real) + items[at + 1 :]
    else:
        items = items + (slice(None),) * (ndim - real)
    return items


@rule("getitem")
def _getitem(g, rec):
    x, index, in_shape = rec.values[0], rec.values[1], rec.values[2]
    name = g.value(x)
    items = _full_index(index, len(in_shape))
    starts, ends, axes, steps, squeeze, unsqueeze = [], [], [], [], [], []
    dim = out_pos = 0
    for item in items:
        if item is None:
            unsqueeze.append(out_pos)
            out_pos += 1
            continue
        size = in_shape[dim]
        if isinstance(item, slice):
            start, stop, step = item.indices(size)
            if (start, stop, step) != (0, size, 1):
                if step < 0 and stop < 0:
                    stop = INT64_MIN  # up to and including index 0
                starts.append(start), ends.append(stop), axes.append(dim), steps.append(step)
            out_pos += 1
        else:
            i = int(item) + (size if int(item) < 0 else 0)
            starts.append(i), ends.append(i + 1), axes.append(dim), steps.append(1)
            squeeze.append(dim)
        dim += 1
    if axes:
        name = g.node("Slice", [name, g.ints(starts), g.ints(ends), g.ints(axes), g.ints(steps)])
    if squeeze:
        name = g.node("Squeeze", [name, g.ints(squeeze)])
    if unsqueeze:
        name = g.node("Unsqueeze", [name, g.ints(unsqueeze)])
    if not (axes or squeeze or unsqueeze):
        name = g.node("Identity", [name])
    return [name]


@rule("index")
def _index(g, rec):
    x, index, in_shape = rec.values[0], rec.values[1], rec.values[2]
    items = _full_index(index, len(in_shape))
    arrays = [i for i, item in enumerate(items) if isinstance(item, np.ndarray)]
    plain = all(isinstance(item, slice) and item == slice(None) for i, item in enumerate(items) if i not in arrays)
    if len(arrays) != 1 or not plain:
        raise RuleError("advanced indexing other than one integer array on one axis (x[idx], x[:, idx])")
    indices = items[arrays[0]]
    if indices.dtype.kind == "b":
        raise RuleError("indexing with a boolean mask (its result's size depends on the data)")
    if indices.dtype.kind not in "iu":
        raise RuleError(f"indexing with an array of {indices.dtype}")
    return [g.node("Gather", [g.value(x), g.value_as(indices, np.dtype(np.int64))], axis=arrays[0])]


@rule("gather")
def _gather(g, rec):
    x, axis, index = rec.values[0], rec.values[1], rec.values[2]
    return [g.node("GatherElements", [g.value(x), g.value_as(index, np.dtype(np.int64))], axis=int(axis))]


@rule("index_select")
def _index_select(g, rec):
    x, axis, index = rec.values[0], rec.values[1], rec.values[2]
    return [g.node("Gather", [g.value(x), g.value_as(index, np.dtype(np.int64))], axis=int(axis))]


# ---------------------------------------------------------------------------
# layers


@rule("linear")
def _linear(g, rec):
    x, w = rec.values[0], rec.values[1]
    b = rec.values[2] if len(rec.values) > 2 and rec.values[2] is not None else None
    if x.ndim == 2:
        inputs = [g.value(x), g.value(w)] + ([g.value(b)] if b is not None else [])
        return [g.node("Gemm", inputs, transB=1)]
    out = g.node("MatMul", [g.value(x), g.node("Transpose", [g.value(w)], perm=[1, 0])])
    if b is not None:
        out = g.node("Add", [out, g.value(b)])
    return [out]


@rule("linear_relu")
def _linear_relu(g, rec):
    return [g.node("Relu", _linear(g, rec))]


@rule("embedding", "embedding_sparse")
def _embedding(g, rec):
    weight, indices = rec.values[0], rec.values[1]
    return [g.node("Gather", [g.value(weight), g.value_as(np.asarray(indices), np.dtype(np.int64))], axis=0)]


@rule("norm_affine")
def _norm_affine(g, rec):
    x, *params, spec = rec.values
    axes, eps, view, _param_axes, has_weight, has_bias, _sums = spec
    dtype = rec.outputs[0].dtype
    ndim = x.ndim
    weight = params[0] if has_weight else None
    bias = params[-1] if has_bias else None
    axes = tuple(a % ndim for a in axes)
    trailing = axes == tuple(range(ndim - len(axes), ndim))
    if trailing and tuple(view) == tuple(x.shape[ndim - len(axes) :]) and axes:
        scale = g.value(weight) if weight is not None else g.const(np.ones(view, dtype=dtype))
        inputs = [g.value(x), scale] + ([g.value(bias)] if bias is not None else [])
        return [g.node("LayerNormalization", inputs, axis=ndim - len(axes), epsilon=float(eps))]
    # statistics over any axes (group norm, instance norm): (x - mean) / sqrt(var + eps) * weight + bias
    name = g.value(x)
    axes_name = g.ints(list(axes))
    mean = g.node("ReduceMean", [name, axes_name], keepdims=1)
    centered = g.node("Sub", [name, mean])
    var = g.node("ReduceMean", [g.node("Mul", [centered, centered]), axes_name], keepdims=1)
    out = g.node("Div", [centered, g.node("Sqrt", [g.node("Add", [var, g.scalar(eps, dtype)])])])
    shape = g.const(np.asarray(view, dtype=np.int64))
    if weight is not None:
        out = g.node("Mul", [out, g.node("Reshape", [g.value(weight), shape])])
    if bias is not None:
        out = g.node("Add", [out, g.node("Reshape", [g.value(bias), shape])])
    return [out]


@rule("batch_norm_eval")
def _batch_norm_eval(g, rec):
    x, *params, spec = rec.values
    view, _param_axes, has_weight, has_bias, _sums, inv_std, offset = spec
    scale, shift = g.const(inv_std), g.const(offset)
    if has_weight:
        weight = g.value(params[0])
        scale = g.node("Mul", [weight, scale])
        shift = g.node("Mul", [weight, shift])
    if has_bias:
        shift = g.node("Add", [shift, g.value(params[-1])])
    shape = g.const(np.asarray(view, dtype=np.int64))
    out = g.node("Mul", [g.value(x), g.node("Reshape", [scale, shape])])
    return [g.node("Add", [out, g.node("Reshape", [shift, shape])])]


def _conv_attrs(geom):
    return {
        "kernel_shape": [int(k) for k in geom.kernel],
        "strides": [int(s) for s in geom.stride],
        "pads": [int(lo) for lo, _ in geom.padding] + [int(hi) for _, hi in geom.padding],
        "dilations": [int(d) for d in geom.dilation],
        "group": int(geom.groups),
    }


@rule("conv")
def _conv(g, rec):
    *arrays, geom = rec.values
    return [g.node("Conv", [g.value(a) for a in arrays], **_conv_attrs(geom))]


@rule("conv_input_grad")
def _conv_transpose(g, rec):
    x, w, geom = rec.values[0], rec.values[1], rec.values[2]
    attrs = _conv_attrs(geom)
    # ConvTranspose's size: stride (n - 1) + output_padding + dilation (k - 1) + 1 - pads; the direct convolution's
    # input size (geom.in_size) may exceed what its windows reach: that remainder is output_padding
    extra = []
    for n, s, k, d, (lo, hi), want in zip(
        geom.out_size, geom.stride, geom.kernel, geom.dilation, geom.padding, geom.in_size
    ):
        extra.append(int(want - (s * (n - 1) + d * (k - 1) + 1 - lo - hi)))
    return [g.node("ConvTranspose", [g.value(x), g.value(w)], output_padding=extra, **attrs)]


def _pool_input(g, x, nd):
    """x as (N, C, *spatial) for ONNX pooling, and the shape to give the result back (or None)."""
    name = g.value(x)
    if x.ndim == nd + 2:
        return name, None
    lead = int(np.prod(x.shape[: x.ndim - nd], dtype=np.int64))
    return g.node("Reshape", [name, g.ints([1, lead, *x.shape[x.ndim - nd :]])]), True


def _pool_attrs(geom, dilations=True):
    attrs = {
        "kernel_shape": [int(k) for k in geom.kernel],
        "strides": [int(s) for s in geom.stride],
        "pads": [int(lo) for lo, _ in geom.padding] + [int(hi) for _, hi in geom.padding],
    }
    if dilations:
        attrs["dilations"] = [int(d) for d in geom.dilation]
    return attrs


@rule("max_pool")
def _max_pool(g, rec):
    x, geom = rec.values[0], rec.values[1]
    name, reshaped = _pool_input(g, x, len(geom.kernel))
    out = g.node("MaxPool", [name], **_pool_attrs(geom))
    if reshaped:
        out = g.node("Reshape", [out, g.const(_shape(rec.outputs[0]))])
    return [out, Unavailable("max pooling's indices (return_indices=True) do not export")]


@rule("avg_pool")
def _avg_pool(g, rec):
    x, geom, scale = rec.values[0], rec.values[1], rec.values[2]
    dtype = rec.outputs[0].dtype
    name, reshaped = _pool_input(g, x, len(geom.kernel))
    # AveragePool counting the padding divides each window's sum by the kernel size; the forward multiplies the
    # sum by ``scale`` (a number, or one per output position): undo one, apply the other
    mean = g.node("AveragePool", [name], count_include_pad=1, **_pool_attrs(geom, dilations=False))
    if reshaped:
        mean = g.node("Reshape", [mean, g.const(_shape(rec.outputs[0]))])
    factor = np.asarray(scale, dtype=np.float64) * float(np.prod(geom.kernel))
    return [g.node("Mul", [mean, g.const(factor.astype(dtype))])]


@rule("softmax")
def _softmax(g, rec):
    return [g.node("Softmax", [g.value(rec.values[0])], axis=int(rec.values[1]))]


@rule("log_softmax")
def _log_softmax(g, rec):
    return [g.node("LogSoftmax", [g.value(rec.values[0])], axis=int(rec.values[1]))]


@rule("matmul")
def _matmul(g, rec):
    return [g.node("MatMul", [g.value(rec.values[0]), g.value(rec.values[1])])]


@rule("attention")
def _attention(g, rec):
    """softmax(q @ k^T * scale + bias) @ v as the five ONNX ops it fuses."""
    q, k, v, *rest = rec.values
    *bias, scale = rest
    perm = list(range(np.ndim(k)))
    perm[-2], perm[-1] = perm[-1], perm[-2]
    scores = g.node("MatMul", [g.value(q), g.node("Transpose", [g.value(k)], perm=perm)])
    scores = g.node("Mul", [scores, g.scalar(scale, np.asarray(q).dtype)])
    if bias:
        scores = g.node("Add", [scores, g.value_as(bias[0], np.asarray(q).dtype)])
    return [g.node("MatMul", [g.node("Softmax", [scores], axis=-1), g.value(v)])]


@rule("einsum")
def _einsum(g, rec):
    *operands, equation = rec.values
    return [g.node("Einsum", [g.value(o) for o in operands], equation=str(equation))]


# ---------------------------------------------------------------------------
# recurrent layers: one ONNX RNN / LSTM / GRU node per layer and direction


def _gates(array, hidden, order):
    """Rows of a stacked gate matrix (or vector) reordered from PyTorch's gate order to ONNX's."""
    blocks = [array[k * hidden : (k + 1) * hidden] for k in range(len(order))]
    return np.concatenate([blocks[k] for k in order], axis=0)


def _recurrent(g, values, op, order, states, **attrs):
    """``values``: x, the ``states`` initial states, w_ih, w_hh, b_ih, b_hh, reverse (as the primitives take them)."""
    x, *rest = values
    initial = rest[:states]
    w_ih, w_hh, b_ih, b_hh = rest[states : states + 4]
    reverse = rest[-1]
    hidden = w_hh.shape[1]
    for array, what in ((w_ih, "w_ih"), (w_hh, "w_hh"), (b_ih, "b_ih"), (b_hh, "b_hh")):
        source = g.source(array)
        if source is not None and source[0] != "param":
            raise RuleError(f"its {what} is computed in the forward pass (the weights must be parameters)")
    dtype = x.dtype
    b_ih = np.zeros(w_ih.shape[0], dtype) if b_ih is None else b_ih
    b_hh = np.zeros(w_hh.shape[0], dtype) if b_hh is None else b_hh
    weights = g.const(_gates(w_ih, hidden, order)[None])
    recurrence = g.const(_gates(w_hh, hidden, order)[None])
    bias = g.const(np.concatenate([_gates(b_ih, hidden, order), _gates(b_hh, hidden, order)])[None])
    zero = g.ints([0])
    starts = [g.node("Unsqueeze", [g.value(s), zero]) for s in initial]
    inputs = [g.value(x), weights, recurrence, bias, "", *starts]
    outs = g.node(
        op, inputs, outputs=1 + states, hidden_size=int(hidden), direction="reverse" if reverse else "forward", **attrs
    )
    results = [g.node("Squeeze", [outs[0], g.ints([1])])]
    results += [g.node("Squeeze", [o, zero]) for o in outs[1:]]
    return results


@rule("rnn_layer")
def _rnn(g, rec):
    *values, nonlinearity, reverse = rec.values
    activation = "Relu" if nonlinearity == "relu" else "Tanh"
    return _recurrent(g, [*values, reverse], "RNN", (0,), 1, activations=[activation])


@rule("lstm_layer")
def _lstm(g, rec):
    return _recurrent(g, rec.values, "LSTM", (0, 3, 1, 2), 2)  # PyTorch i f g o -> ONNX i o f c


@rule("gru_layer")
def _gru(g, rec):
    return _recurrent(g, rec.values, "GRU", (1, 0, 2), 1, linear_before_reset=1)  # PyTorch r z n -> ONNX z r h


# ---------------------------------------------------------------------------
# triangles, diagonals, roll


@rule("tril", "triu")
def _trilu(g, rec):
    x, k = rec.values[0], rec.values[1]
    return [g.node("Trilu", [g.value(x), g.const(np.asarray(int(k), dtype=np.int64))], upper=int(rec.name == "triu"))]


def _diagonal_layout(shape, offset, axis1, axis2):
    """(perm moving axis1, axis2 last, the other dims, flat positions of the diagonal in the last two dims)."""
    others = [a for a in range(len(shape)) if a not in (axis1, axis2)]
    rows, cols = shape[axis1], shape[axis2]
    n = max(0, min(rows + min(offset, 0), cols - max(offset, 0)))
    positions = np.arange(n, dtype=np.int64)
    flat = (positions + max(-offset, 0)) * cols + positions + max(offset, 0)
    return [*others, axis1, axis2], [int(shape[a]) for a in others], rows, cols, flat


@rule("diagonal")
def _diagonal(g, rec):
    # ONNX has no Diagonal: move the two dims last, flatten them, gather the diagonal's flat positions
    x, offset, axis1, axis2 = rec.values[0], int(rec.values[1]), int(rec.values[2]), int(rec.values[3])
    perm, others, rows, cols, flat = _diagonal_layout(x.shape, offset, axis1, axis2)
    moved = g.node("Transpose", [g.value(x)], perm=perm)
    flattened = g.node("Reshape", [moved, g.ints([*others, rows * cols])])
    return [g.node("Gather", [flattened, g.const(flat)], axis=len(others))]


def _zeros(g, shape, dtype) -> str:
    """A tensor of zeros made in the graph (ConstantOfShape: no initializer of that size in the file)."""
    from onnx import numpy_helper  # noqa: PLC0415

    return g.node("ConstantOfShape", [g.ints(shape)], value=numpy_helper.from_array(np.zeros(1, dtype=dtype)))


@rule("diagonal_scatter")
def _diagonal_scatter(g, rec):
    # zeros of the flattened (..., rows * cols) layout with src scattered at the diagonal's flat positions
    src, shape = rec.values[0], tuple(int(s) for s in rec.values[1])
    offset, axis1, axis2 = int(rec.values[2]), int(rec.values[3]), int(rec.values[4])
    perm, others, rows, cols, flat = _diagonal_layout(shape, offset, axis1, axis2)
    zeros = _zeros(g, [*others, rows * cols], rec.outputs[0].dtype)
    indices = g.node("Expand", [g.const(flat), g.ints([*others, len(flat)])])
    filled = g.node("ScatterElements", [zeros, indices, g.value(src)], axis=len(others))
    unflattened = g.node("Reshape", [filled, g.ints([*others, rows, cols])])
    return [g.node("Transpose", [unflattened], perm=[int(a) for a in np.argsort(perm)])]


@rule("roll")
def _roll(g, rec):
    x, shifts, axes = rec.values[0], rec.values[1], rec.values[2]
    name, shape = g.value(x), x.shape
    if axes is None:  # NumPy rolls the flattened array and puts the shape back
        name, shape = g.node("Reshape", [name, g.ints([-1])]), (int(x.size),)
        axes = 0
    total: dict = {}
    for shift, axis in np.broadcast(np.asarray(shifts), np.asarray(axes)):
        axis = int(axis) % len(shape)
        total[axis] = total.get(axis, 0) + int(shift)
    for axis, shift in sorted(total.items()):
        size = shape[axis]
        cut = size - shift % size if size else 0
        if cut in (0, size):
            continue
        # the last (size - cut) elements come first: Concat(x[cut:], x[:cut])
        tail = g.node("Slice", [name, g.ints([cut]), g.ints([size]), g.ints([axis])])
        head = g.node("Slice", [name, g.ints([0]), g.ints([cut]), g.ints([axis])])
        name = g.node("Concat", [tail, head], axis=axis)
    if x.ndim != len(shape):
        name = g.node("Reshape", [name, g.const(_shape(x))])
    elif name == g.value(x):
        name = g.node("Identity", [name])
    return [name]


# ---------------------------------------------------------------------------
# running products and log-sum-exp: ONNX has only CumSum, so out[j] = reduce(x[i] for i <= j) is one reduction
# over a (j, i) triangle, filled with the reduction's identity above the diagonal.  Exact (no log/exp detour
# that zeros, signs or underflow would break), at O(n^2) memory in the scanned dimension's size n.


def _running(g, rec, reduce_op: str, fill):
    x, axis = rec.values[0], int(rec.values[1]) % max(rec.values[0].ndim, 1)
    dtype = rec.outputs[0].dtype
    if x.ndim == 0:
        return [g.node("Identity", [g.value(x)])]
    n = x.shape[axis]
    # x with a new dim j in front of the scanned dim i: (..., 1, n, ...) against the mask (n, n, 1, ...)
    spread = g.node("Unsqueeze", [g.value(x), g.ints([axis])])
    mask = np.tril(np.ones((n, n), dtype=bool)).reshape((n, n) + (1,) * (x.ndim - axis - 1))
    masked = g.node("Where", [g.const(mask), spread, g.scalar(fill, dtype)])
    return [g.node(reduce_op, [masked, g.ints([axis + 1])], keepdims=0)]


@rule("cumprod")
def _cumprod(g, rec):
    return _running(g, rec, "ReduceProd", 1)


@rule("logcumsumexp")
def _logcumsumexp(g, rec):
    return _running(g, rec, "ReduceLogSumExp", -np.inf)


# ---------------------------------------------------------------------------
# scatter, scatter_reduce, index_put


def _updates(g, src, index):
    """The part of ``src`` that ``index`` covers (as the forward takes it)."""
    name = g.value(src)
    if src.shape == index.shape:
        return name
    return g.node("Slice", [name, g.ints([0] * index.ndim), g.ints(list(index.shape)), g.ints(range(index.ndim))])


@rule("scatter")
def _scatter(g, rec):
    x, src, axis, index = rec.values[0], rec.values[1], int(rec.values[2]), rec.values[3]
    indices = g.value_as(index, np.dtype(np.int64))
    return [g.node("ScatterElements", [g.value(x), indices, _updates(g, src, index)], axis=axis)]


@rule("scatter_add")
def _scatter_add(g, rec):
    x, src, axis, index = rec.values[0], rec.values[1], int(rec.values[2]), rec.values[3]
    indices = g.value_as(index, np.dtype(np.int64))
    return [g.node("ScatterElements", [g.value(x), indices, _updates(g, src, index)], axis=axis, reduction="add")]


@rule("index_add")
def _index_add(g, rec):
    # out[..., index[k], ...] += alpha * src[..., k, ...] along axis: ScatterElements with index spread over src
    x, src, axis, index, alpha = rec.values[0], rec.values[1], int(rec.values[2]), rec.values[3], rec.values[4]
    along = [1] * src.ndim
    along[axis] = -1
    indices = g.node("Reshape", [g.value_as(index, np.dtype(np.int64)), g.ints(along)])
    indices = g.node("Expand", [indices, g.const(_shape(src))])
    updates = g.value(src)
    if alpha != 1:
        updates = g.node("Mul", [updates, g.scalar(alpha, rec.outputs[0].dtype)])
    return [g.node("ScatterElements", [g.value(x), indices, updates], axis=axis, reduction="add")]


_SCATTER_REDUCTIONS = {"sum": "add", "mean": "add", "prod": "mul", "amax": "max", "amin": "min"}


@rule("scatter_reduce")
def _scatter_reduce(g, rec):
    x, src, axis, index, reduce, include_self = rec.values[:6]
    axis, dtype = int(axis), rec.outputs[0].dtype
    if reduce == "mean" and dtype.kind != "f":
        raise RuleError("reduce='mean' on integers floors its quotient; ONNX Div truncates")
    indices = g.value_as(index, np.dtype(np.int64))
    updates = _updates(g, src, index)
    name = g.value(x)
    if not include_self:  # the places written start from the reduction's identity, as in the forward
        from ..ops.index import _identity  # noqa: PLC0415

        start = g.node("Expand", [g.scalar(_identity(dtype, reduce), dtype), g.ints(list(index.shape))])
        name = g.node("ScatterElements", [name, indices, start], axis=axis)
    out = g.node("ScatterElements", [name, indices, updates], axis=axis, reduction=_SCATTER_REDUCTIONS[reduce])
    if reduce == "mean":  # divide by how many values met at each place (x's own included), at least 1
        ones = g.node("Expand", [g.scalar(1, dtype), g.ints(list(index.shape))])
        counts = g.node("ScatterElements", [_zeros(g, list(x.shape), dtype), indices, ones], axis=axis, reduction="add")
        if include_self:
            counts = g.node("Add", [counts, g.scalar(1, dtype)])
        out = g.node("Div", [out, g.node("Max", [counts, g.scalar(1, dtype)])])
    return [out]


@rule("index_put")
def _index_put(g, rec):
    x, values, index, accumulate = rec.values[0], rec.values[1], rec.values[2], rec.values[3]
    items = list(index if isinstance(index, tuple) else (index,))
    while items and (items[-1] is Ellipsis or (isinstance(items[-1], slice) and items[-1] == slice(None))):
        items.pop()  # x[i, :] = v is x[i] = v
    arrays = []
    for item in items:
        if isinstance(item, np.ndarray) and item.dtype.kind == "b":
            if g.source(item) is not None:
                raise RuleError("index_put with a boolean mask computed in the graph (its size depends on the data)")
            arrays += [np.asarray(i) for i in np.nonzero(item)]  # a constant mask: its positions are known
        elif isinstance(item, (int, np.integer)) or (isinstance(item, np.ndarray) and item.dtype.kind in "iu"):
            arrays.append(item if isinstance(item, np.ndarray) else np.asarray(item))
        else:
            raise RuleError("index_put with an index other than integer arrays and constant masks on leading dims")
    k = len(arrays)
    if k > x.ndim:
        raise RuleError("index_put with more indices than dimensions")
    batch = np.broadcast_shapes(*[a.shape for a in arrays])
    columns = []
    for dim, array in enumerate(arrays):
        size = x.shape[dim]
        if g.source(array) is None:  # a constant: counted from the end where negative, here
            column = g.const(np.broadcast_to(np.where(array < 0, array + size, array), batch).astype(np.int64))
        else:
            name = g.value_as(array, np.dtype(np.int64))
            negative = g.node("Less", [name, g.ints(0)])
            name = g.node("Where", [negative, g.node("Add", [name, g.ints(size)]), name])
            column = g.node("Expand", [name, g.ints(list(batch))])
        columns.append(g.node("Unsqueeze", [column, g.ints([-1])]))
    indices = columns[0] if k == 1 else g.node("Concat", columns, axis=-1)
    target = [*batch, *x.shape[k:]]
    updates = g.node("Expand", [g.value_as(values, rec.outputs[0].dtype), g.ints(target)])
    attrs = {"reduction": "add"} if accumulate else {}
    return [g.node("ScatterND", [g.value(x), indices, updates], **attrs)]
