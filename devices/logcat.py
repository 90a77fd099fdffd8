"""Device log lines in `logcat -v threadtime` form: `MM-DD HH:MM:SS.mmm  PID  TID L TAG: message`.

Both drivers hand out such lines (the simulated phone writes them, a real phone's `logcat` prints
them); this module parses them for filtering and for the capture bundle.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass
from typing import Any

LEVELS = "VDIWEFA"
LEVEL_NAMES = {"V": "verbose", "D": "debug", "I": "info", "W": "warn", "E": "error", "F": "fatal", "A": "assert"}
_LINE = re.compile(r"^(\d\d-\d\d \d\d:\d\d:\d\d\.\d{3})\s+(\d+)\s+(\d+) ([VDIWEFA]) (.*?)\s*: (.*)$")
MAX_LINE = 4096


@dataclass(frozen=True)
class LogLine:
    ts: str
    pid: int
    tid: int
    level: str
    tag: str
    message: str

    def as_dict(self) -> dict[str, Any]:
        return {
            "ts": self.ts,
            "pid": self.pid,
            "tid": self.tid,
            "level": self.level,
            "tag": self.tag,
            "message": self.message,
        }


def parse(line: str) -> LogLine | None:
    """A threadtime line; None for anything else (`--------- beginning of main`, a blank line)."""
    found = _LINE.match(line.rstrip("\r\n")[:MAX_LINE])
    if found is None:
        return None
    ts, pid, tid, level, tag, message = found.groups()
    return LogLine(ts=ts, pid=int(pid), tid=int(tid), level=level, tag=tag, message=message)


def threadtime(
    level: str, tag: str, message: str, *, pid: int, tid: int | None = None, when: float | None = None
) -> str:
    """One line as `logcat -v threadtime` prints it."""
    at = time.time() if when is None else when
    stamp = time.strftime("%m-%d %H:%M:%S", time.gmtime(at)) + f".{int(at * 1000) % 1000:03d}"
    return f"{stamp} {pid:5d} {tid if tid is not None else pid:5d} {level} {tag}: {message}"


def level_at_least(level: str, floor: str) -> bool:
    """`E` is at least `W`; an unknown level passes."""
    return LEVELS.find(level) >= LEVELS.find(floor)
