"""cr.save / cr.load with torch.save / torch.load's calls: paths and file objects, map_location,
weights_only, and clear errors for what chainrule will not do (pickle) (issue 17)."""

from __future__ import annotations

import io

import numpy as np
import pytest

import chainrule as cr
from chainrule.io import CheckpointError


def _state():
    model = cr.nn.Linear(3, 2)
    optimizer = cr.optim.Adam(model.parameters(), lr=1e-3)
    model(cr.randn(4, 3)).sum().backward()
    optimizer.step()
    return model, optimizer


def test_state_dicts_round_trip_through_a_path_and_a_file_object(tmp_path):
    model, optimizer = _state()
    checkpoint = {"model": model.state_dict(), "optimizer": optimizer.state_dict(), "epoch": 3, "loss": 0.25}
    assert cr.save(checkpoint, tmp_path / "ckpt.pt") == tmp_path / "ckpt.pt"
    with open(tmp_path / "other.pt", "wb") as f:
        assert cr.save(checkpoint, f) is None
    buffer = io.BytesIO()
    cr.save(checkpoint, buffer)
    buffer.seek(0)
    with open(tmp_path / "other.pt", "rb") as f:
        loaded_from_file = cr.load(f)
    for loaded in (
        cr.load(tmp_path / "ckpt.pt"),
        cr.load(str(tmp_path / "ckpt.pt"), "cpu"),
        loaded_from_file,
        cr.load(buffer, map_location=cr.device("cpu"), weights_only=True),
    ):
        assert loaded["epoch"] == 3 and loaded["loss"] == 0.25
        twin = cr.nn.Linear(3, 2)
        twin.load_state_dict(loaded["model"])
        np.testing.assert_array_equal(twin.weight.numpy(), model.weight.numpy())
        again = cr.optim.Adam(twin.parameters(), lr=1e-3)
        again.load_state_dict(loaded["optimizer"])


def test_tensors_and_nested_containers(tmp_path):
    obj = [cr.arange(3), (cr.ones(2, dtype=cr.float64), {"k": None, 1: "one"}), np.zeros(2, dtype=np.int32)]
    cr.save(obj, tmp_path / "nest.pt")
    back = cr.load(tmp_path / "nest.pt")
    assert back[0].tolist() == [0, 1, 2] and back[1][0].dtype == cr.float64 and back[1][1] == {"k": None, 1: "one"}
    assert back[2].dtype == np.int32 and isinstance(back[1], tuple)
    cr.save(cr.tensor(2.5), tmp_path / "scalar.pt")
    assert cr.load(tmp_path / "scalar.pt").item() == 2.5


def test_whole_modules_and_optimizers_are_refused_with_the_way_out(tmp_path):
    model, optimizer = _state()
    with pytest.raises(TypeError, match=r"model\.state_dict\(\)"):
        cr.save(model, tmp_path / "model.pt")
    with pytest.raises(TypeError, match=r"optimizer\.state_dict\(\)"):
        cr.save(optimizer, tmp_path / "opt.pt")
    assert not (tmp_path / "model.pt").exists()


def test_pickle_options_are_refused(tmp_path):
    cr.save({"w": cr.ones(2)}, tmp_path / "w.pt")
    with pytest.raises(ValueError, match="never unpickles"):
        cr.load(tmp_path / "w.pt", weights_only=False)
    with pytest.raises(ValueError, match="never unpickles"):
        cr.load(tmp_path / "w.pt", pickle_module=object())
    with pytest.raises(TypeError, match="never pickles"):
        cr.save({"w": cr.ones(2)}, tmp_path / "x.pt", pickle_module=object())
    cr.save({"w": cr.ones(2)}, tmp_path / "y.pt", pickle_protocol=2, _use_new_zipfile_serialization=True)
    with pytest.raises(TypeError, match="unexpected keyword"):
        cr.save({"w": cr.ones(2)}, tmp_path / "z.pt", compress=True)


@pytest.mark.parametrize("head", [b"PK\x03\x04rest of a zip", b"\x80\x02}q\x00."])
def test_a_pytorch_pickle_checkpoint_gets_a_conversion_hint(tmp_path, head):
    (tmp_path / "model.pt").write_bytes(head)
    with pytest.raises(CheckpointError, match="safetensors.torch import save_file"):
        cr.load(tmp_path / "model.pt")


def test_a_real_torch_file_and_its_safetensors_conversion(tmp_path):
    torch = pytest.importorskip("torch")
    safetensors_torch = pytest.importorskip("safetensors.torch")
    weights = {"weight": torch.randn(2, 3), "bias": torch.zeros(2)}
    torch.save(weights, tmp_path / "model.pt")
    with pytest.raises(CheckpointError, match="pickle"):
        cr.load(tmp_path / "model.pt")
    safetensors_torch.save_file(torch.load(tmp_path / "model.pt", weights_only=True), tmp_path / "model.safetensors")
    with pytest.raises(CheckpointError, match="load_file"):
        cr.load(tmp_path / "model.safetensors")  # no chainrule checksum: read with load_file, knowingly
    loaded = cr.io.load_file(tmp_path / "model.safetensors")
    model = cr.nn.Linear(3, 2)
    model.load_state_dict(loaded)
    np.testing.assert_array_equal(model.weight.numpy(), weights["weight"].numpy())


def test_map_location_forms(tmp_path):
    cr.save({"w": cr.ones(2)}, tmp_path / "w.pt")
    for where in (None, "cpu", cr.device("cpu"), {"cuda:0": "cpu"}):
        assert cr.load(tmp_path / "w.pt", map_location=where)["w"].device.type == "cpu"
    with pytest.raises(TypeError, match="callable"):
        cr.load(tmp_path / "w.pt", map_location=lambda storage, loc: storage)
    if not cr.cuda.is_available():
        with pytest.raises(cr.errors.DeviceError):
            cr.load(tmp_path / "w.pt", map_location="cuda")


def test_a_text_mode_file_is_refused(tmp_path):
    cr.save({"w": cr.ones(2)}, tmp_path / "w.pt")
    with open(tmp_path / "w.pt", encoding="latin-1") as f, pytest.raises(TypeError, match="binary"):
        cr.load(f)
