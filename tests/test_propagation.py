"""W3C trace context helpers: inject/extract/continue_trace, across a real process boundary."""

from __future__ import annotations

import http.server
import os
import subprocess
import sys
import textwrap
import threading
from pathlib import Path

import pytest
from opentelemetry import trace as otel_trace

import noveum_trace
from noveum_trace.propagation import continue_trace, extract, inject, inject_env

from .conftest import Traces

REMOTE_TRACE = "4bf92f3577b34da6a3ce929d0e0e4736"
REMOTE_SPAN = "00f067aa0ba902b7"
TRACEPARENT = f"00-{REMOTE_TRACE}-{REMOTE_SPAN}-01"


def test_inject_writes_the_current_span_and_nothing_without_one(traced: Traces) -> None:
    assert inject() == {}
    with noveum_trace.get_tracer().start_as_current_span("client") as span:
        headers = inject({"content-type": "application/json"})
    context = span.get_span_context()
    assert headers["traceparent"] == f"00-{context.trace_id:032x}-{context.span_id:016x}-01"
    assert headers["content-type"] == "application/json"
    assert inject_env({}, otel_trace.set_span_in_context(span)) == {
        "TRACEPARENT": headers["traceparent"]
    }


@pytest.mark.parametrize(
    "carrier",
    [
        {"traceparent": TRACEPARENT, "tracestate": "vendor=1"},
        {"Traceparent": TRACEPARENT, "TraceState": "vendor=1"},  # HTTP header casing
        {"TRACEPARENT": TRACEPARENT, "TRACESTATE": "vendor=1"},  # environment variables
    ],
)
def test_continue_trace_joins_the_remote_trace(traced: Traces, carrier: dict[str, str]) -> None:
    with continue_trace(carrier), noveum_trace.get_tracer().start_as_current_span("server"):
        pass
    (span,) = traced.spans()
    assert span["trace_id"] == REMOTE_TRACE
    assert span["parent_span_id"] == REMOTE_SPAN
    assert '"traceState":"vendor=1"' in traced.raw_text()
    assert otel_trace.get_current_span() is otel_trace.INVALID_SPAN  # detached on exit


def test_a_bad_traceparent_starts_a_new_trace(traced: Traces) -> None:
    context = extract({"traceparent": "00-garbage-01"})
    assert not otel_trace.get_current_span(context).get_span_context().is_valid
    tracer = noveum_trace.get_tracer()
    with continue_trace({"traceparent": "00-garbage-01"}), tracer.start_as_current_span("fresh"):
        pass
    (span,) = traced.spans()
    assert span["parent_span_id"] is None and span["trace_id"] != REMOTE_TRACE


_CHILD = textwrap.dedent(
    """
    import os, sys
    from opentelemetry import trace
    import noveum_trace
    from noveum_trace.propagation import continue_trace

    noveum_trace.init(service_name="child", log_directory=sys.argv[1])
    carrier = {"traceparent": sys.argv[2]} if len(sys.argv) > 2 else os.environ
    ours = noveum_trace.get_tracer("child.app")
    library = trace.get_tracer("acme.lib")  # a third-party library: API only, no SDK
    with continue_trace(carrier):
        with ours.start_as_current_span("child"):
            with library.start_as_current_span("acme.fetch"):
                with ours.start_as_current_span("inner"):
                    pass
    noveum_trace.shutdown()
    """
)


@pytest.mark.parametrize("via", ["env", "argv"])
def test_trace_continues_in_a_child_process(traces: Traces, tmp_path: Path, via: str) -> None:
    traces.init(service_name="parent")
    child_dir = tmp_path / "child-traces"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OTEL_", "TRACE"))}
    with noveum_trace.get_tracer().start_as_current_span("parent") as parent:
        argv = [sys.executable, "-c", _CHILD, str(child_dir)]
        if via == "env":
            inject_env(env)
        else:
            argv.append(inject()["traceparent"])
        done = subprocess.run(argv, env=env, capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr

    (parent_span,) = traces.spans()
    child = {span["name"]: span for span in noveum_trace.read_traces(child_dir)}
    assert set(child) == {"child", "acme.fetch", "inner"}
    assert {span["trace_id"] for span in child.values()} == {parent_span["trace_id"]}
    assert child["child"]["parent_span_id"] == parent_span["span_id"]
    assert child["acme.fetch"]["parent_span_id"] == child["child"]["span_id"]
    assert child["inner"]["parent_span_id"] == child["acme.fetch"]["span_id"]
    assert child["acme.fetch"]["scope"]["name"] == "acme.lib"
    assert child["child"]["service_name"] == "child"
    assert parent.get_span_context().trace_id == int(parent_span["trace_id"], 16)


def test_httpx_instrumentation_nests_both_ways(traced: Traces) -> None:
    """A real third-party instrumentation: our span -> its HTTP client span -> our handler span.

    Runs where ``httpx`` and ``opentelemetry-instrumentation-httpx`` are installed (the
    previous-majors CI environment, whose openai 2.x brings httpx).
    """
    httpx = pytest.importorskip("httpx")
    instrumentation = pytest.importorskip("opentelemetry.instrumentation.httpx")
    tracer = noveum_trace.get_tracer("tests.server")

    class Handler(http.server.BaseHTTPRequestHandler):
        def log_message(self, *args: object) -> None:
            pass

        def do_GET(self) -> None:
            carrier = dict(self.headers.items())
            with continue_trace(carrier), tracer.start_as_current_span("handle request"):
                body = b"ok"
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    instrumentor = instrumentation.HTTPXClientInstrumentor()
    instrumentor.instrument(tracer_provider=noveum_trace.get_tracer_provider())
    try:
        with tracer.start_as_current_span("outer"), httpx.Client() as client:
            response = client.get(f"http://127.0.0.1:{server.server_address[1]}/work")
        assert response.text == "ok"
    finally:
        instrumentor.uninstrument()
        server.shutdown()
        server.server_close()

    spans = {span["name"]: span for span in traced.spans()}
    (client_name,) = set(spans) - {"outer", "handle request"}  # "GET", named by httpx's rules
    theirs = spans[client_name]
    assert theirs["scope"]["name"] == "opentelemetry.instrumentation.httpx"
    assert theirs["kind"] == 3  # CLIENT
    assert theirs["parent_span_id"] == spans["outer"]["span_id"]
    assert spans["handle request"]["parent_span_id"] == theirs["span_id"]
    assert len({span["trace_id"] for span in spans.values()}) == 1
