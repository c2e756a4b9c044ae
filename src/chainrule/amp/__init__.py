"""Mixed precision: ``autocast`` (low-precision compute) and ``GradScaler`` (dynamic loss scaling).

::

    scaler = cr.amp.GradScaler()
    for x, y in loader:
        with cr.amp.autocast("cuda", dtype=cr.float16):
            loss = F.cross_entropy(model(x), y)
        optimizer.zero_grad()
        scaler.scale(loss).backward()
        scaler.step(optimizer)      # skipped when a gradient overflowed
        scaler.update()             # halves the scale after an overflow, grows it when stable

Inside ``autocast`` the GEMM-heavy ops (matmul, linear, convolution) cast
their floating inputs to the low-precision dtype, while the ops that need
range or precision (softmax, log-softmax, layer/batch norm, losses) compute
in float32; two floats of different widths meeting in one op promote to the
wider one instead of raising.  Parameters stay float32 ("master weights") and
their gradients arrive in float32 through the casts.

Differences from PyTorch: ``device_type`` may be "cuda" or "cpu" and the CPU
default is float16 too (NumPy has no native bfloat16; ``dtype=bfloat16``
needs the ml_dtypes package and is refused otherwise).
"""

from .autocast import autocast, autocast_active, cast_for_gemm, cast_to_float32, is_autocast_enabled
from .grad_scaler import GradScaler

__all__ = [
    "GradScaler",
    "autocast",
    "autocast_active",
    "cast_for_gemm",
    "cast_to_float32",
    "is_autocast_enabled",
]
