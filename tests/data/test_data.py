"""Datasets, the DataLoader, the bundled digits, the IDX reader and Fashion-MNIST."""

from __future__ import annotations

import gzip
import struct

import numpy as np
import pytest

import chainrule as cr
from chainrule.data import DataLoader, Dataset, Subset, TensorDataset, random_split
from chainrule.data.datasets import FashionMNIST, IDXError, fashion_mnist_available, load_digits, load_mnist, read_idx


def make_ds(n=10):
    x = cr.arange(n * 2, dtype=cr.float32).reshape(n, 2)
    y = cr.arange(n)
    return TensorDataset(x, y)


def test_tensor_dataset_and_loader_batches():
    ds = make_ds(10)
    assert len(ds) == 10
    x3, y3 = ds[3]
    assert y3.item() == 3 and x3.tolist() == [6.0, 7.0]
    batches = list(DataLoader(ds, batch_size=4))
    assert [b[0].shape[0] for b in batches] == [4, 4, 2]
    assert batches[0][1].tolist() == [0, 1, 2, 3]
    assert [b[0].shape[0] for b in DataLoader(ds, batch_size=4, drop_last=True)] == [4, 4]
    assert len(DataLoader(ds, batch_size=4)) == 3 and len(DataLoader(ds, batch_size=4, drop_last=True)) == 2


def test_shuffle_is_seeded_and_covers_everything():
    ds = make_ds(20)

    def order(seed):
        g = cr.Generator().manual_seed(seed)
        return np.concatenate([b[1].numpy() for b in DataLoader(ds, batch_size=6, shuffle=True, generator=g)])

    a, b, c = order(1), order(1), order(2)
    assert sorted(a.tolist()) == list(range(20))
    assert np.array_equal(a, b) and not np.array_equal(a, c)
    g = cr.Generator().manual_seed(5)
    loader = DataLoader(ds, batch_size=20, shuffle=True, generator=g)
    first, second = next(iter(loader))[1].tolist(), next(iter(loader))[1].tolist()
    assert first != second  # a new order each epoch


def test_collation_of_tuples_dicts_and_numbers():
    class Samples(Dataset):
        def __len__(self):
            return 5

        def __getitem__(self, i):
            return {"x": np.full(3, i, dtype=np.float32), "y": i, "w": float(i) / 2, "pair": (cr.tensor([i]), i)}

    batch = next(iter(DataLoader(Samples(), batch_size=4)))
    assert batch["x"].shape == (4, 3) and batch["x"].dtype == cr.float32
    assert batch["y"].tolist() == [0, 1, 2, 3] and batch["y"].dtype == cr.int64
    assert batch["w"].dtype == cr.float32
    assert batch["pair"][0].shape == (4, 1) and batch["pair"][1].tolist() == [0, 1, 2, 3]


def test_random_split_and_subset():
    ds = make_ds(10)
    a, b = random_split(ds, [7, 3], generator=cr.Generator().manual_seed(0))
    assert len(a) == 7 and len(b) == 3
    seen = sorted([a[i][1].item() for i in range(7)] + [b[i][1].item() for i in range(3)])
    assert seen == list(range(10))
    c, d = random_split(ds, [0.5, 0.5])
    assert len(c) + len(d) == 10
    with pytest.raises(ValueError, match="sum to"):
        random_split(ds, [3, 3])
    sub = Subset(ds, [9, 1])
    assert [y.item() for _, y in DataLoader(sub, batch_size=1)] == [9, 1]


def test_bundled_digits():
    x, y = load_digits()
    assert x.shape == (1797, 1, 8, 8) and x.dtype == cr.float32
    assert y.shape == (1797,) and y.dtype == cr.int64
    assert float(x.numpy().min()) == 0.0 and float(x.numpy().max()) == 1.0
    assert sorted(set(y.tolist())) == list(range(10))
    flat, _ = load_digits(flatten=True)
    assert flat.shape == (1797, 64)


def write_idx(path, array, compress=False):
    codes = {np.uint8: 0x08, np.int16: 0x0B, np.int32: 0x0C, np.float32: 0x0D}
    header = bytes([0, 0, codes[array.dtype.type], array.ndim]) + b"".join(struct.pack(">I", s) for s in array.shape)
    payload = header + array.astype(array.dtype.newbyteorder(">")).tobytes()
    opener = gzip.open if compress else open
    with opener(path, "wb") as f:
        f.write(payload)


@pytest.mark.parametrize("compress", [False, True])
@pytest.mark.parametrize("dtype", [np.uint8, np.int32, np.float32])
def test_idx_round_trip(tmp_path, compress, dtype):
    arr = (np.arange(2 * 3 * 4) * 3).astype(dtype).reshape(2, 3, 4)
    path = tmp_path / ("a.idx.gz" if compress else "a.idx")
    write_idx(path, arr, compress)
    out = read_idx(path)
    assert out.dtype == np.dtype(dtype) and np.array_equal(out, arr)


def test_idx_errors(tmp_path):
    bad = tmp_path / "bad"
    bad.write_bytes(b"\x01\x02\x03\x04")
    with pytest.raises(IDXError, match="magic"):
        read_idx(bad)
    arr = np.arange(10, dtype=np.uint8)
    path = tmp_path / "short"
    write_idx(path, arr)
    path.write_bytes(path.read_bytes()[:-3])
    with pytest.raises(IDXError, match="expected 10 bytes"):
        read_idx(path)
    # an empty shape whose other dimensions overflow NumPy's size type (hypothesis found it: a ValueError before)
    huge = tmp_path / "huge"
    huge.write_bytes(bytes([0, 0, 0x08, 4]) + b"".join(d.to_bytes(4, "big") for d in (0, 97276, 97282, 974656385)))
    with pytest.raises(IDXError, match="larger than any array"):
        read_idx(huge)


def test_load_mnist_directory(tmp_path):
    images = np.random.default_rng(0).integers(0, 256, (5, 28, 28), dtype=np.uint8)
    labels = np.array([1, 2, 3, 4, 5], dtype=np.uint8)
    write_idx(tmp_path / "t10k-images-idx3-ubyte.gz", images, compress=True)
    write_idx(tmp_path / "t10k-labels-idx1-ubyte", labels)
    x, y = load_mnist(tmp_path, train=False)
    assert x.shape == (5, 1, 28, 28) and x.dtype == cr.float32
    np.testing.assert_allclose(x.numpy()[:, 0], images / 255.0, rtol=1e-6)
    assert y.tolist() == [1, 2, 3, 4, 5]
    with pytest.raises(FileNotFoundError, match="train-images"):
        load_mnist(tmp_path, train=True)


needs_fashion = pytest.mark.skipif(
    not fashion_mnist_available(),
    reason="Fashion-MNIST not installed (apt-get install dataset-fashion-mnist); .ci/run installs it",
)


@needs_fashion
def test_fashion_mnist_real_files():
    train, test = FashionMNIST(train=True), FashionMNIST(train=False)
    assert len(train) == 60_000 and len(test) == 10_000
    x, y = test.tensors
    assert x.shape == (10_000, 1, 28, 28) and x.dtype == cr.float32
    assert 0.0 <= float(x.numpy().min()) and float(x.numpy().max()) <= 1.0
    assert np.bincount(y.numpy(), minlength=10).tolist() == [1000] * 10


@needs_fashion
def test_fashion_mnist_softmax_regression_learns():
    """A linear classifier on 20k real images, 2 epochs: >= 80% test accuracy (seeded)."""
    from chainrule import nn, optim
    from chainrule.nn import functional as F

    cr.manual_seed(0)
    x, y = FashionMNIST(train=True).tensors
    xt, yt = FashionMNIST(train=False).tensors
    model = nn.Linear(784, 10)
    opt = optim.Adam(model.parameters(), lr=2e-3)
    loader = DataLoader(TensorDataset(x[:20000].reshape(-1, 784), y[:20000]), batch_size=128, shuffle=True)
    for _ in range(2):
        for xb, yb in loader:
            loss = F.cross_entropy(model(xb), yb)
            opt.zero_grad()
            loss.backward()
            opt.step()
    with cr.no_grad():
        acc = (model(xt.reshape(-1, 784)).argmax(1) == yt).float().mean().item()
    assert acc >= 0.80
