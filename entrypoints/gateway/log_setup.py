"""How `roomcast serve` shows logs: one readable line per record, no token, nothing doubled.

The gateway prints its own line per connect, invocation and disconnect (`access_log`), so
at INFO the handlers' routine `invocation` records and the EMF metrics documents show only
with `--log-level debug`; a handler's warnings and errors always show. What Lambda prints
is not changed: this runs under `serve` only.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping
from typing import Any

from roomcast.entrypoints.aws_lambda.telemetry import metrics
from roomcast.entrypoints.gateway.log_format import ReadableFormatter

metrics_log = logging.getLogger("roomcast.metrics")
LEVELS = ("debug", "info", "warning", "error")
# A query string, wherever a URL shows up in a message (aiohttp's errors quote the request
# line): `?userId=a&token=eyJ...` becomes `?[redacted]`. Tokens travel in query strings.
QUERY_STRING = re.compile(r"\?[^\s\"'<>]*")
SECRET_PARAMETER = re.compile(r"((?:token|access_token|authorization)=)[^\s&\"'<>]*", re.I)


def redact(text: str) -> str:
    return SECRET_PARAMETER.sub(r"\1[redacted]", QUERY_STRING.sub("?[redacted]", text))


class RedactQueryStrings(logging.Filter):
    """Rewrites a record's message and traceback without query strings, before any handler
    formats it; attached to every root handler, so it covers aiohttp's and botocore's records."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        if record.exc_info:
            message += _exception_text(record.exc_info)
            record.exc_info, record.exc_text = None, None
        record.msg, record.args = redact(message), ()
        return True


def _exception_text(exc_info: Any) -> str:
    """A traceback, except for a client's malformed request: aiohttp's reason in one line."""
    from aiohttp.http_exceptions import HttpProcessingError

    error = exc_info[1]
    if isinstance(error, HttpProcessingError):
        return f": {' '.join(str(error).split())}"
    return "\n" + logging.Formatter().formatException(exc_info)


class HideRoutineRecords(logging.Filter):
    """Drops the handlers' per-invocation INFO record: the gateway's access line says it."""

    def filter(self, record: logging.LogRecord) -> bool:
        routine = record.name == "roomcast.invocation" and record.levelno == logging.INFO
        return not routine


def configure(level: str = "info") -> None:
    """Readable, redacted records: roomcast's loggers at `level`, everything else at WARNING."""
    root = logging.getLogger()
    if not root.handlers:
        root.addHandler(logging.StreamHandler())
    numeric = logging.getLevelName(level.upper())
    for handler in root.handlers:
        handler.setFormatter(ReadableFormatter())
        handler.addFilter(RedactQueryStrings())
        if numeric > logging.DEBUG:
            handler.addFilter(HideRoutineRecords())
    logging.getLogger("roomcast").setLevel(numeric)
    metrics.use_sink(log_metrics)


def log_metrics(document: Mapping[str, Any]) -> None:
    """An EMF document as one DEBUG line: `metrics function=message FramesDelivered=3 ...`."""
    shown = {k: v for k, v in document.items() if k != "_aws"}
    metrics_log.debug("metrics", extra=shown)
