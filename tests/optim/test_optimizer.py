"""The Optimizer contract: param groups, state_dict round trips, zero_grad, closures, dtypes, in-place updates."""

from __future__ import annotations

import io
import json
import tracemalloc

import numpy as np
import pytest

import chainrule as cr
from chainrule import optim
from tests.fixtures.make_optim import OPTIMIZER_CASES, PARAM_NAMES, model_arrays, run_optimizer

# --------------------------------------------------------------------------- pickle-free serialization


def to_files(state: dict) -> tuple[bytes, str]:
    """A state dict as (npz bytes, JSON text): tensors go to the npz, everything else to JSON."""
    arrays: dict = {}

    def pack(value):
        if isinstance(value, cr.Tensor):
            key = f"t{len(arrays)}"
            arrays[key] = value.numpy()
            return {"__tensor__": key}
        if isinstance(value, dict):
            return {"__dict__": [[pack(k), pack(v)] for k, v in value.items()]}
        if isinstance(value, (list, tuple)):
            return {"__tuple__" if isinstance(value, tuple) else "__list__": [pack(v) for v in value]}
        assert value is None or isinstance(value, (bool, int, float, str)), f"cannot serialize {type(value)}"
        return value

    meta = json.dumps(pack(state))
    buf = io.BytesIO()
    np.savez(buf, **arrays)
    return buf.getvalue(), meta


def from_files(blob: bytes, meta: str) -> dict:
    with np.load(io.BytesIO(blob), allow_pickle=False) as data:
        arrays = {k: data[k] for k in data.files}

    def unpack(value):
        if isinstance(value, dict):
            if "__tensor__" in value:
                return cr.tensor(arrays[value["__tensor__"]])
            if "__dict__" in value:
                return {unpack(k): unpack(v) for k, v in value["__dict__"]}
            if "__tuple__" in value:
                return tuple(unpack(v) for v in value["__tuple__"])
            return [unpack(v) for v in value["__list__"]]
        return value

    return unpack(json.loads(meta))


# --------------------------------------------------------------------------- resuming


@pytest.mark.parametrize("name", sorted(OPTIMIZER_CASES))
def test_state_dict_round_trip_resumes_identically(name):
    """Stop after 10 steps, save optimizer + scheduler without pickle, restore into fresh objects: steps 11-20
    are bit-for-bit those of the uninterrupted run."""
    arrays = model_arrays()
    full, full_lrs, _, _ = run_optimizer(cr, optim, name, arrays, steps=20)
    first, _, opt, sched = run_optimizer(cr, optim, name, arrays, steps=10)
    saved_opt = from_files(*to_files(opt.state_dict()))
    saved_sched = from_files(*to_files(sched.state_dict())) if sched is not None else None
    # the saved dict is a snapshot: training on must not change it
    run_more = opt.state_dict()
    for group in opt.param_groups:
        for p in group["params"]:
            p.grad = cr.ones_like(p)
    opt.step()
    assert_state_equal(saved_opt, run_more)

    resumed_arrays = dict(arrays)
    offset = 0
    for key in PARAM_NAMES:
        size = arrays[key].size
        resumed_arrays[key] = first[-1][offset : offset + size].reshape(arrays[key].shape)
        offset += size
    rest, rest_lrs, _, _ = run_optimizer(cr, optim, name, resumed_arrays, steps=10, start=(saved_opt, saved_sched))
    np.testing.assert_array_equal(rest, full[10:], err_msg=f"{name}: resumed run diverged")
    np.testing.assert_array_equal(rest_lrs, full_lrs[10:])


def assert_state_equal(a: dict, b: dict) -> None:
    assert a["param_groups"] == b["param_groups"]
    assert sorted(a["state"]) == sorted(b["state"])
    for key in a["state"]:
        sa, sb = a["state"][key], b["state"][key]
        assert sorted(sa) == sorted(sb)
        for name in sa:
            va, vb = sa[name], sb[name]
            if isinstance(va, cr.Tensor):
                np.testing.assert_array_equal(va.numpy(), vb.numpy())
            else:
                assert va == vb


def test_state_dict_layout_matches_pytorch():
    w, b = cr.zeros(3, requires_grad=True), cr.zeros(2, requires_grad=True)
    opt = optim.Adam([{"params": [w]}, {"params": [b], "lr": 0.5}], lr=0.1, amsgrad=True)
    b.grad = cr.ones(2)
    opt.step()
    sd = opt.state_dict()
    assert [g["params"] for g in sd["param_groups"]] == [[0], [1]]
    assert sd["param_groups"][1]["lr"] == 0.5 and sd["param_groups"][0]["lr"] == 0.1
    assert sorted(sd["state"]) == [1]  # w had no gradient: no state
    assert sorted(sd["state"][1]) == ["exp_avg", "exp_avg_sq", "max_exp_avg_sq", "step"]
    assert sd["state"][1]["step"] == 1
    assert sd["state"][1]["exp_avg"].dtype == cr.float32


def test_load_state_dict_casts_to_parameter_dtype_and_copies():
    src_param = cr.zeros(4, requires_grad=True)
    src = optim.SGD([src_param], lr=0.1, momentum=0.9)
    src_param.grad = cr.ones(4)
    src.step()
    sd = src.state_dict()
    dst_param = cr.zeros(4, dtype=cr.float64, requires_grad=True)
    dst = optim.SGD([dst_param], lr=0.3, momentum=0.9)
    dst.load_state_dict(sd)
    buf = dst.state[dst_param]["momentum_buffer"]
    assert buf.dtype == cr.float64
    assert dst.param_groups[0]["lr"] == 0.1  # options come from the saved dict
    assert dst.param_groups[0]["params"][0] is dst_param
    buf._data[...] = 7.0
    assert float(sd["state"][0]["momentum_buffer"]._data[0]) == 1.0  # loading copied the arrays


def test_load_state_dict_rejects_mismatched_groups():
    a, b = cr.zeros(2, requires_grad=True), cr.zeros(2, requires_grad=True)
    sd = optim.SGD([a, b], lr=0.1).state_dict()
    with pytest.raises(ValueError, match="parameter group 0 has 2 parameters"):
        optim.SGD([a], lr=0.1).load_state_dict(sd)
    with pytest.raises(ValueError, match="2 parameter groups|1 parameter groups"):
        optim.SGD([{"params": [a]}, {"params": [b]}], lr=0.1).load_state_dict(sd)


# --------------------------------------------------------------------------- groups and arguments


def test_param_groups_take_defaults_and_overrides():
    a, b = cr.zeros(2, requires_grad=True), cr.zeros(2, requires_grad=True)
    opt = optim.SGD([{"params": [a], "momentum": 0.5}], lr=0.1)
    opt.add_param_group({"params": b, "lr": 0.01})
    assert opt.param_groups[0]["lr"] == 0.1 and opt.param_groups[0]["momentum"] == 0.5
    assert opt.param_groups[1]["lr"] == 0.01 and opt.param_groups[1]["momentum"] == 0.0
    assert opt.param_groups[1]["params"] == [b]
    a.grad, b.grad = cr.ones(2), cr.ones(2)
    opt.step()
    np.testing.assert_allclose(a.numpy(), -0.1)
    np.testing.assert_allclose(b.numpy(), -0.01)


def test_named_parameters_are_accepted():
    w = cr.zeros(2, requires_grad=True)
    opt = optim.Adam([("weight", w)])
    assert opt.param_groups[0]["params"] == [w]
    assert opt.param_groups[0]["param_names"] == ["weight"]


@pytest.mark.parametrize(
    "make, error, match",
    [
        (lambda: optim.SGD([], lr=0.1), ValueError, "empty parameter list"),
        (lambda: optim.SGD(cr.zeros(2, requires_grad=True), lr=0.1), TypeError, "iterable of Tensors"),
        (lambda: optim.SGD([cr.zeros(2, requires_grad=True)], lr=-1.0), ValueError, "Invalid learning rate"),
        (lambda: optim.SGD([cr.zeros(2, requires_grad=True)], lr=0.1, nesterov=True), ValueError, "Nesterov"),
        (lambda: optim.Adam([cr.zeros(2, requires_grad=True)], betas=(1.0, 0.9)), ValueError, "beta parameter"),
        (lambda: optim.RMSprop([cr.zeros(2, requires_grad=True)], eps=-1e-8), ValueError, "Invalid epsilon"),
        (lambda: optim.SGD([cr.zeros(2, requires_grad=True) * 2], lr=0.1), ValueError, "non-leaf"),
        (lambda: optim.SGD([[1.0, 2.0]], lr=0.1), TypeError, "optimize Tensors"),
        (lambda: optim.SGD({cr.zeros(2, requires_grad=True)}, lr=0.1), TypeError, "ordered collections"),
    ],
)
def test_bad_arguments_raise(make, error, match):
    with pytest.raises(error, match=match):
        make()


def test_a_parameter_in_two_groups_is_refused():
    w = cr.zeros(2, requires_grad=True)
    opt = optim.SGD([w], lr=0.1)
    with pytest.raises(ValueError, match="more than one parameter group"):
        opt.add_param_group({"params": [w]})


# --------------------------------------------------------------------------- stepping


def test_zero_grad():
    w = cr.zeros(3, requires_grad=True)
    opt = optim.SGD([w], lr=0.1)
    (w * 2.0).sum().backward()
    grad_array = w.grad._data
    opt.zero_grad(set_to_none=False)
    assert w.grad._data is grad_array and not grad_array.any()
    opt.zero_grad()
    assert w.grad is None


def test_parameters_without_grad_are_skipped():
    used, unused = cr.ones(2, requires_grad=True), cr.ones(2, requires_grad=True)
    opt = optim.Adam([used, unused], lr=0.1, weight_decay=0.5)
    used.grad = cr.ones(2)
    opt.step()
    np.testing.assert_array_equal(unused.numpy(), 1.0)
    assert unused not in opt.state and used in opt.state
    assert not np.allclose(used.numpy(), 1.0)


def test_closure_reevaluates_with_grad_enabled():
    w = cr.tensor([1.0, -2.0], requires_grad=True)
    opt = optim.SGD([w], lr=0.25)
    calls = []

    def closure():
        opt.zero_grad()
        loss = (w * w).sum()
        loss.backward()
        calls.append(float(loss))
        return loss

    with cr.no_grad():
        loss = opt.step(closure)
    assert calls == [5.0] and float(loss) == 5.0
    np.testing.assert_allclose(w.numpy(), [0.5, -1.0])  # w - 0.25 * 2w


@pytest.mark.parametrize("name", ["SGD", "Adam", "AdamW", "RMSprop", "Adagrad"])
@pytest.mark.parametrize("dtype", [cr.float32, cr.float64])
def test_updates_in_place_keep_dtype_and_bump_version(name, dtype):
    extra = {"momentum": 0.9} if name in ("SGD", "RMSprop") else {}
    w = cr.tensor(np.linspace(-1, 1, 6).reshape(2, 3), dtype=dtype, requires_grad=True)
    array, version = w._data, w._version[0] if w._version else 0
    opt = getattr(optim, name)([w], lr=0.1, weight_decay=0.01, **extra)
    for _ in range(2):
        w.grad = cr.tensor(np.full((2, 3), 0.5), dtype=dtype)
        opt.step()
    assert w._data is array and w.dtype == dtype
    assert w._version[0] == version + 2
    for value in opt.state[w].values():
        if isinstance(value, cr.Tensor):
            assert value.dtype == dtype and value.shape == w.shape


def test_saved_tensor_modified_by_step_is_detected():
    """An optimizer step changes p in place, so a graph that saved p refuses to run backward afterwards."""
    w = cr.tensor([1.0, 2.0], requires_grad=True)
    loss = (w * w).sum()
    w.grad = cr.ones(2)
    optim.SGD([w], lr=0.1).step()
    with pytest.raises(cr.GradientError):
        loss.backward()


@pytest.mark.parametrize("name", ["SGD", "Adam", "AdamW", "RMSprop", "Adagrad"])
def test_steps_do_not_allocate_parameter_sized_arrays(name):
    """After the first step (which creates the state), a step allocates nothing the size of a parameter."""
    extra = {"momentum": 0.9, "nesterov": True} if name == "SGD" else {}
    extra = {"momentum": 0.9, "centered": True} if name == "RMSprop" else extra
    extra = {"amsgrad": True} if name == "Adam" else extra
    w = cr.zeros(100_000, requires_grad=True)  # 400 kB
    w.grad = cr.ones(100_000)
    opt = getattr(optim, name)([w], lr=0.01, weight_decay=0.1, maximize=True, **extra)
    opt.step()
    tracemalloc.start()
    try:
        opt.step()
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 100_000, f"{name}: a step allocated {peak} bytes"


def test_gradient_of_wrong_shape_is_reported():
    w = cr.zeros(3, requires_grad=True)
    w.grad = cr.zeros(4)
    with pytest.raises(cr.ShapeError, match="gradient shape"):
        optim.SGD([w], lr=0.1).step()


def test_optimizer_is_not_pickled():
    import pickle

    with pytest.raises(TypeError, match="state_dict"):
        pickle.dumps(optim.SGD([cr.zeros(1, requires_grad=True)], lr=0.1))


def test_repr_lists_groups():
    text = repr(optim.Adam([cr.zeros(1, requires_grad=True)], lr=0.5))
    assert "Adam (" in text and "lr: 0.5" in text and "betas: (0.9, 0.999)" in text
