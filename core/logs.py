"""Log lines that carry the ids a reader follows: session, step, turn, run, request and trace.

The ids live in one context variable. Whatever binds them — the ASGI middleware for a request or a
socket, Celery's task signals for a task, `log_context` around a piece of work — every line logged
inside carries them, in this process and in the threads and tasks it starts with the context copied
(asgiref's sync_to_async, asyncio tasks). `LOG_FORMAT=json` prints one JSON object per line
(python-json-logger); the default text format appends the ids as `key=value`.
"""

from __future__ import annotations

import contextvars
import logging
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from types import MappingProxyType
from typing import Any

from pythonjsonlogger.json import JsonFormatter as _JsonFormatter

IDS = ("session_id", "step_id", "turn_id", "run_id", "request_id", "trace_id")

_EMPTY: Mapping[str, str] = MappingProxyType({})
_context: contextvars.ContextVar[Mapping[str, str]] = contextvars.ContextVar("cognisim_log_context", default=_EMPTY)

# Attributes every LogRecord has; whatever else a record carries came from `extra=` or the filter.
_RECORD_FIELDS = frozenset(logging.makeLogRecord({}).__dict__) | {"message", "asctime", "taskName"}


def log_ids() -> dict[str, str]:
    """The ids bound in this context."""
    return dict(_context.get())


def log_bind(**ids: Any) -> contextvars.Token[Mapping[str, str]]:
    """Bind ids (None values are ignored) until `log_reset(token)`; later bindings win."""
    merged = {**_context.get(), **{k: str(v) for k, v in ids.items() if v is not None and v != ""}}
    return _context.set(MappingProxyType(merged))


def log_reset(token: contextvars.Token[Mapping[str, str]]) -> None:
    _context.reset(token)


@contextmanager
def log_context(**ids: Any) -> Iterator[None]:
    """`with log_context(step_id=step.pk): …` — every line logged inside carries the id."""
    token = log_bind(**ids)
    try:
        yield
    finally:
        _context.reset(token)


class ContextFilter(logging.Filter):
    """Puts the bound ids on each record (an id given with `extra=` wins)."""

    def filter(self, record: logging.LogRecord) -> bool:
        for key, value in _context.get().items():
            if not hasattr(record, key):
                setattr(record, key, value)
        return True


def record_extras(record: logging.LogRecord) -> dict[str, Any]:
    return {k: v for k, v in record.__dict__.items() if k not in _RECORD_FIELDS and not k.startswith("_")}


class TextFormatter(logging.Formatter):
    """`2026-01-01 12:00:00,000 INFO logger message session_id=… step_id=…` (ids first, then other extras)."""

    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)s %(name)s %(message)s")

    def format(self, record: logging.LogRecord) -> str:
        line = super().format(record)
        extras = record_extras(record)
        ordered = [k for k in IDS if k in extras] + sorted(k for k in extras if k not in IDS)
        if not ordered:
            return line
        tail = " ".join(f"{k}={extras[k]}" for k in ordered)
        first, newline, rest = line.partition("\n")  # a traceback stays below the line it belongs to
        return f"{first} {tail}{newline}{rest}"


class JsonFormatter(_JsonFormatter):
    """One JSON object per line: ts, level, logger, message, the ids and any `extra=` fields."""

    def __init__(self) -> None:
        super().__init__(
            "%(levelname)s %(name)s %(message)s",
            rename_fields={"levelname": "level", "name": "logger"},
            timestamp="ts",  # ISO 8601, UTC
            json_default=str,
        )


def logging_config(*, fmt: str, level: str) -> dict[str, Any]:
    """The LOGGING dict of every CogniSim process: one handler on stderr, text or JSON."""
    if fmt not in ("text", "json"):
        raise ValueError(f"LOG_FORMAT must be 'text' or 'json', got {fmt!r}")
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "filters": {"ids": {"()": "core.logs.ContextFilter"}},
        "formatters": {"text": {"()": "core.logs.TextFormatter"}, "json": {"()": "core.logs.JsonFormatter"}},
        "handlers": {
            "console": {"class": "logging.StreamHandler", "formatter": fmt, "filters": ["ids"]},
        },
        "root": {"handlers": ["console"], "level": level},
        "loggers": {
            "django.channels.server": {"level": "WARNING"},
        },
    }
