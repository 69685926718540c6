"""Evaluate face SR methods (PSNR / SSIM / LPIPS / verification, ROC, picture grid): see
``fhgan_plugin/evaluation/cli.py`` or ``python scripts/evaluate.py --help``. Console script: ``fhgan-evaluate``."""
from __future__ import annotations

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from fhgan_plugin.evaluation.cli import console  # noqa: E402

if __name__ == '__main__':
    console()
