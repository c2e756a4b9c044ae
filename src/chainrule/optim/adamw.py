"""AdamW: Adam with decoupled weight decay (Loshchilov & Hutter, 2019)."""

from __future__ import annotations

from .adam import Adam

__all__ = ["AdamW"]


class AdamW(Adam):
    """Adam whose weight decay shrinks the parameters directly, as PyTorch's ``torch.optim.AdamW``.

    Each step first scales ``p *= 1 - lr * weight_decay`` (decay independent of
    the gradient's scale; Loshchilov & Hutter, 2019), then takes the Adam step
    without any L2 term. ``weight_decay`` defaults to 1e-2, as in PyTorch.

    Args:
        params: the tensors to optimize, or a list of parameter-group dicts (see ``Optimizer``).
        lr: the learning rate; default 1e-3.
        betas: ``(beta1, beta2)``, the decay rates of the running mean of the gradient and of its square;
            default (0.9, 0.999).
        eps: added to the denominator for stability; default 1e-8.
        weight_decay: the decoupled decay rate; default 1e-2.
        amsgrad: use the running maximum of the squared-gradient average (AMSGrad); default False.
        maximize: ascend the objective instead of descending it; default False.

    Examples:
        >>> w = cr.tensor([1.0, 2.0], requires_grad=True)
        >>> optimizer = optim.AdamW([w], lr=0.1, weight_decay=0.5)
        >>> (w * w).sum().backward()
        >>> optimizer.step()  # w * (1 - 0.1 * 0.5), then the Adam step of about lr
        >>> w
        tensor([0.8500, 1.8000], requires_grad=True)
    """

    def __init__(
        self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=1e-2, amsgrad=False, *, maximize=False
    ):
        super().__init__(
            params,
            lr=lr,
            betas=betas,
            eps=eps,
            weight_decay=weight_decay,
            amsgrad=amsgrad,
            maximize=maximize,
            decoupled_weight_decay=True,
        )

    def load_state_dict(self, state_dict: dict) -> None:
        super().load_state_dict(state_dict)
        for group in self.param_groups:
            group["decoupled_weight_decay"] = True
