"""Safe checkpoint loading with clear errors (``weights_only=True``, key-by-key report on mismatch).

:func:`read_checkpoint` is the one ``torch.load`` of the plugin (and of the BasicSR load paths it patches):
tensors, numbers and containers only, so a file cannot run code when it is loaded.
"""
from __future__ import annotations

import os
import pickle
from typing import Any

import torch
from torch import nn

from fhgan_plugin.errors import CheckpointError, CheckpointNotFoundError


class CheckpointMismatchError(CheckpointError):
    """A checkpoint's keys or shapes do not fit the network."""


def read_checkpoint(path: str, map_location: Any = 'cpu') -> Any:
    """``torch.load(path, weights_only=True)`` with an error that names the file and says what is wrong.

    Raises:
        CheckpointError: the file is missing, empty, truncated, not a PyTorch file, or holds Python objects
            other than tensors and containers (which could run code when loaded: they are refused).
    """
    if not path or not os.path.isfile(path):
        raise CheckpointNotFoundError(f'checkpoint not found: {path!r}')
    if os.path.getsize(path) == 0:
        raise CheckpointError(f'checkpoint {path} is empty (0 bytes): re-save or re-download it')
    try:
        return torch.load(path, map_location=map_location, weights_only=True)
    except pickle.UnpicklingError as err:
        text = str(err)
        found = [ln.strip() for ln in text.splitlines() if 'GLOBAL' in ln or 'Unsupported operand' in ln]
        if any('GLOBAL' in ln for ln in found):
            raise CheckpointError(f'checkpoint {path} holds Python objects other than tensors, which could run code '
                                  f'when loaded, so it is refused ({found[0]}); re-save its state dicts with '
                                  'torch.save') from err
        raise CheckpointError(f'checkpoint {path} is not a PyTorch file written by torch.save '
                              f'({found[0] if found else text.splitlines()[0]}): re-save or re-download it') from err
    except Exception as err:  # noqa: BLE001 - torch raises many types for damaged files
        first = str(err).splitlines()[0].split('. ')[0] if str(err) else type(err).__name__
        raise CheckpointError(f'checkpoint {path} is truncated or not a PyTorch file ({type(err).__name__}: '
                              f'{first}): re-save or re-download it') from err


def read_state_dict(path: str, param_key: str | None = None) -> dict[str, torch.Tensor]:
    """Load a state dict from ``path`` with ``torch.load(weights_only=True)`` on the CPU.

    Args:
        path: Checkpoint file.
        param_key: Key of the state dict inside the file (``params``, ``params_ema``, ``net_state_dict``,
            ``state_dict``…); None tries those in turn and falls back to the file's top level.

    Raises:
        CheckpointError: naming the file when it is missing, unreadable, unsafe, or has no such key.
    """
    state = read_checkpoint(path)
    if param_key is not None:
        if not isinstance(state, dict) or param_key not in state:
            keys = list(state)[:10] if isinstance(state, dict) else type(state).__name__
            raise CheckpointError(f'{path}: no {param_key!r} in the checkpoint (top-level keys: {keys})')
        state = state[param_key]
    elif isinstance(state, dict):
        for key in ('params_ema', 'params', 'net_state_dict', 'state_dict', 'model'):
            if key in state and isinstance(state[key], dict):
                state = state[key]
                break
    if not isinstance(state, dict) or not all(torch.is_tensor(v) for v in state.values()):
        raise CheckpointError(f'{path} holds no state dict of tensors (found {type(state).__name__}); pass '
                              "--param-key / param_key naming the one inside, e.g. 'params'")
    state = {k[7:] if k.startswith('module.') else k: v for k, v in state.items()}
    return {k: v.float() if torch.is_floating_point(v) else v for k, v in state.items()}


def load_state_dict_checked(net: nn.Module, state: dict[str, torch.Tensor], source: str = 'checkpoint',
                            strict: bool = True, ignore: tuple[str, ...] = ()) -> None:
    """``net.load_state_dict`` that reports every missing / unexpected / wrongly shaped key at once."""
    own = net.state_dict()
    missing = [k for k in own if k not in state and not k.startswith(ignore)]
    unexpected = [k for k in state if k not in own and not k.startswith(ignore)]
    shapes = [f'{k}: checkpoint {tuple(state[k].shape)} vs network {tuple(own[k].shape)}'
              for k in own if k in state and state[k].shape != own[k].shape]
    if shapes or (strict and (missing or unexpected)):
        lines = [f'{source} does not fit {type(net).__name__}:']
        if missing:
            lines.append(f'  missing keys ({len(missing)}): {missing[:20]}{" …" if len(missing) > 20 else ""}')
        if unexpected:
            lines.append(f'  unexpected keys ({len(unexpected)}): {unexpected[:20]}'
                         f'{" …" if len(unexpected) > 20 else ""}')
        if shapes:
            lines.append(f'  shape mismatches ({len(shapes)}): {shapes[:10]}')
        raise CheckpointMismatchError('\n'.join(lines))
    net.load_state_dict({k: v for k, v in state.items() if k in own}, strict=False)


def load_checkpoint(net: nn.Module, path: str, param_key: str | None = None, strict: bool = True) -> nn.Module:
    """Load ``path`` into ``net`` (see :func:`read_state_dict`, :func:`load_state_dict_checked`)."""
    load_state_dict_checked(net, read_state_dict(path, param_key), source=path, strict=strict)
    return net
