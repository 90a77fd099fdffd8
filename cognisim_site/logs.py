"""JSON log lines, with the ids a reader needs to follow one session, turn or trace."""

from __future__ import annotations

import json
import logging
from typing import Any

FIELDS = ("event", "session_id", "turn_id", "trace_id", "step_id")


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "ts": self.formatTime(record),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        skip = set(logging.makeLogRecord({}).__dict__) | {"message", "asctime"}
        line.update({k: v for k, v in record.__dict__.items() if k not in skip})
        if record.exc_info:
            line["exc"] = self.formatException(record.exc_info)
        return json.dumps(line, default=str)
