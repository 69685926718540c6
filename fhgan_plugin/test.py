"""Test (inference + metrics) with BasicSR's test pipeline and every fhgan_plugin name registered.

Usage::

    python fhgan_plugin/test.py -opt options/test_dsnet_x4.yml
    fhgan-test -opt options/test_dsnet_x4.yml

Results are written under ``results/<name>`` in the current working directory.
"""
from __future__ import annotations

import os
import sys

if __name__ == '__main__' and __package__ in (None, ''):
    _here = os.path.dirname(os.path.abspath(__file__))
    sys.path[:] = [p for p in sys.path if os.path.abspath(p or '.') != _here]
    sys.path.insert(0, os.path.dirname(_here))

import fhgan_plugin  # noqa: E402,F401


def run() -> None:
    """BasicSR's ``test_pipeline`` rooted at the working directory."""
    from basicsr.test import test_pipeline
    test_pipeline(os.getcwd())


def main() -> None:
    """Console entry point: :func:`run`; an option, input or checkpoint error (or a failed save) is one line
    naming it and a non-zero exit (``FHGAN_DEBUG=1`` or BasicSR's ``--debug`` shows the traceback)."""
    from fhgan_plugin.utils.cli import run_cli
    sys.exit(run_cli(lambda _argv: run(), 'fhgan-test'))


if __name__ == '__main__':
    main()
