"""DistributedDataParallel: average gradients over ranks while backward is still running.

How a step goes (``N`` ranks, each with its own part of the batch):

1. **Start.**  At construction rank 0's parameters and buffers are broadcast
   to every rank, after checking that all ranks hold the same parameter
   names, shapes and dtypes.  Parameters are packed into *buckets*: flat
   arrays of about ``bucket_cap_mb`` (25 MB; the first one 1 MB so that
   communication starts early), in reverse registration order, which is
   roughly the order backward produces their gradients.  After the first
   step the buckets are rebuilt once in the order gradients actually
   arrived (rank 0's order, broadcast, so that every rank agrees).
2. **Forward.**  In training mode rank 0's buffers (BatchNorm running
   statistics) are broadcast first.  Then, as each sub-module is called, a
   pre-hook puts an identity op ("ready marker") in front of each of its
   parameters, so that the marker is recorded right before the ops that use
   the parameter.  The engine runs nodes in reverse recording order, so a
   marker's backward runs as soon as every use of its parameter has
   produced its gradient, and receives the complete gradient.
3. **Backward.**  A marker copies its gradient into the parameter's slot in
   its bucket.  When every slot of a bucket is filled, and every earlier
   bucket has been started, the bucket's ``Iallreduce`` starts (non-blocking)
   while backward continues with the next layers.  Each later marker also
   lets MPI make progress on the pending reductions.
4. **End of backward.**  The engine accumulates leaf gradients last; a hook
   on each parameter waits for its bucket, divides by ``N`` and hands the
   average to the engine, which stores it in ``.grad``.  Buckets never
   filled (unused parameters) are started by the first of these hooks, in
   order, so the sequence of collectives is identical on every rank.  The
   step stays open until the next forward, which first settles anything a
   backward left unfinished.

Each bucket also carries one flag per parameter ("this rank produced a
gradient"), so a parameter that some ranks did not use still ends with the
same average on every rank, and one no rank used keeps ``grad = None``: there
is no ``find_unused_parameters`` switch to forget.  A gradient already in
``.grad`` (accumulated under :meth:`no_sync`) is reduced together with the new
one, as in PyTorch.

Gradients that bypass the markers, e.g. a parent module calling
``F.linear(x, self.child.weight)`` without calling ``child``, are still
averaged, with one blocking all-reduce per such parameter at the end of
backward (counted in ``stats["unbucketed"]``); only their overlap is lost.
So between one DDP forward and the next, run backward only through that
forward's output: a second, unrelated backward through the same parameters
is left local for parameters the step already averaged, but would start an
all-reduce (on this rank alone) for one it did not.  A parameter used both
through its module and outside any module call raises
:class:`DistributedError` (move the outside use into a module's forward).

``Embedding(sparse=True)`` gradients arrive dense here (the marker makes the
weight a non-leaf), so use a dense optimizer.  Parameters must be NumPy
(CPU) arrays.

With one rank the wrapper is transparent: no hooks, no copies.
"""

from __future__ import annotations

import contextlib
import hashlib
import time
import weakref

import numpy as np

from ..autograd.function import Function
from ..autograd.mode import is_grad_enabled
from ..nn.module import Module
from ..tensor import _wrap
from .comm import ReduceOp, world
from .errors import DistributedConfigError, DistributedError

MB = 1024 * 1024


class _Slot:
    """One parameter's place in a bucket, plus its state in the current step."""

    __slots__ = (
        "param",
        "name",
        "index",
        "bucket",
        "position",
        "offset",
        "numel",
        "shape",
        "expected",
        "received",
        "ready",
        "write_back",
        "consumed",
        "single",
    )

    def __init__(self, param, name, index):
        self.param = param
        self.name = name
        self.index = index
        self.numel = int(param._data.size)
        self.shape = param._data.shape
        self.bucket = None
        self.position = 0
        self.offset = 0
        self.reset()

    def reset(self):
        self.expected = 0  # ready markers made in this step's forward
        self.received = 0  # marker gradients received in backward
        self.ready = False
        self.write_back = False
        self.consumed = False  # its leaf hook has run in this step
        self.single = None


class _Bucket:
    """A flat array of gradients (then one contribution flag per parameter) reduced by one Iallreduce."""

    __slots__ = ("index", "slots", "buffer", "grad_size", "pending", "request", "launched", "done")

    def __init__(self, index, slots, dtype):
        self.index = index
        self.slots = slots
        offset = 0
        for position, slot in enumerate(slots):
            slot.bucket, slot.position, slot.offset = self, position, offset
            offset += slot.numel
        self.grad_size = offset
        self.buffer = np.zeros(offset + len(slots), dtype=dtype)
        self.reset()

    def reset(self):
        self.pending = 0
        self.request = None
        self.launched = False
        self.done = False

    @property
    def nbytes(self) -> int:
        return int(self.buffer.nbytes)

    def view(self, slot) -> np.ndarray:
        return self.buffer[slot.offset : slot.offset + slot.numel]

    def flag(self, slot):
        return self.buffer[self.grad_size + slot.position]


class _ReadyMarker(Function):
    """Identity on a parameter whose backward hands the parameter's full gradient to its reducer."""

    @staticmethod
    def forward(ctx, param, reducer, slot, token):
        ctx.reducer, ctx.slot, ctx.token = reducer, slot, token
        return _wrap(param._data)

    @staticmethod
    def backward(ctx, grad):
        ctx.reducer._on_marker_grad(ctx.slot, ctx.token, grad)
        return grad, None, None, None

    @staticmethod
    def jvp(ctx, param_tangent, *_others):
        return param_tangent  # an identity: forward mode passes through


def _module_hooks(reducer_ref):
    def pre_hook(module, args):
        reducer = reducer_ref()
        if reducer is not None and reducer._recording:
            reducer._insert_markers(module)

    def post_hook(module, args, output):
        reducer = reducer_ref()
        if reducer is not None and reducer._recording:
            reducer._restore(module)

    return pre_hook, post_hook


def _leaf_hook(reducer_ref, slot):
    def hook(grad):
        reducer = reducer_ref()
        if reducer is None or not reducer._in_step:
            return None
        return reducer._on_leaf_grad(slot, grad)

    return hook


class DistributedDataParallel(Module):
    """Data parallelism over MPI: every rank runs ``module`` on its own batch; gradients are averaged.

    ``DistributedDataParallel(model)(x)`` runs ``model(x)``; after
    ``loss.backward()`` every parameter's ``.grad`` holds the average over
    ranks, identical everywhere, so identical optimizers keep identical
    weights.  Use it with a :class:`DistributedSampler` so that each rank sees
    different samples.

    Arguments (PyTorch's names where they exist): ``bucket_cap_mb`` (25),
    ``broadcast_buffers`` (broadcast rank 0's buffers at every training-mode
    forward; True), ``process_group`` (default: the world).  chainrule's
    own: ``first_bucket_cap_mb`` (1: the first bucket to fill is kept small
    so that communication starts early), ``overlap`` (True; False starts
    all reductions after backward: for measuring, not for use).

    Differs from PyTorch: ``state_dict()`` / ``load_state_dict()`` are the
    wrapped module's (no ``module.`` prefix), so a checkpoint written by a
    data-parallel run loads into a plain model and the other way round.
    Unused parameters are always handled (see the module docstring).
    Double backward through the averaged gradients is not supported.

    Args:
        module: the model (a Module whose parameters are float NumPy arrays, the same on every rank).
        bucket_cap_mb: the size of a gradient bucket in MB; default 25.
        broadcast_buffers: broadcast rank 0's buffers at every training-mode forward; default True.
        process_group: the ``ProcessGroup``; None means the world.
        first_bucket_cap_mb: the size of the first bucket in MB; default 1.
        overlap: reduce buckets while backward runs (the default); False waits for the end of backward.
        find_unused_parameters: accepted for PyTorch's signature; unused parameters are always handled.

    Raises:
        DistributedConfigError: ``module`` is not a Module, a bucket size is not positive, or a parameter is not a
            float.
        DistributedError: a parameter is on a GPU, or the ranks' models differ.

    Examples:
        >>> import chainrule.distributed as dist
        >>> model = dist.DistributedDataParallel(nn.Linear(2, 1))  # a world of one: a transparent wrapper
        >>> model(cr.ones(3, 2)).sum().backward()
        >>> model.module.weight.grad, list(model.state_dict())
        (tensor([[3., 3.]]), ['weight', 'bias'])
    """

    def __init__(
        self,
        module: Module,
        bucket_cap_mb: float = 25.0,
        broadcast_buffers: bool = True,
        process_group=None,
        *,
        first_bucket_cap_mb: float = 1.0,
        overlap: bool = True,
        find_unused_parameters: bool | None = None,  # accepted for PyTorch compatibility: always on
    ):
        super().__init__()
        if not isinstance(module, Module):
            raise DistributedConfigError(f"DistributedDataParallel wraps a Module, got {type(module).__name__}")
        for what, value in (("bucket_cap_mb", bucket_cap_mb), ("first_bucket_cap_mb", first_bucket_cap_mb)):
            if not isinstance(value, (int, float)) or not value > 0:
                raise DistributedConfigError(
                    f"DistributedDataParallel: {what} must be a positive number, got {value!r}"
                )
        self.module = module
        group = process_group if process_group is not None else world()
        self.broadcast_buffers = bool(broadcast_buffers)
        self.bucket_cap_mb = float(bucket_cap_mb)
        self.first_bucket_cap_mb = float(first_bucket_cap_mb)
        self.overlap = bool(overlap)
        self.require_backward_grad_sync = True
        self.world_size = group.size
        self.rank = group.rank
        self._recording = False
        self._in_step = False
        self._token = 0
        self._swapped: dict = {}
        self._slots: list = []
        self._buckets: list = []
        self._ready_order: list | None = None
        self._steps_seen = 0
        self._hook_handles: list = []
        self.stats = _new_stats()
        self.last_step: dict = {}
        named = [(n, p) for n, p in module.named_parameters() if p.requires_grad]
        for name, p in named:
            if type(p._data) is not np.ndarray:
                raise DistributedError(
                    f"DistributedDataParallel: parameter {name!r} is not a NumPy (CPU) array; "
                    "only CPU tensors are supported so far"
                )
            if p._data.dtype.kind != "f":
                raise DistributedConfigError(
                    f"DistributedDataParallel: parameter {name!r} has dtype {p._data.dtype}; gradients need floats"
                )
        if self.world_size == 1:
            self._group = group
            return
        self._group = group.dup()  # gradient buckets get a communicator of their own
        self._check_same_model()
        self._broadcast_state([p for _, p in module.named_parameters()] + self._buffers_list())
        self._slots = [_Slot(p, name, i) for i, (name, p) in enumerate(named)]
        self._by_param = {id(s.param): s for s in self._slots}
        self._build_buckets(list(reversed(self._slots)))
        self._install_hooks()

    # ------------------------------------------------------------------ the wrapped module's state

    def state_dict(self, destination=None, prefix: str = "", keep_vars: bool = False):
        """The wrapped module's state dict (no ``module.`` prefix, unlike PyTorch)."""
        return self.module.state_dict(destination=destination, prefix=prefix, keep_vars=keep_vars)

    def load_state_dict(self, state_dict, strict: bool = True):
        """Load into the wrapped module (names without a ``module.`` prefix, unlike PyTorch)."""
        return self.module.load_state_dict(state_dict, strict=strict)

    def extra_repr(self) -> str:
        sizes = ", ".join(f"{b.grad_size * b.buffer.itemsize / MB:.2f}" for b in self._buckets)
        return f"world_size={self.world_size}, buckets MB=[{sizes}], overlap={self.overlap}"

    # ------------------------------------------------------------------ setup

    def _buffers_list(self):
        return [b for _, b in self.module.named_buffers() if b is not None]

    def _describe_model(self) -> str:
        lines = [f"P {n} {tuple(p.shape)} {p._data.dtype}" for n, p in self.module.named_parameters()]
        lines += [f"B {n} {tuple(b.shape)} {b._data.dtype}" for n, b in self.module.named_buffers() if b is not None]
        return "\n".join(lines)

    def _check_same_model(self):
        text = self._describe_model()
        digest = np.frombuffer(hashlib.sha256(text.encode()).digest(), dtype=np.uint8).copy()
        digests = self._group.all_gather(digest, "the model check at DistributedDataParallel()")
        differ = [r for r in range(self.world_size) if not np.array_equal(digests[r], digests[0])]
        if differ:
            count = text.count("\n") + 1 if text else 0
            raise DistributedError(
                f"DistributedDataParallel: rank(s) {differ} hold a model whose parameter/buffer names, shapes or "
                f"dtypes differ from rank 0's (this is rank {self.rank}, with {count} tensors); "
                "every rank must build the same model"
            )

    def _broadcast_state(self, tensors, what="the initial broadcast of parameters and buffers"):
        """Overwrite ``tensors`` on every rank with rank 0's values: one broadcast per dtype."""
        groups: dict = {}
        for t in tensors:
            groups.setdefault(t._data.dtype, []).append(t)
        for dtype, items in groups.items():
            flat = np.empty(sum(t._data.size for t in items), dtype=dtype)
            if self.rank == 0:
                offset = 0
                for t in items:
                    flat[offset : offset + t._data.size] = t._data.reshape(-1)
                    offset += t._data.size
            self._group.broadcast(flat, 0, what)
            if self.rank != 0:
                offset = 0
                for t in items:
                    np.copyto(t._data, flat[offset : offset + t._data.size].reshape(t._data.shape))
                    t._bump()
                    offset += t._data.size

    def _build_buckets(self, ordered_slots):
        """Fill buckets in ``ordered_slots`` order: one dtype per bucket, closed once past its cap."""
        buckets, current, size, cap = [], [], 0, self.first_bucket_cap_mb * MB
        for slot in ordered_slots:
            if current and slot.param._data.dtype != current[0].param._data.dtype:
                buckets.append(current)
                current, size, cap = [], 0, self.bucket_cap_mb * MB
            current.append(slot)
            size += slot.param._data.nbytes
            if size >= cap:
                buckets.append(current)
                current, size, cap = [], 0, self.bucket_cap_mb * MB
        if current:
            buckets.append(current)
        self._buckets = [_Bucket(i, slots, slots[0].param._data.dtype) for i, slots in enumerate(buckets)]

    def _install_hooks(self):
        ref = weakref.ref(self)
        owners = set()
        for m in self.module.modules():
            if any(p is not None and id(p) in self._by_param for p in m._parameters.values()):
                owners.add(id(m))
                pre, post = _module_hooks(ref)
                self._hook_handles.append(m.register_forward_pre_hook(pre))
                self._hook_handles.append(m.register_forward_hook(post))
        for slot in self._slots:
            self._hook_handles.append(slot.param.register_hook(_leaf_hook(ref, slot)))

    def _rebuild_buckets(self):
        """Once, after the first step: buckets in the order gradients arrived on rank 0."""
        n = len(self._slots)
        order = np.full(n, -1, dtype=np.int64)
        if self.rank == 0:
            arrived = list(dict.fromkeys(self._ready_order or []))
            seen = set(arrived)
            rest = [s.index for b in self._buckets for s in b.slots if s.index not in seen]
            order[:] = arrived + rest
        self._group.broadcast(order, 0, "the bucket order broadcast after the first step")
        if sorted(order.tolist()) != list(range(n)):
            raise DistributedError("DistributedDataParallel: rank 0 sent an invalid bucket order")
        self._build_buckets([self._slots[i] for i in order])
        self._ready_order = None

    # ------------------------------------------------------------------ forward

    @contextlib.contextmanager
    def no_sync(self):
        """Inside this context, backward accumulates local gradients only; the next synced backward averages all."""
        previous = self.require_backward_grad_sync
        self.require_backward_grad_sync = False
        try:
            yield
        finally:
            self.require_backward_grad_sync = previous

    def forward(self, *inputs, **kwargs):
        """Run the wrapped module; when recording, mark its parameters so that backward averages their gradients."""
        if self.world_size == 1:
            return self.module(*inputs, **kwargs)
        if self.broadcast_buffers and self.training:
            buffers = self._buffers_list()
            if buffers:
                self._broadcast_state(buffers, "the buffer broadcast at the start of forward")
        if not (is_grad_enabled() and self.require_backward_grad_sync and self._slots):
            self._close_step()
            self.last_step = {}
            return self.module(*inputs, **kwargs)
        self._begin_step()
        self._recording = True
        try:
            output = self.module(*inputs, **kwargs)
        finally:
            self._recording = False
            for module in list(self._swapped):
                self._restore(module)
        for bucket in self._buckets:
            bucket.pending = sum(1 for s in bucket.slots if s.expected)
        return output

    def _close_step(self):
        """End the open step; if its backward never reached the parameters, finish its collectives first."""
        if not self._in_step:
            return
        self._finalize()
        for bucket in self._buckets:
            self._wait_bucket(bucket)
        for slot in self._slots:
            slot.single = None
        self._in_step = False

    def _begin_step(self):
        self._close_step()
        if self._steps_seen == 1:
            self._rebuild_buckets()
        self._steps_seen += 1
        self._token += 1
        if self._steps_seen == 1:
            self._ready_order = []
        for slot in self._slots:
            slot.reset()
        for bucket in self._buckets:
            bucket.reset()
        self._next_launch = 0
        self._finalized = False
        self.last_step = {
            "buckets": len(self._buckets),
            "bytes": 0,
            "launched_during_backward": 0,
            "reduced_during_backward": 0,
            "wait_s": 0.0,
        }
        self._in_step = True

    def _insert_markers(self, module):
        params = module._parameters
        saved = []
        for name, p in params.items():
            slot = self._by_param.get(id(p)) if p is not None else None
            if slot is None:
                continue
            saved.append((name, p))
            params[name] = _ReadyMarker.apply(p, self, slot, self._token)
            slot.expected += 1
        if saved:
            self._swapped.setdefault(module, []).extend(saved)

    def _restore(self, module):
        saved = self._swapped.pop(module, None)
        if saved:
            params = module._parameters
            for name, p in saved:
                params[name] = p

    # ------------------------------------------------------------------ backward

    def _on_marker_grad(self, slot, token, grad):
        if token != self._token or not self._in_step:
            raise DistributedError(
                f"DistributedDataParallel: a gradient for {slot.name!r} came from an earlier forward pass; "
                "call backward once after each forward (sum the losses of several forwards in one forward, "
                "or run the earlier ones under no_sync())"
            )
        if self._finalized or slot.received >= slot.expected:
            raise DistributedError(
                f"DistributedDataParallel: {slot.name!r} received a gradient twice in one step; backward "
                "may run only once per forward (retain_graph=True with a second backward is not supported)"
            )
        bucket = slot.bucket
        view = bucket.view(slot)
        g = grad._data.reshape(-1)
        if slot.received == 0:
            np.copyto(view, g, casting="same_kind")
        else:
            view += g
        slot.received += 1
        slot.single = grad if slot.expected == 1 else None
        if slot.received == slot.expected:
            self._mark_ready(slot)
            bucket.pending -= 1
            if bucket.pending == 0 and self.overlap:
                self._launch_in_order(early=True)
        if self._next_launch:
            self._group.test([b.request for b in self._buckets[: self._next_launch] if not b.done])

    def _mark_ready(self, slot):
        bucket = slot.bucket
        grad = slot.param.grad
        if grad is not None:  # an accumulated gradient (no_sync) is reduced with the new one
            bucket.view(slot)[...] += grad._data.reshape(-1)
        bucket.buffer[bucket.grad_size + slot.position] = 1
        slot.ready = True
        if self._ready_order is not None:
            self._ready_order.append(slot.index)

    def _launch_in_order(self, early=False, force=False):
        buckets = self._buckets
        while self._next_launch < len(buckets):
            bucket = buckets[self._next_launch]
            if bucket.pending and not force:
                break
            self._launch(bucket)
            self._next_launch += 1
            if early:
                self.last_step["launched_during_backward"] += 1
                self.stats["launched_during_backward"] += 1

    def _launch(self, bucket):
        for slot in bucket.slots:
            if slot.ready:
                continue
            if slot.received:  # some uses of the parameter did not reach the loss: what did is its gradient
                self._mark_ready(slot)
                continue
            view = bucket.view(slot)
            grad = slot.param.grad
            if grad is not None:
                np.copyto(view, grad._data.reshape(-1), casting="same_kind")
                bucket.buffer[bucket.grad_size + slot.position] = 1
            else:
                view[...] = 0
                bucket.buffer[bucket.grad_size + slot.position] = 0
            slot.write_back = True
        bucket.request = self._group.iall_reduce(bucket.buffer, ReduceOp.SUM)
        bucket.launched = True

    def _wait_bucket(self, bucket):
        if bucket.done:
            return
        if not bucket.launched:
            raise DistributedError(f"DistributedDataParallel: bucket {bucket.index} was never started")
        waited = self._group.wait(
            [bucket.request], f"the gradient all-reduce of bucket {bucket.index} ({bucket.nbytes / MB:.2f} MB)"
        )
        self._count_wait(waited)
        bucket.buffer[: bucket.grad_size] *= bucket.buffer.dtype.type(1.0 / self.world_size)
        bucket.request = None
        bucket.done = True

    def _finalize(self):
        """End of backward (first parameter hook): start what is left, settle parameters no marker reached."""
        if self._finalized:
            return
        self._finalized = True
        # how much communication backward already hid: the buckets whose all-reduce is complete by now
        done = sum(b.nbytes for b in self._buckets[: self._next_launch] if self._group.test([b.request]))
        self.last_step["reduced_during_backward"] = done
        self.stats["reduced_during_backward"] += done
        self._launch_in_order(force=True)
        for bucket in self._buckets:
            pending = [s for s in bucket.slots if s.write_back]
            if not pending:
                continue
            self._wait_bucket(bucket)
            for slot in pending:
                if bucket.flag(slot) > 0:  # some rank had a gradient for it: everyone takes the average
                    slot.param.grad = _wrap(bucket.view(slot).reshape(slot.shape).copy())
        nbytes = sum(b.nbytes for b in self._buckets)
        self.last_step["bytes"] = nbytes
        stats = self.stats
        stats["steps"] += 1
        stats["bytes"] += nbytes
        stats["buckets"] += len(self._buckets)

    def _count_wait(self, seconds):
        self.last_step["wait_s"] += seconds
        self.stats["wait_s"] += seconds

    def _on_leaf_grad(self, slot, grad):
        if slot.consumed:  # a second backward in this step that did not come through this forward: local
            return None
        self._finalize()
        slot.consumed = True
        if slot.received == 0:
            # a gradient that bypassed the markers (parameter used outside its module's call): reduce it alone
            out = np.array(grad._data, dtype=slot.param._data.dtype, order="C", copy=True)
            began = time.perf_counter()
            what = f"the gradient all-reduce of {slot.name!r} (used outside its module)"
            self._group.all_reduce(out, ReduceOp.AVG, what)
            self._count_wait(time.perf_counter() - began)
            self.stats["unbucketed"] += 1
            return _wrap(out)
        if slot.expected == 1 and slot.single is not grad:
            raise DistributedError(
                f"DistributedDataParallel: parameter {slot.name!r} got gradient both through its module and from "
                "a use outside any module call (for example a penalty on the weight added to the loss); "
                "compute that term inside a module's forward, or use the optimizer's weight_decay"
            )
        bucket = slot.bucket
        self._wait_bucket(bucket)
        slot.param.grad = None  # the bucket already holds (and averaged) whatever .grad held before
        slot.single = None
        return _wrap(bucket.view(slot).reshape(slot.shape).copy())  # buckets are reused: hand over a copy

    def reset_stats(self) -> None:
        """Zero ``stats``: steps, bytes reduced (and how many of them were done before backward ended), buckets,
        buckets started during backward, seconds waited for communication, parameters reduced outside buckets."""
        self.stats = _new_stats()


def _new_stats() -> dict:
    return {
        "steps": 0,
        "bytes": 0,
        "buckets": 0,
        "launched_during_backward": 0,
        "reduced_during_backward": 0,
        "wait_s": 0.0,
        "unbucketed": 0,
    }
