"""OTLP/HTTP export through the real pipeline to a loopback receiver: encodings and every rule."""

from __future__ import annotations

import email.utils
import gzip
import json
import logging
import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest
from opentelemetry.trace import Link

import noveum_trace
from noveum_trace import semconv
from noveum_trace.export._otlp_http import RetryPolicy, display_url, parse_retry_after
from noveum_trace.export._otlp_proto import encode_request
from noveum_trace.export.otlp import OTLPExporter

from .conftest import Traces
from .otlp_receiver import OtlpReceiver, Reply, partial_success_reply, protobuf_to_traces_data

FAST = RetryPolicy(initial=0.01, maximum=0.05)
PROTOCOLS = ["http/json", "http/protobuf"]


@pytest.fixture
def rx() -> Iterator[OtlpReceiver]:
    with OtlpReceiver() as receiver:
        yield receiver


def _stats() -> dict[str, int]:
    return dict(noveum_trace.get_stats()["exporters"].get("otlp", {}))


def _span_tree() -> None:
    """A root, an LLM child with every attribute type, an error child, a link and an event."""
    tracer = noveum_trace.get_tracer("tests.otlp", "1.2")
    with tracer.start_as_current_span("root") as root:
        root.set_attribute("count", 3)
        with tracer.start_as_current_span("chat gpt-4o", kind=noveum_trace.SpanKind.CLIENT) as llm:
            llm.set_attribute(semconv.GEN_AI_REQUEST_MODEL, "gpt-4o")
            llm.set_attribute(semconv.GEN_AI_USAGE_INPUT_TOKENS, 2**40)
            llm.set_attribute(semconv.GEN_AI_REQUEST_TEMPERATURE, 0.25)
            llm.set_attribute(semconv.LLM_STREAMING, True)
            llm.set_attribute(semconv.GEN_AI_RESPONSE_FINISH_REASONS, ["stop", "length"])
            llm.add_event(semconv.EVENT_CONTENT_PROMPT, {semconv.GEN_AI_PROMPT: "héllo ✓"})
        with tracer.start_span("linked", links=[Link(root.get_span_context(), {"why": "x"})]):
            pass
        try:
            with tracer.start_as_current_span("fails"):
                raise ValueError("boom")
        except ValueError:
            pass


def _without_file(spans: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return sorted(
        ({k: v for k, v in s.items() if k != "file"} for s in spans), key=lambda s: s["span_id"]
    )


@pytest.mark.parametrize("protocol", PROTOCOLS)
@pytest.mark.parametrize("compression", ["none", "gzip"])
def test_both_protocols_deliver_exactly_what_the_files_hold(
    traces: Traces, rx: OtlpReceiver, protocol: str, compression: str
) -> None:
    traces.init(
        otlp_endpoint=rx.endpoint.removesuffix("/v1/traces"),  # a base endpoint
        otlp_protocol=protocol,
        otlp_compression=compression,
        otlp_headers={"authorization": "Bearer t0ken", "x-project-name": "p"},
    )
    _span_tree()
    in_files = traces.spans()
    received = rx.spans()
    assert len(in_files) == 4
    assert _without_file(received) == _without_file(in_files)

    by_name = {span["name"]: span for span in received}
    root = by_name["root"]
    assert len(root["trace_id"]) == 32 and len(root["span_id"]) == 16
    assert root["parent_span_id"] is None
    for child in ("chat gpt-4o", "fails", "linked"):
        assert by_name[child]["parent_span_id"] == root["span_id"]
        assert by_name[child]["trace_id"] == root["trace_id"]
    llm = by_name["chat gpt-4o"]
    assert llm["kind"] == 3
    assert llm["attributes"][semconv.GEN_AI_USAGE_INPUT_TOKENS] == 2**40
    assert llm["attributes"][semconv.GEN_AI_RESPONSE_FINISH_REASONS] == ["stop", "length"]
    assert llm["events"][0]["attributes"][semconv.GEN_AI_PROMPT] == "héllo ✓"
    assert by_name["fails"]["status"] == {"code": "ERROR", "message": "ValueError: boom"}
    assert by_name["fails"]["events"][0]["name"] == semconv.EVENT_EXCEPTION
    assert llm["scope"] == {"name": "tests.otlp", "version": "1.2"}

    request = rx.received[0]
    assert request.path == "/v1/traces"
    assert request.headers["authorization"] == "Bearer t0ken"
    expected_type = "application/json" if protocol == "http/json" else "application/x-protobuf"
    assert request.headers["content-type"] == expected_type
    if compression == "gzip":
        assert request.headers["content-encoding"] == "gzip"
        gzip.decompress(request.raw)
    else:
        assert "content-encoding" not in request.headers
    assert _stats()["exported"] == 4


def test_http_json_posts_the_file_line_itself(traces: Traces, rx: OtlpReceiver) -> None:
    traces.init(otlp_endpoint=rx.endpoint, otlp_protocol="http/json")
    with noveum_trace.get_tracer().start_span("one"):
        pass
    assert noveum_trace.flush(30)
    line = traces.raw_text().strip().encode()
    assert [r.raw for r in rx.received] == [line]


def test_protobuf_ids_are_raw_bytes_not_base64() -> None:
    data = {
        "resourceSpans": [
            {
                "resource": {
                    "attributes": [
                        {
                            "key": "k",
                            "value": {
                                "kvlistValue": {
                                    "values": [{"key": "inner", "value": {"bytesValue": "AAEC"}}]
                                }
                            },
                        }
                    ]
                },
                "scopeSpans": [
                    {
                        "scope": {"name": "s"},
                        "spans": [
                            {
                                "traceId": "5b8efff798038103d269b633813fc60c",
                                "spanId": "eee19b7ec3c1b174",
                                "parentSpanId": "eee19b7ec3c1b173",
                                "name": "n",
                                "kind": "SPAN_KIND_SERVER",
                                "startTimeUnixNano": "1544712660000000000",
                                "endTimeUnixNano": 1544712661000000000,
                                "attributes": [
                                    {"key": "nan", "value": {"doubleValue": "NaN"}},
                                    {"key": "empty", "value": {"arrayValue": {}}},
                                    {"key": "big", "value": {"intValue": "-9223372036854775808"}},
                                ],
                                "status": {"code": 2, "message": "m"},
                            }
                        ],
                    }
                ],
            }
        ]
    }
    decoded = protobuf_to_traces_data(encode_request(data))
    span = decoded["resourceSpans"][0]["scopeSpans"][0]["spans"][0]
    assert span["traceId"] == "5b8efff798038103d269b633813fc60c"
    assert span["spanId"] == "eee19b7ec3c1b174"
    assert span["parentSpanId"] == "eee19b7ec3c1b173"
    assert span["kind"] == 2
    assert span["startTimeUnixNano"] == "1544712660000000000"
    assert span["endTimeUnixNano"] == "1544712661000000000"
    attrs = {a["key"]: a["value"] for a in span["attributes"]}
    assert attrs["nan"]["doubleValue"] != attrs["nan"]["doubleValue"]  # NaN survived
    assert attrs["empty"] == {"arrayValue": {"values": []}}
    assert attrs["big"] == {"intValue": "-9223372036854775808"}
    assert span["status"] == {"code": 2, "message": "m"}


# ---- retry and status rules -------------------------------------------------------------


def _init_with(traces: Traces, exporter: OTLPExporter, **options: Any) -> None:
    traces.init(exporters=[exporter], file_export=False, **options)


def _one_span(name: str = "s") -> None:
    with noveum_trace.get_tracer().start_span(name):
        pass


@pytest.mark.parametrize("status", [429, 502, 503, 504])
def test_retryable_statuses_are_retried(traces: Traces, rx: OtlpReceiver, status: int) -> None:
    rx.replies.extend([Reply(status), Reply(status)])
    _init_with(traces, OTLPExporter(rx.endpoint, retry=FAST))
    _one_span()
    assert noveum_trace.flush(30)
    assert len(rx.received) == 3
    assert rx.received[0].raw == rx.received[2].raw
    assert _stats() == {"exported": 1, "retried": 2, "rejected": 0, "dropped": 0, "failed": 0}


@pytest.mark.parametrize("status", [400, 401, 403, 404, 408, 413, 415, 500, 501])
def test_other_statuses_are_final(traces: Traces, rx: OtlpReceiver, status: int) -> None:
    rx.replies.append(Reply(status, body=b"no"))
    _init_with(traces, OTLPExporter(rx.endpoint, retry=FAST))
    _one_span()
    assert noveum_trace.flush(30)
    assert len(rx.received) == 1
    assert _stats() == {"exported": 0, "retried": 0, "rejected": 0, "dropped": 0, "failed": 1}
    _one_span()  # the exporter carries on with the next batch
    assert noveum_trace.flush(30)
    assert len(rx.received) == 2 and _stats()["exported"] == 1


def test_connection_errors_are_retried(traces: Traces, rx: OtlpReceiver) -> None:
    rx.replies.append(Reply(close=True))
    _init_with(traces, OTLPExporter(rx.endpoint, retry=FAST))
    _one_span()
    assert noveum_trace.flush(30)
    assert len(rx.received) == 2
    assert _stats()["exported"] == 1 and _stats()["retried"] == 1


def test_retries_stop_at_the_batch_timeout_then_drop(traces: Traces, rx: OtlpReceiver) -> None:
    rx.replies.extend(Reply(503) for _ in range(10_000))
    _init_with(traces, OTLPExporter(rx.endpoint, retry=FAST, timeout=1.0))
    _one_span()
    assert noveum_trace.flush(30)
    stats = _stats()
    assert stats["dropped"] == 1 and stats["exported"] == 0
    assert stats["retried"] == len(rx.received) - 1 >= 1


@pytest.mark.parametrize("protobuf", [False, True])
def test_partial_success_counts_rejected(traces: Traces, rx: OtlpReceiver, protobuf: bool) -> None:
    rx.replies.append(partial_success_reply(2, "too old", protobuf))
    protocol = "http/protobuf" if protobuf else "http/json"
    _init_with(traces, OTLPExporter(rx.endpoint, protocol=protocol, retry=FAST))
    for name in "abc":
        _one_span(name)
    assert noveum_trace.flush(30)
    assert len(rx.received) == 1
    assert _stats() == {"exported": 1, "retried": 0, "rejected": 2, "dropped": 0, "failed": 0}


def test_retry_after_seconds_is_honoured(traces: Traces, rx: OtlpReceiver) -> None:
    rx.replies.append(Reply(429, headers={"Retry-After": "1"}))
    _init_with(traces, OTLPExporter(rx.endpoint, retry=FAST))
    start = time.monotonic()
    _one_span()
    assert noveum_trace.flush(30)
    assert len(rx.received) == 2
    assert time.monotonic() - start >= 1.0  # a lower bound only: the server's wish was kept


def test_retry_after_beyond_the_budget_drops_and_holds_off(
    traces: Traces, rx: OtlpReceiver
) -> None:
    when = email.utils.formatdate(time.time() + 3600, usegmt=True)  # the HTTP-date form
    rx.replies.append(Reply(503, headers={"Retry-After": when}))
    _init_with(traces, OTLPExporter(rx.endpoint, retry=FAST, timeout=0.5))
    _one_span("first")
    assert noveum_trace.flush(30)
    _one_span("second")  # must not be sent before the server's Retry-After time
    assert noveum_trace.flush(30)
    assert len(rx.received) == 1
    assert _stats()["dropped"] == 2 and _stats()["retried"] == 0


def test_parse_retry_after_forms() -> None:
    now = 1_700_000_000.0
    assert parse_retry_after("120", now) == 120.0
    assert parse_retry_after(email.utils.formatdate(now + 30, usegmt=True), now) == 30.0
    assert parse_retry_after(email.utils.formatdate(now - 30, usegmt=True), now) == 0.0
    assert parse_retry_after("soon", now) is None
    assert parse_retry_after(None, now) is None


def test_backoff_is_exponential_with_jitter() -> None:
    policy = RetryPolicy(initial=0.5, maximum=4.0)
    for retry, ceiling in enumerate([0.5, 1.0, 2.0, 4.0, 4.0]):
        delays = {policy.delay(retry) for _ in range(50)}
        assert all(ceiling / 2 <= d <= ceiling for d in delays)
        assert len(delays) > 1  # jittered, not a fixed schedule


# ---- a slow or dead endpoint never holds the application ------------------------------


def _dead_endpoint() -> str:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}/v1/traces"  # nothing listens: connection refused


def _wait_for_files(traces: Traces, count: int) -> int:
    """Spans in the files once ``count`` are there (or after a generous bound)."""
    found = 0
    for _ in range(1200):
        found = len(list(noveum_trace.read_traces(traces.directory)))
        if found >= count:
            break
        time.sleep(0.05)
    return found


def test_hanging_endpoint_does_not_hold_the_files_or_the_app(
    traces: Traces, rx: OtlpReceiver
) -> None:
    rx.gate.clear()  # the receiver accepts the request and never answers (until released)
    traces.init(otlp_endpoint=rx.endpoint, otlp_protocol="http/json", max_export_batch_size=50)
    for i in range(500):
        _one_span(f"s{i}")
    assert not noveum_trace.flush(0.5)  # the OTLP part cannot finish while the endpoint hangs
    assert _wait_for_files(traces, 500) == 500  # the files are not held up by it
    assert _stats()["exported"] == 0
    rx.gate.set()
    assert noveum_trace.flush(30)
    assert len(rx.spans()) == 500 and _stats()["exported"] == 500


def test_shutdown_honours_its_timeout_while_the_endpoint_hangs(
    traces: Traces, rx: OtlpReceiver
) -> None:
    rx.gate.clear()
    traces.init(
        otlp_endpoint=rx.endpoint,
        otlp_protocol="http/json",
        otlp_timeout=3600,
        max_export_batch_size=10,
    )
    for i in range(10):
        _one_span(f"s{i}")
    rx.wait_for_requests(1)  # the one batch of 10 is in flight, held by the endpoint
    result: list[bool] = []
    stopper = threading.Thread(target=lambda: result.append(noveum_trace.shutdown(0.5)))
    stopper.start()
    stopper.join(120)  # generous: only catches a shutdown that waits for the endpoint
    assert result == [False], "shutdown waited for a silent endpoint"
    assert _stats()["dropped"] == 10 and _stats()["exported"] == 0
    assert len(list(noveum_trace.read_traces(traces.directory))) == 10


def test_spans_an_endpoint_still_holds_at_shutdown_are_said_on_stderr(
    traces: Traces, rx: OtlpReceiver, capsys: pytest.CaptureFixture[str]
) -> None:
    # At exit nothing else would say it: the exporter's backlog is counted as dropped and
    # named in the worker's one line, with what would have kept it.
    rx.gate.clear()
    traces.init(
        otlp_endpoint=rx.endpoint,
        otlp_protocol="http/json",
        otlp_timeout=3600,
        max_export_batch_size=10,
    )
    for i in range(50):
        _one_span(f"s{i}")
    rx.wait_for_requests(1)  # one batch in flight, held by the endpoint; the rest wait
    capsys.readouterr()
    assert not noveum_trace.shutdown(0.5)
    rx.gate.set()
    dropped = _stats()["dropped"]
    assert dropped == 50 and _stats()["exported"] == 0
    lines = [line for line in capsys.readouterr().err.splitlines() if "not written" in line]
    assert len(lines) == 1, lines
    assert "50 spans were not written" in lines[0]
    assert "50 not yet delivered by the otlp exporter" in lines[0]
    assert "noveum_trace.shutdown(timeout=" in lines[0]
    assert "still queued" not in lines[0]  # the worker's own queue was empty


def test_dead_endpoint_drops_and_counts_but_files_get_everything(traces: Traces) -> None:
    traces.init(otlp_endpoint=_dead_endpoint(), otlp_timeout=0.2, otlp_protocol="http/json")
    for i in range(100):
        _one_span(f"s{i}")
    assert noveum_trace.flush(30)
    assert len(traces.spans()) == 100
    stats = _stats()
    assert stats["dropped"] == 100 and stats["exported"] == 0


def test_backlog_is_bounded(traces: Traces, rx: OtlpReceiver) -> None:
    rx.gate.clear()
    _init_with(
        traces,
        OTLPExporter(rx.endpoint, protocol="http/json", max_backlog_spans=10),
        max_export_batch_size=5,
    )
    for i in range(50):
        _one_span(f"s{i}")
        if i % 5 == 4:
            noveum_trace.flush(0.01)  # one batch of 5 at a time
    rx.gate.set()
    assert noveum_trace.flush(30)
    stats = _stats()
    assert stats["exported"] + stats["dropped"] == 50
    assert stats["exported"] <= 10 and len(rx.spans()) == stats["exported"]


def test_environment_selects_the_exporter(
    traces: Traces, rx: OtlpReceiver, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", rx.endpoint + "/custom")
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_HEADERS", "api-key=s%3Dcret")
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_PROTOCOL", "http/json")
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_COMPRESSION", "gzip")
    traces.init(file_export=False)
    _one_span()
    assert noveum_trace.flush(30)
    (request,) = rx.received
    assert request.path == "/v1/traces/custom"  # a per-signal endpoint is used as given
    assert request.headers["api-key"] == "s=cret"
    assert request.headers["content-encoding"] == "gzip"
    assert request.data is not None and request.spans()[0]["name"] == "s"


def test_missing_protobuf_support_is_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delitem(sys.modules, "noveum_trace.export._otlp_proto")
    monkeypatch.setitem(
        sys.modules, "opentelemetry.proto.collector.trace.v1.trace_service_pb2", None
    )
    with pytest.raises(ImportError, match=r"noveum-trace\[otlp\]"):
        OTLPExporter("http://127.0.0.1:1/v1/traces", protocol="http/protobuf")
    OTLPExporter("http://127.0.0.1:1/v1/traces", protocol="http/json")  # JSON needs nothing


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork")
def test_forked_child_sends_its_own_spans_once(traces: Traces, rx: OtlpReceiver) -> None:
    traces.init(otlp_endpoint=rx.endpoint, file_export=False)
    _one_span("before fork")
    pid = os.fork()
    if pid == 0:  # the child: its own sender thread, none of the parent's backlog
        try:
            _one_span("in child")
            noveum_trace.shutdown(30)
        finally:
            os._exit(0)
    os.waitpid(pid, 0)
    _one_span("in parent")
    assert noveum_trace.flush(30)
    assert sorted(span["name"] for span in rx.spans()) == ["before fork", "in child", "in parent"]


def test_refusal_is_logged_once_without_credentials(
    traces: Traces, rx: OtlpReceiver, caplog: pytest.LogCaptureFixture
) -> None:
    rx.replies.extend([Reply(418, body=b"teapot"), Reply(418, body=b"teapot")])
    endpoint = rx.endpoint.replace("http://", "http://user:s3cret@") + "?token=s3cret"
    _init_with(traces, OTLPExporter(endpoint, retry=FAST))
    with caplog.at_level(logging.WARNING, logger="noveum_trace"):
        _one_span("a")
        assert noveum_trace.flush(30)
        _one_span("b")
        assert noveum_trace.flush(30)
    messages = [r.getMessage() for r in caplog.records if "418" in r.getMessage()]
    assert len(messages) == 1 and "teapot" in messages[0]
    assert "s3cret" not in caplog.text
    assert rx.received[0].path == "/v1/traces?token=s3cret"
    assert display_url(endpoint) == rx.endpoint


# ---- child interpreters: a missing extra, a dead endpoint at exit ------------------------


def _run_child(
    code: str, *args: str, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """``code`` in a fresh interpreter: none of this process's OTEL/NOVEUM settings, ``env``."""
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("OTEL_", "NOVEUM_TRACE_"))}
    env = {**clean, "NOVEUM_TRACE_FILE_EXPORT": "false", **(env or {})}
    return subprocess.run(
        [sys.executable, "-c", code, *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,  # a hang guard only: a child stuck on its exporter fails here
    )


_WITHOUT_PROTO_CHILD = """
import logging, sys
sys.modules["opentelemetry.proto"] = None  # as if the [otlp] extra were not installed
logging.basicConfig(level=logging.WARNING)
import noveum_trace
for name in ("first", "second"):  # the second init() rebuilds the exporter: no second warning
    noveum_trace.init()
    with noveum_trace.get_tracer().start_span(name):
        pass
noveum_trace.shutdown(30)
"""


def test_protobuf_default_without_the_extra_falls_back_to_json(rx: OtlpReceiver) -> None:
    base = rx.endpoint.removesuffix("/v1/traces")  # OTLP's default protocol: http/protobuf
    child = _run_child(_WITHOUT_PROTO_CHILD, env={"OTEL_EXPORTER_OTLP_ENDPOINT": base})
    assert child.returncode == 0, child.stderr
    assert sorted(span["name"] for span in rx.spans()) == ["first", "second"]
    assert {request.headers["content-type"] for request in rx.received} == {"application/json"}
    warnings = [line for line in child.stderr.splitlines() if "noveum-trace[otlp]" in line]
    assert len(warnings) == 1 and "http/json" in warnings[0], child.stderr


_DEAD_ENDPOINT_CHILD = """
import atexit, json, sys, time
mode, endpoint = sys.argv[1], sys.argv[2]
import noveum_trace

BUDGET, PROMPT = 5.0, 2.0  # well under the budget: the endpoint was not waited for
prompt = []
started = []

def spans(prefix):
    for i in range(5):
        with noveum_trace.get_tracer().start_span(f"{prefix}{i}"):
            pass

def report():
    stats = noveum_trace.get_stats()["exporters"]["otlp"]
    if started:
        prompt.append(time.monotonic() - started[0] < PROMPT)
    print(json.dumps({"prompt": prompt, "stats": stats}))

atexit.register(report)  # registered before init(): runs after the SDK's own exit hook
noveum_trace.init(otlp_endpoint=endpoint)
spans("a")
if mode == "exit":
    atexit.register(lambda: started.append(time.monotonic()))  # runs just before the SDK's
else:
    start = time.monotonic()
    flushed = noveum_trace.flush(BUDGET)
    prompt.append(flushed and time.monotonic() - start < PROMPT)
    spans("b")
    start = time.monotonic()
    noveum_trace.shutdown(timeout=BUDGET)
    prompt.append(time.monotonic() - start < PROMPT)
"""


@pytest.mark.parametrize("mode", ["exit", "flush_and_shutdown"])
def test_dead_endpoint_does_not_delay_flush_shutdown_or_exit(mode: str) -> None:
    child = _run_child(_DEAD_ENDPOINT_CHILD, mode, _dead_endpoint())
    assert child.returncode == 0, child.stderr
    report = json.loads(child.stdout.strip().splitlines()[-1])
    expected = 5 if mode == "exit" else 10
    assert report["prompt"] == [True] * (1 if mode == "exit" else 2), report
    assert report["stats"]["dropped"] == expected and report["stats"]["exported"] == 0
