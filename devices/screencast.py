"""A device's live screen: read by the device's own worker while someone watches, published as frames.

Who reads the screen: the device's worker (`cognisim worker --device SERIAL`, the only process that owns the
device) runs one `ScreenCaster` thread, started when the worker is ready. It sleeps on a Redis pub/sub
channel until a watcher arrives, then reads the screen in a loop, as fast as the device answers (at most
`LIVE_MAX_FPS` reads a second), and publishes a frame on the channel group `frame_group(serial)` only when
the picture changed (and once more whenever a new watcher arrives). It stops as soon as nobody watches.

Watchers are members of a Redis sorted set scored by when they lapse: a live socket adds itself when it opens,
renews itself every `LIVE_WATCH_TTL_SECONDS / 3`, and removes itself when it closes; a watcher whose web
process died lapses on its own. Nothing here knows about sessions: the socket that registers a watcher
decides who may watch and closes when the session ends (`ide.liveview`), which empties the set.

An adb device is read through a driver instance of the caster's own (`capture_driver`): a `screencap` is a
command on the phone that holds nothing a step needs, and the worker only receives its bytes. The simulated
phone renders its picture in this very process, so the caster reads it through the lane's own driver: the
picture of a changed screen is rendered once, for whichever of the lane's observation and the caster asks
first, and the other gets it from the driver's cache (two instances rendered everything twice, and the
second render competed with the next step for this process's GIL). A frame is one binary WebSocket message:
`FRAME_HEADER` (frame number, capture time in Unix seconds, both big-endian) followed by the PNG.
"""

from __future__ import annotations

import collections
import contextlib
import hashlib
import logging
import struct
import threading
import time
from collections.abc import Callable, Iterator
from functools import cache
from typing import Any

import redis
from celery.signals import worker_ready, worker_shutdown
from channels.layers import get_channel_layer
from django.conf import settings

from .drivers.base import DeviceDriver, DeviceError

logger = logging.getLogger(__name__)

FRAME_HEADER = struct.Struct(">Id")
"""Before every frame's PNG: its number (u32, from 1 per casting) and the capture time (f64, Unix seconds)."""

CHECK_WATCHERS_S = 0.5
"""While casting, how often the caster looks whether anyone still watches."""

STEP_WAIT_S = 0.1
"""How long a screen read waits for a step's work on the device to end (`device_busy`) before it reads anyway."""

_busy: collections.Counter[str] = collections.Counter()
_idle = threading.Condition()


@contextlib.contextmanager
def device_busy(serial: str) -> Iterator[None]:
    """A step works on the device (`devices.actions.perform`): the caster of this process holds its next read
    until it is done, or for at most STEP_WAIT_S, so a screen read does not compete with the step's input
    (a simulated phone renders under the lock its input needs; a phone's `screencap` takes its CPU)."""
    with _idle:
        _busy[serial] += 1
    try:
        yield
    finally:
        with _idle:
            _busy[serial] -= 1
            if _busy[serial] <= 0:
                del _busy[serial]
                _idle.notify_all()


def _step_done(serial: str, most: float) -> None:
    with _idle:
        _idle.wait_for(lambda: not _busy.get(serial), timeout=most)


def frame_group(serial: str) -> str:
    """The channel group of a device's frames (a serial may hold characters a group name may not)."""
    return "live." + hashlib.sha256(serial.encode()).hexdigest()[:24]


def _key(kind: str, serial: str) -> str:
    return f"{settings.CHANNEL_PREFIX}:live:{kind}:{serial}"


def watchers_key(serial: str) -> str:
    return _key("watchers", serial)


def wake_channel(serial: str) -> str:
    return _key("wake", serial)


def casting_key(serial: str) -> str:
    """Set (with a short expiry, renewed) while the device's caster reads the screen: for tests and /metrics."""
    return _key("casting", serial)


@cache
def _redis() -> redis.Redis:
    return redis.Redis.from_url(settings.REDIS_URL, socket_timeout=2, socket_connect_timeout=2)


def watch_renew(*, serial: str, watcher: str, wake: bool = False) -> None:
    """Register (or keep) a watcher of the device's screen for LIVE_WATCH_TTL_SECONDS; `wake` tells the caster
    at once, and makes it send the current frame again (for the watcher that just arrived)."""
    client = _redis()
    client.zadd(watchers_key(serial), {watcher: time.time() + settings.LIVE_WATCH_TTL_SECONDS})
    if wake:
        client.publish(wake_channel(serial), watcher)


def watch_stop(*, serial: str, watcher: str) -> None:
    _redis().zrem(watchers_key(serial), watcher)


def is_casting(*, serial: str) -> bool:
    return bool(_redis().exists(casting_key(serial)))


def frame_encode(number: int, captured_at: float, png: bytes) -> bytes:
    return FRAME_HEADER.pack(number & 0xFFFFFFFF, captured_at) + png


def frame_decode(frame: bytes) -> tuple[int, float, bytes]:
    """(number, capture time, PNG) of a frame; `ValueError` for anything shorter than the header."""
    if len(frame) < FRAME_HEADER.size:
        raise ValueError("a frame is at least its header")
    number, captured_at = FRAME_HEADER.unpack_from(frame)
    return number, captured_at, frame[FRAME_HEADER.size :]


def capture_driver(serial: str) -> DeviceDriver:
    """The driver the caster reads the screen with (see the module's docstring)."""
    from .models import Device
    from .services import driver_for

    device = Device.objects.get(serial=serial)
    if device.transport == Device.Transport.ADB:
        from .drivers.adb import AdbDriver

        return AdbDriver(serial, adb_host=settings.ADB_SERVER_HOST, adb_port=settings.ADB_SERVER_PORT, backend="stock")
    return driver_for(device)


class ScreenCaster:
    """The loop of one device (see the module's docstring). `publish(group, message)` sends a channel-layer
    message; `driver_factory()` makes the capture driver when casting starts."""

    def __init__(
        self,
        serial: str,
        *,
        driver_factory: Callable[[], DeviceDriver],
        publish: Callable[[str, dict[str, Any]], None] | None = None,
        redis_url: str | None = None,
        max_fps: float | None = None,
    ) -> None:
        self.serial = serial
        self.driver_factory = driver_factory
        self.publish = publish or group_publish
        self.redis_url = redis_url or settings.REDIS_URL
        self.min_interval = 1.0 / (max_fps or settings.LIVE_MAX_FPS)
        self.group = frame_group(serial)
        self.stopping = threading.Event()
        self.thread = threading.Thread(target=self.run, name=f"cognisim-screencast-{serial}", daemon=True)
        self.frames = 0
        self.reads = 0
        self._driver: DeviceDriver | None = None

    def start(self) -> ScreenCaster:
        self.thread.start()
        return self

    def stop(self, timeout: float = 10.0) -> None:
        self.stopping.set()
        with contextlib.suppress(redis.RedisError):  # else it looks again within 5 s
            _redis().publish(wake_channel(self.serial), "")  # out of its wait for a watcher
        self.thread.join(timeout)

    def run(self) -> None:
        backoff = 0.5
        while not self.stopping.is_set():
            try:
                self._serve()
                return
            except redis.RedisError as exc:
                logger.warning("screencast %s: Redis failed (%s); trying again in %.1f s", self.serial, exc, backoff)
            except Exception:
                logger.exception("screencast %s failed; starting again in %.1f s", self.serial, backoff)
            if self.stopping.wait(backoff):
                return
            backoff = min(10.0, backoff * 2)

    def _serve(self) -> None:
        client = redis.Redis.from_url(self.redis_url, socket_timeout=None, socket_connect_timeout=5)
        pubsub = client.pubsub(ignore_subscribe_messages=True)
        pubsub.subscribe(wake_channel(self.serial))
        try:
            while not self.stopping.is_set():
                if self._watched(client):
                    self._cast(client, pubsub)
                else:
                    pubsub.get_message(timeout=5.0)  # a wake, or look again (a wake lost while Redis was away)
        finally:
            pubsub.close()
            client.close()

    def _watched(self, client: redis.Redis) -> bool:
        key = watchers_key(self.serial)
        client.zremrangebyscore(key, "-inf", time.time())
        return bool(client.zcard(key))

    def _cast(self, client: redis.Redis, pubsub: Any) -> None:
        """Read and publish until nobody watches."""
        logger.info("screencast %s: started", self.serial)
        last: bytes | None = None
        number = 0
        checked = 0.0
        ttl_ms = max(1000, int(CHECK_WATCHERS_S * 4000))
        try:
            while not self.stopping.is_set():
                started = time.monotonic()
                if started - checked >= CHECK_WATCHERS_S:
                    if not self._watched(client):
                        return
                    client.set(casting_key(self.serial), "1", px=ttl_ms)
                    checked = started
                resend = False
                while pubsub.get_message(timeout=0) is not None:
                    resend = True  # a new watcher: it needs the picture on show now
                _step_done(self.serial, STEP_WAIT_S)
                png = self._read()
                if png is not None and (png != last or resend):
                    number += 1
                    self.publish(self.group, {"type": "live.frame", "frame": frame_encode(number, time.time(), png)})
                    self.frames += 1
                    last = png
                wait = self.min_interval - (time.monotonic() - started)
                if wait > 0:
                    self.stopping.wait(wait)
        finally:
            client.delete(casting_key(self.serial))
            logger.info("screencast %s: stopped after %d frames", self.serial, number)

    def _read(self) -> bytes | None:
        try:
            if self._driver is None:
                self._driver = self.driver_factory()
            self.reads += 1
            return self._driver.screenshot()
        except DeviceError as exc:
            logger.info("screencast %s: could not read the screen (%s)", self.serial, exc.message)
            self._driver = None
            self.stopping.wait(0.5)  # the device is away: do not spin
            return None


def group_publish(group: str, message: dict[str, Any]) -> None:
    """One Redis PUBLISH in the pub/sub channel layer's format (as `sessions.broadcast` sends events)."""
    layer = get_channel_layer()
    assert layer is not None, "CHANNEL_LAYERS is not configured"
    channel = f"{settings.CHANNEL_LAYERS['default']['CONFIG']['prefix']}__group__{group}"
    _redis().publish(channel, layer.serialize(message))


_casters: dict[str, ScreenCaster] = {}


def _driver_factory(serial: str) -> Callable[[], DeviceDriver]:
    def make() -> DeviceDriver:
        from django.db import connection

        try:
            return capture_driver(serial)
        finally:
            connection.close()  # the caster's thread reads the database once per casting; it keeps no connection

    return make


def casters_start(*, serials: list[str]) -> None:
    """Start the caster of each device this worker serves (called once the worker is ready)."""
    for serial in serials:
        if serial not in _casters:
            _casters[serial] = ScreenCaster(serial, driver_factory=_driver_factory(serial)).start()


def casters_stop() -> None:
    for caster in list(_casters.values()):
        caster.stop(timeout=5)
    _casters.clear()


@worker_ready.connect
def _start_casters(sender: Any = None, **_: Any) -> None:
    """A device's worker casts its device's screen (the worker of queue `device-<serial>`)."""
    queues = getattr(getattr(sender, "app", None), "amqp", None)
    names = list(queues.queues.consume_from) if queues is not None else []
    casters_start(serials=[name.removeprefix("device-") for name in names if name.startswith("device-")])


@worker_shutdown.connect
def _stop_casters(**_: Any) -> None:
    casters_stop()
