"""A device's log, kept per session: read on the device's worker, stored in chunks, streamed live.

The device's worker runs one `DeviceLogReader` thread (started when the worker is ready, beside the screen
caster). It follows the device's log (`driver.logcat`: the simulated phone's log file, or `logcat -v
threadtime` through adbutils' streaming shell) with a driver of its own, and gives each line to the session
holding the device when it was read (none: the line is not kept). Every LIVE_S the new lines go to that
session's sockets as one `DEVICE_LOG` message (not an event: no `seq`, not replayed); every CHUNK_S (or
CHUNK_LINES lines, or when the session lets the device go) they are written to the artifact storage as one
chunk (`Artifact` kind `log`, in order). Nothing here is on a step's path.

The lines of a failed step (its evidence) are not taken from here: the lane reads the device's last
FAILURE_LOG_LINES lines itself when the step fails (`lane.run._keep_failure_log`), and keeps those read since
its session took the device (`session_lines`: the reader marks where that was).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import Any

from celery.signals import worker_ready, worker_shutdown
from django.db import close_old_connections, connection

from devices.drivers.base import DeviceDriver
from devices.logcat import parse
from devices.screencast import capture_driver

from ..broadcast import group_publish
from ..events import session_group
from ..models import TestSession
from ..secrets import secrets_mask
from ..services.artifacts import log_chunk_store

logger = logging.getLogger(__name__)
LIVE_S = 0.25
CHUNK_S = 5.0
CHUNK_LINES = 2000
HOLDER_S = 1.0
"""While the log is quiet, who holds the device is asked this often."""
HOLDER_NEW_S = 0.2
HOLDER_NONE_S = 0.05
"""When lines come, it is asked again when the answer is older than this (a session that just took the device
gets its first lines; lines while nobody holds it are rare, so that answer is checked more often)."""


class DeviceLogReader:
    def __init__(
        self,
        serial: str,
        *,
        driver_factory: Callable[[], DeviceDriver],
        publish: Callable[[str, dict[str, Any]], None] = group_publish,
    ) -> None:
        self.serial = serial
        self.driver_factory = driver_factory
        self.publish = publish
        self.stopping = threading.Event()
        self.thread = threading.Thread(target=self.run, name=f"cognisim-logcat-{serial}", daemon=True)
        self.holder: Any = None
        self.secrets: dict[str, str] = {}
        self.last_line: str | None = None
        self.before_holder: str | None = None
        """The last line read before the holder took the device (another session's, or nobody's)."""
        self._holder_at = 0.0
        self._live: list[dict[str, Any]] = []
        self._chunk: list[str] = []
        self._live_at = self._chunk_at = 0.0

    def start(self) -> DeviceLogReader:
        self.thread.start()
        return self

    def stop(self, timeout: float = 10.0) -> None:
        self.stopping.set()
        self.thread.join(timeout)

    def run(self) -> None:
        backoff = 0.5
        while not self.stopping.is_set():
            started = time.monotonic()
            try:
                self._follow()
            except Exception as exc:  # the device away: follow it again
                logger.info("device log of %s: %s; reading again in %.1f s", self.serial, exc, backoff)
            finally:
                self._chores(time.monotonic(), final=True)
                try:  # the thread must outlive a database that is away: it is the device's only log reader
                    connection.close()
                except Exception as exc:
                    logger.warning("device log of %s: closing its database connection: %s", self.serial, exc)
            if time.monotonic() - started > 60:
                backoff = 0.5
            if self.stopping.wait(backoff):
                return
            backoff = min(10.0, backoff * 2)

    def _follow(self) -> None:
        driver = self.driver_factory()
        for line in driver.logcat(self.stopping):
            asked = time.monotonic() - self._holder_at
            if line is not None and asked >= (HOLDER_NEW_S if self.holder is not None else HOLDER_NONE_S):
                self._chores(time.monotonic(), holder=True)  # a line: whose is it now?
            if line is not None:
                self.last_line = line
                if self.holder is None:
                    self.before_holder = line
            if line is not None and self.holder is not None and (parsed := parse(line)) is not None:
                if self.secrets:  # a run's secrets, as the lane masks them everywhere else
                    line = secrets_mask(line, self.secrets)
                    parsed = parse(line) or parsed
                self._live.append(parsed.as_dict())
                self._chunk.append(line)
            self._chores(time.monotonic())

    def _chores(self, now: float, *, final: bool = False, holder: bool = False) -> None:
        """Who holds the device, the live lines out, a chunk stored. A failure here (the database or Redis
        away, the session deleted) costs the lines at hand, never the log stream."""
        try:
            if holder or (not final and now - self._holder_at >= HOLDER_S):
                self._holding(now)
            if self._live and (final or now - self._live_at >= LIVE_S):
                self._send(now)
            if self._chunk and (final or now - self._chunk_at >= CHUNK_S or len(self._chunk) >= CHUNK_LINES):
                self._store()
        except Exception as exc:
            logger.warning("device log of %s: %s; %d lines dropped", self.serial, exc, len(self._chunk))
            self._live, self._chunk = [], []
            self._holder_at = now

    def _holding(self, now: float) -> None:
        """Which session holds the device now; the lines of one that let it go are stored at once."""
        self._holder_at = now
        close_old_connections()
        row = (
            TestSession.objects.filter(device__serial=self.serial, status__in=TestSession.HOLDING_DEVICE)
            .values_list("pk", "secrets")
            .first()
        )
        holder, secrets = row if row is not None else (None, {})
        if holder != self.holder:
            left = self.holder
            self.holder, self.secrets, self.before_holder = holder, secrets, self.last_line
            self._send(now, to=left)
            self._store(of=left)
        self.secrets = secrets

    def _send(self, now: float, *, to: Any = None) -> None:
        self._live_at = now
        lines, self._live = self._live, []
        session = to if to is not None else self.holder
        if lines and session is not None:
            self.publish(session_group(session), {"type": "session.log", "lines": lines})

    def _store(self, *, of: Any = None) -> None:
        self._chunk_at = time.monotonic()
        lines, self._chunk = self._chunk, []
        session = of if of is not None else self.holder
        if lines and session is not None:
            log_chunk_store(session_id=session, lines=lines)


_readers: dict[str, DeviceLogReader] = {}


def session_lines(*, serial: str, session_id: Any, lines: list[str]) -> list[str]:
    """Of the device's last `lines`, those of the session holding it: not the lines read before it took the
    device (another user's run). A line this worker's reader has not placed yet counts as the session's; when
    the reader has not yet seen the session take the device, every line it has read counts as another's."""
    reader = _readers.get(serial)
    if reader is None:
        return lines
    mark = reader.before_holder if str(reader.holder) == str(session_id) else reader.last_line
    if mark is None:
        return lines
    for n in range(len(lines) - 1, -1, -1):
        if lines[n] == mark:
            return lines[n + 1 :]
    return lines


def _driver_factory(serial: str) -> Callable[[], DeviceDriver]:
    def make() -> DeviceDriver:
        try:
            return capture_driver(serial)
        finally:
            connection.close()

    return make


def log_readers_start(*, serials: list[str]) -> None:
    for serial in serials:
        if serial not in _readers:
            _readers[serial] = DeviceLogReader(serial, driver_factory=_driver_factory(serial)).start()


def log_readers_stop() -> None:
    for reader in list(_readers.values()):
        reader.stop(timeout=5)
    _readers.clear()


@worker_ready.connect
def _start_readers(sender: Any = None, **_: Any) -> None:
    """A device's worker reads its device's log (the worker of queue `device-<serial>`)."""
    queues = getattr(getattr(sender, "app", None), "amqp", None)
    names = list(queues.queues.consume_from) if queues is not None else []
    log_readers_start(serials=[name.removeprefix("device-") for name in names if name.startswith("device-")])


@worker_shutdown.connect
def _stop_readers(**_: Any) -> None:
    log_readers_stop()
