"""JSON reports of the project's scripts (benchmarks and evaluations write JSON, never timed tests)."""
from __future__ import annotations

import json
import os
from typing import Any


def emit_json(result: dict[str, Any], out: str | None = None) -> str:
    """Print ``result`` as indented JSON and also write it to ``out`` (folders created) when given."""
    text = json.dumps(result, indent=2)
    print(text)
    if out:
        os.makedirs(os.path.dirname(os.path.abspath(out)), exist_ok=True)
        with open(out, 'w') as f:
            f.write(text + '\n')
    return text
