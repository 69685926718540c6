"""fhgan-plugin: FH-GAN face hallucination and low-resolution face recognition for BasicSR.

Importing this package registers every plugin name in BasicSR's registries and applies the runtime
patches documented in :mod:`fhgan_plugin.compat`. It is imported automatically whenever ``basicsr``
is (see ``fhgan_plugin_autoload``), so ``python -m basicsr.train -opt <yml>`` finds ``type: DSNet``.
"""
from fhgan_plugin_autoload import alias_functional_tensor

alias_functional_tensor()

import basicsr  # noqa: E402,F401  (may import this package re-entrantly through the hook: harmless)

from fhgan_plugin.compat import apply_patches  # noqa: E402

apply_patches()

from fhgan_plugin import archs, data, losses, metrics, models  # noqa: E402,F401
from fhgan_plugin.archs import DSNet  # noqa: E402
from fhgan_plugin.data import FaceSRDataset, canonical_degradation  # noqa: E402
from fhgan_plugin.inference import hallucinate  # noqa: E402
from fhgan_plugin.version import __version__  # noqa: E402

__all__ = ['DSNet', 'FaceSRDataset', 'canonical_degradation', 'hallucinate', '__version__']
