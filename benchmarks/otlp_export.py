"""OTLP/HTTP export: throughput to a loopback receiver, and what a down endpoint costs the app.

1. Throughput: N spans through the real pipeline to a receiver in another process
   (http/json and http/protobuf, with and without gzip); spans/s from the first span until
   the exporter reports them delivered.
2. Application-thread overhead per span, same run, alternating configurations:
   - files only, no endpoint (the reference);
   - files plus an endpoint that refuses connections (down);
   - files plus an endpoint that accepts and never answers (hanging).
   The ratio down / reference should be ~1.0: the export worker and the OTLP sender thread
   absorb the failure, and the application thread only appends to a queue.

    python benchmarks/otlp_export.py [--spans 20000] [--repeat 3]
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time

RECEIVER = r"""
import http.server, sys, threading
mode = sys.argv[1]
class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    def log_message(self, *a): pass
    def do_POST(self):
        self.rfile.read(int(self.headers.get("Content-Length", "0")))
        if mode == "hang":
            threading.Event().wait()
        self.send_response(200)
        self.send_header("Content-Length", "0")
        self.end_headers()
server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
server.daemon_threads = True
print(server.server_address[1], flush=True)
server.serve_forever()
"""


def child(args: argparse.Namespace) -> None:
    from span_overhead import work  # the same span workload (benchmarks/ is on sys.path)

    import noveum_trace

    options: dict[str, object] = {"service_name": "bench", "log_directory": args.dir}
    if args.endpoint:
        options.update(
            otlp_endpoint=args.endpoint,
            otlp_protocol=args.protocol,
            otlp_compression=args.compression,
        )
    if args.mode == "throughput":
        options.update(file_export=False, max_queue_size=args.spans + 10_000)
    noveum_trace.init(**options)
    tracer = noveum_trace.get_tracer("bench")
    work(tracer, 1000)  # warm up
    # With a down endpoint this flush cannot finish: give up after a second and measure
    # while the exporter is still retrying, which is the situation we care about.
    noveum_trace.flush(60 if args.mode == "throughput" else 1)
    wall, cpu = time.perf_counter(), time.thread_time()
    work(tracer, args.spans)
    app_wall, app_cpu = time.perf_counter() - wall, time.thread_time() - cpu
    if args.mode == "throughput":
        noveum_trace.flush(300)
    total = time.perf_counter() - wall
    stats = noveum_trace.get_stats()
    otlp = stats["exporters"].get("otlp", {})
    print(
        json.dumps(
            {
                "app_us_per_span": app_wall / args.spans * 1e6,
                "app_cpu_us_per_span": app_cpu / args.spans * 1e6,
                "spans_per_s": args.spans / total,
                "otlp": otlp,
            }
        )
    )
    os._exit(0)  # don't wait out a hanging endpoint at exit: we measured what we wanted


def run_child(
    spans: int,
    mode: str,
    endpoint: str | None,
    protocol: str = "http/protobuf",
    compression: str = "none",
) -> dict[str, object]:
    with tempfile.TemporaryDirectory() as directory:
        command = [
            sys.executable,
            __file__,
            "--child",
            mode,
            "--spans",
            str(spans),
            "--dir",
            directory,
            "--protocol",
            protocol,
            "--compression",
            compression,
        ]
        if endpoint:
            command += ["--endpoint", endpoint]
        out = subprocess.run(command, check=True, capture_output=True, text=True).stdout
    result: dict[str, object] = json.loads(out.strip().splitlines()[-1])
    return result


def start_receiver(mode: str) -> tuple[subprocess.Popen[str], str]:
    process = subprocess.Popen(
        [sys.executable, "-c", RECEIVER, mode], stdout=subprocess.PIPE, text=True
    )
    assert process.stdout is not None
    port = int(process.stdout.readline())
    return process, f"http://127.0.0.1:{port}/v1/traces"


def dead_endpoint() -> str:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}/v1/traces"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--spans", type=int, default=20_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--part", choices=["all", "throughput", "overhead"], default="all")
    parser.add_argument("--child", choices=["throughput", "overhead"])
    parser.add_argument("--dir")
    parser.add_argument("--endpoint")
    parser.add_argument("--protocol", default="http/protobuf")
    parser.add_argument("--compression", default="none")
    args = parser.parse_args()
    if args.child:
        args.mode = args.child
        child(args)
        return

    ok, ok_url = start_receiver("ok")
    hang, hang_url = start_receiver("hang")
    try:
        print(f"spans per run: {args.spans}")
        print("1. throughput to a loopback receiver (end to end, delivered)")
        for protocol in ("http/json", "http/protobuf") if args.part != "overhead" else ():
            for compression in ("none", "gzip"):
                result = run_child(args.spans, "throughput", ok_url, protocol, compression)
                otlp = result["otlp"]
                print(
                    f"   {protocol:14s} {compression:5s} {result['spans_per_s']:9.0f} spans/s"
                    f"   exported {otlp.get('exported')} dropped {otlp.get('dropped')}"
                )

        if args.part == "throughput":
            return
        print("2. application-thread cost per span (median of runs, alternating)")
        configs = {
            "no endpoint": None,
            "endpoint down": dead_endpoint(),
            "endpoint hanging": hang_url,
        }
        wall: dict[str, list[float]] = {name: [] for name in configs}
        cpu: dict[str, list[float]] = {name: [] for name in configs}
        for _ in range(args.repeat):
            for name, endpoint in configs.items():
                result = run_child(args.spans, "overhead", endpoint)
                wall[name].append(float(result["app_us_per_span"]))  # type: ignore[arg-type]
                cpu[name].append(float(result["app_cpu_us_per_span"]))  # type: ignore[arg-type]
        reference = statistics.median(wall["no endpoint"])
        reference_cpu = statistics.median(cpu["no endpoint"])
        for name in configs:
            w, c = statistics.median(wall[name]), statistics.median(cpu[name])
            print(
                f"   {name:17s} {w:6.2f} us/span wall ({w / reference:.2f}x)   "
                f"{c:6.2f} us/span thread CPU ({c / reference_cpu:.2f}x)"
            )
        ratio = statistics.median(wall["endpoint down"]) / reference
        print(f"   ratio down / no endpoint: {ratio:.2f}  (target <= ~1.0, noise ~±10%)")
    finally:
        for process in (ok, hang):
            process.kill()
            process.wait()


if __name__ == "__main__":
    main()
