#!/usr/bin/env bash
# Idempotent set-up of a virtual environment with everything fhgan-plugin needs (install step of the
# README's two commands). Re-running it only installs what is missing.
#
#   FHGAN_VENV        virtual environment folder (default: .venv in the repository)
#   FHGAN_TORCH_PINS  torch/torchvision to install when the venv has none
#                     (default: the CPU-machine pins "torch==2.14.1 torchvision==0.29.1";
#                      with your own CUDA build already in the venv nothing is replaced)
set -euo pipefail
cd "$(dirname "$0")/.."
VENV=${FHGAN_VENV:-.venv}
TORCH_PINS=${FHGAN_TORCH_PINS:-"torch==2.14.1 torchvision==0.29.1"}
[ -x "$VENV/bin/python" ] || python3 -m venv "$VENV"
PY="$VENV/bin/python"
pip_install() { "$PY" -m pip install --disable-pip-version-check -q "$@" 2>&1 | grep -v 'is ignored: it is neither' || true; }
if ! "$PY" -c "import torch, torchvision" 2>/dev/null; then
  echo "[install] $TORCH_PINS"
  pip_install $TORCH_PINS
fi
# BasicSR 1.4.2 is an sdist whose setup.py imports torch: build it against the torch just installed.
if ! "$PY" -c "import importlib.metadata as m, sys; sys.exit(m.version('basicsr') != '1.4.2')" 2>/dev/null; then
  echo "[install] basicsr==1.4.2 (--no-build-isolation)"
  pip_install --no-build-isolation basicsr==1.4.2
fi
echo "[install] fhgan-plugin (editable, with test extras)"
pip_install -e ".[test]"
"$PY" -c "import basicsr, fhgan_plugin, torch; print('[install] ok: torch', torch.__version__, 'basicsr', basicsr.__version__, 'fhgan_plugin', fhgan_plugin.__version__)"
