"""Structured logs: every line one JSON object, one access line per request, each with its request id.

The access line carries the route template (not the raw path) and never the query string or any
header: search queries are readers' text and Authorization carries editors' tokens, neither of
which belongs in a log that is shipped and kept elsewhere.
"""

from __future__ import annotations

import contextvars
import datetime as dt
import json
import logging
import re
import uuid
from typing import Any

ACCESS_LOGGER = "recommender.access"
REQUEST_ID_HEADER = "X-Request-ID"
# A caller's id is echoed into our logs and response headers: only short, plain tokens are trusted
# (no spaces, quotes or control characters that could forge log fields or split headers).
_SAFE_REQUEST_ID = re.compile(r"[A-Za-z0-9._:@-]{1,128}")

request_id_var: contextvars.ContextVar[str | None] = contextvars.ContextVar("request_id", default=None)

# Attributes every LogRecord has; anything else on a record came from `extra=` and is a field
# (except uvicorn's `color_message`, the same message with terminal colour codes).
_RECORD_ATTRS = frozenset(logging.makeLogRecord({}).__dict__) | {"message", "asctime", "taskName", "color_message"}


def request_id_from(header: str | None) -> str:
    """The caller's X-Request-ID when it is sane, else a new random one."""
    if header is not None and _SAFE_REQUEST_ID.fullmatch(header):
        return header
    return uuid.uuid4().hex


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message, the request id in scope, extra fields."""

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "ts": dt.datetime.fromtimestamp(record.created, dt.UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        request_id = getattr(record, "request_id", None) or request_id_var.get()
        if request_id:
            line["request_id"] = request_id
        for key, value in record.__dict__.items():
            if key not in _RECORD_ATTRS and key not in line:
                line[key] = value
        if record.exc_info:
            line["exception"] = self.formatException(record.exc_info)
        return json.dumps(line, default=str, ensure_ascii=False)


def logging_config(level: str) -> dict[str, Any]:
    """A logging.config.dictConfig for `serve`: JSON lines on stderr for our loggers and uvicorn's.

    Given to uvicorn as its log_config, so worker processes (--workers) configure themselves too.
    uvicorn's own access log stays off: it would log the raw query string.
    """
    handler = {"class": "logging.StreamHandler", "formatter": "json", "stream": "ext://sys.stderr"}
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {"json": {"()": f"{__name__}.JsonFormatter"}},
        "handlers": {"stderr": handler},
        "root": {"handlers": ["stderr"], "level": level},
        "loggers": {
            "uvicorn": {"handlers": [], "level": level, "propagate": True},
            "uvicorn.error": {"handlers": [], "level": level, "propagate": True},
            "uvicorn.access": {"handlers": [], "level": "WARNING", "propagate": False},
        },
    }
