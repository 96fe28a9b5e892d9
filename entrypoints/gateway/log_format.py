"""Log formatters: Lambda's JSON shape off Lambda, and a readable line for a terminal.

On Lambda the runtime formats records itself (LoggingConfig LogFormat JSON): the
timestamp, level, message, logger and requestId, plus every `extra` field at the top
level. `JsonFormatter` writes the same shape wherever else the handlers run.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Mapping
from typing import Any

# LogRecord's own attributes; anything else on a record came from `extra`.
_RECORD_ATTRIBUTES = frozenset(vars(logging.makeLogRecord({}))) | {
    "message", "asctime", "aws_request_id", "taskName",
}


def extra_fields(record: logging.LogRecord) -> dict[str, Any]:
    return {k: v for k, v in vars(record).items() if k not in _RECORD_ATTRIBUTES}


class JsonFormatter(logging.Formatter):
    """One JSON object per record, shaped as the Lambda runtime's JSON log format."""

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
