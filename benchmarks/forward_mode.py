"""Forward mode: jvp and jacfwd against a plain forward pass, and against torch.func in the same run.

The function is a two-layer MLP with a softmax, float64, batch 128, 64 -> 32 -> 64:
``f(x) = sum(softmax(tanh(x W1) W2) ** 2)``.  Rows:

* forward: ``f(x)`` alone (the baseline a jvp is measured against);
* jvp: ``f(x)`` and its directional derivative along ``v`` (forward mode through every primitive's jvp rule);
* jacfwd: the Jacobian of ``g(a) = f(x * a.sum()) * a`` for a 16-element ``a`` (one jvp vmapped over the basis);
* jvp of grad: a Hessian-vector product by forward over reverse.

Results are checked against torch.func before timing; times are medians.  Prints a markdown table.

    python benchmarks/forward_mode.py
"""

from __future__ import annotations

import numpy as np
from _common import import_torch, median_time, thread_label

import chainrule as cr
from chainrule.func import grad, jacfwd, jvp


def main():
    torch = import_torch()
    rng = np.random.default_rng(0)
    w1, w2 = rng.standard_normal((64, 32)) / 8, rng.standard_normal((32, 64)) / 8
    x_np, v_np, a_np = rng.standard_normal((128, 64)), rng.standard_normal((128, 64)), rng.standard_normal(16)

    def make(lib, from_numpy):
        W1, W2 = from_numpy(w1), from_numpy(w2)

        def f(x):
            return (((x @ W1).tanh() @ W2).softmax(-1) ** 2).sum()

        return f

    f = make(cr, cr.from_numpy)
    x, v, a = cr.from_numpy(x_np), cr.from_numpy(v_np), cr.from_numpy(a_np)

    def g(a):
        return f(x * a.sum()) * a

    ours = {
        "forward": lambda: f(x),
        "jvp": lambda: jvp(f, (x,), (v,)),
        "jacfwd (16 inputs)": lambda: jacfwd(g)(a),
        "jvp of grad (Hessian-vector product)": lambda: jvp(grad(f), (x,), (v,)),
    }
    theirs = {}
    if torch is not None:
        tf = torch.func
        ft = make(torch, torch.from_numpy)
        xt, vt, at = torch.from_numpy(x_np), torch.from_numpy(v_np), torch.from_numpy(a_np)

        def gt(a):
            return ft(xt * a.sum()) * a

        theirs = {
            "forward": lambda: ft(xt),
            "jvp": lambda: tf.jvp(ft, (xt,), (vt,)),
            "jacfwd (16 inputs)": lambda: tf.jacfwd(gt)(at),
            "jvp of grad (Hessian-vector product)": lambda: tf.jvp(tf.grad(ft), (xt,), (vt,)),
        }
        for name in ("jvp", "jvp of grad (Hessian-vector product)"):
            np.testing.assert_allclose(ours[name]()[1].numpy(), theirs[name]()[1].numpy(), rtol=1e-9, atol=1e-12)
        np.testing.assert_allclose(
            ours["jacfwd (16 inputs)"]().numpy(), theirs["jacfwd (16 inputs)"]().numpy(), rtol=1e-9, atol=1e-12
        )

    print(f"Forward mode, float64, {thread_label(torch)}: median time per call")
    print()
    print("| | chainrule (ms) | torch.func (ms) | chainrule / torch | / chainrule forward |")
    print("| --- | ---: | ---: | ---: | ---: |")
    base = median_time(ours["forward"])
    for name, fn in ours.items():
        mine = median_time(fn)
        other = median_time(theirs[name]) if name in theirs else None
        ratio = f"{mine / other:.2f}" if other else "-"
        theirs_ms = f"{other * 1e3:.3f}" if other else "-"
        print(f"| {name} | {mine * 1e3:.3f} | {theirs_ms} | {ratio} | {mine / base:.2f} |")


if __name__ == "__main__":
    main()
