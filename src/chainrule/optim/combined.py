"""CombinedOptimizer: several optimizers stepped as one (SparseAdam for embeddings + Adam for the rest)."""

from __future__ import annotations

from .optimizer import Optimizer

__all__ = ["CombinedOptimizer"]


class CombinedOptimizer(Optimizer):
    """Step, zero and checkpoint several optimizers together.

    ::

        sparse = [m.weight for m in model.modules() if isinstance(m, nn.Embedding) and m.sparse]
        dense = [p for p in model.parameters() if all(p is not q for q in sparse)]
        optimizer = CombinedOptimizer(optim.SparseAdam(sparse, lr=1e-3), optim.Adam(dense, lr=1e-3))

    ``param_groups`` is the list of every inner optimizer's groups (the same
    dicts), so an LR scheduler on the combination sets the learning rate of
    all of them and the Trainer uses it like any optimizer.  ``state_dict()``
    is ``{"optimizers": [inner state dicts]}``.

    chainrule's own: PyTorch has no such class (one calls each optimizer).

    Args:
        optimizers: the optimizers to combine, at least one, with no parameter in two of them.

    Raises:
        TypeError: an argument is not an Optimizer.
        ValueError: no optimizer, or a parameter in two of them.

    Examples:
        >>> emb, head = nn.Embedding(10, 3, sparse=True), nn.Linear(3, 1)
        >>> optimizer = optim.CombinedOptimizer(optim.SparseAdam([emb.weight]), optim.Adam(head.parameters()))
        >>> head(emb(cr.tensor([1, 4]))).sum().backward()
        >>> optimizer.step()
        >>> len(optimizer.param_groups), list(optimizer.state_dict())
        (2, ['optimizers'])
    """

    def __init__(self, *optimizers: Optimizer):
        if not optimizers:
            raise ValueError("CombinedOptimizer needs at least one optimizer")
        for i, opt in enumerate(optimizers):
            if not isinstance(opt, Optimizer):
                raise TypeError(f"CombinedOptimizer: argument {i} is a {type(opt).__name__}, not an Optimizer")
        seen: set = set()
        for opt in optimizers:
            for group in opt.param_groups:
                for p in group["params"]:
                    if id(p) in seen:
                        raise ValueError("CombinedOptimizer: a parameter is in two of the optimizers")
                    seen.add(id(p))
        self.optimizers = list(optimizers)
        self.defaults = {}
        self._work = {}
        self._collect_groups()

    def _collect_groups(self) -> None:
        self.param_groups = [group for opt in self.optimizers for group in opt.param_groups]

    @property
    def state(self) -> dict:  # type: ignore[override]  # a merged read-only view where Optimizer has a dict
        """Every inner optimizer's per-parameter state in one (read-only view) dict."""
        merged: dict = {}
        for opt in self.optimizers:
            merged.update(opt.state)
        return merged

    def add_param_group(self, param_group: dict) -> None:
        raise TypeError("CombinedOptimizer: add the group to one of its optimizers instead")

    def zero_grad(self, set_to_none: bool = True) -> None:
        """Forget the gradients of every inner optimizer's parameters (see ``Optimizer.zero_grad``)."""
        for opt in self.optimizers:
            opt.zero_grad(set_to_none)

    def step(self, closure=None):
        """Step every optimizer (the closure, if any, runs once, before the first)."""
        loss = None
        if closure is not None:
            from ..autograd.mode import enable_grad  # noqa: PLC0415

            with enable_grad():
                loss = closure()
        for opt in self.optimizers:
            opt.step()
        return loss

    def state_dict(self) -> dict:
        """``{"optimizers": [each inner optimizer's state dict]}``."""
        return {"optimizers": [opt.state_dict() for opt in self.optimizers]}

    def load_state_dict(self, state_dict: dict) -> None:
        """Load each inner optimizer's state from what ``state_dict`` returned (the same number of optimizers)."""
        inner = state_dict.get("optimizers") if isinstance(state_dict, dict) else None
        if not isinstance(inner, list) or len(inner) != len(self.optimizers):
            count = len(inner) if isinstance(inner, list) else "no"
            raise ValueError(
                f"CombinedOptimizer.load_state_dict: the state dict has {count} optimizers, "
                f"this one has {len(self.optimizers)}"
            )
        for opt, saved in zip(self.optimizers, inner):
            opt.load_state_dict(saved)
        self._collect_groups()  # loading gives each inner optimizer new group dicts

    def __repr__(self):
        inner = "\n".join("  " + line for opt in self.optimizers for line in repr(opt).splitlines())
        return f"CombinedOptimizer (\n{inner}\n)"
