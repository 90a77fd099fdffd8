"""The simulated phone's log: threadtime lines appended to `<serial>.logcat` beside its state file.

Every process that drives the phone (a worker's driver, the adb-protocol phone, a test) appends to
the same file, as apps on a phone write to one log buffer; readers follow it. The file is cut to
its newer half when it passes MAX_BYTES, as the phone's ring buffer forgets its oldest lines.
"""

from __future__ import annotations

import os
import threading
import time
import zlib
from collections.abc import Iterator
from pathlib import Path

from devices.logcat import threadtime

MAX_BYTES = 2_000_000
POLL_S = 0.05
IDLE_S = 0.25
SYSTEM_PID = 1000


def pid_of(package: str) -> int:
    """A stable process id per package, as if each app had been started once since boot."""
    return 2000 + zlib.crc32(package.encode()) % 28_000


def log_lines(path: Path, entries: list[tuple[str, str, str, int]]) -> None:
    """Append `(level, tag, message, pid)` entries as threadtime lines."""
    if not entries:
        return
    now = time.time()
    text = "".join(threadtime(level, tag, message, pid=pid, when=now) + "\n" for level, tag, message, pid in entries)
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a", encoding="utf-8") as file:
        file.write(text)
        size = file.tell()
    if size > MAX_BYTES:
        _cut(path)


def _cut(path: Path) -> None:
    data = path.read_bytes()
    keep = data[len(data) // 2 :]
    keep = keep[keep.find(b"\n") + 1 :]
    temp = path.with_suffix(f".cut{os.getpid()}")
    temp.write_bytes(keep)
    os.replace(temp, path)


def log_dump(path: Path, *, last: int | None = None) -> list[str]:
    """The lines in the log (the last `last` of them)."""
    try:
        lines = path.read_text(encoding="utf-8", errors="replace").splitlines()
    except FileNotFoundError:
        return []
    return lines[-last:] if last is not None else lines


def log_clear(path: Path) -> None:
    path.unlink(missing_ok=True)


def log_follow(path: Path, stop: threading.Event, *, last: int = 0) -> Iterator[str | None]:
    """The last `last` lines, then every line appended from this call on, as `logcat` without `-d` follows
    the buffer; None whenever nothing came for IDLE_S (so that a reader can do its chores), until `stop`."""
    try:
        with open(path, "rb") as file:
            data, inode = file.read(), os.fstat(file.fileno()).st_ino
    except FileNotFoundError:
        data, inode = b"", None
    first = data.decode("utf-8", errors="replace").splitlines()[-last:] if last else []
    return _follow(path, stop, first, len(data), inode)


def _follow(
    path: Path, stop: threading.Event, first: list[str], position: int, inode: int | None
) -> Iterator[str | None]:
    yield from first
    pending = b""
    quiet_since = time.monotonic()
    while not stop.is_set():
        try:
            with open(path, "rb") as file:
                stat = os.fstat(file.fileno())
                if stat.st_ino != inode or stat.st_size < position:  # cut or cleared: read it again
                    position, inode, pending = 0, stat.st_ino, b""
                file.seek(position)
                chunk = file.read()
        except FileNotFoundError:
            position, inode, chunk = 0, None, b""
        if chunk:
            position += len(chunk)
            pending += chunk
            *complete, pending = pending.split(b"\n")
            for line in complete:
                yield line.decode("utf-8", errors="replace")
            quiet_since = time.monotonic()
            continue
        if time.monotonic() - quiet_since >= IDLE_S:
            quiet_since = time.monotonic()
            yield None
        stop.wait(POLL_S)
