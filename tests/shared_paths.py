"""Where the tests' data is.

``CASSETTES``: the recorded API traffic the tests replay, kept in the repository
(``tests/data/cassettes``, with each source's license; see its README.md), so a fresh clone
anywhere has it.

``guide_text()``: the users' guide from ``../shared/spec/`` beside the repository (or from
``$NOVEUM_SHARED_DIR/spec/``). It is not part of the repository, so a test that needs it is
skipped when it is absent, except under CI (``CI=true``), where its absence fails the test:
CI must prove that every snippet of the guide runs.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
CASSETTES = REPO / "tests" / "data" / "cassettes"
GUIDE_RELATIVE = Path("spec") / "llm-tracing-guide.md"


def guide_path() -> Path:
    """Where the users' guide should be: ``$NOVEUM_SHARED_DIR`` or ``../shared``."""
    shared = os.environ.get("NOVEUM_SHARED_DIR") or REPO.parent / "shared"
    return Path(shared) / GUIDE_RELATIVE


def under_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() in {"true", "1", "yes"}


def guide_text() -> str:
    """The guide's text; skips the calling test when it is absent (fails it under CI)."""
    path = guide_path()
    if path.is_file():
        return path.read_text(encoding="utf-8")
    reason = (
        f"the users' guide is absent (looked for {path}); these tests run its snippets. "
        "Put the shared folder beside the repository (../shared/spec/llm-tracing-guide.md) "
        "or set NOVEUM_SHARED_DIR to it"
    )
    if under_ci():
        pytest.fail(
            f"{reason}. Under CI=true the guide is required, so that CI proves every "
            "snippet of it runs.",
            pytrace=False,
        )
    pytest.skip(reason)
