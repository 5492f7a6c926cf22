"""Configuration: arguments > environment > defaults, and clear errors."""

from __future__ import annotations

from pathlib import Path

import pytest

import noveum_trace
from noveum_trace._config import Config, resolve
from noveum_trace._diagnostics import guard

from .conftest import Traces


def test_defaults() -> None:
    config = resolve({}, env={})
    assert config == Config()
    assert config.log_directory == "./traces" and config.file_export is True


def test_arguments_beat_environment_beat_defaults() -> None:
    env = {
        "OTEL_SERVICE_NAME": "from-env",
        "NOVEUM_TRACE_LOG_DIRECTORY": "/env/dir",
        "NOVEUM_TRACE_CAPTURE_CONTENT": "false",
        "NOVEUM_TRACE_MAX_QUEUE_SIZE": "10",
    }
    config = resolve({"service_name": "from-arg"}, env=env)
    assert config.service_name == "from-arg"
    assert config.log_directory == "/env/dir"
    assert config.capture_content is False
    assert config.max_queue_size == 10


def test_noveum_variable_beats_the_otel_one() -> None:
    env = {
        "NOVEUM_TRACE_CAPTURE_CONTENT": "true",
        "OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT": "false",
    }
    assert resolve({}, env=env).capture_content is True
    assert (
        resolve(
            {}, env={"OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT": "false"}
        ).capture_content
        is False
    )


def test_resource_attributes_and_service_name_from_them() -> None:
    config = resolve(
        {}, env={"OTEL_RESOURCE_ATTRIBUTES": "service.name=svc,deployment.environment=prod%20eu"}
    )
    assert config.service_name == "svc"
    assert config.resource_attributes == {
        "service.name": "svc",
        "deployment.environment": "prod eu",
    }


@pytest.mark.parametrize(
    ("env", "rate"),
    [
        ({"OTEL_TRACES_SAMPLER": "always_off"}, 0.0),
        ({"OTEL_TRACES_SAMPLER": "parentbased_always_on"}, 1.0),
        (
            {"OTEL_TRACES_SAMPLER": "parentbased_traceidratio", "OTEL_TRACES_SAMPLER_ARG": "0.25"},
            0.25,
        ),
        ({"OTEL_TRACES_SAMPLER": "traceidratio"}, 1.0),
    ],
)
def test_otel_sampler_variables(env: dict[str, str], rate: float) -> None:
    assert resolve({}, env=env).sample_rate == rate


def test_otlp_endpoint_rules() -> None:
    base = resolve({}, env={"OTEL_EXPORTER_OTLP_ENDPOINT": "http://collector:4318"})
    assert base.otlp_endpoint == "http://collector:4318/v1/traces"
    signal = resolve({}, env={"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "http://c:4318/custom"})
    assert signal.otlp_endpoint == "http://c:4318/custom"
    headers = resolve({}, env={"OTEL_EXPORTER_OTLP_HEADERS": "api-key=abc,x-team=a%20b"})
    assert headers.otlp_headers == {"api-key": "abc", "x-team": "a b"}


@pytest.mark.parametrize(
    ("options", "env", "named"),
    [
        ({"sample_rate": 2}, {}, "sample_rate"),
        ({"sample_rate": "half"}, {}, "sample_rate"),
        ({"max_queue_size": 0}, {}, "max_queue_size"),
        ({"capture_content": "maybe"}, {}, "capture_content"),
        ({"service_name": ""}, {}, "service_name"),
        ({"otlp_protocol": "grpc"}, {}, "otlp_protocol"),
        ({"otlp_endpoint": "collector:4318"}, {}, "otlp_endpoint"),
        ({"otlp_endpoint": "http://[::1"}, {}, "otlp_endpoint"),
        ({"otlp_endpoint": "http://collector:port"}, {}, "otlp_endpoint"),
        ({"otlp_endpoint": "http://:4318"}, {}, "otlp_endpoint"),
        ({"sample_rate": float("nan")}, {}, "sample_rate"),
        ({"sample_rate": "nan"}, {}, "sample_rate"),
        ({"flush_interval": float("inf")}, {}, "flush_interval"),
        ({}, {"NOVEUM_TRACE_SAMPLE_RATE": "nan"}, "NOVEUM_TRACE_SAMPLE_RATE"),
        ({"exporters": [object()]}, {}, "exporters"),
        ({"log_dir": "./x"}, {}, "log_dir"),
        ({}, {"NOVEUM_TRACE_MAX_QUEUE_SIZE": "lots"}, "NOVEUM_TRACE_MAX_QUEUE_SIZE"),
    ],
)
def test_invalid_options_name_the_option(options: dict, env: dict[str, str], named: str) -> None:
    with pytest.raises(ValueError, match=named):
        resolve(options, env=env)


def test_init_raises_before_changing_anything(traces: Traces) -> None:
    traces.init()
    with pytest.raises(ValueError, match="max_events"):
        noveum_trace.init(max_events=-1)
    assert noveum_trace.get_stats()["initialized"] is True  # the previous setup still runs
    with noveum_trace.get_tracer().start_span("still-traced"):
        pass
    assert [s["name"] for s in traces.spans()] == ["still-traced"]


def test_default_directory_follows_the_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("NOVEUM_TRACE_LOG_DIRECTORY", str(tmp_path / "env-traces"))
    noveum_trace.init(service_name="env-dir")
    try:
        with noveum_trace.get_tracer().start_span("s"):
            pass
        noveum_trace.flush()
        assert [s["name"] for s in noveum_trace.read_traces(tmp_path / "env-traces")] == ["s"]
    finally:
        noveum_trace.shutdown()


def test_file_output_can_be_turned_off(tmp_path: Path, traces: Traces) -> None:
    traces.init(file_export=False)
    with noveum_trace.get_tracer().start_span("s"):
        pass
    noveum_trace.flush()
    assert not traces.directory.exists()


@pytest.mark.parametrize(
    "env",
    [
        {"OTEL_EXPORTER_OTLP_PROTOCOL": "grpc"},
        {"OTEL_TRACES_SAMPLER": "jaeger_remote"},
        {"OTEL_BSP_MAX_QUEUE_SIZE": "lots"},
        {"OTEL_EXPORTER_OTLP_COMPRESSION": "zstd"},
        {"OTEL_EXPORTER_OTLP_ENDPOINT": "garbage"},
        {"OTEL_EXPORTER_OTLP_ENDPOINT": "localhost:4318"},
        {"OTEL_EXPORTER_OTLP_ENDPOINT": "http://[::1"},
        {"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "collector:4318/v1/traces"},
        {"OTEL_TRACES_SAMPLER": "traceidratio", "OTEL_TRACES_SAMPLER_ARG": "nan"},
    ],
)
def test_other_sdks_otel_values_are_warned_about_not_fatal(
    env: dict[str, str], caplog: pytest.LogCaptureFixture
) -> None:
    """``OTEL_*`` is shared with every OpenTelemetry SDK in the process or pod."""
    variable = sorted(env)[0]
    guard._warned.discard(f"config:{variable}")
    assert resolve({}, env=env) == Config()
    assert any(variable in record.message for record in caplog.records)


def test_otlp_timeout_variable_is_in_milliseconds_as_the_spec_says() -> None:
    assert resolve({}, env={"OTEL_EXPORTER_OTLP_TIMEOUT": "2500"}).otlp_timeout == 2.5
    assert resolve({"otlp_timeout": 3}, env={}).otlp_timeout == 3.0  # the option: seconds


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("OTEL_EXPORTER_OTLP_ENDPOINT", "garbage"),
        ("OTEL_EXPORTER_OTLP_ENDPOINT", "localhost:4318"),
        ("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "localhost:4318/v1/traces"),
    ],
)
def test_init_ignores_a_bad_otel_endpoint_and_traces_to_files(
    traces: Traces, monkeypatch: pytest.MonkeyPatch, variable: str, value: str
) -> None:
    """The README's promise: an invalid ``OTEL_*`` value is logged and ignored."""
    monkeypatch.setenv(variable, value)
    guard._warned.discard(f"config:{variable}")
    traces.init()
    with noveum_trace.get_tracer().start_span("still-traced"):
        pass
    assert [s["name"] for s in traces.spans()] == ["still-traced"]
    assert "otlp" not in noveum_trace.get_stats()["exporters"]
