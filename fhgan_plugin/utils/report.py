"""JSON reports of the project's scripts (benchmarks and evaluations write JSON, never timed tests)."""
from __future__ import annotations

import json
from typing import Any

from fhgan_plugin.utils.io import write_text


def emit_json(result: dict[str, Any], out: str | None = None) -> str:
    """Print ``result`` as indented JSON and also write it to ``out`` (folders created) when given."""
    text = json.dumps(result, indent=2)
    print(text)
    if out:
        write_text(out, text + '\n')
    return text
