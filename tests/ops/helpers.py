"""Build op inputs for the spec-driven tests: domains, dtypes and memory layouts."""

from __future__ import annotations

import numpy as np

import chainrule as cr


def layout(values: np.ndarray, kind: str) -> np.ndarray:
    """The same values in a chosen memory layout: 'c' contiguous, 't' transposed, 's' strided."""
    if values.ndim == 0 or kind == "c":
        return np.ascontiguousarray(values)
    if kind == "t":
        return np.ascontiguousarray(values.T).T
    shape = values.shape
    bigger = np.zeros(shape[:-1] + (2 * shape[-1],), dtype=values.dtype)
    bigger[..., ::2] = values
    return bigger[..., ::2]


def make_inputs(spec, shapes, layouts, seed, dtype=np.float64, requires_grad=True):
    rng = np.random.default_rng(seed)
    inputs = []
    for i, (shape, kind) in enumerate(zip(shapes, layouts)):
        values = spec.domain_for(i)(rng.standard_normal(shape)).astype(dtype)
        arr = layout(values, kind)
        t = cr.from_numpy(arr)
        if requires_grad:
            t.requires_grad_()
        inputs.append(t)
    return inputs
