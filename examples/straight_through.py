"""A straight-through estimator as a custom Function: training a network with binary (+1/-1) activations.

``sign`` is flat almost everywhere, so its true derivative is zero (and
chainrule, like PyTorch, gives ``sign`` a zero gradient everywhere, 0 included:
see docs/subgradients.md).  Backpropagating through it, nothing before it
would ever learn.  The straight-through estimator (Bengio, Leonard and
Courville, 2013; Hubara et al., 2016) keeps ``sign`` in the forward pass but
pretends in backward that it was ``hardtanh``: the gradient passes unchanged
where ``|x| <= 1`` and is cut where the unit is saturated.

Written as a ``cr.autograd.Function``, the estimator is six lines.  A network
``Linear -> BatchNorm -> SignSTE -> Linear`` with 16 binary hidden units
learns the digits (~97% test accuracy); with plain ``cr.sign`` in its place
the first layer receives exactly zero gradient, stays at its random init, and
only the last layer learns, on 16 random binary features (~73%).

    python examples/straight_through.py
"""

from __future__ import annotations

import numpy as np

import chainrule as cr
from chainrule import nn, optim
from chainrule.data import DataLoader, TensorDataset
from chainrule.data.datasets import load_digits
from chainrule.nn import functional as F


class SignSTE(cr.autograd.Function):
    """Forward: sign(x) in {-1, 0, +1}.  Backward: the gradient of hardtanh, 1 where |x| <= 1 and 0 elsewhere."""

    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return x.sign()

    @staticmethod
    def backward(ctx, grad_output):
        (x,) = ctx.saved_tensors
        return grad_output * (x.abs() <= 1).to(grad_output.dtype)


class Binarize(nn.Module):
    """sign(x) with the straight-through estimator (``ste=True``) or with its true, zero, gradient."""

    def __init__(self, ste: bool = True):
        super().__init__()
        self.ste = ste

    def forward(self, x):
        return SignSTE.apply(x) if self.ste else x.sign()


def binary_net(ste: bool = True, hidden: int = 16) -> nn.Sequential:
    """(N, 64) -> (N, 10) with one layer of binary hidden units."""
    return nn.Sequential(nn.Linear(64, hidden), nn.BatchNorm1d(hidden), Binarize(ste), nn.Linear(hidden, 10))


def digits(seed: int = 0):
    """(train, test) TensorDatasets of the flattened digits: a fixed 80/20 split."""
    x, y = load_digits(flatten=True)
    order = np.random.default_rng(seed).permutation(len(y))
    cut = int(0.8 * len(y))
    return TensorDataset(x[order[:cut]], y[order[:cut]]), TensorDataset(x[order[cut:]], y[order[cut:]])


def train(ste: bool, epochs: int = 10, seed: int = 0) -> dict:
    cr.manual_seed(seed)
    train_set, test_set = digits(seed)
    loader = DataLoader(train_set, batch_size=64, shuffle=True, generator=cr.Generator().manual_seed(seed + 1))
    model = binary_net(ste)
    first = model[0].weight
    start = first.detach().clone()
    optimizer = optim.Adam(model.parameters(), lr=3e-3)
    first_grad_norms = []
    for _ in range(epochs):
        for x, y in loader:
            loss = F.cross_entropy(model(x), y)
            optimizer.zero_grad()
            loss.backward()
            first_grad_norms.append(float(first.grad.norm().item()))
            optimizer.step()
    model.eval()
    x, y = test_set.tensors
    with cr.no_grad():
        accuracy = (model(x).argmax(-1) == y).float().mean().item()
        hidden = model[2](model[1](model[0](x)))
    moved = float((first - start).abs().max().item())
    return {
        "accuracy": accuracy,
        "first_layer_grad_norm": float(np.mean(first_grad_norms)),
        "first_layer_moved": moved,
        "hidden_values": sorted({float(v) for v in np.unique(hidden.numpy())}),
    }


def main(epochs: int = 10, seed: int = 0, verbose: bool = True) -> dict:
    results = {"ste": train(True, epochs, seed), "sign": train(False, epochs, seed)}
    if verbose:
        for name, r in results.items():
            print(
                f"{name:4s}: test accuracy {r['accuracy']:.3f}; first layer: mean gradient norm "
                f"{r['first_layer_grad_norm']:.3g}, largest change {r['first_layer_moved']:.3g}; "
                f"hidden values {r['hidden_values']}"
            )
    return results


if __name__ == "__main__":
    main()
