#!/usr/bin/env bash
# The README's test command: set up (idempotently) and run the whole test suite.
# Real-data tests read ../shared (or $FHGAN_SHARED) and are skipped, with the reason, only where it is absent.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install.sh
PY="${FHGAN_VENV:-.venv}/bin/python"
"$PY" -m ruff check .
# two pytest workers (pytest-xdist), one thread each: most tests are single-threaded or start subprocesses, so this
# halves the wall time on 2 cores; pass -n 0 to run in one process
OMP_NUM_THREADS="${OMP_NUM_THREADS:-1}" "$PY" -m pytest -q -rs -n "${FHGAN_TEST_WORKERS:-2}" "$@"
