"""What the service's log must not say, and must not say 300,000 times.

`Throttle`: a flood of one error (1,050 slow connections under a 1,024 file limit wrote
306,000 "Too many open files" tracebacks, 142 MB in 30 s) is logged once per interval,
the next line saying how many were left out. `RedactQuery`: the access log carries
request paths with their query; a `caller=` or `number=` filter is a phone number, and
a `token=` someone put in a URL by mistake is a credential: their values are replaced.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable
from urllib.parse import unquote_plus

#: loggers whose repeated lines are throttled: asyncio's (accept() out of file
#: descriptors), uvicorn's (invalid requests, the concurrency limit, a failed app), the
#: HTTP server's (the connection cap), the API's unhandled errors (one per request)
THROTTLED = ("asyncio", "uvicorn.error", "api.http_server", "api.errors")
#: query parameters whose values never reach the access log
SENSITIVE_QUERY_KEYS = frozenset({"caller", "callee", "number", "phone", "token", "access_token"})
REDACTED = "***"


class Throttle(logging.Filter):
    """At most one record per `interval_s` for each kind (logger, level, first line of
    the message, exception type and errno); the next one let through says how many of
    its kind were dropped since."""

    def __init__(
        self, interval_s: float = 10.0, clock: Callable[[], float] = time.monotonic
    ) -> None:
        super().__init__()
        self.interval_s = interval_s
        self._clock = clock
        #: kind -> (when one was last let through, how many dropped since)
        self._kinds: dict[tuple[object, ...], tuple[float, int]] = {}

    def filter(self, record: logging.LogRecord) -> bool:
        kind = _kind(record)
        now = self._clock()
        last = self._kinds.get(kind)
        if last is not None and now - last[0] < self.interval_s:
            self._kinds[kind] = (last[0], last[1] + 1)
            return False
        if len(self._kinds) > 1000:  # kinds are few; varying messages must not grow this
            self._kinds.clear()
        self._kinds[kind] = (now, 0)
        if last is not None and last[1]:
            record.msg = (
                f"{record.getMessage()} [{last[1]} more like this in the last "
                f"{now - last[0]:.0f} s not logged]"
            )
            record.args = None
        return True


def _kind(record: logging.LogRecord) -> tuple[object, ...]:
    error = record.exc_info[1] if record.exc_info else None
    first_line = str(record.msg).split("\n", 1)[0][:200]
    return (
        record.name,
        record.levelno,
        first_line,
        type(error).__name__ if error else None,
        getattr(error, "errno", None),
    )


def redact_query(target: str) -> str:
    """`/api/v1/calls?caller=139...&limit=5` -> `/api/v1/calls?caller=***&limit=5`."""
    path, mark, query = target.partition("?")
    if not mark:
        return target
    parts = []
    for part in query.split("&"):
        key, equals, _ = part.partition("=")
        if equals and unquote_plus(key).strip().lower() in SENSITIVE_QUERY_KEYS:
            part = f"{key}={REDACTED}"
        parts.append(part)
    return f"{path}?{'&'.join(parts)}"


class RedactQuery(logging.Filter):
    """For uvicorn's access log, whose arguments are (client, method, path with query,
    HTTP version, status)."""

    def filter(self, record: logging.LogRecord) -> bool:
        args = record.args
        if isinstance(args, tuple) and len(args) >= 3 and isinstance(args[2], str):
            record.args = (*args[:2], redact_query(args[2]), *args[3:])
        return True


def install(throttled: Iterable[str] = THROTTLED, interval_s: float = 10.0) -> None:
    """Once the loggers are configured (uvicorn configures its own when its Config is
    made); a second call adds nothing."""
    for name in throttled:
        logger = logging.getLogger(name)
        if not any(isinstance(f, Throttle) for f in logger.filters):
            logger.addFilter(Throttle(interval_s))
    access = logging.getLogger("uvicorn.access")
    if not any(isinstance(f, RedactQuery) for f in access.filters):
        access.addFilter(RedactQuery())
