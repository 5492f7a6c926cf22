"""Reply shapes the fake provider's HTTP layer knows how to send: a JSON body or an SSE stream."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any


@dataclass
class JsonReply:
    status: int
    body: Any
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0  # before the response starts: the "time to first byte" of a plain call


@dataclass
class StreamReply:
    """An SSE body sent as bursts: ``first_delay`` before the first, ``delay`` between the rest."""

    bursts: list[bytes]
    first_delay: float = 0.0
    delay: float = 0.0
    headers: dict[str, str] = field(default_factory=dict)


Reply = JsonReply | StreamReply


def dumps(body: Any) -> str:
    return json.dumps(body, separators=(",", ":"), ensure_ascii=False)


def sse(data: Any, event: str | None = None) -> bytes:
    """One server-sent event; ``data`` is JSON-encoded unless it is already a string."""
    text = data if isinstance(data, str) else dumps(data)
    prefix = f"event: {event}\n" if event else ""
    return f"{prefix}data: {text}\n\n".encode()


class FrameList:
    """SSE frames, each marked as carrying model output or not, grouped into timed bursts.

    Frames before the first output frame travel with it, so time to first token is the
    configured first-chunk delay and not one delay per bookkeeping event.
    """

    def __init__(self) -> None:
        self._frames: list[tuple[bytes, bool]] = []

    def add(self, frame: bytes, output: bool = False) -> None:
        self._frames.append((frame, output))

    def cut_with_error(self, error_frame: bytes) -> None:
        """Keep the frames up to half the output (at least one piece), then end with an error."""
        outputs = [i for i, (_, is_output) in enumerate(self._frames) if is_output]
        keep = outputs[max(len(outputs) // 2, 1) - 1] + 1 if outputs else 1
        self._frames = [*self._frames[:keep], (error_frame, True)]

    def bursts(self) -> list[bytes]:
        bursts: list[list[bytes]] = [[]]
        seen_output = False
        for frame, is_output in self._frames:
            if is_output and seen_output:
                bursts.append([])
            seen_output = seen_output or is_output
            bursts[-1].append(frame)
        return [b"".join(burst) for burst in bursts if burst]
