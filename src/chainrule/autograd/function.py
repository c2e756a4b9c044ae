"""Custom differentiable ops: subclass ``Function`` (PyTorch's API).

::

    class Cube(cr.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            ctx.save_for_backward(x)
            return x * x * x

        @staticmethod
        def backward(ctx, grad_output):
            (x,) = ctx.saved_tensors
            return grad_output * 3 * x * x

    y = Cube.apply(x)

``forward`` runs without recording; ``backward`` gets one gradient per output
and returns one per ``forward`` argument (None for non-tensors and for inputs
that need none).  When backward is written with chainrule ops it is itself
differentiable, so ``create_graph=True`` works through custom ops too.
"""

from __future__ import annotations

import functools
import weakref
from typing import Any

from ..errors import DTypeError, GradientError
from ..tensor import Tensor, _wrap, _wrap_edge
from . import graph
from .forward import _LEVELS, forward_levels
from .graph import _SEQ, RELEASED, Node, Primitive, edge_of, version_counter
from .mode import anomaly_state, grad_enabled, no_grad


class FunctionCtx:
    """The ``ctx`` of a custom Function: takes any attributes you set, plus PyTorch's helpers.

    It is a separate object from the graph node that records the call (which
    it reaches through a weak reference), so ``ctx.args = ...`` or
    ``ctx.shape = ...`` can never disturb the engine. ``Function.apply`` makes
    one per call and passes it to ``forward`` and then to ``backward``.

    Examples:
        >>> class Scale(cr.autograd.Function):
        ...     @staticmethod
        ...     def forward(ctx, x, factor):
        ...         ctx.factor = factor  # any attribute
        ...         return x * factor
        ...     @staticmethod
        ...     def backward(ctx, grad_output):
        ...         print("needs_input_grad:", ctx.needs_input_grad)
        ...         return grad_output * ctx.factor, None
        >>> x = cr.tensor([1.0, 2.0], requires_grad=True)
        >>> Scale.apply(x, 3.0).sum().backward()
        needs_input_grad: (True, False)
        >>> x.grad
        tensor([3., 3.])
    """

    # set by Function.apply on each call (annotations only: no class attributes)
    _cr_node: Any
    _cr_saved_spec: Any
    _cr_out_data: Any
    _cr_needs: tuple
    _cr_to_save: tuple

    def save_for_backward(self, *tensors) -> None:
        """Keep tensors (inputs or outputs of ``forward``, or None) for ``backward``, which reads ``saved_tensors``.

        Saving through this method, rather than as attributes, lets backward check
        that they were not modified in place in between.
        """
        for t in tensors:
            if t is not None and not isinstance(t, Tensor):
                raise TypeError(f"save_for_backward: expected Tensors or None, got {type(t).__name__}")
        self._cr_to_save = tensors

    @property
    def saved_tensors(self) -> tuple:
        """The tensors given to ``save_for_backward``, as a tuple in the same order."""
        node = self._cr_node() if self._cr_node is not None else None
        if node is None:
            return tuple(self._cr_to_save)  # called inside forward, or without recording
        if node.saved is RELEASED:
            raise GradientError(
                f"{node.prim.name}: saved tensors were freed by an earlier backward; "
                "pass retain_graph=True to that backward to use them again"
            )
        out = []
        for kind, value in self._cr_saved_spec:
            if kind == "output":
                index, counter = value
                if counter[0] != 0:
                    raise GradientError(f"{node.prim.name}: output {index}, saved for backward, was modified in place")
                data = self._cr_out_data[index]
                out.append(_wrap_edge(data, (node, index)) if node.create_graph and grad_enabled() else _wrap(data))
            else:
                out.append(value)
        return tuple(out)

    @property
    def needs_input_grad(self) -> tuple:
        """One bool per ``forward`` argument: whether it is a tensor that requires grad (skip the others' gradients)."""
        return self._cr_needs

    def mark_non_differentiable(self, *tensors) -> None:
        """Declare outputs of ``forward`` that carry no gradient (indices, masks): they are returned without history."""
        self._cr_non_diff = {id(t) for t in tensors}

    def set_materialize_grads(self, value: bool) -> None:
        """Only True is supported: missing output gradients always arrive as zeros."""
        if not value:
            raise NotImplementedError("set_materialize_grads(False): chainrule always passes zeros, never None")


def _function_vjp(node, *grads):
    ctx = node.extra
    cls = ctx._cr_cls
    result = cls.backward(ctx, *grads)
    if not isinstance(result, tuple):
        result = (result,)
    n_args = len(ctx._cr_needs)
    if len(result) < n_args or any(r is not None for r in result[n_args:]):
        raise GradientError(
            f"{cls.__name__}.backward returned {len(result)} gradients, but forward took {n_args} arguments"
        )
    out = []
    for position in ctx._cr_tensor_positions:
        g = result[position]
        if g is not None and not isinstance(g, Tensor):
            raise TypeError(
                f"{cls.__name__}.backward returned a {type(g).__name__} for argument {position}; "
                "expected a Tensor or None"
            )
        if g is not None:
            expected = ctx._cr_in_dtypes[position]
            if g._data.dtype != expected:
                raise DTypeError(
                    f"{cls.__name__}.backward returned a {g._data.dtype} gradient for argument {position}, "
                    f"whose dtype is {expected}"
                )
        out.append(g)
    return tuple(out)


class Function:
    """Base class for custom ops.  Define static ``forward(ctx, ...)`` and ``backward(ctx, *grads)``.

    Call the op as ``MyFunction.apply(*args)``. ``forward`` runs without
    recording; ``backward`` gets one gradient per output and returns one per
    ``forward`` argument (None for non-tensors and inputs that need none). A
    backward written with chainrule ops is itself differentiable, so
    ``create_graph=True`` works through it (see ``once_differentiable`` for one
    that is not). Gradients must have their input's dtype.

    For forward mode (``chainrule.func.jvp``, ``jacfwd``) define a staticmethod
    ``jvp(ctx, *input_tangents)`` too, returning one tangent per output (zeros
    are passed for float inputs without a tangent, None for other arguments),
    as in PyTorch; without it, forward mode reaching the Function is an error.
    ``forward`` runs without tangents. Differs from PyTorch: there is no
    ``ctx.save_for_forward``; keep what ``jvp`` needs as attributes of ``ctx``.

    Examples:
        >>> class Cube(cr.autograd.Function):
        ...     @staticmethod
        ...     def forward(ctx, x):
        ...         ctx.save_for_backward(x)
        ...         return x * x * x
        ...     @staticmethod
        ...     def backward(ctx, grad_output):
        ...         (x,) = ctx.saved_tensors
        ...         return grad_output * 3 * x * x
        >>> x = cr.tensor([1.0, 2.0], requires_grad=True)
        >>> Cube.apply(x).sum().backward()
        >>> x.grad
        tensor([ 3., 12.])
    """

    @staticmethod
    def forward(ctx, *args, **kwargs):
        """Compute the outputs from the arguments of ``apply`` (runs under ``no_grad``); return a Tensor or a tuple."""
        raise NotImplementedError("a Function subclass must define forward(ctx, ...)")

    @staticmethod
    def backward(ctx, *grad_outputs):
        """Return one gradient per ``forward`` argument (None where there is none), given one per output."""
        raise NotImplementedError("a Function subclass must define backward(ctx, *grad_outputs)")

    _chainrule_primitive: Primitive  # each subclass's own, made on first use (annotation only)

    @classmethod
    def _primitive(cls) -> Primitive:
        prim = cls.__dict__.get("_chainrule_primitive")
        if prim is None:
            prim = Primitive(cls.__name__, None)
            prim.vjp = _function_vjp
            cls._chainrule_primitive = prim
        return prim

    @classmethod
    def apply(cls, *args, **kwargs):
        """Run the op: call ``forward`` and, if an argument requires grad, record a node whose vjp is ``backward``."""
        if graph.vmap_depth() and graph.holds_batched([a for a in args if isinstance(a, Tensor)]):
            return graph.batched_function_apply(cls, args, kwargs)  # vmap: once per sample (func/_vmap.py)
        ctx = FunctionCtx()
        ctx._cr_cls = cls
        ctx._cr_node = None
        ctx._cr_to_save = ()
        ctx._cr_non_diff = set()
        ctx._cr_materialize = True
        needs = tuple(isinstance(a, Tensor) and a.requires_grad for a in args)
        ctx._cr_needs = needs
        recording = grad_enabled() and any(needs)
        levels = forward_levels()
        if levels:
            # forward mode: the op's tangents come from its jvp, not from the ops inside forward
            token = _LEVELS.set(())
            try:
                with no_grad():
                    result = cls.forward(ctx, *args, **kwargs)
            finally:
                _LEVELS.reset(token)
            return _function_tangents(cls, ctx, args, levels, cls._finish(ctx, args, needs, recording, result))
        with no_grad():
            result = cls.forward(ctx, *args, **kwargs)
        return cls._finish(ctx, args, needs, recording, result)

    @classmethod
    def _finish(cls, ctx, args, needs, recording, result):
        """Check forward's outputs and, when recording, the node whose vjp is ``backward``."""
        single = not isinstance(result, tuple)
        outputs = (result,) if single else result
        for i, o in enumerate(outputs):
            if not isinstance(o, Tensor) and o is not None:
                raise TypeError(f"{cls.__name__}.forward returned a {type(o).__name__} as output {i}; expected Tensors")
        if not recording:
            return result
        inputs = [a for a in args if isinstance(a, Tensor)]
        ctx._cr_tensor_positions = tuple(i for i, a in enumerate(args) if isinstance(a, Tensor))
        ctx._cr_in_dtypes = {i: a._data.dtype for i, a in enumerate(args) if isinstance(a, Tensor)}
        node = Node.__new__(Node)
        node.prim = cls._primitive()
        node.hooks = None
        node.args = ()
        node.extra = ctx
        node.next = tuple(edge_of(t) for t in inputs)
        node.seq = next(_SEQ)
        real = [o for o in outputs if o is not None]
        node.shapes = tuple(o._data.shape for o in real)
        node.dtype = real[0]._data.dtype if real else None
        ctx._cr_out_data = [o._data for o in real]
        if anomaly_state() is not None:
            from .anomaly import on_forward  # noqa: PLC0415

            on_forward(node, inputs, ctx._cr_out_data)
        ctx._cr_node = weakref.ref(node)
        new_outputs = []
        out_index = {}
        for k, o in enumerate(real):
            differentiable = id(o) not in ctx._cr_non_diff and o._data.dtype.kind == "f"
            t = _wrap_edge(o._data, (node, k)) if differentiable else _wrap(o._data)
            out_index[id(o)] = (k, t)
            new_outputs.append(t)
        spec = []
        saved_inputs = []
        for t in ctx._cr_to_save:
            if t is None:
                spec.append(("tensor", None))
            elif id(t) in out_index:
                k, new = out_index[id(t)]
                spec.append(("output", (k, version_counter(new))))
            else:
                spec.append(("tensor", t))
                saved_inputs.append(t)
        ctx._cr_saved_spec = spec
        node.saved = tuple(saved_inputs)
        node.versions = tuple(version_counter(t)[0] for t in saved_inputs)
        ctx._cr_to_save = ()
        it = iter(new_outputs)
        final = tuple(next(it) if o is not None else None for o in outputs)
        return final[0] if single else final


def once_differentiable(backward):
    """Mark a backward that is not itself differentiable: it runs without recording.

    Use it as a decorator under ``@staticmethod`` on ``Function.backward``
    when backward works on raw arrays or is otherwise not written with
    differentiable chainrule ops. With ``create_graph=True`` the gradients it
    returns then have no history (PyTorch raises when they are differentiated;
    chainrule gives gradients that do not require grad).

    Args:
        backward: the ``backward(ctx, *grad_outputs)`` function to wrap.

    Returns:
        The wrapped function.

    Examples:
        >>> class Square(cr.autograd.Function):
        ...     @staticmethod
        ...     def forward(ctx, x):
        ...         ctx.save_for_backward(x)
        ...         return x * x
        ...     @staticmethod
        ...     @cr.autograd.once_differentiable
        ...     def backward(ctx, grad_output):
        ...         (x,) = ctx.saved_tensors
        ...         return grad_output * 2 * x
        >>> x = cr.tensor([3.0], requires_grad=True)
        >>> (g,) = cr.autograd.grad(Square.apply(x), x, create_graph=True)
        >>> g, g.requires_grad
        (tensor([6.]), False)
    """

    @functools.wraps(backward)
    def wrapper(ctx, *grads):
        with no_grad():
            return backward(ctx, *grads)

    return wrapper


def _function_tangents(cls, ctx, args, levels, result):
    """Forward mode through a custom Function: its ``jvp(ctx, *input_tangents)`` gives the output tangents.

    As in PyTorch, a Function without ``jvp`` cannot be used under ``jvp``/``jacfwd`` once a tangent reaches it
    (its forward may work on raw arrays, so pushing tangents through it could be silently wrong).
    """
    outputs = result if isinstance(result, tuple) else (result,)
    for k, level in enumerate(levels):
        tangents = [level.get(a) if isinstance(a, Tensor) else None for a in args]
        if all(t is None for t in tangents):
            continue
        jvp = getattr(cls, "jvp", None)
        if jvp is None:
            raise GradientError(
                f"{cls.__name__}: forward mode (jvp/jacfwd) reached this custom Function, which defines no "
                "jvp(ctx, *input_tangents) staticmethod; add one (it returns one tangent per output), as in PyTorch"
            )
        tangents = [
            t if t is not None or not isinstance(a, Tensor) or a._data.dtype.kind != "f" else _zeros(a)
            for a, t in zip(args, tangents)
        ]
        token = _LEVELS.set(levels[:k])
        try:
            out = jvp(ctx, *tangents)
        finally:
            _LEVELS.reset(token)
        out = out if isinstance(out, tuple) else (out,)
        if len(out) != len(outputs):
            raise GradientError(f"{cls.__name__}.jvp returned {len(out)} tangents for {len(outputs)} outputs")
        for o, t in zip(outputs, out):
            if isinstance(o, Tensor) and t is not None and o._data.dtype.kind == "f":
                if t._data.shape != o._data.shape or t._data.dtype != o._data.dtype:
                    raise GradientError(
                        f"{cls.__name__}.jvp returned a tangent of shape {t.shape} and dtype {t.dtype} for an "
                        f"output of shape {o.shape} and dtype {o.dtype}"
                    )
                level.set(o, t)
    return result


def _zeros(t):
    from ..backend import array_module  # noqa: PLC0415

    return _wrap(array_module(t._data).zeros(t._data.shape, dtype=t._data.dtype))
