#!/usr/bin/env bash
# The README's test command: set up (idempotently) and run the whole test suite.
# Real-data tests read ../shared (or $FHGAN_SHARED) and are skipped, with the reason, only where it is absent.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install.sh
PY="${FHGAN_VENV:-.venv}/bin/python"
"$PY" -m ruff check .
"$PY" -m pytest -q -rs "$@"
