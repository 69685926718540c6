"""Activate fhgan_plugin whenever BasicSR is imported (loaded at start-up by ``fhgan_plugin_autoload.pth``).

BasicSR has no plugin hook, so ``python -m basicsr.train -opt x.yml`` would never see the plugin's
registered names. This module, imported from a ``.pth`` file at interpreter start-up, only puts a
finder on ``sys.meta_path`` (no torch, no basicsr: it costs microseconds for unrelated programs).
When ``basicsr`` is first imported, the finder

1. aliases ``torchvision.transforms.functional_tensor`` (removed from current torchvision, still
   imported by BasicSR 1.4.2) before BasicSR's code runs, and
2. imports ``fhgan_plugin`` right after ``basicsr`` finished loading, which registers every plugin
   name and applies the documented runtime patches (``fhgan_plugin.compat``).

Set ``FHGAN_PLUGIN_AUTOLOAD=0`` to switch the hook off.
"""
import os
import sys


def alias_functional_tensor() -> None:
    """Make ``torchvision.transforms.functional_tensor`` importable on torchvision >= 0.17."""
    if 'torchvision.transforms.functional_tensor' in sys.modules:
        return
    try:
        import torchvision.transforms.functional_tensor  # noqa: F401
    except ImportError:
        try:
            import torchvision.transforms.functional as functional
        except ImportError:  # no torchvision at all: BasicSR will report it
            return
        sys.modules['torchvision.transforms.functional_tensor'] = functional


class _BasicSRFinder:
    """One-shot meta-path finder wrapping the loader of the ``basicsr`` package."""

    def find_spec(self, fullname, path=None, target=None):  # noqa: ANN001, ANN201
        if fullname != 'basicsr':
            return None
        uninstall()
        import importlib.util
        spec = importlib.util.find_spec('basicsr')
        if spec is None or spec.loader is None or not hasattr(spec.loader, 'exec_module'):
            return spec
        original = spec.loader.exec_module

        def exec_module(module):  # noqa: ANN001, ANN202
            alias_functional_tensor()
            original(module)
            import importlib
            importlib.import_module('fhgan_plugin')

        spec.loader.exec_module = exec_module
        return spec


_FINDER = _BasicSRFinder()


def install() -> None:
    """Put the finder first on ``sys.meta_path`` unless basicsr is loaded already or it is disabled."""
    if os.environ.get('FHGAN_PLUGIN_AUTOLOAD', '1') == '0' or 'basicsr' in sys.modules:
        return
    if _FINDER not in sys.meta_path:
        sys.meta_path.insert(0, _FINDER)


def uninstall() -> None:
    """Remove the finder (it is one-shot)."""
    try:
        sys.meta_path.remove(_FINDER)
    except ValueError:
        pass


install()
