"""Full backward hooks on modules: identity Functions around a module's inputs and outputs.

The output identity records ``grad_output`` as backward passes it; the input
identity receives ``grad_input`` (the gradients of the module's inputs) and
calls the hooks, which may replace it.  Modules whose inputs need no gradient
call their hooks from the output side with ``grad_input`` all None.
"""

from __future__ import annotations

from ..autograd.function import Function
from ..tensor import Tensor


class _State:
    __slots__ = ("module", "grad_output", "n_inputs", "input_wrapped")

    def __init__(self, module, n_inputs):
        self.module = module
        self.grad_output = None
        self.n_inputs = n_inputs
        self.input_wrapped = False


def _call_hooks(state, grad_input):
    grad_output = state.grad_output if state.grad_output is not None else ()
    for hook in list(state.module._backward_hooks.values()):
        result = hook(state.module, grad_input, grad_output)
        if result is not None:
            result = result if isinstance(result, tuple) else (result,)
            if len(result) != len(grad_input):
                raise ValueError(
                    f"backward hook on {type(state.module).__name__} returned {len(result)} gradients, "
                    f"expected {len(grad_input)}"
                )
            grad_input = result
    return grad_input


class _InputIdentity(Function):
    @staticmethod
    def forward(ctx, state, *tensors):
        ctx.state = state
        return tensors if len(tensors) > 1 else tensors[0]

    @staticmethod
    def backward(ctx, *grads):
        return (None, *_call_hooks(ctx.state, tuple(grads)))

    @staticmethod
    def jvp(ctx, _state_tangent, *tangents):
        return tangents if len(tangents) > 1 else tangents[0]  # an identity: forward mode passes through


class _OutputIdentity(Function):
    @staticmethod
    def forward(ctx, state, *tensors):
        ctx.state = state
        return tensors if len(tensors) > 1 else tensors[0]

    @staticmethod
    def backward(ctx, *grads):
        state = ctx.state
        state.grad_output = tuple(grads)
        if not state.input_wrapped:
            _call_hooks(state, (None,) * state.n_inputs)
        return (None, *grads)

    @staticmethod
    def jvp(ctx, _state_tangent, *tangents):
        return tangents if len(tangents) > 1 else tangents[0]


def wrap_call(module, args, kwargs):
    positions = [i for i, a in enumerate(args) if isinstance(a, Tensor) and a.requires_grad]
    state = _State(module, len([a for a in args if isinstance(a, Tensor)]))
    args = list(args)
    if positions:
        state.input_wrapped = True
        wrapped = _InputIdentity.apply(state, *[args[i] for i in positions])
        wrapped = wrapped if isinstance(wrapped, tuple) else (wrapped,)
        for i, w in zip(positions, wrapped):
            args[i] = w
    out = module.forward(*args, **kwargs)
    for hook in list(module._forward_hooks.values()):
        result = hook(module, tuple(args), out)
        if result is not None:
            out = result
    outputs = out if isinstance(out, tuple) else (out,)
    out_positions = [i for i, o in enumerate(outputs) if isinstance(o, Tensor) and o.requires_grad]
    if not out_positions:
        return out
    wrapped = _OutputIdentity.apply(state, *[outputs[i] for i in out_positions])
    wrapped = wrapped if isinstance(wrapped, tuple) else (wrapped,)
    outputs = list(outputs)
    for i, w in zip(out_positions, wrapped):
        outputs[i] = w
    return tuple(outputs) if isinstance(out, tuple) else outputs[0]
