"""``chainrule.utils.data``: PyTorch's import path ``torch.utils.data``, holding the objects of ``chainrule.data``.

``from chainrule.utils.data import DataLoader`` gives ``chainrule.data.DataLoader``
itself, and the submodules PyTorch programs import from are here too:
``chainrule.utils.data.dataset``, ``.sampler``, ``.dataloader`` and ``.distributed``
(``DistributedSampler``).
"""

import sys

from ...data import *  # noqa: F403
from ...data import __all__ as _data_all
from ...data import dataset, loader, sampler, worker

dataloader = loader
sys.modules[__name__ + ".dataset"] = dataset
sys.modules[__name__ + ".sampler"] = sampler
sys.modules[__name__ + ".dataloader"] = loader
sys.modules[__name__ + ".worker"] = worker


__all__ = list(_data_all)
