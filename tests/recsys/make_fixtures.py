"""PyTorch 2.13.0 references for the sparse-gradient tests: ``python -m tests.recsys.make_fixtures``.

Writes tests/recsys/sparse.npz (loaded with allow_pickle=False).  Tests call
:func:`load_or_make`, which runs the maker live when torch is importable and
reads the committed file otherwise.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np

PATH = Path(__file__).parent / "sparse.npz"
HAVE_TORCH = importlib.util.find_spec("torch") is not None


def sparse_adam_inputs() -> dict:
    rng = np.random.default_rng(7)
    w0 = rng.standard_normal((12, 5))
    batches = [rng.integers(0, 10, size=n) for n in (6, 9, 4, 7, 8)]  # rows 10 and 11 are never looked up
    return {"w0": w0, "batches": batches}


def make_sparse_adam() -> dict:
    import torch

    case = sparse_adam_inputs()
    out = {}
    for dtype in (np.float64, np.float32):
        for maximize in (False, True):
            w = torch.tensor(case["w0"].astype(dtype), requires_grad=True)
            opt = torch.optim.SparseAdam([w], lr=0.05, betas=(0.8, 0.95), eps=1e-6, maximize=maximize)
            for idx in case["batches"]:
                emb = torch.nn.functional.embedding(torch.as_tensor(idx), w, sparse=True)
                opt.zero_grad()
                (emb**2 * 0.5 + emb).sum().backward()
                opt.step()
            out[f"{np.dtype(dtype).name}_{'max' if maximize else 'min'}"] = w.detach().numpy().copy()
    return out


def make_embedding() -> dict:
    import torch

    rng = np.random.default_rng(8)
    weight = rng.standard_normal((9, 4)).astype(np.float32)
    indices = rng.integers(0, 9, size=(3, 5))
    grad_output = rng.standard_normal((3, 5, 4)).astype(np.float32)
    w = torch.tensor(weight, requires_grad=True)
    out = torch.nn.functional.embedding(torch.as_tensor(indices), w, padding_idx=int(indices[0, 0]), sparse=True)
    out.backward(torch.as_tensor(grad_output))
    g = w.grad.coalesce()
    return {
        "weight": weight,
        "indices": indices,
        "padding_idx": np.int64(indices[0, 0]),
        "grad_output": grad_output,
        "grad_indices": g.indices()[0].numpy(),
        "grad_values": g.values().numpy(),
    }


CASES = {"sparse_adam": make_sparse_adam, "embedding": make_embedding}


def load_or_make(case: str) -> dict:
    if HAVE_TORCH:
        return CASES[case]()
    prefix = f"{case}/"
    with np.load(PATH, allow_pickle=False) as data:
        return {k[len(prefix) :]: data[k] for k in data.files if k.startswith(prefix)}


def main():
    arrays = {f"{case}/{k}": np.asarray(v) for case, make in CASES.items() for k, v in make().items()}
    np.savez_compressed(PATH, **arrays)
    print(f"wrote {PATH} ({len(arrays)} arrays)")


if __name__ == "__main__":
    main()
