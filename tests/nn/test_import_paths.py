"""The ``torch.nn.modules.<x>`` and ``torch.utils.data`` paths programs import from exist, with the same objects."""

from __future__ import annotations

import importlib

import pytest

import chainrule as cr
from chainrule import nn

PATHS = {
    "chainrule.nn.modules.module": {"Module": nn.Module},
    "chainrule.nn.modules.container": {"Sequential": nn.Sequential, "ModuleList": nn.ModuleList},
    "chainrule.nn.modules.linear": {"Linear": nn.Linear, "Identity": nn.Identity},
    "chainrule.nn.modules.activation": {"ReLU": nn.ReLU, "GELU": nn.GELU, "MultiheadAttention": nn.MultiheadAttention},
    "chainrule.nn.modules.loss": {"_Loss": nn.modules.loss._Loss, "CrossEntropyLoss": nn.CrossEntropyLoss},
    "chainrule.nn.modules.conv": {"Conv2d": nn.Conv2d},
    "chainrule.nn.modules.batchnorm": {
        "BatchNorm2d": nn.BatchNorm2d,
        "_BatchNorm": nn.modules.normalization._BatchNorm,
    },
    "chainrule.nn.modules.normalization": {"LayerNorm": nn.LayerNorm},
    "chainrule.nn.modules.dropout": {"Dropout": nn.Dropout},
    "chainrule.nn.modules.pooling": {"MaxPool2d": nn.MaxPool2d},
    "chainrule.nn.modules.sparse": {"Embedding": nn.Embedding},
    "chainrule.nn.modules.rnn": {"LSTM": nn.LSTM, "GRUCell": nn.GRUCell},
    "chainrule.nn.modules.flatten": {"Flatten": nn.Flatten},
    "chainrule.nn.modules.transformer": {"Transformer": nn.Transformer},
    "chainrule.nn.modules.fold": {"Unfold": nn.Unfold},
    "chainrule.nn.modules.upsampling": {"Upsample": nn.Upsample},
    "chainrule.nn.parameter": {"Parameter": nn.Parameter},
    "chainrule.utils.data": {"DataLoader": cr.data.DataLoader},
    "chainrule.utils.data.dataloader": {"DataLoader": cr.data.DataLoader},
    "chainrule.utils.data.sampler": {"RandomSampler": cr.data.RandomSampler},
}


@pytest.mark.parametrize("path", sorted(PATHS))
def test_path_imports_the_same_objects(path):
    module = importlib.import_module(path)
    for name, expected in PATHS[path].items():
        assert getattr(module, name) is expected, f"{path}.{name}"


def test_argument_helpers():
    from chainrule.nn.modules.utils import _pair, _single, _triple

    assert _pair(3) == (3, 3) and _pair((1, 2)) == (1, 2) and _single(4) == (4,) and _triple(1) == (1, 1, 1)
