"""A residual network of 102 Linear layers (and 101 LayerNorms) trains stably on the 8x8 digits.

100 pre-norm residual blocks ``x + Linear(ReLU(LayerNorm(x)))`` between an
input and an output layer, 48 units wide.  Three things keep a network this
deep trainable: the identity path of every block carries the gradient back
unchanged; LayerNorm keeps each branch's input at unit scale; and the
branches start small (He init scaled by 0.1), so that at initialization the
network is close to a shallow one.  Adam with a one-cycle learning-rate
schedule, 8 epochs.  A GradientMonitor watches all 203 parameterized layers
and finds nothing wrong.

    python examples/deep_residual.py            # ~15-30 s on one core
    python examples/deep_residual.py runs/deep   # also writes the gradient report and PNG there
"""

from __future__ import annotations

import sys
import time

import numpy as np

import chainrule as cr
from chainrule import nn, optim
from chainrule.data import DataLoader, TensorDataset
from chainrule.data.datasets import load_digits
from chainrule.diagnostics import GradientMonitor
from chainrule.nn import functional as F


class ResidualBlock(nn.Module):
    """x + Linear(ReLU(LayerNorm(x))), the Linear He-initialized and scaled by ``branch_scale``."""

    def __init__(self, width: int, branch_scale: float):
        super().__init__()
        self.norm = nn.LayerNorm(width)
        self.act = nn.ReLU()
        self.fc = nn.Linear(width, width)
        nn.init.kaiming_normal_(self.fc.weight, nonlinearity="relu")
        nn.init.zeros_(self.fc.bias)
        with cr.no_grad():
            self.fc.weight.mul_(branch_scale)

    def forward(self, x):
        return x + self.fc(self.act(self.norm(x)))


class DeepResidualMLP(nn.Module):
    """Shapes: (N, 64) -> (N, 10).  ``blocks + 2`` Linear layers."""

    def __init__(self, blocks: int = 100, width: int = 48, branch_scale: float = 0.1):
        super().__init__()
        self.embed = nn.Linear(64, width)
        self.blocks = nn.Sequential(*[ResidualBlock(width, branch_scale) for _ in range(blocks)])
        self.norm = nn.LayerNorm(width)
        self.head = nn.Linear(width, 10)

    def forward(self, x):
        return self.head(self.norm(self.blocks(self.embed(x))))


def digits(seed: int = 0):
    """(train, test) TensorDatasets of the flattened digits: a fixed 80/20 split."""
    x, y = load_digits(flatten=True)
    order = np.random.default_rng(seed).permutation(len(y))
    cut = int(0.8 * len(y))
    return TensorDataset(x[order[:cut]], y[order[:cut]]), TensorDataset(x[order[cut:]], y[order[cut:]])


def main(blocks: int = 100, epochs: int = 8, lr: float = 2e-3, seed: int = 0, out=None, verbose: bool = True) -> dict:
    cr.manual_seed(seed)
    train_set, test_set = digits(seed)
    loader = DataLoader(train_set, batch_size=64, shuffle=True, generator=cr.Generator().manual_seed(seed + 1))
    model = DeepResidualMLP(blocks)
    optimizer = optim.Adam(model.parameters(), lr=lr)
    scheduler = optim.lr_scheduler.OneCycleLR(optimizer, max_lr=lr, total_steps=epochs * len(loader))
    monitor = GradientMonitor(model, every=25)
    linear = sum(isinstance(m, nn.Linear) for m in model.modules())
    began = time.perf_counter()
    losses = []
    for epoch in range(1, epochs + 1):
        for x, y in loader:
            loss = F.cross_entropy(model(x), y)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            monitor.step()
            scheduler.step()
            losses.append(loss.item())
        if verbose:
            print(f"epoch {epoch}: mean training loss {np.mean(losses[-len(loader) :]):.4f}")
    seconds = time.perf_counter() - began
    monitor.detach()
    model.eval()
    x, y = test_set.tensors
    with cr.no_grad():
        accuracy = (model(x).argmax(-1) == y).float().mean().item()
    if verbose:
        print(
            f"{linear} Linear layers, {len(monitor.layer_names)} layers with parameters: test accuracy {accuracy:.4f}"
        )
        print(f"trained in {seconds:.1f} s; gradient monitor problems: {', '.join(monitor.first_issues) or 'none'}")
    if out is not None:
        monitor.save(out)
    return {"accuracy": accuracy, "linear_layers": linear, "losses": losses, "monitor": monitor, "seconds": seconds}


if __name__ == "__main__":
    main(out=sys.argv[1] if len(sys.argv) > 1 else None)
