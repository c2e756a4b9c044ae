"""Stateless layers and losses (``import chainrule.nn.functional as F``).

The modules in ``chainrule.nn`` call these.  One file per family; each file
lists its public names in ``__all__``.
"""

from ...ops.elementwise import elu, gelu, leaky_relu, relu, sigmoid, silu, softplus, tanh  # noqa: F401
from ...ops.nn import log_softmax, softmax  # noqa: F401
from ...ops.shape import pad  # noqa: F401
from .activation import *  # noqa: F401,F403
from .attention import *  # noqa: F401,F403
from .conv import *  # noqa: F401,F403
from .distance import *  # noqa: F401,F403
from .dropout import *  # noqa: F401,F403
from .linear import *  # noqa: F401,F403
from .loss import *  # noqa: F401,F403
from .normalization import *  # noqa: F401,F403
from .pixel_shuffle import *  # noqa: F401,F403
from .pooling import *  # noqa: F401,F403
from .recurrent import *  # noqa: F401,F403
from .sparse import *  # noqa: F401,F403
from .vision import *  # noqa: F401,F403
