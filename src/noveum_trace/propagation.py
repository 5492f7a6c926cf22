"""W3C trace context across your own hops: HTTP calls, queues, subprocesses.

Thin wrappers over ``opentelemetry.propagate``, so whatever propagators the application
configured (``OTEL_PROPAGATORS``; W3C ``traceparent``/``tracestate`` plus baggage by default)
apply to our spans and to any other OpenTelemetry span alike::

    from noveum_trace import propagation

    # sending side: put the current span's context into outgoing headers
    headers = propagation.inject({"Content-Type": "application/json"})

    # receiving side: spans started inside continue the caller's trace
    with propagation.continue_trace(request.headers):
        with tracer.start_as_current_span("handle"):
            ...

For a child process, ``inject_env(env)`` sets ``TRACEPARENT``/``TRACESTATE`` (the
OpenTelemetry convention for environment carriers) and the child calls
``continue_trace(os.environ)``. Lookups in a carrier ignore the case of the key, so HTTP
header mappings and environment variables both work.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Mapping, MutableMapping
from typing import Any, TypeVar, overload

from opentelemetry import context as otel_context
from opentelemetry import propagate
from opentelemetry.context import Context
from opentelemetry.propagators.textmap import Getter

__all__ = ["continue_trace", "extract", "inject", "inject_env"]


class _CaseInsensitiveGetter(Getter[Mapping[str, Any]]):
    def get(self, carrier: Mapping[str, Any], key: str) -> list[str] | None:
        value = carrier.get(key)
        if value is None:
            value = carrier.get(key.upper())
        if value is None:
            lowered = key.lower()
            value = next((v for k, v in carrier.items() if k.lower() == lowered), None)
        if value is None:
            return None
        if isinstance(value, (list, tuple)):
            return [str(item) for item in value]
        return [str(value)]

    def keys(self, carrier: Mapping[str, Any]) -> list[str]:
        return list(carrier.keys())


_GETTER = _CaseInsensitiveGetter()
_Carrier = TypeVar("_Carrier", bound=MutableMapping[str, str])


@overload
def inject(carrier: None = None, context: Context | None = None) -> dict[str, str]: ...
@overload
def inject(carrier: _Carrier, context: Context | None = None) -> _Carrier: ...
def inject(
    carrier: MutableMapping[str, str] | None = None, context: Context | None = None
) -> MutableMapping[str, str]:
    """Write the current (or ``context``'s) span context into ``carrier``; returns it.

    With no active span nothing is written. A new dict is used when ``carrier`` is None.
    """
    carrier = {} if carrier is None else carrier
    propagate.inject(carrier, context=context)
    return carrier


@overload
def inject_env(env: None = None, context: Context | None = None) -> dict[str, str]: ...
@overload
def inject_env(env: _Carrier, context: Context | None = None) -> _Carrier: ...
def inject_env(
    env: MutableMapping[str, str] | None = None, context: Context | None = None
) -> MutableMapping[str, str]:
    """Like ``inject`` with upper-case keys (``TRACEPARENT``), for a child's environment."""
    env = {} if env is None else env
    for key, value in inject(None, context).items():
        env[key.upper()] = value
    return env


def extract(carrier: Mapping[str, Any], context: Context | None = None) -> Context:
    """The context carried by ``carrier`` (headers, environment, message metadata).

    Without a valid ``traceparent`` the result carries no remote span, and spans started in
    it begin a new trace.
    """
    return propagate.extract(carrier, context=context, getter=_GETTER)


@contextlib.contextmanager
def continue_trace(carrier: Mapping[str, Any]) -> Iterator[Context]:
    """Make the carried context current: spans started inside join the remote trace."""
    token = otel_context.attach(extract(carrier))
    try:
        yield otel_context.get_current()
    finally:
        otel_context.detach(token)
