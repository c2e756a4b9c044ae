"""One registration per op: the registry makes the function, the Tensor methods and the generated files."""

from __future__ import annotations

import types

import pytest

import chainrule as cr
from chainrule.autograd.graph import PRIMITIVES
from chainrule.ops import methods, registry


def test_the_generated_files_are_current():
    """chainrule/__init__.py's import block and _tensor_methods.pyi match the registry."""
    assert registry.main(["--check"]) == 0, "run: python -m chainrule.ops.registry --write"


def test_every_registered_op_is_exported_and_bound():
    for name, info in registry.OPS.items():
        assert getattr(cr, name) is info.fn, name
    for name, fn in registry.METHODS.items():
        assert cr.Tensor.__dict__[name] is fn, name
    for name in registry.INPLACE:
        assert callable(cr.Tensor.__dict__[name]), name


def test_every_public_function_of_the_ops_is_registered():
    """Nothing reaches chainrule's namespace from ops/ around the registry."""
    for name, value in vars(cr).items():
        if isinstance(value, types.FunctionType) and value.__module__.startswith("chainrule.ops"):
            assert name in registry.OPS, f"chainrule.{name} is exported without @op"


def _private_tables(monkeypatch):
    """Copies of the registry's tables for one test (the op it declares disappears afterwards)."""
    for name in ("OPS", "METHODS", "INPLACE", "_ALL"):
        monkeypatch.setattr(registry, name, type(getattr(registry, name))(getattr(registry, name)))
    monkeypatch.setattr(methods, "METHODS", registry.METHODS)
    monkeypatch.setattr(methods, "INPLACE", registry.INPLACE)


def test_declaring_an_op_is_enough(monkeypatch):
    _private_tables(monkeypatch)

    @registry.op(method=True, inplace=True)
    def twice(x):
        return x * 2

    try:
        methods._bind()
        x = cr.tensor([1.0, 2.0])
        assert registry.OPS["twice"].fn is twice
        assert x.twice().tolist() == [2.0, 4.0]
        x.twice_()
        assert x.tolist() == [2.0, 4.0]
    finally:
        for name in ("twice", "twice_"):
            if name in cr.Tensor.__dict__:
                delattr(cr.Tensor, name)


def test_a_name_registered_twice_is_an_error(monkeypatch):
    _private_tables(monkeypatch)
    with pytest.raises(ValueError, match="registered twice"):

        @registry.op(method=True)
        def exp(x):
            return x


def test_the_derivative_index_lists_every_primitive_with_its_rules():
    text = registry._index()
    for name, prim in PRIMITIVES.items():
        row = next((line for line in text.splitlines() if line.startswith(f"| `{name}` |")), None)
        assert row is not None, name
        assert "ops/" in row or "nn/" in row or "autograd/" in row, row
        if prim.vjp is not None:
            assert row.count(".py:") == 2 + (prim.jvp is not None), row  # forward, vjp (and jvp)


def test_tensor_methods_are_declared_for_type_checkers():
    stub = (registry._paths()[1]).read_text()
    for name in list(registry.METHODS)[:50] + ["__add__", "T", "mT", "relu_"]:
        assert f" def {name}(" in stub, name
