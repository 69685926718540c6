"""Export a generator to ONNX / TorchScript and check it against PyTorch: see ``fhgan_plugin/export.py``."""
from __future__ import annotations

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from fhgan_plugin.export import console  # noqa: E402

if __name__ == '__main__':
    console()
