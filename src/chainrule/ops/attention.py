"""Scaled dot-product attention as one primitive: ``softmax(q @ k^T * scale + bias) @ v``.

``F.scaled_dot_product_attention`` and ``nn.MultiheadAttention`` (without
its weights, without dropout) run here, as PyTorch runs them through one fused
op.  Written as separate ops the scores took five passes (a copy of the
queries, the scale, the product, the mask, the softmax), each a new array the
size of the scores, and five graph nodes.  Here:

* on oneDNN (float32 NumPy) the scores are one matmul whose post-ops apply the
  scale and add the bias, reading the heads-split views of a projection in
  place (``_dnnl.scores``); the softmax and the product with ``v`` follow;
* elsewhere (float64, CuPy, no oneDNN) the same steps in NumPy, in place on
  the scores;
* the backward is the chain of the three: ``dv = w^T g``, ``dw = g v^T``, the
  softmax's backward ``ds = w (dw - sum(dw w))``, then ``dq = scale ds k``,
  ``dk = scale ds^T q`` and ``dbias = ds`` (the engine sums each gradient to
  its input's shape where inputs broadcast), from the weights ``w`` the
  forward keeps;
* with ``create_graph`` and in forward mode, the same formulas in Tensor ops
  (``_composite``).

Shapes: ``q (..., L, E)``, ``k (..., S, E)``, ``v (..., S, Ev)``, ``bias``
broadcasting to ``(..., L, S)`` (leading axes broadcast as matmul's).  The
callers keep queries whose every key is masked (-inf) on their composite path
(they get zero weights there, as PyTorch's SDPA gives them).
"""

from __future__ import annotations

import numpy as np

from .. import _dnnl, backend, threads
from ..autograd.graph import applyn, primitive
from ..autograd.jvp_rules import composite_jvp
from ..backend import array_module
from ..tensor import _wrap
from .nn import softmax, softmax_array, softmax_grad_array

__all__ = ["attention"]


def _scores_onednn(q, kt, bias, scale):
    """``scale * q @ kt + bias`` on oneDNN's matmul with post-ops, or None where it does not take them."""
    if not _dnnl.batched_supports(q, kt):
        return None
    if bias is not None:
        if type(bias) is not np.ndarray or bias.dtype != np.float32 or bias.ndim > q.ndim:
            return None
        bias = np.ascontiguousarray(bias).reshape((1,) * (q.ndim - bias.ndim) + bias.shape)
        if bias.shape[0] == 1 and q.shape[0] > 1 and bias.shape[-2] > 1:
            # oneDNN 3.2's post-op add broadcasts a (N, 1, L, S) bias over the heads, not a (1, 1, L, S) one over
            # the batch too (reference code only): a causal or (L, S) mask is copied along the batch
            bias = np.ascontiguousarray(np.broadcast_to(bias, q.shape[:1] + bias.shape[1:]))
    work = q.size * kt.shape[-1]
    return threads.omp_call(
        "matmul",
        work,
        lambda n: _dnnl.scores(q, kt, bias, scale, n),
        lambda counts: _dnnl.scores_prepare(q, kt, bias, scale, counts),
    )


def _weights(xp, q, k, bias, scale):
    """softmax(q k^T * scale + bias) over the last axis, as a new array."""
    kt = xp.swapaxes(k, -1, -2)
    s = _scores_onednn(q, kt, bias, scale) if xp is np else None
    if s is None:
        if not (xp is np and _dnnl.batched_supports(q, kt)):
            # NumPy's matmul on the heads-split views (strided rows, keys transposed) ran 1.6x slower than
            # copying both first (MiniLM's (32, 12, 64, 32), one thread)
            q, kt = xp.ascontiguousarray(q), xp.ascontiguousarray(kt)
        s = backend.matmul(xp, q, kt)
        s *= xp.asarray(scale, dtype=s.dtype)
        if bias is not None:
            s = xp.add(s, bias, out=s) if np.broadcast_shapes(s.shape, bias.shape) == s.shape else s + bias
    return softmax_array(xp, s, -1)


def _output_order(q):
    """The order of q's axes in its memory when it is a heads-split view ((N, H, L, E) over (N, L, H, E) memory:
    a projection split into heads), so that the output, laid out the same way, merges its heads back as a view;
    None otherwise."""
    if q.ndim != 4:
        return None
    order = tuple(int(i) for i in np.argsort([-s for s in q.strides], kind="stable"))
    return order if order == (0, 2, 1, 3) else None


def _product(xp, a, b, like):
    """a @ b, on oneDNN in the memory order of ``like``'s axes where ``like`` is a heads-split view, so that the
    caller merges its heads back without a copy: the output like q (the forward), each input's gradient like
    that input (the backward: nanoGPT's q, k and v gradients otherwise took a copy each in their view's backward,
    18 of (16, 64, 4, 32) per step)."""
    order = _output_order(like) if xp is np and _dnnl.batched_supports(a, b) else None
    out = backend.batched_onednn(a, b, order) if order is not None else None
    return backend.matmul(xp, a, b) if out is None else out


@primitive("attention", save=True, extra=True)
def _attention(xp, q, k, v, *bias_and_scale):
    *bias, scale = bias_and_scale
    weights = _weights(xp, q, k, bias[0] if bias else None, scale)
    return _product(xp, weights, v, q), weights


@_attention.defvjp
def _attention_vjp(ctx, g):
    if ctx.create_graph:
        return _attention_vjp_graph(ctx, g)
    (scale,) = ctx.args
    q, k, v = (t._data for t in ctx.saved[:3])
    w, gd = ctx.extra, g._data
    xp = array_module(gd)
    need = [e is not None for e in ctx.next]
    dv = _product(xp, xp.swapaxes(w, -1, -2), gd, v) if need[2] else None
    ds = softmax_grad_array(w, backend.matmul(xp, gd, xp.swapaxes(v, -1, -2)), -1)
    dbias = ds.copy() if len(need) == 4 and need[3] else None
    ds *= xp.asarray(scale, dtype=ds.dtype)
    dq = _product(xp, ds, k, q) if need[0] else None
    dk = _product(xp, xp.swapaxes(ds, -1, -2), q, k) if need[1] else None
    grads = tuple(None if a is None else _wrap(a) for a in (dq, dk, dv, dbias))
    return grads[: len(need)]


def _composite(q, k, v, bias, scale):
    """The primitive in Tensor ops: (output, weights)."""
    s = (q @ k.mT) * scale
    if bias is not None:
        s = s + bias
    w = softmax(s, -1)
    return w @ v, w


def _attention_vjp_graph(ctx, g):
    (scale,) = ctx.args
    q, k, v, *bias = ctx.saved
    _, w = _composite(q, k, v, bias[0] if bias else None, scale)  # recomputed: differentiable in turn
    dw = g @ v.mT
    ds = w * (dw - (dw * w).sum(dim=-1, keepdim=True))
    grads = ((ds @ k) * scale, (ds.mT @ q) * scale, w.mT @ g)
    return grads + ((ds,) if bias else ())


@_attention.defjvp
def _attention_jvp(ctx, *tangents):
    (scale,) = ctx.args
    return composite_jvp(ctx, tangents, lambda q, k, v, *bias: _composite(q, k, v, bias[0] if bias else None, scale)[0])


def attention(q, k, v, bias=None, scale: float = 1.0):
    """``softmax(q @ k^T * scale + bias) @ v`` as one primitive (see the module docstring); ``bias`` a Tensor
    broadcasting to the scores, or None."""
    inputs = (q, k, v) if bias is None else (q, k, v, bias)
    return applyn(_attention, inputs, float(scale))
