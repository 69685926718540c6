"""MMEngine interop: importing this module registers DSNet and the critic in MMEngine's ``MODELS`` registry,
so OpenMMLab configs (mmagic, …) can build them::

    custom_imports = dict(imports=['fhgan_plugin.mm'], allow_failed_imports=False)
    model = dict(type='DSNet', num_feat=64, upscale=4)       # or type='FHCritic'

Nothing is registered unless this module is imported (mmengine is an optional dependency).
"""
from __future__ import annotations

try:
    from mmengine.registry import MODELS
except ImportError as err:  # pragma: no cover - depends on the environment
    raise ImportError('fhgan_plugin.mm needs mmengine: pip install mmengine') from err

from fhgan_plugin.archs.critic_arch import FHCritic
from fhgan_plugin.archs.dsnet_arch import DSNet

REGISTERED = (DSNet, FHCritic)

for _cls in REGISTERED:
    _existing = MODELS.get(_cls.__name__) if _cls.__name__ in MODELS.module_dict else None
    if _existing is None:
        MODELS.register_module(name=_cls.__name__, module=_cls)
    elif _existing is not _cls:
        raise KeyError(f'MMEngine MODELS already holds a different {_cls.__name__} ({_existing.__module__})')
