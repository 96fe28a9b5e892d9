"""How `roomcast serve` shows the handlers' records: readable lines on stderr, not JSON."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from entrypoints import metrics
from entrypoints.log_format import ReadableFormatter

metrics_log = logging.getLogger("roomcast.metrics")


def configure() -> None:
    """Readable records from roomcast's loggers at INFO, everything else at WARNING."""
    root = logging.getLogger()
    if not root.handlers:
        root.addHandler(logging.StreamHandler())
    for handler in root.handlers:
        handler.setFormatter(ReadableFormatter())
    logging.getLogger("roomcast").setLevel(logging.INFO)
    metrics.use_sink(log_metrics)


def log_metrics(document: Mapping[str, Any]) -> None:
    """An EMF document as one line: `metrics function=message FramesDelivered=3 ...`."""
    shown = {k: v for k, v in document.items() if k != "_aws"}
    metrics_log.info("metrics", extra=shown)
