"""`cognisim agent`: on a host with Android devices, follow adb's device list, register each device with
the server, send heartbeats, and supervise one `cognisim worker --device SERIAL` per device.

It talks to the server only over REST (a host agent's token), so it works from any host; the workers
it starts reach the database and Redis with the host's own DATABASE_URL and REDIS_URL.
"""

from __future__ import annotations

import json
import logging
import os
import queue
import tempfile
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from devices.drivers.adb import AdbDriver, adb_client
from devices.drivers.base import DeviceError

from .processes import Supervisor, worker_argv

logger = logging.getLogger("cognisim.agent")


class HostAgent:
    """`host` None: the host the token belongs to (the server says which in its heartbeat answers)."""

    def __init__(
        self,
        *,
        server: str,
        token: str,
        host: str | None,
        adb_host: str,
        adb_port: int,
        heartbeat_s: float,
        metrics_port: int | None = None,
        metrics_host: str = "127.0.0.1",
    ) -> None:
        self.server, self.token, self.host = server, token, host
        self.adb_host, self.adb_port = adb_host, adb_port
        self.heartbeat_s = heartbeat_s
        self.stopping = threading.Event()
        self.events: queue.Queue[tuple[str, str]] = queue.Queue()
        self.attached: set[str] = set()
        self.supervisor = Supervisor()
        self.worker_env = dict(os.environ, ADB_SERVER_HOST=adb_host, ADB_SERVER_PORT=str(adb_port))
        self.last_beat: float | None = None  # time.time() of the last heartbeat the server took
        self.metrics_port, self.metrics_host = metrics_port, metrics_host
        self.refused: str | None = None  # why the server refused the token: the agent stops (no retry fixes it)

    def run(self) -> None:
        if self.metrics_port is not None:
            self._serve_metrics()
        threading.Thread(target=self._track, name="adb-track", daemon=True).start()
        threading.Thread(target=self._watch, name="workers", daemon=True).start()
        next_beat = 0.0
        logger.info("cognisim agent: following adb at %s:%s", self.adb_host, self.adb_port)
        while not self.stopping.is_set():
            try:
                serial, state = self.events.get(timeout=0.2)
            except queue.Empty:
                pass
            else:
                if self._device_changed(serial, state):
                    next_beat = 0.0  # a registered device is given to sessions once a heartbeat lists it
            if time.monotonic() >= next_beat:
                self._poll()
                beat = self._post("/api/devices/heartbeat/", {**self._named(), "serials": sorted(self.attached)})
                if beat is not None:
                    self.last_beat = time.time()
                if isinstance(beat, dict) and isinstance(beat.get("host"), str) and self.host != beat["host"]:
                    self.host = beat["host"]
                    logger.info("cognisim agent on host %s (its token's)", self.host)
                next_beat = time.monotonic() + self.heartbeat_s

    def _watch(self) -> None:
        """The workers, restarted when they die; a worker's configuration error stops the agent."""
        self.supervisor.watch()
        if self.supervisor.failed:
            self.stopping.set()

    def _serve_metrics(self) -> None:
        """This host's /metrics: its workers' steps (they write to a directory of the agent's) and the agent's
        own gauges. The server's /metrics cannot see them: they live on this host."""
        from prometheus_client import CollectorRegistry, start_http_server
        from prometheus_client.multiprocess import MultiProcessCollector

        directory = self.worker_env.get("PROMETHEUS_MULTIPROC_DIR") or tempfile.mkdtemp(prefix="cognisim-agent-")
        Path(directory).mkdir(parents=True, exist_ok=True)
        self.worker_env["PROMETHEUS_MULTIPROC_DIR"] = directory
        registry = CollectorRegistry()
        MultiProcessCollector(registry, path=directory)
        registry.register(_AgentCollector(self))
        start_http_server(self.metrics_port or 0, addr=self.metrics_host, registry=registry)
        logger.info("metrics on http://%s:%s/metrics", self.metrics_host, self.metrics_port)

    def _named(self) -> dict[str, str]:
        return {"host": self.host} if self.host else {}

    def shutdown(self) -> None:
        self.stopping.set()
        self.supervisor.stop()

    def _track(self) -> None:
        """adb's `host:track-devices` stream: a new block every time the list changes; reconnects if adb restarts."""
        while not self.stopping.is_set():
            known: dict[str, str] = {}
            try:
                conn = adb_client(host=self.adb_host, port=self.adb_port, timeout_s=None).make_connection()
                with conn:
                    conn.send_command("host:track-devices")
                    conn.check_okay()
                    while not self.stopping.is_set():
                        block = conn.read_string_block()
                        now = dict(line.split("\t", 1) for line in block.splitlines() if "\t" in line)
                        for serial in known.keys() | now.keys():
                            if known.get(serial) != now.get(serial):
                                self.events.put((serial, now.get(serial, "absent")))
                        known = now
            except Exception as exc:  # adb server down or restarting: report the devices gone, retry
                logger.warning("adb device tracking interrupted: %s", exc)
                for serial in known:
                    self.events.put((serial, "absent"))
                self.stopping.wait(1.0)

    def _poll(self) -> None:
        """The device list as adb sees it now: a safety net under the tracking stream, which adb 29 does
        not always update when a network-attached device drops."""
        try:
            states = {
                info.serial: info.state
                for info in adb_client(host=self.adb_host, port=self.adb_port, timeout_s=5).list()
            }
        except Exception as exc:
            logger.warning("adb device list unavailable: %s", exc)
            states = {}
        for serial in self.attached - {s for s, state in states.items() if state == "device"}:
            self.events.put((serial, states.get(serial, "absent")))

    def _device_changed(self, serial: str, state: str) -> bool:
        """Follow one change of adb's list; True when a device was registered."""
        if state == "device" and serial not in self.attached:
            try:
                facts = AdbDriver(serial, adb_host=self.adb_host, adb_port=self.adb_port).facts()
            except DeviceError as exc:
                logger.warning(
                    "device %s: could not read its facts (%s); will retry",
                    serial,
                    exc.message,
                    extra={"serial": serial},
                )
                self.events.put((serial, state))
                time.sleep(0.5)
                return False
            registered = self._post(
                "/api/devices/register/",
                {
                    "serial": serial,
                    **self._named(),
                    "transport": "adb",
                    "model": facts.model,
                    "os_version": facts.os_version,
                    "screen_width": facts.screen_width,
                    "screen_height": facts.screen_height,
                },
            )
            if registered is None:
                self.events.put((serial, state))  # the server is away or refused: try again
                time.sleep(0.5)
                return False
            self.attached.add(serial)
            self.supervisor.start(f"worker {serial}", worker_argv(serial), self.worker_env)
            logger.info(
                "device %s attached (%s, Android %s); worker started",
                serial,
                facts.model,
                facts.os_version,
                extra={"serial": serial},
            )
            return True
        if state != "device" and serial in self.attached:
            self.attached.discard(serial)
            self.supervisor.remove(f"worker {serial}")
            reason = f"Device {serial} was unplugged from {self.host or 'its host'}."
            self._post(f"/api/devices/{serial}/offline/", {"reason": reason})
            logger.info("device %s gone (%s); worker stopped", serial, state, extra={"serial": serial})
        return False

    def _post(self, path: str, body: dict[str, Any]) -> Any:
        request = urllib.request.Request(
            self.server + path,
            data=json.dumps(body).encode(),
            method="POST",
            headers={"Content-Type": "application/json", "Authorization": f"Token {self.token}"},
        )
        try:
            with urllib.request.urlopen(request, timeout=10) as reply:
                return json.loads(reply.read() or b"null")
        except urllib.error.HTTPError as exc:
            detail = exc.read()[:500].decode(errors="replace")
            if exc.code in (401, 403):  # a token the server does not know, or not a host agent's, or another host's
                self.refused = f"the server refused this agent's token ({exc.code} on {path}): {_message(detail)}"
                self.stopping.set()
                return None
            logger.warning("server call %s refused (%s): %s", path, exc.code, detail)
            return None
        except (urllib.error.URLError, OSError, ValueError) as exc:
            logger.warning("server call %s failed: %s", path, exc)
            return None


def _message(detail: str) -> str:
    """The `message` (or DRF's `detail`) of an error answer, on one line."""
    try:
        body = json.loads(detail)
    except ValueError:
        body = None
    if isinstance(body, dict) and isinstance(body.get("message") or body.get("detail"), str):
        detail = body.get("message") or body["detail"]
    return " ".join(detail.split())


class _AgentCollector(Collector):
    def __init__(self, agent: HostAgent) -> None:
        self.agent = agent

    def collect(self) -> Iterator[GaugeMetricFamily]:
        host = self.agent.host or ""
        yield GaugeMetricFamily(
            "cognisim_agent_devices", "Devices this agent has attached (a worker each).", value=len(self.agent.attached)
        )
        beat = GaugeMetricFamily(
            "cognisim_agent_heartbeat_age_seconds", "Seconds since the server took our heartbeat.", labels=["host"]
        )
        if self.agent.last_beat is not None:
            beat.add_metric([host], time.time() - self.agent.last_beat)
        yield beat
