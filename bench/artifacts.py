"""What artifacts cost (issue 15), each figure a median of many, on this machine now:

    python bench/artifacts.py

- a simulated phone's primitive with and without writing its log line (the only artifact work on a step's
  critical path: the phone writes its log as it acts);
- a screen's picture written to the artifact storage (files) against the same bytes as a database blob
  (SQLite, WAL, synchronous=NORMAL, as the settings open it) — both are now written after the step's
  COMPLETED, off its critical path, but the file must not cost more than the blob did;
- a recording's encoding per frame (VP8 through PyAV, one thread).
"""

from __future__ import annotations

import os
import shutil
import sqlite3
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
HOME = tempfile.mkdtemp(prefix="cognisim-bench-artifacts-")
os.environ["COGNISIM_HOME"] = HOME
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "cognisim_site.settings")

import django  # noqa: E402

django.setup()

from core.storage import artifact_save  # noqa: E402
from devices.drivers.sim import SimDriver  # noqa: E402
from sessions.services.recording import video_encode  # noqa: E402


def median_ms(action, n: int) -> float:
    times = []
    for _ in range(n):
        started = time.perf_counter()
        action()
        times.append((time.perf_counter() - started) * 1000)
    return statistics.median(times)


def primitive(quiet: bool) -> float:
    phone = SimDriver("bench-1", tempfile.mkdtemp(dir=HOME))
    if quiet:
        phone._logcat = lambda entries: None  # type: ignore[method-assign]
    for _ in range(50):
        phone.press_key("home")
    return median_ms(lambda: phone.press_key("home"), 2000)


def main() -> None:
    for _ in range(3):
        logged, quiet = primitive(False), primitive(True)
        print(f"sim primitive (press_key): {logged:.3f} ms with its log line, {quiet:.3f} ms without")

    png = SimDriver("bench-2", HOME).screenshot()
    database = sqlite3.connect(Path(HOME) / "blobs.sqlite3", isolation_level=None)
    database.execute("PRAGMA journal_mode=WAL")
    database.execute("PRAGMA synchronous=NORMAL")
    database.execute("CREATE TABLE screen (id INTEGER PRIMARY KEY, png BLOB)")

    def blob() -> None:
        database.execute("BEGIN IMMEDIATE")
        database.execute("INSERT INTO screen (png) VALUES (?)", (png,))
        database.execute("COMMIT")

    count = iter(range(10**9))
    for _ in range(3):
        as_blob = median_ms(blob, 500)
        as_file = median_ms(lambda: artifact_save(name=f"sessions/b/{next(count)}.png", content=png), 500)
        print(f"a screen's picture ({len(png) // 1024} KiB): {as_file:.3f} ms as a file, {as_blob:.3f} ms as a blob")

    frames = [(n * 0.5, png) for n in range(20)]
    started = time.perf_counter()
    video, made = video_encode(frames, end=12.0)
    spent = (time.perf_counter() - started) * 1000
    print(f"recording: {made} frames in {spent:.0f} ms ({spent / made:.1f} ms a frame), {len(video) // 1024} KiB")


if __name__ == "__main__":
    try:
        main()
    finally:
        shutil.rmtree(HOME, ignore_errors=True)
