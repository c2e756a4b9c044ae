#!/usr/bin/env bash
# The GPU checks of the CuPy issue, as one script for a machine with an NVIDIA GPU (the device tool):
# the GPU test suite, then chainrule-on-CuPy against PyTorch CUDA on the step workloads, at the CPU
# batch sizes and at 16x (batches that fill a GPU better).  Needs CuPy (pip install 'chainrule[cuda]')
# and a CUDA build of torch in the active Python.
set -uo pipefail
cd "$(dirname "$0")/.."
PY="${PYTHON:-python}"
$PY -c "import cupy, torch; assert torch.cuda.is_available(); print(cupy.cuda.runtime.getDeviceProperties(0)['name'].decode())" \
    || { echo "gpu_check: needs CuPy, a GPU and a CUDA build of torch"; exit 2; }
nvidia-smi --query-gpu=name,memory.total --format=csv,noheader || true
$PY -m pytest -q tests/gpu tests/test_devices.py -x 2>&1 | tail -15
cd benchmarks
$PY steps.py --device cuda --quick --only mlp,cnn,transformer,resnet,lstm
$PY steps.py --device cuda --quick --batch-scale 16 --only mlp,cnn,transformer,resnet,lstm
