"""The boundary between the SDK and the user's program.

Anything that goes wrong inside the SDK is counted and logged once per place, never raised
into the user's code.
"""

from __future__ import annotations

import logging

from noveum_trace._diagnostics.stats import STATS

logger = logging.getLogger("noveum_trace")

_warned: set[str] = set()


def internal_error(where: str, exc: BaseException) -> None:
    """Count an SDK-internal failure at ``where`` and log it the first time only."""
    try:
        STATS.incr("internal_errors")
        if where not in _warned:
            _warned.add(where)
            logger.warning(
                "noveum_trace: internal error in %s (%s: %s); tracing continues, "
                "the application is unaffected. Further errors here are only counted.",
                where,
                type(exc).__name__,
                exc,
            )
    except Exception:  # logging itself failed: nothing more we can safely do
        pass


def warn_once(key: str, message: str, *args: object) -> None:
    """Log a warning the first time ``key`` is seen."""
    if key not in _warned:
        _warned.add(key)
        logger.warning(message, *args)
