"""Keep freed tensor memory in the process instead of handing it back to the OS after every batch.

glibc's ``malloc`` serves allocations above its mmap threshold (at most 32 MiB, adjusted at run time) with a
fresh ``mmap`` and returns them to the OS on ``free``. A CPU forward pass frees and re-allocates its activations
every batch, so every batch pays page faults to zero the same memory again: one LFW evaluation of one network
method took 28.8 million minor page faults and 79 s of kernel time (Intel Xeon, 2 cores; issue 29 in
``docs/experiments.md``). Raising the mmap and trim thresholds (glibc ``mallopt``, the documented equivalent of
the ``MALLOC_MMAP_THRESHOLD_`` / ``MALLOC_TRIM_THRESHOLD_`` environment variables) keeps freed blocks for reuse:
the resident memory stays at the run's peak instead of shrinking between batches.

The command-line tools call :func:`keep_freed_memory` once at start (``fhgan_plugin.utils.cli.run_cli``); a
library user's process is never changed on import. ``FHGAN_MALLOC_TUNING=0`` turns it off; it does nothing
where the C library is not glibc.
"""
from __future__ import annotations

import ctypes
import ctypes.util
import logging
import os
import platform

logger = logging.getLogger('fhgan_plugin')

#: glibc's ``mallopt`` parameter numbers (``malloc.h``).
M_TRIM_THRESHOLD = -1
M_MMAP_THRESHOLD = -3
#: Allocations up to this size come from the heap and are reused (tried in order: a glibc that refuses 1 GiB
#: gets 32 MiB, the largest value every glibc accepts on 64-bit).
MMAP_THRESHOLDS = (1 << 30, 32 << 20)
#: Freed memory at the top of the heap is returned to the OS only above this size.
TRIM_THRESHOLD = 1 << 31

_state: dict[str, bool] = {}


def keep_freed_memory() -> bool:
    """Raise glibc's mmap / trim thresholds once per process (module docstring). Returns whether it is on."""
    if 'on' in _state:
        return _state['on']
    on = False
    if os.environ.get('FHGAN_MALLOC_TUNING', '1') not in ('0', '') and platform.system() == 'Linux' \
            and platform.libc_ver()[0] == 'glibc':
        try:
            libc = ctypes.CDLL(ctypes.util.find_library('c') or 'libc.so.6')
            on = any(libc.mallopt(M_MMAP_THRESHOLD, size) == 1 for size in MMAP_THRESHOLDS) and \
                libc.mallopt(M_TRIM_THRESHOLD, TRIM_THRESHOLD) == 1
        except (OSError, AttributeError) as err:
            logger.debug('malloc tuning unavailable: %s', err)
    _state['on'] = on
    return on
