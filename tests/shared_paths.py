"""Where ``../shared`` (the guide, the cassettes) is: beside the repository, as in CI."""

from __future__ import annotations

import os
from pathlib import Path


def _find_shared() -> Path:
    candidates = [
        os.environ.get("NOVEUM_SHARED_DIR"),
        Path(__file__).resolve().parents[2] / "shared",
        Path("/work/shared"),
    ]
    for candidate in candidates:
        if candidate and (Path(candidate) / "spec" / "llm-tracing-guide.md").is_file():
            return Path(candidate)
    raise RuntimeError(
        "cannot find ../shared (the guide and the cassettes) beside the repository; "
        "set NOVEUM_SHARED_DIR"
    )


SHARED = _find_shared()
CASSETTES = SHARED / "cassettes"
GUIDE = SHARED / "spec" / "llm-tracing-guide.md"
