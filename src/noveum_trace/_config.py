"""One ``Config`` from ``init()`` arguments, then the environment, then defaults.

Every option is declared once in ``_OPTIONS`` with its environment variables and parser, so
the README table, the validation and the precedence rule cannot drift apart.
"""

from __future__ import annotations

import math
import os
import urllib.parse
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from opentelemetry.trace import TracerProvider

from noveum_trace import semconv
from noveum_trace._diagnostics.guard import warn_once
from noveum_trace.pricing import PriceOverrides
from noveum_trace.privacy import RedactSpec

DEFAULT_LOG_DIRECTORY = "./traces"


class ExporterShape(Protocol):
    """An exporter, as this module can see one: ``exporters=`` takes
    ``noveum_trace.export.base.Exporter`` objects, whose ``batch`` is an ``EncodedBatch``.
    (Configuration sits below the export layer, so it checks their shape only.)"""

    name: str

    def export(self, batch: Any) -> None: ...

    def flush(self, timeout: float) -> bool: ...

    def shutdown(self, timeout: float) -> int | None: ...


@dataclass(frozen=True)
class Config:
    service_name: str = "unknown_service"
    service_version: str | None = None
    resource_attributes: Mapping[str, Any] = field(default_factory=dict)
    log_directory: str = DEFAULT_LOG_DIRECTORY
    file_export: bool = True
    console: bool = False
    capture_content: bool = True
    redact: RedactSpec = None
    max_content_length: int = 65536
    max_attribute_length: int = 16384
    max_attributes: int = 128
    max_events: int = 1024
    sample_rate: float = 1.0
    max_queue_size: int = 16384
    max_export_batch_size: int = 512
    flush_interval: float = 1.0
    max_file_bytes: int = 100 * 1024 * 1024
    stream_chunk_events: bool = False
    openai_include_usage: bool = False
    semconv_latest: bool = False
    prices: PriceOverrides | None = None
    register_global: bool = True
    tracer_provider: TracerProvider | None = None
    exporters: tuple[ExporterShape, ...] = ()
    otlp_endpoint: str | None = None
    otlp_headers: Mapping[str, str] = field(default_factory=dict)
    otlp_protocol: str = "http/protobuf"
    otlp_timeout: float = 10.0
    otlp_compression: str = "none"


# ---- parsers: each takes the raw value and the option name, returns the typed value ----

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off", ""}


def _bool(value: Any, name: str) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in _TRUE | _FALSE:
        return value.strip().lower() in _TRUE
    raise ValueError(f"noveum_trace: option {name!r} must be a boolean, got {value!r}")


def _number(kind: type, low: float, high: float | None = None) -> Callable[[Any, str], Any]:
    def parse(value: Any, name: str) -> Any:
        try:
            if isinstance(value, bool):
                raise TypeError
            number = kind(value.strip() if isinstance(value, str) else value)
        except (TypeError, ValueError):
            raise ValueError(
                f"noveum_trace: option {name!r} must be a {kind.__name__}, got {value!r}"
            ) from None
        if not math.isfinite(number):  # nan passes every comparison below
            raise ValueError(
                f"noveum_trace: option {name!r} must be a finite number, got {value!r}"
            )
        if number < low or (high is not None and number > high):
            bound = f"between {low} and {high}" if high is not None else f">= {low}"
            raise ValueError(f"noveum_trace: option {name!r} must be {bound}, got {value!r}")
        return number

    return parse


def _str(value: Any, name: str) -> str:
    if isinstance(value, os.PathLike):
        value = os.fspath(value)
    if not isinstance(value, str) or not value.strip():
        raise ValueError(f"noveum_trace: option {name!r} must be a non-empty string, got {value!r}")
    return value.strip()


def _optional_str(value: Any, name: str) -> str | None:
    return None if value is None else _str(value, name)


def _url(value: Any, name: str) -> str:
    """An http(s) URL with a host (and a numeric port, if any)."""
    text = _str(value, name)
    try:
        parsed = urllib.parse.urlsplit(text)
        parsed.port  # noqa: B018 -- parses the port: raises ValueError when it is not a number
    except ValueError as exc:
        raise ValueError(
            f"noveum_trace: option {name!r} is not a valid URL ({exc}): {text!r}"
        ) from None
    if parsed.scheme not in ("http", "https") or not parsed.hostname:
        raise ValueError(f"noveum_trace: option {name!r} must be an http(s) URL, got {text!r}")
    return text


def _choice(*allowed: str) -> Callable[[Any, str], str]:
    def parse(value: Any, name: str) -> str:
        text = str(value).strip().lower()
        if text not in allowed:
            raise ValueError(
                f"noveum_trace: option {name!r} must be one of {', '.join(allowed)}; got {value!r}"
            )
        return text

    return parse


def _key_values(value: Any, name: str) -> dict[str, str]:
    """``k=v,k2=v2`` (W3C baggage style, percent-decoded) or a mapping."""
    if isinstance(value, Mapping):
        return {str(k): str(v) for k, v in value.items()}
    if not isinstance(value, str):
        raise ValueError(f"noveum_trace: option {name!r} must be a mapping or 'k=v,...' string")
    out: dict[str, str] = {}
    for item in value.split(","):
        if not item.strip():
            continue
        key, sep, val = item.partition("=")
        if not sep or not key.strip():
            raise ValueError(f"noveum_trace: option {name!r} has a malformed entry {item!r}")
        out[urllib.parse.unquote(key.strip())] = urllib.parse.unquote(val.strip())
    return out


def _resource(value: Any, name: str) -> dict[str, Any]:
    if isinstance(value, Mapping):
        return dict(value)
    return _key_values(value, name)


def _any(value: Any, name: str) -> Any:
    return value


def _exporters(value: Any, name: str) -> tuple[ExporterShape, ...]:
    items = tuple(value) if isinstance(value, (list, tuple)) else (value,)
    for item in items:
        if not all(
            callable(getattr(item, method, None)) for method in ("export", "flush", "shutdown")
        ):
            raise ValueError(
                f"noveum_trace: option {name!r} takes exporters with export/flush/shutdown "
                f"methods; got {item!r}"
            )
    return items


def _redact(value: Any, name: str) -> Any:
    if isinstance(value, str):  # from the environment: comma-separated built-in names
        names = [part.strip() for part in value.split(",") if part.strip()]
        return names or None
    return value


# option name -> (environment variables, first found wins; parser)
_OPTIONS: dict[str, tuple[tuple[str, ...], Callable[[Any, str], Any]]] = {
    "service_name": (("NOVEUM_TRACE_SERVICE_NAME", "OTEL_SERVICE_NAME"), _str),
    "service_version": (("NOVEUM_TRACE_SERVICE_VERSION",), _optional_str),
    "resource_attributes": (("OTEL_RESOURCE_ATTRIBUTES",), _resource),
    "log_directory": (("NOVEUM_TRACE_LOG_DIRECTORY",), _str),
    "file_export": (("NOVEUM_TRACE_FILE_EXPORT",), _bool),
    "console": (("NOVEUM_TRACE_CONSOLE",), _bool),
    "capture_content": (
        ("NOVEUM_TRACE_CAPTURE_CONTENT", "OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT"),
        _bool,
    ),
    "redact": (("NOVEUM_TRACE_REDACT",), _redact),
    "max_content_length": (("NOVEUM_TRACE_MAX_CONTENT_LENGTH",), _number(int, 16)),
    "max_attribute_length": (
        ("NOVEUM_TRACE_MAX_ATTRIBUTE_LENGTH", "OTEL_ATTRIBUTE_VALUE_LENGTH_LIMIT"),
        _number(int, 16),
    ),
    "max_attributes": (("OTEL_SPAN_ATTRIBUTE_COUNT_LIMIT",), _number(int, 1)),
    "max_events": (("OTEL_SPAN_EVENT_COUNT_LIMIT",), _number(int, 0)),
    "sample_rate": (("NOVEUM_TRACE_SAMPLE_RATE",), _number(float, 0.0, 1.0)),
    "max_queue_size": (("NOVEUM_TRACE_MAX_QUEUE_SIZE", "OTEL_BSP_MAX_QUEUE_SIZE"), _number(int, 1)),
    "max_export_batch_size": (
        ("NOVEUM_TRACE_MAX_EXPORT_BATCH_SIZE", "OTEL_BSP_MAX_EXPORT_BATCH_SIZE"),
        _number(int, 1),
    ),
    "flush_interval": (("NOVEUM_TRACE_FLUSH_INTERVAL",), _number(float, 0.001)),
    "max_file_bytes": (("NOVEUM_TRACE_MAX_FILE_BYTES",), _number(int, 1024)),
    "stream_chunk_events": (("NOVEUM_TRACE_STREAM_CHUNK_EVENTS",), _bool),
    "openai_include_usage": (("NOVEUM_TRACE_OPENAI_INCLUDE_USAGE",), _bool),
    "semconv_latest": ((), _bool),
    "prices": (("NOVEUM_TRACE_PRICES",), _any),
    "register_global": (("NOVEUM_TRACE_REGISTER_GLOBAL",), _bool),
    "tracer_provider": ((), _any),
    "exporters": ((), _exporters),
    "otlp_endpoint": (("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "OTEL_EXPORTER_OTLP_ENDPOINT"), _url),
    "otlp_headers": (
        ("OTEL_EXPORTER_OTLP_TRACES_HEADERS", "OTEL_EXPORTER_OTLP_HEADERS"),
        _key_values,
    ),
    "otlp_protocol": (
        ("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL", "OTEL_EXPORTER_OTLP_PROTOCOL"),
        _choice("http/protobuf", "http/json"),
    ),
    "otlp_timeout": (
        ("OTEL_EXPORTER_OTLP_TRACES_TIMEOUT", "OTEL_EXPORTER_OTLP_TIMEOUT"),
        _number(float, 0.001),
    ),
    "otlp_compression": (
        ("OTEL_EXPORTER_OTLP_TRACES_COMPRESSION", "OTEL_EXPORTER_OTLP_COMPRESSION"),
        _choice("gzip", "none"),
    ),
}

OPTION_NAMES = frozenset(_OPTIONS)


def _sampler_from_env(env: Mapping[str, str]) -> float | None:
    """``OTEL_TRACES_SAMPLER[_ARG]`` mapped onto our one knob, a parent-based ratio."""
    sampler = env.get("OTEL_TRACES_SAMPLER", "").strip().lower()
    if not sampler:
        return None
    if sampler in ("always_on", "parentbased_always_on"):
        return 1.0
    if sampler in ("always_off", "parentbased_always_off"):
        return 0.0
    if sampler in ("traceidratio", "parentbased_traceidratio"):
        arg = env.get("OTEL_TRACES_SAMPLER_ARG", "1.0")
        return float(_number(float, 0.0, 1.0)(arg, "OTEL_TRACES_SAMPLER_ARG"))
    raise ValueError(
        f"noveum_trace: OTEL_TRACES_SAMPLER={sampler!r} is not supported; use always_on, "
        "always_off, traceidratio or their parentbased_ forms"
    )


def _otlp_endpoint(url: str, from_signal_env: bool) -> str:
    """A base endpoint gets ``/v1/traces`` appended; a per-signal one is used as given.

    ``url`` has passed ``_url``: a bad ``OTEL_*`` endpoint was warned about and ignored there,
    like any other shared variable, and a bad argument raised naming the option."""
    if from_signal_env or urllib.parse.urlsplit(url).path.rstrip("/").endswith("/v1/traces"):
        return url
    return url.rstrip("/") + "/v1/traces"


# The OTLP spec gives these in milliseconds; our ``otlp_timeout`` option is in seconds.
_MILLISECOND_VARIABLES = frozenset(
    {"OTEL_EXPORTER_OTLP_TRACES_TIMEOUT", "OTEL_EXPORTER_OTLP_TIMEOUT"}
)


def _shared_variable_problem(variable: str, exc: ValueError) -> None:
    """A bad ``NOVEUM_TRACE_*`` value is ours to reject. A bad ``OTEL_*`` value may be meant
    for another OpenTelemetry SDK in the same process or pod (``grpc``, ``jaeger_remote``):
    warn once and use our default, as the OpenTelemetry SDKs themselves do."""
    if not variable.startswith("OTEL_"):
        raise exc
    warn_once(
        f"config:{variable}",
        "noveum_trace: ignoring $%s (%s); using the default instead.",
        variable,
        str(exc).removeprefix("noveum_trace: "),
    )


def resolve(options: Mapping[str, Any], env: Mapping[str, str] | None = None) -> Config:
    """Build a Config: arguments beat environment beats defaults. Raises ValueError."""
    env = os.environ if env is None else env
    unknown = set(options) - OPTION_NAMES
    if unknown:
        raise ValueError(
            f"noveum_trace: unknown option(s) {', '.join(sorted(map(repr, unknown)))}; "
            f"valid options are: {', '.join(sorted(OPTION_NAMES))}"
        )
    values: dict[str, Any] = {}
    endpoint_from_signal_env = False
    for name, (env_names, parse) in _OPTIONS.items():
        if name in options and options[name] is not None:
            values[name] = parse(options[name], name)
            continue
        for env_name in env_names:
            raw = env.get(env_name)
            if raw is None or raw.strip() == "":
                continue
            try:
                values[name] = parse(raw, f"{name} (from ${env_name})")
            except ValueError as exc:
                _shared_variable_problem(env_name, exc)  # raises for our own variables
                break
            if env_name in _MILLISECOND_VARIABLES:
                values[name] /= 1000.0
            if name == "otlp_endpoint":
                endpoint_from_signal_env = env_name == "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"
            break
    if "sample_rate" not in values:
        try:
            ratio = _sampler_from_env(env)
        except ValueError as exc:
            _shared_variable_problem("OTEL_TRACES_SAMPLER", exc)
            ratio = None
        if ratio is not None:
            values["sample_rate"] = ratio
    if "semconv_latest" not in values:
        opt_in = env.get("OTEL_SEMCONV_STABILITY_OPT_IN", "")
        values["semconv_latest"] = "gen_ai_latest_experimental" in opt_in
    if "otlp_endpoint" in values:
        values["otlp_endpoint"] = _otlp_endpoint(values["otlp_endpoint"], endpoint_from_signal_env)
    resource = dict(values.get("resource_attributes", {}))
    if "service_name" not in values and semconv.SERVICE_NAME in resource:
        values["service_name"] = str(resource[semconv.SERVICE_NAME])
    return Config(**values)
