"""Per-sample gradients of a small CNN: vmap(grad(...)) against a Python loop over samples, and torch.func.

The model is MNIST-sized: 1x28x28 inputs, conv 3x3 (16 channels) - ReLU -
max-pool 2 - linear to 10 classes, cross-entropy, float32, batch 64.  Each
row computes the gradient of every sample's loss with respect to every
parameter (what DP-SGD clips and influence functions need):

* chainrule ``vmap(grad(loss))`` over ``functional_call``: the batching
  rules carry the batch through the forward and the backward pass;
* chainrule, a Python loop: one forward and one ``autograd.grad`` per sample;
* torch.func ``vmap(grad(loss))`` and a torch loop, in the same run, when
  torch is installed.

Times are medians over repeats; the chainrule results are checked against
each other (and torch's against chainrule's on the same weights) before
timing.  Prints a markdown table.

    python benchmarks/per_sample_grad.py
    python benchmarks/per_sample_grad.py --batch 32 --repeats 5
"""

from __future__ import annotations

import argparse

import numpy as np
from _common import import_torch, median_time, thread_label


def build_chainrule(seed):
    import chainrule as cr
    from chainrule import nn

    cr.manual_seed(seed)
    return nn.Sequential(
        nn.Conv2d(1, 16, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(), nn.Linear(16 * 14 * 14, 10)
    )


def build_torch(torch, ours):
    model = torch.nn.Sequential(
        torch.nn.Conv2d(1, 16, 3, padding=1),
        torch.nn.ReLU(),
        torch.nn.MaxPool2d(2),
        torch.nn.Flatten(),
        torch.nn.Linear(16 * 14 * 14, 10),
    )
    model.load_state_dict({k: torch.from_numpy(v.numpy().copy()) for k, v in ours.state_dict().items()})
    return model


def chainrule_rows(model, x, y):
    import chainrule as cr
    import chainrule.nn.functional as F
    from chainrule.func import functional_call, grad, vmap

    params = {k: v.detach() for k, v in model.named_parameters()}

    def loss_one(p, sample, target):
        return F.cross_entropy(functional_call(model, p, (sample.unsqueeze(0),)), target.unsqueeze(0))

    per_sample = vmap(grad(loss_one), in_dims=(None, 0, 0))

    def vmapped():
        return per_sample(params, x, y)

    names = list(params)
    leaves = [p for p in model.parameters()]

    def loop():
        grads = {k: [] for k in names}
        for i in range(x.shape[0]):
            loss = F.cross_entropy(model(x[i : i + 1]), y[i : i + 1])
            for k, g in zip(names, cr.autograd.grad(loss, leaves)):
                grads[k].append(g)
        return {k: cr.stack(v) for k, v in grads.items()}

    a, b = vmapped(), loop()
    diff = max(float(np.abs(a[k].numpy() - b[k].numpy()).max()) for k in names)
    return vmapped, loop, a, diff


def torch_rows(torch, model, x, y):
    from torch.func import functional_call, grad, vmap

    params = {k: v.detach() for k, v in model.named_parameters()}

    def loss_one(p, sample, target):
        return torch.nn.functional.cross_entropy(functional_call(model, p, (sample.unsqueeze(0),)), target.unsqueeze(0))

    per_sample = vmap(grad(loss_one), in_dims=(None, 0, 0))

    def vmapped():
        return per_sample(params, x, y)

    leaves = list(model.parameters())

    def loop():
        out = []
        for i in range(x.shape[0]):
            loss = torch.nn.functional.cross_entropy(model(x[i : i + 1]), y[i : i + 1])
            out.append(torch.autograd.grad(loss, leaves))
        return out

    return vmapped, loop


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--repeats", type=int, default=7)
    args = parser.parse_args()

    import chainrule as cr

    torch = import_torch()
    model = build_chainrule(0)
    rng = np.random.default_rng(0)
    x_np = rng.standard_normal((args.batch, 1, 28, 28)).astype(np.float32)
    y_np = rng.integers(0, 10, args.batch)
    x, y = cr.tensor(x_np), cr.tensor(y_np)

    vmapped, loop, ours, diff = chainrule_rows(model, x, y)
    timings = [
        ("chainrule vmap(grad)", median_time(vmapped, repeats=args.repeats)),
        ("chainrule loop over samples", median_time(loop, repeats=args.repeats)),
    ]
    check = f"chainrule vmap vs loop: max |difference| {diff:.1e}"
    if torch is not None:
        tmodel = build_torch(torch, model)
        tx, ty = torch.from_numpy(x_np), torch.from_numpy(y_np)
        tvmapped, tloop = torch_rows(torch, tmodel, tx, ty)
        theirs = tvmapped()
        tdiff = max(float(np.abs(ours[k].numpy() - theirs[k].numpy()).max()) for k in theirs)
        check += f"; chainrule vs torch.func: {tdiff:.1e}"
        timings += [
            ("torch.func vmap(grad)", median_time(tvmapped, repeats=args.repeats)),
            ("torch loop over samples", median_time(tloop, repeats=args.repeats)),
        ]

    base = timings[0][1]
    loop_time = timings[1][1]
    print(
        f"\nPer-sample gradients, CNN 1x28x28 conv3x3(16)-relu-pool-linear(10), batch {args.batch}, float32, "
        f"{thread_label(torch)}, median of {args.repeats}"
    )
    print(check)
    print("\n| method | ms per batch | vs chainrule vmap | chainrule loop / this |")
    print("| --- | ---: | ---: | ---: |")
    for name, seconds in timings:
        print(f"| {name} | {seconds * 1e3:.2f} | {seconds / base:.2f}x | {loop_time / seconds:.1f}x |")


if __name__ == "__main__":
    main()
