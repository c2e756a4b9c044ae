"""Data-parallel training in a plain script: the bundled digits, a small MLP, N ranks.

    mpiexec -n 2 python examples/distributed_digits.py            # two ranks, half the batch each
    python examples/distributed_digits.py                         # the same script, one process

Every rank builds the same model (rank 0's weights are broadcast anyway),
reads its own shard of the training set through a DistributedSampler, and
DistributedDataParallel averages the gradients during backward, so the
weights stay identical on every rank.  Only rank 0 prints and writes the
weights file.  Across machines: see docs/distributed.md.
"""

import sys

import numpy as np

import chainrule as cr
import chainrule.distributed as dist
import chainrule.nn.functional as F
from chainrule import nn
from chainrule.data import DataLoader, TensorDataset
from chainrule.data.datasets import load_digits

GLOBAL_BATCH = 64
EPOCHS = 8

world = dist.init()
x, y = load_digits(flatten=True)
order = np.random.default_rng(0).permutation(len(y))
train = TensorDataset(x[order[:1400]], y[order[:1400]])
test_x, test_y = x[order[1400:]], y[order[1400:]]

cr.manual_seed(0)
model = dist.DistributedDataParallel(nn.Sequential(nn.Linear(64, 128), nn.ReLU(), nn.Linear(128, 10)))
optimizer = cr.optim.Adam(model.parameters(), lr=2e-3)
sampler = dist.DistributedSampler(train, shuffle=True, seed=0)
loader = DataLoader(train, batch_size=GLOBAL_BATCH // world.size, sampler=sampler)

for epoch in range(EPOCHS):
    sampler.set_epoch(epoch)  # a new order each epoch, the same on every rank
    loss_sum, count = 0.0, 0
    for xb, yb in loader:
        loss = F.cross_entropy(model(xb), yb)
        optimizer.zero_grad()
        loss.backward()  # gradients are averaged over ranks here
        optimizer.step()
        loss_sum += loss.item() * len(yb)
        count += len(yb)
    loss_sum, count = dist.all_reduce([loss_sum, count])  # the epoch's loss over all ranks
    if world.is_main:
        print(f"epoch {epoch + 1}: train loss {loss_sum / count:.4f} ({world.size} rank(s))")

model.eval()
with cr.no_grad():
    accuracy = (model(test_x).argmax(dim=1) == test_y).float().mean().item()
if world.is_main:
    print(f"test accuracy {accuracy:.4f}")
    if len(sys.argv) > 1:
        cr.io.save(model.state_dict(), sys.argv[1])  # rank 0 only, atomically
