"""How `roomcast serve` shows logs, and Lambda's JSON log shape for anywhere off Lambda."""

from __future__ import annotations

import json
import logging
import re
import time
from collections.abc import Mapping
from typing import Any

from roomcast.entrypoints.aws_lambda.telemetry import metrics

metrics_log = logging.getLogger("roomcast.metrics")
LEVELS = ("debug", "info", "warning", "error")

# LogRecord's own attributes; anything else on a record came from `extra`.
_RECORD_ATTRIBUTES = frozenset(vars(logging.makeLogRecord({}))) | {
    "message", "asctime", "aws_request_id", "taskName",
}


def extra_fields(record: logging.LogRecord) -> dict[str, Any]:
    return {k: v for k, v in vars(record).items() if k not in _RECORD_ATTRIBUTES}


class JsonFormatter(logging.Formatter):
    """One JSON object per record, shaped as the Lambda runtime's JSON log format.

    On Lambda the runtime formats records itself (LoggingConfig LogFormat JSON): the
    timestamp, level, message, logger and requestId, plus every `extra` field at the top
    level. This writes the same shape wherever else the handlers run."""

    def __init__(self) -> None:
        super().__init__()
        self.converter = time.gmtime

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "timestamp": self.formatTime(record, "%Y-%m-%dT%H:%M:%SZ"),
            "level": record.levelname,
            "message": record.getMessage(),
            "logger": record.name,
            "requestId": getattr(record, "aws_request_id", None),
        }
        if record.exc_info:
            line["errorType"] = record.exc_info[0].__name__ if record.exc_info[0] else None
            line["errorMessage"] = str(record.exc_info[1])
            line["stackTrace"] = self.formatException(record.exc_info).splitlines()
        line.update((k, v) for k, v in extra_fields(record).items() if k not in line)
        return json.dumps({k: v for k, v in line.items() if v is not None}, default=str)


class ReadableFormatter(logging.Formatter):
    """`12:00:01.250 INFO  roomcast.invocation: invocation function=message status=200 ...`"""

    def __init__(self) -> None:
        super().__init__(
            "%(asctime)s.%(msecs)03d %(levelname)-5s %(name)s: %(message)s", "%H:%M:%S"
        )

    def format(self, record: logging.LogRecord) -> str:
        line = super().format(record)
        fields = extra_fields(record)
        if fields:
            line += " " + " ".join(f"{k}={_short(v)}" for k, v in fields.items())
        return line


def _short(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.2f}"
    if isinstance(value, Mapping | list):
        return json.dumps(value, separators=(",", ":"), default=str)
    return str(value)


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
    """Readable, redacted records: roomcast's loggers at `level`, everything else at WARNING.

    The gateway prints its own line per connect, invocation and disconnect (`access_log`), so
    at INFO the handlers' routine `invocation` records and the EMF metrics documents show only
    with `--log-level debug`; a handler's warnings and errors always show. What Lambda prints
    is not changed: this runs under `serve` only."""
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
