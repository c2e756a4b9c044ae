"""Fused recurrent layers: one primitive runs a whole sequence through one RNN, LSTM or GRU layer.

Unrolling a recurrence into per-step Tensor ops records ~15 nodes per time
step forward and runs ~40 small vjps backward; at the sizes recurrent nets use
(hidden 128, batch 32) the Python overhead of those nodes costs more than the
arithmetic.  Each primitive here takes the layer's input sequence and weights
and runs on raw arrays, as cuDNN does:

* the input projection of all time steps is one batched GEMM, ``W_ih @ x_t^T``;
* each step is one GEMM with ``W_hh`` plus a few elementwise updates written
  into preallocated buffers;
* backward (backpropagation through time) is the same loop in reverse, and
  each weight gradient is one GEMM over all steps at once.

Inside, states are kept transposed, ``(H, N)`` per step, and every per-step
buffer is contiguous, so each gate is a contiguous block of rows of the
``(G*H, N)`` gate matrix: NumPy then runs every elementwise update as one flat
loop (column slices of an ``(N, G*H)`` matrix, or any strided operand, cost
one inner loop per row, several times slower at these sizes).  Only the
outputs are transposed back.

Shapes (one layer, one direction; time-major): ``x (L, N, H_in)``,
``h0, c0 (N, H)``, ``w_ih (G*H, H_in)``, ``w_hh (G*H, H)``, ``b_ih, b_hh (G*H,)``
with G = 1 (RNN), 4 (LSTM, gates i, f, g, o) or 3 (GRU, gates r, z, n).
``reverse=True`` walks time from L-1 down to 0 (the backward direction of a
bidirectional layer) without flipping any array.

Two paths in every vjp, as in ``ops/layers.py``: a first-order backward
(``ctx.create_graph`` False) runs BPTT on raw arrays; with
``create_graph=True`` the forward is recomputed from the saved inputs and BPTT
is written with chainrule Tensor ops, so the gradient is itself
differentiable.  ``tests/ops/specs_recurrent.py`` gradchecks both (first and
second order) and ``tests/nn/test_recurrent.py`` checks that they agree.

Float32 LSTM and GRU layers on NumPy go to oneDNN's RNN primitives instead
where it loads (``_dnnl.rnn``, PyTorch's CPU path; the loops below are then
the reference the tests compare them with and the fallback for a backward
oneDNN does not take).

Sigmoids are computed as ``(1 + tanh(z / 2)) / 2`` with the 1/2 folded into
the weights: it never overflows, and one ``tanh`` call covers all four LSTM
gates (or both GRU gates r and z) per step.
"""

from __future__ import annotations

import numpy as np

from .. import _dnnl, backend, threads
from ..autograd.graph import applyn, primitive
from ..autograd.jvp_rules import composite_jvp
from ..autograd.mode import grad_enabled
from ..backend import array_module
from ..errors import DTypeError, ShapeError
from ..tensor import Tensor, _wrap
from .shape import cat, stack

__all__ = ["rnn_layer", "lstm_layer", "gru_layer"]


def _steps(length: int, reverse: bool):
    """(time index, slot of the state before it, slot of the state after it), in the order they run.

    State buffers are (L + 1, H, N): L + 1 slots.  Forward: slot t holds the
    state before time t (slot 0 is the initial state).  Reverse: slot t + 1
    holds the state before time t (slot L is the initial state).  Either way
    the outputs are L consecutive slots, and so are the states before each
    step, in time order.
    """
    if reverse:
        return [(t, t + 1, t) for t in range(length - 1, -1, -1)]
    return [(t, t, t + 1) for t in range(length)]


def _slots(hs, reverse):
    """(outputs, states before each step) of a (L + 1, H, N) buffer, each (L, H, N) in time order."""
    return (hs[:-1], hs[1:]) if reverse else (hs[1:], hs[:-1])


def _time_major(states):
    """(L, H, N) states -> a contiguous (L, N, H) array (and back: the transpose is its own inverse)."""
    return array_module(states).ascontiguousarray(states.transpose(0, 2, 1))


def _rows(states):
    """(L, H, N) -> a contiguous (L * N, H) matrix, rows in (time, batch) order."""
    length, hidden, batch = states.shape
    return _time_major(states).reshape(length * batch, hidden)


def _gate_matrix(dz):
    """(L, G, N) per-step gate gradients -> a contiguous (G, L * N) matrix for the weight-gradient GEMMs."""
    length, gates, batch = dz.shape
    return array_module(dz).ascontiguousarray(dz.transpose(1, 0, 2)).reshape(gates, length * batch)


def _final(hs, reverse):
    """The final state (N, H) of a (L + 1, H, N) buffer."""
    return hs[0 if reverse else hs.shape[0] - 1].T.copy()


def _initial(xp, length, state, reverse):
    """A (L + 1, H, N) state buffer holding the initial state (N, H), transposed, in its slot."""
    batch, hidden = state.shape
    hs = xp.empty((length + 1, hidden, batch), dtype=state.dtype)
    hs[length if reverse else 0] = state.T
    return hs


def _feature_major(xp, x):
    """(L, N, F) -> a (L, F, N) view for copying into a per-step operand buffer.

    A batch-first input arrives as a transposed view (N stride L * F): copying that into (L, F, N) walks
    memory with an 8 KB stride at the benchmark's sizes; making x contiguous first is one cheap pass and
    the transposed copy then reads contiguous rows (32 against 124 us for a (32, 32, 64) float32 input).
    A contiguous x is not copied.
    """
    return xp.ascontiguousarray(x).transpose(0, 2, 1)


def _project(xp, x, w_ih, bias):
    """(L, G*H, N): W_ih @ x_t^T + bias for every step (one batched GEMM, contiguous per step).

    The bias rides in the GEMM as one more column of W_ih against a row of ones under each x_t^T: a
    copy of x (small) instead of a pass over the (L, G*H, N) result (measured 1.3 -> 0.95 ms for a
    32 x 32 x 64 input and 512 gate rows).  Used by RNN and GRU; the LSTM stacks x_t with its state
    instead (see _lstm_layer).
    """
    length, batch, features = x.shape
    x_ones = xp.empty((length, features + 1, batch), dtype=x.dtype)
    x_ones[:, :features] = _feature_major(xp, x)
    x_ones[:, features] = 1
    return backend.matmul(xp, xp.concatenate([w_ih, bias[:, None]], axis=1), x_ones)


def _grad_out(g_out, copy=False):
    """The output gradient (L, N, H) as contiguous (L, H, N) steps (always a new array with ``copy``).

    The gradient of a batch-first output arrives as a transposed view (N stride L * H): made contiguous
    first, as in _feature_major (60 against 256 us for (32, 32, 128) float32).
    """
    xp = array_module(g_out._data)
    steps = _feature_major(xp, g_out._data)
    return xp.array(steps, order="C") if copy else xp.ascontiguousarray(steps)


def _input_side(need_x, need_w, dz, x, w_ih):
    """(dx, dW_ih) from dz (G*H, L*N), the gradient of W_ih x_t + b in gate-matrix form."""
    length, batch, features = x.shape
    xp = array_module(dz)
    dx = _wrap(backend.matmul(xp, dz.T, w_ih).reshape(length, batch, features)) if need_x else None
    dw = _wrap(backend.matmul(xp, dz, x.reshape(length * batch, features))) if need_w else None
    return dx, dw


# ---------------------------------------------------------------------------
# Elman RNN: h' = act(W_ih x + b_ih + W_hh h + b_hh)


@primitive("rnn_layer", save=True, multi=True, extra=True)
def _rnn_layer(xp, x, h0, w_ih, w_hh, b_ih, b_hh, nonlinearity, reverse):
    length = x.shape[0]
    xg = _project(xp, x, w_ih, b_ih + b_hh)
    hs = _initial(xp, length, h0, reverse)
    relu = nonlinearity == "relu"
    for t, before, after in _steps(length, reverse):
        h = hs[after]
        backend.matmul(xp, w_hh, hs[before], out=h)
        h += xg[t]
        if relu:
            xp.clip(h, 0, None, out=h)  # max(h, 0) with NaN kept; NumPy's maximum against a scalar loops slowly
        else:
            xp.tanh(h, out=h)
    out, _ = _slots(hs, reverse)
    return (_time_major(out), _final(hs, reverse)), hs


@_rnn_layer.defvjp
def _rnn_layer_vjp(ctx, g_out, g_hn):
    if ctx.create_graph:
        return _rnn_layer_vjp_graph(ctx, g_out, g_hn)
    nonlinearity, reverse = ctx.args
    x, _, w_ih, w_hh, _, _ = [t._data for t in ctx.saved]
    hs = ctx.extra
    xp = array_module(hs)
    length = hs.shape[0] - 1
    w_t = w_hh.T  # read in place by the GEMMs (a transposed operand), as fast as a transposed copy
    dz = xp.empty_like(hs[1:])
    dh = g_hn._data.T.copy()
    g = _grad_out(g_out)
    relu = nonlinearity == "relu"
    need = [e is not None for e in ctx.next]
    first_step = _steps(length, reverse)[0][0]
    for t, _, after in reversed(_steps(length, reverse)):
        h = hs[after]
        d = dz[t]
        dh += g[t]
        if relu:
            xp.multiply(dh, h > 0, out=d)
        else:
            xp.multiply(h, h, out=d)
            xp.subtract(1, d, out=d)
            d *= dh
        if t == first_step and not need[1]:
            break  # what follows is the gradient of h0 alone
        backend.matmul(xp, w_t, d, out=dh)
    dz = _gate_matrix(dz)
    dx, dw_ih = _input_side(need[0], need[2], dz, x, w_ih)
    dw_hh = _wrap(backend.matmul(xp, dz, _rows(_slots(hs, reverse)[1]))) if need[3] else None
    db = dz.sum(axis=1)
    dh0 = _wrap(dh.T) if need[1] else None
    return dx, dh0, dw_ih, dw_hh, _wrap(db) if need[4] else None, _wrap(db.copy()) if need[5] else None


def _rnn_layer_vjp_graph(ctx, g_out, g_hn):
    x, h0, w_ih, w_hh, b_ih, b_hh = ctx.saved
    nonlinearity, reverse = ctx.args
    xg = _project_graph(x, w_ih, b_ih + b_hh)
    length = xg._data.shape[0]
    steps = _steps(length, reverse)
    act = (lambda a: a.relu()) if nonlinearity == "relu" else (lambda a: a.tanh())
    w_t = w_hh.mT
    h = h0
    before, outs = [None] * length, [None] * length
    for t, _, _ in steps:
        before[t] = h
        h = outs[t] = act(xg[t] + h @ w_t)
    dh = g_hn
    dz = [None] * length
    for t, _, _ in reversed(steps):
        dh = dh + g_out[t]
        y = outs[t]
        local = (y.detach() > 0).to(y.dtype) if nonlinearity == "relu" else 1 - y * y
        dz[t] = dh * local
        dh = dz[t] @ w_hh
    dz = stack(dz, 0)
    dx, dw_ih, db = _project_grads(dz, x, w_ih)
    return dx, dh, dw_ih, _weight_grad_graph(dz, stack(before, 0)), db, db


def _rnn_composite(nonlinearity, reverse, x, h0, w_ih, w_hh, b_ih, b_hh):
    """The layer in Tensor ops, (out (L, N, H), h_n): what the jvp pushes tangents through."""
    xg = _project_graph(x, w_ih, b_ih + b_hh)
    length = xg._data.shape[0]
    w_t = w_hh.mT
    h = h0
    outs = [None] * length
    for t, _, _ in _steps(length, reverse):
        z = xg[t] + h @ w_t
        h = outs[t] = z.relu() if nonlinearity == "relu" else z.tanh()
    return stack(outs, 0), h


@_rnn_layer.defjvp
def _rnn_layer_jvp(ctx, *tangents):
    return composite_jvp(ctx, tangents, lambda *inputs: _rnn_composite(*ctx.args, *inputs))


# ---------------------------------------------------------------------------
# LSTM: gates i, f, g, o;  c' = f c + i g;  h' = o tanh(c')
#
# Inside, the gate rows are reordered to i, f, o, g so the three sigmoid gates are one contiguous block,
# and that block's rows of the weights are halved: sigmoid(z) = (1 + tanh(z / 2)) / 2.


def _lstm_blocks(hidden):
    """(internal rows, PyTorch rows, scale) of the three row blocks of the LSTM weights.

    PyTorch's gate order i, f, g, o becomes the internal i, f, o, g (the last two blocks swap places, a
    permutation that is its own inverse), and the sigmoid rows i, f, o are scaled by 1/2.
    """
    h = hidden
    return (
        (slice(0, 2 * h), slice(0, 2 * h), 0.5),
        (slice(2 * h, 3 * h), slice(3 * h, 4 * h), 0.5),
        (slice(3 * h, 4 * h), slice(2 * h, 3 * h), 1.0),
    )


def _lstm_rows(xp, a):
    """The rows of a (4H, ...) array in the other gate order (PyTorch's <-> internal), as a new C-contiguous array.

    Three block copies (7 us for a 512 x 128 float32 matrix, against 10 for a fancy index ``a[order]``).
    """
    h = a.shape[0] // 4
    return xp.concatenate([a[: 2 * h], a[3 * h :], a[2 * h : 3 * h]])


def _lstm_weights(xp, w_ih, w_hh, bias):
    """[W_hh W_ih b] (4H, H + F + 1) in the internal gate order, the sigmoid rows halved.

    Written block by block into one buffer, one pass (a concatenation, a fancy-indexed reorder and a
    scaling were three: 50 against 33 us for H = 128, F = 64).
    """
    hidden, features = w_hh.shape[1], w_ih.shape[1]
    w_cat = xp.empty((4 * hidden, hidden + features + 1), dtype=w_hh.dtype)
    for rows, src, scale in _lstm_blocks(hidden):
        xp.multiply(w_hh[src], scale, out=w_cat[rows, :hidden])
        xp.multiply(w_ih[src], scale, out=w_cat[rows, hidden:-1])
        xp.multiply(bias[src], scale, out=w_cat[rows, -1])
    return w_cat


_ONEDNN = "onednn"  # the first item of lstm_layer's and gru_layer's saved extra when the forward ran on oneDNN


def _rnn_work(x, hidden, gates):
    """Multiply-adds of an RNN layer's forward over x (L, N, F)."""
    length, batch, features = x.shape
    return length * batch * gates * hidden * (features + hidden)


def _rnn_onednn(cell, x, states, w_ih, w_hh, bias, reverse):
    """(out, final states, workspace or None) of an LSTM or GRU (``cell``) layer on oneDNN's RNN primitive
    (PyTorch's CPU path: one primitive for the sequence, its GEMMs and gate math fused), or None where oneDNN does
    not take it: the workspace is what its backward reads (None when nothing records a graph: the inference
    primitive).  ``w_ih``, ``w_hh`` and ``bias`` with their gates in oneDNN's order (see _dnnl.rnn); the caller
    has checked ``_dnnl.rnn_supports``."""
    x = _dnnl.sequence_operand(x)
    training = grad_enabled()
    hidden, layout = w_hh.shape[1], _dnnl.sequence_layout(x)
    kind = "training" if training else "inference"
    return threads.omp_call(
        "rnn",
        _rnn_work(x, hidden, w_hh.shape[0] // hidden),
        lambda n: _dnnl.rnn(cell, x, states, w_ih, w_hh, bias, reverse, training, n),
        lambda counts: _dnnl.rnn_prepare(cell, x.shape, hidden, reverse, layout, kind, counts),
    )


def _rnn_onednn_backward(cell, ctx, g_out, g_finals):
    """(dx, the states' gradients, dw_ih, dw_hh, dbias) arrays from oneDNN's backward of a layer whose forward ran
    on oneDNN (the weight gradients with their gates in oneDNN's order); None where oneDNN does not take it now."""
    reverse = ctx.args[0]
    x = ctx.saved[0]._data
    states = tuple(t._data for t in ctx.saved[1 : len(g_finals) + 1])
    _, (w_ih, w_hh, bias), workspace, out, *finals = ctx.extra
    grads = [g._data for g in (g_out, *g_finals)]
    if not _dnnl.rnn_supports(*grads):
        return None
    hidden, gates = w_hh.shape[1], w_hh.shape[0] // w_hh.shape[1]
    return threads.omp_call(
        "rnn",
        2 * _rnn_work(x, hidden, gates),
        lambda n: _dnnl.rnn_backward(
            cell, x, states, w_ih, w_hh, bias, out, finals, workspace, grads[0], grads[1:], reverse, n
        ),
        lambda counts: _dnnl.rnn_prepare(cell, x.shape, hidden, reverse, "tnc", "backward", counts),
    )


def _forward_onednn(cell, x, states, operands, reverse):
    """``((out, *final states), kept)`` of a layer on oneDNN (``operands``: w_ih, w_hh and bias as ``_rnn_onednn``
    takes them), or None.  ``kept`` is what the backward on oneDNN reads: the operands (not made again), the
    workspace and the outputs themselves (not copies: the primitives are ``save_output``, so backward refuses to
    run once one was changed in place, as PyTorch's); None when no graph is recorded."""
    fused = _rnn_onednn(cell, x, states, *operands, reverse)
    if fused is None:
        return None
    out, finals, workspace = fused
    if workspace is None:
        return (out, *finals), None
    return (out, *finals), (_ONEDNN, operands, workspace, out, *finals)


@primitive("lstm_layer", save=True, save_output=True, multi=True, extra=True)
def _lstm_layer(xp, x, h0, c0, w_ih, w_hh, b_ih, b_hh, reverse):
    bias = b_ih + b_hh
    if xp is np and _dnnl.rnn_supports(x, h0, c0, w_ih, w_hh, bias):
        result = _forward_onednn("lstm", x, (h0, c0), (w_ih, w_hh, bias), reverse)
        if result is not None:
            return result
    return _lstm_forward(xp, x, h0, c0, w_ih, w_hh, bias, reverse)


def _lstm_forward(xp, x, h0, c0, w_ih, w_hh, bias, reverse):
    """The layer on NumPy: ((out, h_n, c_n), the arrays its backward reads)."""
    length, batch, features = x.shape
    hidden = w_hh.shape[1]
    dtype = x.dtype
    # One GEMM per step: [W_hh W_ih b] (4H, H + F + 1) @ [h; x_t; 1] (H + F + 1, N).  The stacked operands
    # live in z (L + 1 slots): x_t and a row of ones sit under the state that step t reads; the slot the last
    # step writes keeps only its state.  (One GEMM of depth H + F + 1 instead of a projection per step
    # plus a recurrent one: measured 60 against 73 us per step for the benchmark's H = 128, F = 64, N = 32.)
    w_cat = _lstm_weights(xp, w_ih, w_hh, bias)
    z = xp.empty((length + 1, hidden + features + 1, batch), dtype=dtype)
    read = slice(1, None) if reverse else slice(0, -1)  # the slots steps read their state from, in time order
    z[read, hidden:-1] = _feature_major(xp, x)
    z[read, -1] = 1
    hs = z[:, :hidden]
    hs[length if reverse else 0] = h0.T
    acts = xp.empty((length, 4 * hidden, batch), dtype=dtype)  # per step: i, f, o, g
    cs = _initial(xp, length, c0, reverse)
    tanh_c = xp.empty((length, hidden, batch), dtype=dtype)
    tmp = xp.empty((hidden, batch), dtype=dtype)
    h1, h2, h3 = hidden, 2 * hidden, 3 * hidden
    for t, before, after in _steps(length, reverse):
        a = acts[t]
        backend.matmul(xp, w_cat, z[before], out=a)
        xp.tanh(a, out=a)
        sig = a[:h3]
        sig *= 0.5
        sig += 0.5
        c = cs[after]
        xp.multiply(a[h1:h2], cs[before], out=c)
        xp.multiply(a[:h1], a[h3:], out=tmp)
        c += tmp
        xp.tanh(c, out=tanh_c[t])
        xp.multiply(a[h2:h3], tanh_c[t], out=hs[after])
    out, _ = _slots(hs, reverse)
    return (_time_major(out), _final(hs, reverse), _final(cs, reverse)), (acts, z, cs, tanh_c)


@_lstm_layer.defvjp
def _lstm_layer_vjp(ctx, g_out, g_hn, g_cn):
    if ctx.create_graph:
        return _lstm_layer_vjp_graph(ctx, g_out, g_hn, g_cn)
    reverse = ctx.args[0]
    x, h0, c0, w_ih, w_hh, b_ih, b_hh = [t._data for t in ctx.saved]
    need = [e is not None for e in ctx.next]
    extra = ctx.extra
    if extra[0] is _ONEDNN:
        grads = _rnn_onednn_backward("lstm", ctx, g_out, (g_hn, g_cn))
        if grads is not None:
            dx, (dh0, dc0), dw_ih, dw_hh, d_bias = grads
            return tuple(_wrap(g) if n else None for g, n in zip((dx, dh0, dc0, dw_ih, dw_hh, d_bias, d_bias), need))
        # oneDNN did not take the backward now: NumPy's, from a forward run again on NumPy
        extra = _lstm_forward(np, x, h0, c0, w_ih, w_hh, b_ih + b_hh, reverse)[1]
    acts, z, cs, tanh_c = extra
    xp = array_module(acts)
    length, four_h, batch = acts.shape
    hidden = four_h // 4
    h1, h2, h3 = hidden, 2 * hidden, 3 * hidden
    w_t = _lstm_rows(xp, w_hh).T  # read in place by the GEMMs (transposed operand), as fast as a copy
    dc = g_cn._data.T.copy()
    # our own (L, H, N) copy of the output gradient: step t's dh is built in its slot, by a GEMM that adds
    # the next step's W_hh^T dz to it (no separate add)
    g = _grad_out(g_out, copy=True)
    need_state = need[1] or need[2]
    steps = list(reversed(_steps(length, reverse)))
    first_step = steps[-1][0]
    dh = g[steps[0][0]]
    dh += g_hn._data.T
    tmp = xp.empty_like(dh)
    slope = xp.empty_like(acts[0])
    # Weight, bias and input gradients a chunk of steps at a time, as soon as the loop has made the chunk's
    # gate gradients: dz holds one chunk (reused, so it stays in cache, and the whole of dz is never held),
    # copied into the (4H, steps * N) matrix a GEMM reads.  (Against all L steps of dz first and the GEMMs
    # after the loop: layer forward + backward 8.98 against 8.81 ms for the benchmark's sizes, one thread.)
    # The weight and bias gradients come from one GEMM against the stacked [h; x_t; 1] operands of the
    # forward.  Rows are in the internal gate order (_lstm_rows turns them back into PyTorch's).
    need_w = any(need[3:])
    z_read = z[1:] if reverse else z[:-1]
    dw_int = xp.zeros((four_h, z.shape[1]), dtype=acts.dtype) if need_w else None
    dx = xp.empty(x.shape, dtype=acts.dtype) if need[0] else None
    w_ih_int = _lstm_rows(xp, w_ih) if need[0] else None
    span = min(length, max(1, (1 << 17) // (four_h * batch)))
    dz = xp.empty((span, four_h, batch), dtype=acts.dtype)  # gate gradients of the steps since the last flush

    def flush(first, last, count):
        """The GEMMs of the ``count`` steps from time ``first`` to ``last`` (in the loop's order), dz[:count]."""
        times = slice(first, last + 1) if first <= last else slice(first, last - 1 if last else None, -1)
        gates = _gate_matrix(dz[:count])  # (4H, count * N)
        if need_w:
            backend.matmul_add(xp, gates, _rows(z_read[times]), dw_int)
        if need[0]:
            dx[times] = backend.matmul(xp, gates.T, w_ih_int).reshape(count, batch, -1)

    hs = z[:, :hidden]
    for k, (t, before, after) in enumerate(steps):
        a = acts[t]
        tc = tanh_c[t]
        d = dz[k % span]
        xp.multiply(hs[after], tc, out=tmp)  # dc += dh o (1 - tanh(c)^2), o (1 - tanh(c)^2) = o - h tanh(c)
        xp.subtract(a[h2:h3], tmp, out=tmp)
        tmp *= dh
        dc += tmp
        xp.multiply(dc, a[h3:], out=d[:h1])  # i
        xp.multiply(dc, cs[before], out=d[h1:h2])  # f
        xp.multiply(dh, tc, out=d[h2:h3])  # o
        xp.multiply(dc, a[:h1], out=d[h3:])  # g
        # times the gates' slopes, from their values: s (1 - s) for the sigmoids, 1 - g^2 for g
        xp.multiply(a, a, out=slope)
        xp.subtract(a[:h3], slope[:h3], out=slope[:h3])
        xp.subtract(1, slope[h3:], out=slope[h3:])
        d *= slope
        if k % span == span - 1 or t == first_step:
            flush(steps[k - k % span][0], t, k % span + 1)
        if t == first_step and not need_state:
            break  # what follows is the gradient of h0 and c0 alone
        dc *= a[h1:h2]
        if k + 1 < len(steps):
            dh = g[steps[k + 1][0]]
            backend.matmul_add(xp, w_t, d, dh)
        else:
            dh = backend.matmul(xp, w_t, d)  # the gradient of h0
    dx = _wrap(dx) if need[0] else None
    dw_ih = dw_hh = db_ih = db_hh = None
    if need_w:
        dw_ih = _wrap(_lstm_rows(xp, dw_int[:, hidden:-1])) if need[3] else None
        dw_hh = _wrap(_lstm_rows(xp, dw_int[:, :hidden])) if need[4] else None
        db_ih, db_hh = (_wrap(_lstm_rows(xp, dw_int[:, -1])) if n else None for n in need[5:7])
    dh0 = _wrap(dh.T) if need[1] else None
    dc0 = _wrap(dc.T) if need[2] else None
    return dx, dh0, dc0, dw_ih, dw_hh, db_ih, db_hh


def _lstm_layer_vjp_graph(ctx, g_out, g_hn, g_cn):
    x, h0, c0, w_ih, w_hh, b_ih, b_hh = ctx.saved
    reverse = ctx.args[0]
    xg = _project_graph(x, w_ih, b_ih + b_hh)
    length = xg._data.shape[0]
    steps = _steps(length, reverse)
    w_t = w_hh.mT
    h, c = h0, c0
    saved = [None] * length
    h_before = [None] * length
    for t, _, _ in steps:
        i, f, gg, o = (xg[t] + h @ w_t).chunk(4, dim=-1)
        i, f, gg, o = i.sigmoid(), f.sigmoid(), gg.tanh(), o.sigmoid()
        c_new = f * c + i * gg
        tc = c_new.tanh()
        saved[t] = (c, i, f, gg, o, tc)
        h_before[t] = h
        h, c = o * tc, c_new
    dh, dc = g_hn, g_cn
    dz = [None] * length
    for t, _, _ in reversed(steps):
        c_prev, i, f, gg, o, tc = saved[t]
        dh = dh + g_out[t]
        dc = dc + dh * o * (1 - tc * tc)
        d_i = dc * gg * i * (1 - i)
        d_f = dc * c_prev * f * (1 - f)
        d_g = dc * i * (1 - gg * gg)
        d_o = dh * tc * o * (1 - o)
        dz[t] = cat([d_i, d_f, d_g, d_o], -1)
        dc = dc * f
        dh = dz[t] @ w_hh
    dz = stack(dz, 0)
    dx, dw_ih, db = _project_grads(dz, x, w_ih)
    return dx, dh, dc, dw_ih, _weight_grad_graph(dz, stack(h_before, 0)), db, db


def _lstm_composite(reverse, x, h0, c0, w_ih, w_hh, b_ih, b_hh):
    """The layer in Tensor ops, (out, h_n, c_n), PyTorch's gate order i, f, g, o."""
    xg = _project_graph(x, w_ih, b_ih + b_hh)
    length = xg._data.shape[0]
    w_t = w_hh.mT
    h, c = h0, c0
    outs = [None] * length
    for t, _, _ in _steps(length, reverse):
        i, f, gg, o = (xg[t] + h @ w_t).chunk(4, dim=-1)
        c = f.sigmoid() * c + i.sigmoid() * gg.tanh()
        h = outs[t] = o.sigmoid() * c.tanh()
    return stack(outs, 0), h, c


@_lstm_layer.defjvp
def _lstm_layer_jvp(ctx, *tangents):
    return composite_jvp(ctx, tangents, lambda *inputs: _lstm_composite(*ctx.args, *inputs))


# ---------------------------------------------------------------------------
# GRU: gates r, z, n;  n = tanh(W_in x + b_in + r (W_hn h + b_hn));  h' = (1 - z) n + z h


def _gru_rows(a, h):
    """The rows of a (3H, ...) or (4H, ...) array with its first two blocks of ``h`` rows swapped: PyTorch's gates
    r, z, n <-> oneDNN's u (PyTorch's z), r, o (n); a fourth block (oneDNN's recurrent candidate bias) stays last."""
    return np.concatenate([a[h : 2 * h], a[:h], a[2 * h :]])


def _gru_onednn_operands(w_ih, w_hh, b_ih, b_hh):
    """PyTorch's GRU weights and biases as oneDNN's linear-before-reset GRU reads them: gates u, r, o, and the
    bias's four rows of H (b_u, b_r and the input side's b_o summed as oneDNN adds them, then the recurrent
    side's candidate bias, which oneDNN multiplies by r)."""
    h = w_hh.shape[1]
    bias = np.concatenate([b_ih[: 2 * h] + b_hh[: 2 * h], b_ih[2 * h :], b_hh[2 * h :]])
    return _gru_rows(w_ih, h), _gru_rows(w_hh, h), _gru_rows(bias, h)


@primitive("gru_layer", save=True, save_output=True, multi=True, extra=True)
def _gru_layer(xp, x, h0, w_ih, w_hh, b_ih, b_hh, reverse):
    if xp is np and _dnnl.rnn_supports(x, h0, w_ih, w_hh, b_ih, b_hh):
        result = _forward_onednn("gru", x, (h0,), _gru_onednn_operands(w_ih, w_hh, b_ih, b_hh), reverse)
        if result is not None:
            return result
    return _gru_forward(xp, x, h0, w_ih, w_hh, b_ih, b_hh, reverse)


def _gru_forward(xp, x, h0, w_ih, w_hh, b_ih, b_hh, reverse):
    """The layer on NumPy: ((out, h_n), the arrays its backward reads)."""
    length, batch, _ = x.shape
    hidden = w_hh.shape[1]
    h2 = 2 * hidden
    # sigmoid(z) = (1 + tanh(z / 2)) / 2 for r and z: the 1/2 goes into their rows of both projections
    scale = xp.full((3 * hidden, 1), 0.5, dtype=x.dtype)
    scale[h2:] = 1
    xg = _project(xp, x, w_ih * scale, b_ih * scale[:, 0])
    w_hh_s = w_hh * scale
    b_hh_s = xp.ascontiguousarray(xp.broadcast_to(b_hh[:, None] * scale, (3 * hidden, batch)))
    hg = xp.empty_like(xg)  # W_hh h + b_hh per step (backward reads its n rows)
    acts = xp.empty_like(xg)  # r, z, n per step
    hs = _initial(xp, length, h0, reverse)
    for t, before, after in _steps(length, reverse):
        h_prev = hs[before]
        hgt = hg[t]
        backend.matmul(xp, w_hh_s, h_prev, out=hgt)
        hgt += b_hh_s
        a = acts[t]
        xg_t = xg[t]
        r_z = a[:h2]
        xp.add(xg_t[:h2], hgt[:h2], out=r_z)
        xp.tanh(r_z, out=r_z)
        r_z *= 0.5
        r_z += 0.5
        n = a[h2:]
        xp.multiply(r_z[:hidden], hgt[h2:], out=n)
        n += xg_t[h2:]
        xp.tanh(n, out=n)
        h = hs[after]
        xp.subtract(h_prev, n, out=h)
        h *= r_z[hidden:]
        h += n
    out, _ = _slots(hs, reverse)
    return (_time_major(out), _final(hs, reverse)), (hg, acts, hs)


@_gru_layer.defvjp
def _gru_layer_vjp(ctx, g_out, g_hn):
    if ctx.create_graph:
        return _gru_layer_vjp_graph(ctx, g_out, g_hn)
    reverse = ctx.args[0]
    x, h0, w_ih, w_hh, b_ih, b_hh = [t._data for t in ctx.saved]
    need = [e is not None for e in ctx.next]
    extra = ctx.extra
    if extra[0] is _ONEDNN:
        grads = _rnn_onednn_backward("gru", ctx, g_out, (g_hn,))
        if grads is not None:
            dx, (dh0,), dw_ih, dw_hh, d_bias = grads
            hidden = w_hh.shape[1]
            d_bias = _gru_rows(d_bias, hidden)  # rows r, z, n (input side), n (recurrent side)
            db_ih, db_hh = d_bias[: 3 * hidden], np.concatenate([d_bias[: 2 * hidden], d_bias[3 * hidden :]])
            grads = (dx, dh0, _gru_rows(dw_ih, hidden), _gru_rows(dw_hh, hidden), db_ih, db_hh)
            return tuple(_wrap(g) if n else None for g, n in zip(grads, need))
        # oneDNN did not take the backward now: NumPy's, from a forward run again on NumPy
        extra = _gru_forward(np, x, h0, w_ih, w_hh, b_ih, b_hh, reverse)[1]
    hg, acts, hs = extra
    xp = array_module(acts)
    length, three_h, batch = acts.shape
    hidden = three_h // 3
    h2, h3 = 2 * hidden, 3 * hidden
    w_t = w_hh.T  # read in place by the GEMMs (a transposed operand), as fast as a transposed copy
    # per step, rows: r, z, n as seen from W_hh h (d n * r), then n as seen from W_in x (d n)
    dz = xp.empty((length, 4 * hidden, batch), dtype=acts.dtype)
    dh = g_hn._data.T.copy()
    g = _grad_out(g_out)
    one_minus_z, dtanh, tmp, sig = (xp.empty_like(dh) for _ in range(4))
    first_step = _steps(length, reverse)[0][0]
    for t, before, _ in reversed(_steps(length, reverse)):
        a = acts[t]
        r, z, n = a[:hidden], a[hidden:h2], a[h2:]
        d = dz[t]
        d_r, d_z, d_hn, d_n = d[:hidden], d[hidden:h2], d[h2:h3], d[h3:]
        dh += g[t]
        xp.subtract(1, z, out=one_minus_z)
        xp.multiply(n, n, out=dtanh)
        xp.subtract(1, dtanh, out=dtanh)
        xp.multiply(dh, one_minus_z, out=d_n)  # d n (pre-activation) = dh (1 - z) (1 - n^2)
        d_n *= dtanh
        xp.subtract(hs[before], n, out=d_z)  # d z = dh (h - n) z (1 - z)
        d_z *= dh
        d_z *= z
        d_z *= one_minus_z
        xp.subtract(1, r, out=sig)  # d r = d n (W_hn h + b_hn) r (1 - r)
        sig *= r
        xp.multiply(d_n, hg[t][h2:], out=d_r)
        d_r *= sig
        xp.multiply(d_n, r, out=d_hn)
        if t == first_step and not need[1]:
            break  # what follows is the gradient of h0 alone
        xp.multiply(dh, z, out=tmp)
        backend.matmul(xp, w_t, d[:h3], out=dh)
        dh += tmp
    dz = _gate_matrix(dz)
    dz_h = dz[:h3]  # gradient of W_hh h + b_hh
    dz_rz, dz_n = dz[:h2], dz[h3:]  # gradient of W_ih x + b_ih: rows r, z, then n
    dx = dw_ih = db_ih = None
    if need[0]:
        dx = backend.matmul(xp, dz_rz.T, w_ih[:h2])
        dx += backend.matmul(xp, dz_n.T, w_ih[h2:])
        dx = _wrap(dx.reshape(x.shape))
    if need[2]:
        flat_x = x.reshape(length * batch, -1)
        dw_ih = xp.empty_like(w_ih)
        backend.matmul(xp, dz_rz, flat_x, out=dw_ih[:h2])
        backend.matmul(xp, dz_n, flat_x, out=dw_ih[h2:])
        dw_ih = _wrap(dw_ih)
    if need[4]:
        db_ih = _wrap(xp.concatenate([dz_rz.sum(axis=1), dz_n.sum(axis=1)]))
    dw_hh = _wrap(backend.matmul(xp, dz_h, _rows(_slots(hs, reverse)[1]))) if need[3] else None
    db_hh = _wrap(dz_h.sum(axis=1)) if need[5] else None
    return dx, _wrap(dh.T) if need[1] else None, dw_ih, dw_hh, db_ih, db_hh


def _gru_layer_vjp_graph(ctx, g_out, g_hn):
    x, h0, w_ih, w_hh, b_ih, b_hh = ctx.saved
    reverse = ctx.args[0]
    xg = _project_graph(x, w_ih, b_ih)
    length = xg._data.shape[0]
    steps = _steps(length, reverse)
    w_t = w_hh.mT
    h = h0
    saved = [None] * length
    h_before = [None] * length
    for t, _, _ in steps:
        x_r, x_z, x_n = xg[t].chunk(3, dim=-1)
        h_r, h_z, h_n = (h @ w_t + b_hh).chunk(3, dim=-1)
        r = (x_r + h_r).sigmoid()
        z = (x_z + h_z).sigmoid()
        n = (x_n + r * h_n).tanh()
        saved[t] = (h, r, z, n, h_n)
        h_before[t] = h
        h = n + z * (h - n)
    dh = g_hn
    dx, dhg = [None] * length, [None] * length
    for t, _, _ in reversed(steps):
        h_prev, r, z, n, h_n = saved[t]
        dh = dh + g_out[t]
        d_n = dh * (1 - z) * (1 - n * n)
        d_z = dh * (h_prev - n) * z * (1 - z)
        d_r = d_n * h_n * r * (1 - r)
        dx[t] = cat([d_r, d_z, d_n], -1)
        dhg[t] = cat([d_r, d_z, d_n * r], -1)
        dh = dhg[t] @ w_hh + dh * z
    dhg = stack(dhg, 0)
    d_x, dw_ih, db_ih = _project_grads(stack(dx, 0), x, w_ih)
    return d_x, dh, dw_ih, _weight_grad_graph(dhg, stack(h_before, 0)), db_ih, dhg.sum(dim=(0, 1))


def _gru_composite(reverse, x, h0, w_ih, w_hh, b_ih, b_hh):
    """The layer in Tensor ops, (out, h_n), PyTorch's gate order r, z, n."""
    xg = _project_graph(x, w_ih, b_ih)
    length = xg._data.shape[0]
    w_t = w_hh.mT
    h = h0
    outs = [None] * length
    for t, _, _ in _steps(length, reverse):
        x_r, x_z, x_n = xg[t].chunk(3, dim=-1)
        h_r, h_z, h_n = (h @ w_t + b_hh).chunk(3, dim=-1)
        r = (x_r + h_r).sigmoid()
        z = (x_z + h_z).sigmoid()
        n = (x_n + r * h_n).tanh()
        h = outs[t] = n + z * (h - n)
    return stack(outs, 0), h


@_gru_layer.defjvp
def _gru_layer_jvp(ctx, *tangents):
    return composite_jvp(ctx, tangents, lambda *inputs: _gru_composite(*ctx.args, *inputs))


# ---------------------------------------------------------------------------
# the differentiable (create_graph) helpers, in time-major (L, N, .) layout


def _project_graph(x: Tensor, w_ih: Tensor, bias: Tensor) -> Tensor:
    """x @ W_ih.T + bias as Tensor ops: (L, N, G*H)."""
    return x @ w_ih.mT + bias


def _project_grads(dz: Tensor, x: Tensor, w_ih: Tensor):
    """(dx, dW_ih, db) from dz (L, N, G*H), the gradient of x @ W_ih.T + b."""
    rows = dz._data.shape[0] * dz._data.shape[1]
    dz2 = dz.reshape(rows, -1)
    return dz @ w_ih, dz2.mT @ x.reshape(rows, -1), dz2.sum(dim=0)


def _weight_grad_graph(dz: Tensor, h_before: Tensor) -> Tensor:
    rows = dz._data.shape[0] * dz._data.shape[1]
    return dz.reshape(rows, -1).mT @ h_before.reshape(rows, -1)


# ---------------------------------------------------------------------------
# public entry points


def _prepare(op, gates, x, states, w_ih, w_hh, b_ih, b_hh):
    """Check shapes and dtypes; return the bias tensors (zeros standing in for a missing bias)."""
    named = [("x", x)] + [(n, s) for n, s in states] + [("w_ih", w_ih), ("w_hh", w_hh)]
    for name, t in named + [("b_ih", b_ih), ("b_hh", b_hh)]:
        if t is not None and not isinstance(t, Tensor):
            raise TypeError(f"{op}: {name} must be a Tensor, got {type(t).__name__}")
    dtype = x._data.dtype
    if dtype.kind != "f":
        raise DTypeError(f"{op}: expected a floating point input, got {dtype}")
    for name, t in named[1:] + [("b_ih", b_ih), ("b_hh", b_hh)]:
        if t is not None and t._data.dtype != dtype:
            raise DTypeError(
                f"{op}: {name} is {t._data.dtype} but the input x is {dtype}; "
                "chainrule does not convert silently: make them one dtype"
            )
    if x._data.ndim != 3:
        raise ShapeError(f"{op}: x must be (L, N, H_in), got shape {tuple(x.shape)}")
    _, batch, features = x._data.shape
    if w_hh._data.ndim != 2 or w_hh._data.shape[0] != gates * w_hh._data.shape[1]:
        raise ShapeError(f"{op}: w_hh must be ({gates}*H, H), got shape {tuple(w_hh.shape)}")
    hidden = w_hh._data.shape[1]
    expected = {"w_ih": (gates * hidden, features), "b_ih": (gates * hidden,), "b_hh": (gates * hidden,)}
    for name, t in (("w_ih", w_ih), ("b_ih", b_ih), ("b_hh", b_hh)):
        if t is not None and t._data.shape != expected[name]:
            raise ShapeError(f"{op}: {name} must have shape {expected[name]}, got {tuple(t.shape)} (x: {x.shape})")
    for name, s in states:
        if s._data.shape != (batch, hidden):
            raise ShapeError(f"{op}: {name} must have shape {(batch, hidden)}, got {tuple(s.shape)}")
    if b_ih is None or b_hh is None:
        xp = array_module(x._data)
        zero = _wrap(xp.zeros(gates * hidden, dtype=dtype))
        b_ih = zero if b_ih is None else b_ih
        b_hh = zero if b_hh is None else b_hh
    return b_ih, b_hh


def _empty_batch(x, states, params):
    """(output (L, 0, H), *final states (0, H)) for a batch of 0, as PyTorch returns them.

    Built from empty slices, so x, the states and every weight stay in the
    graph and get zero gradients (not None).
    """
    length = x._data.shape[0]
    hidden = params[1]._data.shape[1]  # w_hh (G*H, H)
    anchor = None
    for t in (x, *states, *params):
        part = t.reshape(-1)[:0].sum()
        anchor = part if anchor is None else anchor + part
    output = x.reshape(-1)[:0].reshape(length, 0, hidden) + anchor
    return (output, *(s.reshape(-1)[:0].reshape(0, hidden) + anchor for s in states))


def rnn_layer(x, h0, w_ih, w_hh, b_ih=None, b_hh=None, nonlinearity: str = "tanh", reverse: bool = False):
    """One Elman RNN layer over a sequence: ``h_t = act(W_ih x_t + b_ih + W_hh h_{t-1} + b_hh)``.

    ``x (L, N, H_in)``, ``h0 (N, H)``, ``w_ih (H, H_in)``, ``w_hh (H, H)``,
    biases ``(H,)`` or None; ``nonlinearity`` 'tanh' or 'relu'.
    Returns ``(output (L, N, H), h_n (N, H))``.
    """
    if nonlinearity not in ("tanh", "relu"):
        raise ValueError(f"rnn_layer: nonlinearity must be 'tanh' or 'relu', got {nonlinearity!r}")
    b_ih, b_hh = _prepare("rnn_layer", 1, x, [("h0", h0)], w_ih, w_hh, b_ih, b_hh)
    return applyn(_rnn_layer, (x, h0, w_ih, w_hh, b_ih, b_hh), nonlinearity, bool(reverse))


def lstm_layer(x, h0, c0, w_ih, w_hh, b_ih=None, b_hh=None, reverse: bool = False):
    """One LSTM layer over a sequence (PyTorch's gate order i, f, g, o).

    ``x (L, N, H_in)``, ``h0, c0 (N, H)``, ``w_ih (4H, H_in)``, ``w_hh (4H, H)``,
    biases ``(4H,)`` or None.  Returns ``(output (L, N, H), h_n (N, H), c_n (N, H))``.
    """
    b_ih, b_hh = _prepare("lstm_layer", 4, x, [("h0", h0), ("c0", c0)], w_ih, w_hh, b_ih, b_hh)
    if x._data.shape[1] == 0:
        return _empty_batch(x, (h0, c0), (w_ih, w_hh, b_ih, b_hh))
    inputs = (x, h0, c0, w_ih, w_hh, b_ih, b_hh)
    return applyn(_lstm_layer, inputs, bool(reverse))


def gru_layer(x, h0, w_ih, w_hh, b_ih=None, b_hh=None, reverse: bool = False):
    """One GRU layer over a sequence (PyTorch's gate order r, z, n; ``n = tanh(W_in x + b_in + r (W_hn h + b_hn))``).

    ``x (L, N, H_in)``, ``h0 (N, H)``, ``w_ih (3H, H_in)``, ``w_hh (3H, H)``,
    biases ``(3H,)`` or None.  Returns ``(output (L, N, H), h_n (N, H))``.
    """
    b_ih, b_hh = _prepare("gru_layer", 3, x, [("h0", h0)], w_ih, w_hh, b_ih, b_hh)
    if x._data.shape[1] == 0:
        return _empty_batch(x, (h0,), (w_ih, w_hh, b_ih, b_hh))
    return applyn(_gru_layer, (x, h0, w_ih, w_hh, b_ih, b_hh), bool(reverse))
