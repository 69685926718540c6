"""Exit codes and error messages of the command-line tools, in one place.

* 0: everything asked for was done;
* 1: the run finished but some outputs failed (the tool has said how many and which), or a write failed;
* 2: a user error (bad argument, missing or unreadable input, unusable option or checkpoint, an output that
  would collide with another or overwrite an input): one line ``<prog>: error: <what>`` on stderr, no
  traceback. ``--debug`` (or ``FHGAN_DEBUG=1``) shows the traceback instead.

Anything else is a bug and keeps its traceback.
"""
from __future__ import annotations

import argparse
import logging
import os
import sys
from collections.abc import Callable, Sequence
from typing import Any

from fhgan_plugin.errors import FHGANError

#: OS errors that mean "the path you gave does not work", not "the program is broken".
USER_OS_ERRORS = (FileNotFoundError, NotADirectoryError, IsADirectoryError, PermissionError, FileExistsError)


def debug_requested(argv: Sequence[str] | None = None) -> bool:
    """True with ``--debug`` on the command line or ``FHGAN_DEBUG=1`` in the environment."""
    argv = sys.argv[1:] if argv is None else argv
    return '--debug' in argv or os.environ.get('FHGAN_DEBUG', '0') not in ('', '0')


def add_debug_flag(parser: argparse.ArgumentParser) -> None:
    """The ``--debug`` flag every tool accepts (tracebacks instead of one-line errors)."""
    parser.add_argument('--debug', action='store_true', help='show the traceback of an error')


def error_exit_code(err: BaseException) -> int | None:
    """The exit code of an error a user can fix, or None for a bug."""
    if isinstance(err, FHGANError):
        return err.exit_code
    if isinstance(err, USER_OS_ERRORS):
        return 2
    return None


def run_cli(main: Callable[[list[str] | None], Any], prog: str, argv: list[str] | None = None,
            status: Callable[[Any], int] | None = None) -> int:
    """Run ``main(argv)`` and turn its outcome into an exit code (module docstring).

    Args:
        main: The tool's ``main``; it returns whatever its Python callers want.
        prog: Name printed before an error message.
        argv: Arguments (None: ``sys.argv[1:]``).
        status: Exit code from ``main``'s return value (None: 0).

    Every tool first keeps freed tensor memory for reuse (:func:`fhgan_plugin.utils.allocator.keep_freed_memory`).
    """
    from fhgan_plugin.utils.allocator import keep_freed_memory
    keep_freed_memory()
    try:
        result = main(argv)
    except KeyboardInterrupt:
        print(f'{prog}: interrupted', file=sys.stderr)
        return 130
    except Exception as err:  # noqa: BLE001 - sorted into user errors (one line) and bugs (re-raised)
        code = error_exit_code(err)
        if code is None or debug_requested(argv):
            raise
        logging.shutdown()
        print(f'{prog}: error: {err}', file=sys.stderr)
        return code
    return status(result) if status is not None else 0
