"""Structured logs: one JSON object per line, on standard error, from the standard
library's ``logging``.

The standard library rather than structlog: every module here and every library the
services run (uvicorn, the Kafka client's warnings, eventsourcing) already logs through
``logging``, so one formatter makes all of it JSON, with no second logging API to learn
or to keep apart. Each line names its service and, where known, the booking and show
(set for the message being handled: ``about``) and the trace (the current span's, or
the one a record names).

    {"ts": "2026-12-05T02:11:38.123Z", "level": "info", "service": "inventory",
     "logger": "cinema.decisions", "message": "rejected: seats_taken",
     "decision": "rejected", "reason": "seats_taken", "booking_id": "…", "show_id": "…",
     "trace_id": "4bf92f3577b34da6a3ce929d0e0e4736"}
"""

from __future__ import annotations

import contextvars
import json
import logging
import sys
import time
from collections.abc import Callable
from typing import Any

from litestar.logging.config import LoggingConfig

# Set while a message is handled (``bind``); formatted only when a line is written.
BOOKING_ID: contextvars.ContextVar[Any] = contextvars.ContextVar("booking_id", default=None)
SHOW_ID: contextvars.ContextVar[Any] = contextvars.ContextVar("show_id", default=None)

# The current span's trace id, if any: set by shared.observability.tracing when tracing is on.
current_trace_id: Callable[[], str | None] = lambda: None

TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"

# For the litestar apps: litestar's own default replaces the root logger's handlers with
# its text format; this leaves them, and litestar's records go through them.
LITESTAR = LoggingConfig(configure_root_logger=False,
                         loggers={"litestar": {"level": "INFO", "handlers": [], "propagate": True}})


class JsonLines(logging.Formatter):
    def __init__(self, service: str) -> None:
        super().__init__()
        self.service = service

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "ts": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created))
            + f".{int(record.msecs):03d}Z",
            "level": record.levelname.lower(),
            "service": self.service,
            "logger": record.name,
            "message": record.getMessage(),
        }
        fields = getattr(record, "fields", None)
        if fields:
            entry.update(fields)
        if "booking_id" not in entry and (booking := BOOKING_ID.get()) is not None:
            entry["booking_id"] = str(booking)
        if "show_id" not in entry and (show := SHOW_ID.get()) is not None:
            entry["show_id"] = str(show)
        if not entry.get("trace_id") and (trace := current_trace_id()) is not None:
            entry["trace_id"] = trace
        if record.exc_info:
            entry["error"] = self.formatException(record.exc_info)
        return json.dumps(entry, default=str)


def configure(service: str, log_format: str = "json") -> None:
    """The process's logging: JSON lines (or text) on standard error, at INFO."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonLines(service) if log_format == "json"
                         else logging.Formatter(TEXT_FORMAT))
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(logging.INFO)
    logging.getLogger("apscheduler").setLevel(logging.WARNING)


Bound = tuple[contextvars.Token[Any], contextvars.Token[Any]]


def bind(message: Any) -> Bound:
    """Until ``unbind``, the lines logged name the message's booking and show."""
    return (BOOKING_ID.set(getattr(message, "booking_id", None)),
            SHOW_ID.set(getattr(message, "show_id", None)))


def unbind(bound: Bound) -> None:
    BOOKING_ID.reset(bound[0])
    SHOW_ID.reset(bound[1])
