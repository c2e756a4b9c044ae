"""Vanishing gradients: a 20-layer sigmoid MLP stalls; the same depth with ReLU, He init, LayerNorm and
residual connections trains.

Both networks have 20 Linear layers and train on the bundled 8x8 digits with
the same optimizer (SGD with momentum) for the same number of epochs, each
watched by a GradientMonitor.  The derivative of the sigmoid is at most 1/4,
so every layer shrinks the gradient on its way back: the monitor finds the
first layer's gradient norm ~1e-16 times the last layer's, names the layers,
and the network never gets past guessing.  The residual network keeps a path
along which the gradient flows unchanged, and trains.

    python examples/vanishing_gradients.py            # prints both reports' verdicts and accuracies
    python examples/vanishing_gradients.py runs/vg     # also writes the reports and PNGs there
"""

from __future__ import annotations

import sys

import numpy as np

import chainrule as cr
from chainrule import nn, optim
from chainrule.data import DataLoader, TensorDataset
from chainrule.data.datasets import load_digits
from chainrule.diagnostics import GradientMonitor
from chainrule.nn import functional as F

DEPTH = 20  # Linear layers in each network
WIDTH = 32


def sigmoid_mlp(depth: int = DEPTH, width: int = WIDTH) -> nn.Module:
    """64 -> width -> ... -> 10 with a sigmoid after every hidden layer and PyTorch's default init."""
    layers = [nn.Linear(64, width), nn.Sigmoid()]
    for _ in range(depth - 2):
        layers += [nn.Linear(width, width), nn.Sigmoid()]
    layers.append(nn.Linear(width, 10))
    return nn.Sequential(*layers)


class ResidualBlock(nn.Module):
    """x + Linear(ReLU(LayerNorm(x))): a pre-norm residual block with one He-initialized Linear layer."""

    def __init__(self, width: int, branch_scale: float = 1.0):
        super().__init__()
        self.norm = nn.LayerNorm(width)
        self.act = nn.ReLU()
        self.fc = nn.Linear(width, width)
        nn.init.kaiming_normal_(self.fc.weight, nonlinearity="relu")
        nn.init.zeros_(self.fc.bias)
        with cr.no_grad():
            # He init, scaled down: the sum of many branches would otherwise grow with depth (cf. Fixup, SkipInit)
            self.fc.weight.mul_(branch_scale)

    def forward(self, x):
        return x + self.fc(self.act(self.norm(x)))


class ResidualMLP(nn.Module):
    """Linear(64, width), ``blocks`` residual blocks, LayerNorm, Linear(width, 10): blocks + 2 Linear layers."""

    def __init__(self, blocks: int, width: int = WIDTH, branch_scale: float = 1.0):
        super().__init__()
        self.embed = nn.Linear(64, width)
        nn.init.kaiming_normal_(self.embed.weight, nonlinearity="relu")
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


def accuracy(model, dataset) -> float:
    x, y = dataset.tensors
    model.eval()
    with cr.no_grad():
        correct = (model(x).argmax(-1) == y).float().mean().item()
    model.train()
    return correct


def train(model, epochs: int, lr: float, seed: int = 0, every: int = 10):
    """SGD with momentum 0.9 on cross-entropy; returns (test accuracy, last epoch's mean loss, monitor)."""
    train_set, test_set = digits(seed)
    loader = DataLoader(train_set, batch_size=64, shuffle=True, generator=cr.Generator().manual_seed(seed + 1))
    optimizer = optim.SGD(model.parameters(), lr=lr, momentum=0.9)
    monitor = GradientMonitor(model, every=every, on_issue=None)  # the issues are printed by main()
    for _ in range(epochs):
        losses = []
        for x, y in loader:
            loss = F.cross_entropy(model(x), y)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            monitor.step()
            losses.append(loss.item())
    monitor.detach()
    return accuracy(model, test_set), float(np.mean(losses)), monitor


def main(epochs: int = 10, seed: int = 0, out=None, verbose: bool = True) -> dict:
    results = {}
    for name, build in (
        ("sigmoid", sigmoid_mlp),
        ("residual", lambda: ResidualMLP(DEPTH - 2, branch_scale=0.3)),
    ):
        cr.manual_seed(seed)
        model = build()
        linear = sum(isinstance(m, nn.Linear) for m in model.modules())
        acc, loss, monitor = train(model, epochs, lr=0.01, seed=seed)
        results[name] = {"accuracy": acc, "loss": loss, "linear_layers": linear, "monitor": monitor}
        if verbose:
            print(f"{name}: {linear} Linear layers, test accuracy {acc:.3f}, final training loss {loss:.3f}")
            for issue in monitor.first_issues.values():
                print(f"  monitor: {issue}")
            if not monitor.first_issues:
                print("  monitor: no problems")
        if out is not None:
            monitor.save(f"{out}/{name}")
    return results


if __name__ == "__main__":
    main(out=sys.argv[1] if len(sys.argv) > 1 else None)
