"""The recorded anthropic traffic in tests/data/cassettes/openinference, for replay and reading.

``CASSETTES`` lists every anthropic cassette there (a new file is picked up automatically);
``recording(name)`` gives its request body and response text; ``sse_events`` decodes a recorded
SSE body into the event dicts the client would parse; ``replay(name)`` is the vcrpy context
that serves it (matching method, scheme, host, port and path only, as the README says).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import yaml

from .shared_paths import CASSETTES as ALL_CASSETTES

DIR = ALL_CASSETTES / "openinference"
CASSETTES = sorted(p.name for p in DIR.glob("test_anthropic_*.yaml"))
assert len(CASSETTES) == 6, f"expected the 6 anthropic cassettes in {DIR}"
MATCH_ON = ("method", "scheme", "host", "port", "path")


@dataclass(frozen=True)
class Recording:
    request: dict[str, Any]
    response: str
    status: int

    @property
    def streamed(self) -> bool:
        return bool(self.request.get("stream"))


def recording(name: str) -> Recording:
    data = yaml.safe_load((DIR / name).read_text())
    (interaction,) = data["interactions"]
    return Recording(
        request=json.loads(interaction["request"]["body"]),
        response=interaction["response"]["body"]["string"],
        status=interaction["response"]["status"]["code"],
    )


def is_beta(name: str) -> bool:
    data = yaml.safe_load((DIR / name).read_text())
    return "beta=true" in data["interactions"][0]["request"]["uri"]


def sse_events(body: str) -> Iterator[dict[str, Any]]:
    """The JSON data of each server-sent event, in order."""
    for frame in body.split("\n\n"):
        for line in frame.splitlines():
            if line.startswith("data:"):
                yield json.loads(line[5:])


def final_from_sse(body: str) -> dict[str, Any]:
    """The last ``message_delta`` and the ``message_start`` of a recorded stream, merged."""
    events = list(sse_events(body))
    start = next(e for e in events if e["type"] == "message_start")["message"]
    delta = [e for e in events if e["type"] == "message_delta"][-1]
    return {
        **start,
        "stop_reason": delta["delta"]["stop_reason"],
        "usage": {**start["usage"], **{k: v for k, v in delta["usage"].items() if v is not None}},
    }


def replay(name: str) -> Any:
    """A vcrpy cassette context replaying ``name``; nothing reaches the network."""
    import vcr

    return vcr.VCR(record_mode="none", match_on=MATCH_ON).use_cassette(str(DIR / name))
