"""Idempotent registration into BasicSR's registries.

BasicSR's ``Registry._do_register`` asserts on a duplicate name. A plugin module can legitimately be
executed twice (imported under two names, re-run as a script, reloaded in a notebook), so these
helpers register a class once and accept (ignore) a re-registration of the *same* class (same module
basename and qualified name); a different object under a taken name is still an error, with a clear message.
"""
from __future__ import annotations

from typing import TypeVar

from basicsr.utils.registry import (
    ARCH_REGISTRY,
    DATASET_REGISTRY,
    LOSS_REGISTRY,
    METRIC_REGISTRY,
    MODEL_REGISTRY,
    Registry,
)

T = TypeVar('T')


def _same(a: object, b: object) -> bool:
    return (getattr(a, '__qualname__', None) == getattr(b, '__qualname__', None)
            and getattr(a, '__module__', '').split('.')[-1] == getattr(b, '__module__', '').split('.')[-1])


def register(registry: Registry, obj: T) -> T:
    """Register ``obj`` under its ``__name__``; a repeat of the same definition keeps the first one."""
    name = obj.__name__  # type: ignore[attr-defined]
    existing = registry._obj_map.get(name)
    if existing is None:
        registry.register(obj)
    elif existing is not obj and not _same(existing, obj):
        raise KeyError(f"fhgan_plugin cannot register {obj.__module__}.{name}: the {registry._name} registry "
                       f'already holds {existing.__module__}.{name}')
    return obj


def register_arch(obj: T) -> T:
    """Class decorator: register in ``ARCH_REGISTRY``."""
    return register(ARCH_REGISTRY, obj)


def register_dataset(obj: T) -> T:
    """Class decorator: register in ``DATASET_REGISTRY``."""
    return register(DATASET_REGISTRY, obj)


def register_loss(obj: T) -> T:
    """Class decorator: register in ``LOSS_REGISTRY``."""
    return register(LOSS_REGISTRY, obj)


def register_model(obj: T) -> T:
    """Class decorator: register in ``MODEL_REGISTRY``."""
    return register(MODEL_REGISTRY, obj)


def register_metric(obj: T) -> T:
    """Function decorator: register in ``METRIC_REGISTRY``."""
    return register(METRIC_REGISTRY, obj)
