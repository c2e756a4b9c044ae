"""Exploding gradients: an MLP initialized too large blows up under SGD; clipping the gradient norm fixes it.

Five ReLU layers initialized at twice He's scale multiply the signal by ~2 at
every layer, forward and backward: the first gradients are large and SGD's
first steps are larger than the weights themselves.  The GradientMonitor
(recording every step) flags it as exploding at once, and a step later the
ReLUs are dead: every unit outputs zero for the whole batch and the network
predicts one class.  The same network, data, optimizer and learning rate with
``clip_grad_norm_(model.parameters(), 1.0)`` before each step trains.

    python examples/exploding_gradients.py           # prints the monitor's findings and both accuracies
    python examples/exploding_gradients.py runs/ex    # also writes the reports and PNGs there
"""

from __future__ import annotations

import math
import sys

import numpy as np

import chainrule as cr
from chainrule import nn, optim
from chainrule.data import DataLoader, TensorDataset
from chainrule.data.datasets import load_digits
from chainrule.diagnostics import GradientMonitor
from chainrule.nn import functional as F
from chainrule.nn.utils import clip_grad_norm_


def large_init_mlp(depth: int = 5, width: int = 64, gain: float = 2.0) -> nn.Module:
    """(N, 64) -> (N, 10); hidden weights drawn from N(0, (gain * sqrt(2 / fan_in))^2): ``gain`` times He's."""
    layers, fan_in = [], 64
    for _ in range(depth):
        linear = nn.Linear(fan_in, width)
        nn.init.normal_(linear.weight, 0.0, gain * math.sqrt(2.0 / fan_in))
        nn.init.zeros_(linear.bias)
        layers += [linear, nn.ReLU()]
        fan_in = width
    layers.append(nn.Linear(width, 10))
    return nn.Sequential(*layers)


def digits(seed: int = 0):
    """(train, test) TensorDatasets of the flattened digits: a fixed 80/20 split."""
    x, y = load_digits(flatten=True)
    order = np.random.default_rng(seed).permutation(len(y))
    cut = int(0.8 * len(y))
    return TensorDataset(x[order[:cut]], y[order[:cut]]), TensorDataset(x[order[cut:]], y[order[cut:]])


def train(clip: float | None, epochs: int = 10, lr: float = 0.05, seed: int = 0) -> dict:
    """SGD (momentum 0.9); ``clip`` is the max gradient norm, or None.  Returns accuracy, norms and the monitor."""
    cr.manual_seed(seed)
    train_set, test_set = digits(seed)
    loader = DataLoader(train_set, batch_size=64, shuffle=True, generator=cr.Generator().manual_seed(seed + 1))
    model = large_init_mlp()
    optimizer = optim.SGD(model.parameters(), lr=lr, momentum=0.9)
    monitor = GradientMonitor(model, every=1, on_issue=None)  # the issues are printed by main()
    norms = []
    for _ in range(epochs):
        for x, y in loader:
            loss = F.cross_entropy(model(x), y)
            optimizer.zero_grad()
            loss.backward()
            # clip_grad_norm_ returns the norm before clipping; max_norm=inf only measures it
            norms.append(clip_grad_norm_(model.parameters(), clip if clip is not None else math.inf).item())
            optimizer.step()
            monitor.step()
    monitor.detach()
    model.eval()
    x, y = test_set.tensors
    with cr.no_grad():
        accuracy = (model(x).argmax(-1) == y).float().mean().item()
    return {"accuracy": accuracy, "grad_norms": norms, "monitor": monitor}


def main(epochs: int = 10, seed: int = 0, out=None, verbose: bool = True) -> dict:
    results = {"unclipped": train(None, epochs, seed=seed), "clipped": train(1.0, epochs, seed=seed)}
    for name, result in results.items():
        monitor = result["monitor"]
        if verbose:
            first = ", ".join(f"{n:.3g}" for n in result["grad_norms"][:3])
            print(f"{name}: test accuracy {result['accuracy']:.3f}; gradient norm at the first steps {first}")
            for issue in monitor.first_issues.values():
                print(f"  monitor: {issue}")
            if not monitor.first_issues:
                print("  monitor: no problems")
        if out is not None:
            monitor.save(f"{out}/{name}")
    return results


if __name__ == "__main__":
    main(out=sys.argv[1] if len(sys.argv) > 1 else None)
