"""A two-layer network built from bare tensors and trained by hand with SGD.

It learns XOR-like spirals in two dimensions: the smallest complete example of
forward pass, loss.backward() and a gradient step.  Prints the loss and the
training accuracy.

    python examples/tiny_net.py
"""

import numpy as np

import chainrule as cr


def spirals(n_per_class: int, seed: int = 0):
    rng = np.random.default_rng(seed)
    t = np.sqrt(rng.uniform(0, 1, n_per_class)) * 3 * np.pi
    arm = np.stack([t * np.cos(t), t * np.sin(t)], axis=1) / (3 * np.pi)
    x = np.concatenate([arm, -arm]) + rng.normal(0, 0.02, (2 * n_per_class, 2))
    y = np.concatenate([np.zeros(n_per_class), np.ones(n_per_class)]).astype(np.int64)
    return cr.tensor(x, dtype=cr.float32), cr.tensor(y)


def main(steps: int = 1500, lr: float = 0.3) -> float:
    cr.manual_seed(0)
    x, y = spirals(200)
    w1 = (cr.randn(2, 64) * 0.5).requires_grad_()
    b1 = cr.zeros(64, requires_grad=True)
    w2 = (cr.randn(64, 2) * 0.1).requires_grad_()
    b2 = cr.zeros(2, requires_grad=True)
    params = [w1, b1, w2, b2]
    for step in range(steps + 1):
        logits = (x @ w1 + b1).tanh() @ w2 + b2
        loss = -logits.log_softmax(dim=1)[cr.arange(len(y)), y].mean()
        for p in params:
            p.grad = None
        loss.backward()
        with cr.no_grad():
            for p in params:
                p -= lr * p.grad
        if step % 300 == 0:
            accuracy = (logits.argmax(dim=1) == y).float().mean().item()
            print(f"step {step:5d}  loss {loss.item():.4f}  accuracy {accuracy:.3f}")
    return accuracy


if __name__ == "__main__":
    main()
