"""The plugin's error types: what a command-line user can fix is a :class:`FHGANError` (one line, exit 2).

Every message names the bad input (file, option key or argument) and says what to do. The command-line
tools print it as one line and exit with :attr:`FHGANError.exit_code`; ``--debug`` (or ``FHGAN_DEBUG=1``)
shows the traceback instead (:func:`fhgan_plugin.utils.cli.run_cli`).
"""
from __future__ import annotations


class FHGANError(Exception):
    """An error the user can fix (bad input, option, checkpoint or output location)."""

    exit_code = 2


class InputError(FHGANError, ValueError):
    """An input file or argument that cannot be used (missing, unreadable, out of range, colliding)."""


class OptionError(FHGANError, ValueError):
    """A training / test option with an unknown key or a value of the wrong type or range."""


class CheckpointError(FHGANError, RuntimeError):
    """A checkpoint that cannot be read safely, or that does not fit the network."""


class CheckpointNotFoundError(CheckpointError, FileNotFoundError):
    """A checkpoint path that does not exist."""


class WriteError(FHGANError, OSError):
    """An output that could not be written (read-only folder, full disk…): the run has failed."""

    exit_code = 1

    def __init__(self, message: str, path: str | None = None, errno: int | None = None) -> None:
        super().__init__(message)
        self.path = path
        self.errno = errno

    def __str__(self) -> str:
        return str(self.args[0])
