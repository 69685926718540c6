"""Train with BasicSR's pipeline and every fhgan_plugin name registered.

Usage (Real-ESRGAN / GFPGAN convention)::

    python fhgan_plugin/train.py -opt options/train/DSNet/train_DSNet_PSNR_x4_cpu.yml [--auto_resume]
    fhgan-train -opt options/train/DSNet/train_DSNet_PSNR_x4_cpu.yml

Experiments and tb_logger folders are created under the current working directory.
"""
from __future__ import annotations

import os
import sys

if __name__ == '__main__' and __package__ in (None, ''):
    # run as a file: drop this folder from sys.path so its modules cannot shadow top-level names
    _here = os.path.dirname(os.path.abspath(__file__))
    sys.path[:] = [p for p in sys.path if os.path.abspath(p or '.') != _here]
    sys.path.insert(0, os.path.dirname(_here))

import fhgan_plugin  # noqa: E402,F401  registers archs, datasets, models, losses, metrics; applies patches


def run() -> None:
    """BasicSR's ``train_pipeline`` rooted at the working directory."""
    from basicsr.train import train_pipeline
    train_pipeline(os.getcwd())


def main() -> None:
    """Console entry point: :func:`run`; an option, input or checkpoint error (or a failed save) is one line
    naming it and a non-zero exit (``FHGAN_DEBUG=1`` or BasicSR's ``--debug`` shows the traceback)."""
    from fhgan_plugin.utils.cli import run_cli
    sys.exit(run_cli(lambda _argv: run(), 'fhgan-train'))


if __name__ == '__main__':
    main()
