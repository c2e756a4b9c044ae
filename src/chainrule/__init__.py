"""chainrule: backpropagation you can read, check and control.

``import chainrule as cr``: tensors (``cr.tensor``, ``cr.randn``), ops
(``cr.exp``, ``cr.cat``, ``x @ w``), reverse-mode autodiff (``loss.backward()``,
``cr.autograd.grad``) and grad modes (``cr.no_grad()``).
"""

from .tensor import Tensor  # noqa: I001 - Tensor first: the ops attach to it
from .autograd import engine as _engine  # noqa: F401 - registers backward() with Tensor
from . import ops as _ops  # noqa: F401 - registers the derivative table and binds Tensor's methods
from . import autograd
from .autograd import enable_grad, inference_mode, is_grad_enabled, no_grad, set_grad_enabled
from .backend import (
    Device as device,
    bool_ as bool,  # noqa: A004
    float16,
    float32,
    float64,
    get_default_dtype,
    int8,
    int16,
    int32,
    int64,
    set_default_dtype,
    uint8,
)
from .creation import (
    BoolTensor,
    ByteTensor,
    CharTensor,
    DoubleTensor,
    FloatTensor,
    HalfTensor,
    IntTensor,
    LongTensor,
    ShortTensor,
    arange,
    as_tensor,
    asarray,
    bernoulli,
    channels_last,
    channels_last_3d,
    contiguous_format,
    empty,
    empty_like,
    eye,
    from_numpy,
    full,
    full_like,
    linspace,
    logspace,
    memory_format,
    multinomial,
    normal,
    ones,
    ones_like,
    preserve_format,
    rand,
    rand_like,
    randint,
    randint_like,
    randn,
    randn_like,
    randperm,
    tensor,
    zeros,
    zeros_like,
)
from .errors import ChainruleError, DeviceError, DTypeError, GradientError, IndexingError, ShapeError

# --- generated from chainrule.ops.registry: python -m chainrule.ops.registry --write ---
from .ops.compare import (  # noqa: A004 - PyTorch's names
    allclose,
    bitwise_and,
    bitwise_not,
    bitwise_or,
    bitwise_xor,
    eq,
    equal,
    ge,
    gt,
    isclose,
    isfinite,
    isinf,
    isnan,
    le,
    logical_and,
    logical_not,
    logical_or,
    logical_xor,
    lt,
    ne,
    nonzero,
)
from .ops.diagonal import (  # noqa: A004 - PyTorch's names
    diag,
    diag_embed,
    diagflat,
    diagonal,
    diagonal_scatter,
    trace,
    tril,
    tril_indices,
    triu,
    triu_indices,
)
from .ops.elementwise import (  # noqa: A004 - PyTorch's names
    abs,
    abs as absolute,
    add,
    ceil,
    clamp,
    clamp as clip,
    clone,
    cos,
    div,
    div as divide,
    elu,
    erf,
    exp,
    expm1,
    floor,
    floor_divide,
    fmod,
    gelu,
    leaky_relu,
    log,
    log1p,
    masked_fill,
    maximum,
    minimum,
    mul,
    mul as multiply,
    neg,
    neg as negative,
    pow,
    reciprocal,
    relu,
    remainder,
    round,
    rsqrt,
    sigmoid,
    sign,
    silu,
    sin,
    softplus,
    sqrt,
    square,
    sub,
    sub as subtract,
    tanh,
    trunc,
    where,
)
from .ops.index import (  # noqa: A004 - PyTorch's names
    gather,
    index_add,
    index_copy,
    index_fill,
    index_put,
    index_select,
    masked_scatter,
    masked_select,
    repeat_interleave,
    scatter,
    scatter_add,
    scatter_reduce,
    take,
    take_along_dim,
)
from .ops.linalg import (  # noqa: A004 - PyTorch's names
    bmm,
    dot,
    einsum,
    matmul,
    mm,
    outer,
)
from .ops.matrix import (  # noqa: A004 - PyTorch's names
    cdist,
    det,
    inverse,
    slogdet,
)
from .ops.nn import (  # noqa: A004 - PyTorch's names
    log_softmax,
    softmax,
)
from .ops.pointwise import (  # noqa: A004 - PyTorch's names
    addcdiv,
    addcmul,
    lerp,
)
from .ops.reduce import (  # noqa: A004 - PyTorch's names
    all,
    amax,
    amin,
    any,
    argmax,
    argmin,
    cumsum,
    logsumexp,
    max,
    mean,
    min,
    norm,
    prod,
    std,
    std_mean,
    sum,
    var,
    var_mean,
)
from .ops.shape import (  # noqa: A004 - PyTorch's names
    broadcast_tensors,
    broadcast_to,
    cat,
    chunk,
    cat as concat,
    cat as concatenate,
    contiguous,
    expand,
    flatten,
    flip,
    meshgrid,
    movedim,
    narrow,
    pad,
    permute,
    repeat,
    reshape,
    roll,
    split,
    squeeze,
    stack,
    tile,
    transpose,
    unbind,
    unflatten,
    unsqueeze,
    reshape as view,
)
from .ops.sorting import (  # noqa: A004 - PyTorch's names
    argsort,
    bincount,
    bucketize,
    cummax,
    cummin,
    cumprod,
    histc,
    kthvalue,
    logcumsumexp,
    median,
    mode,
    msort,
    searchsorted,
    sort,
    topk,
    unique,
    unique_consecutive,
)

# --- end of the generated block ---
from . import accelerator, amp, cuda, data, func, io, linalg, models, nn, onnx, optim, train, tune, utils  # noqa: E402,F401
from . import diagnostics  # noqa: E402,F401
from .io.serialization import load, save  # noqa: E402 - torch.save / torch.load
from .compile import compile  # noqa: E402,A004 - PyTorch's name (cr.compile)
from .random import Generator, fork_rng, get_rng_state, initial_seed, manual_seed, seed, set_rng_state
from . import threads  # noqa: E402
from .threads import (  # noqa: E402
    are_deterministic_algorithms_enabled,
    get_num_threads,
    set_num_threads,
    use_deterministic_algorithms,
)

float = float32  # noqa: A001 - PyTorch's aliases: cr.float, cr.double, cr.long
double = float64
half = float16
long = int64

from ._version import __version__  # noqa: E402
