"""Helpers to drive a live stack over real sockets: REST with urllib, the session socket with websockets."""

from __future__ import annotations

import json
import os
import signal
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from websockets.exceptions import ConnectionClosed
from websockets.sync.client import ClientConnection, connect

from cognisim_site.processes import (
    Supervisor,
    daphne_argv,
    queue_worker_argv,
    scheduler_argv,
    wait_for_port,
    worker_argv,
)
from cognisim_site.redis_server import free_port
from core.queues import SERVICE_QUEUES

TERMINAL_STEP = {"COMPLETED", "ERROR", "CANCELLED"}


@dataclass
class Response:
    status: int
    body: Any


class Rest:
    def __init__(self, base_url: str, token: str | None) -> None:
        self.base_url = base_url
        self.token = token

    def call(self, method: str, path: str, body: Any = None, *, raw: bytes | None = None) -> Response:
        data = raw if raw is not None else (None if body is None else json.dumps(body).encode())
        request = urllib.request.Request(self.base_url + path, data=data, method=method)
        request.add_header("Content-Type", "application/json")
        if self.token:
            request.add_header("Authorization", f"Token {self.token}")
        try:
            with urllib.request.urlopen(request, timeout=30) as reply:
                status, payload = reply.status, reply.read()
        except urllib.error.HTTPError as exc:
            status, payload = exc.code, exc.read()
        try:
            return Response(status, json.loads(payload) if payload else None)
        except ValueError:
            return Response(status, payload)

    def get(self, path: str) -> Response:
        return self.call("GET", path)

    def post(self, path: str, body: Any = None) -> Response:
        return self.call("POST", path, body if body is not None else {})


class Socket:
    """A session socket that keeps every message it received, in order."""

    def __init__(self, url: str, *, token: str | None = None, headers: dict[str, str] | None = None) -> None:
        all_headers = dict(headers or {})
        if token:
            all_headers["Authorization"] = f"Token {token}"
        self.conn: ClientConnection = connect(
            url, additional_headers=all_headers, max_size=None, open_timeout=10, legacy=True
        )
        self.received: list[dict[str, Any]] = []

    def send(self, message: Any) -> None:
        self.conn.send(message if isinstance(message, str) else json.dumps(message))

    def recv(self, timeout: float = 60) -> dict[str, Any]:
        message = json.loads(self.conn.recv(timeout=timeout))
        self.received.append(message)
        return message

    def wait_for(self, match: Callable[[dict[str, Any]], bool], timeout: float = 60) -> dict[str, Any]:
        """Receive until a message matches; every message on the way is kept in `received`."""
        deadline = time.monotonic() + timeout
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise TimeoutError(f"no matching message within {timeout} s; got {self.received[-5:]}")
            message = self.recv(timeout=remaining)
            if match(message):
                return message

    def first(self, match: Callable[[dict[str, Any]], bool], timeout: float = 60) -> dict[str, Any]:
        """The first message that matches, among those received already or, if none, those to come (a step
        sent early may finish while the socket waits for the ACK of a later one)."""
        return next((m for m in self.received if match(m)), None) or self.wait_for(match, timeout)

    def events(self) -> list[dict[str, Any]]:
        return [m for m in self.received if "seq" in m]

    def close_code(self, timeout: float = 10) -> int | None:
        """Wait for the server to close the socket and return its close code."""
        try:
            while True:
                self.recv(timeout=timeout)
        except ConnectionClosed as exc:
            return exc.rcvd.code if exc.rcvd else None

    def close(self) -> None:
        self.conn.close()


def session_status(status: str) -> Callable[[dict[str, Any]], bool]:
    return lambda m: m.get("type") == "SESSION_STATUS" and m.get("status") == status


def wait_ready(sock: Socket, timeout: float = 60) -> None:
    """Wait for the end of the session's setup: READY, then the first SCREEN."""
    sock.wait_for(session_status("READY"), timeout=timeout)
    sock.wait_for(lambda m: m.get("type") == "SCREEN", timeout=timeout)


def step_done(step_id: int) -> Callable[[dict[str, Any]], bool]:
    return lambda m: m.get("type") == "STEP_STATUS" and m.get("step_id") == step_id and m["status"] in TERMINAL_STEP


def run_until_done(rest: Rest, run_id: str, timeout: float = 120) -> dict[str, Any]:
    """The run's report once it has a verdict (the session's own lane decides it; nothing here advances it)."""
    deadline = time.monotonic() + timeout
    while (report := rest.get(f"/api/runs/{run_id}/").body)["status"] == "running":
        assert time.monotonic() < deadline, f"run {run_id} still running: {report}"
        time.sleep(0.2)
    return report


def steps_observed(session_id: str, timeout: float = 60) -> list[Any]:
    """The session's steps once the lane has read the screen after each finished one (their effects and
    `screen_hash` are then whole: the screen is read after COMPLETED, off the step's critical path)."""
    from sessions.models import Step

    deadline = time.monotonic() + timeout
    while True:
        steps = list(Step.objects.filter(session_id=session_id).order_by("index"))
        if all(s.screen_hash or s.status not in ("COMPLETED", "FAILED") or s.action == "ask_user" for s in steps):
            return steps
        if time.monotonic() > deadline:
            raise TimeoutError(f"steps without their screen after {timeout} s: {[s.pk for s in steps]}")
        time.sleep(0.05)


@dataclass
class Stack:
    """A real daphne, the scheduler and one real Celery worker per simulated device, supervised and
    restarted as `cognisim up` does it."""

    env: dict[str, str]
    serials: list[str]
    host: str = "127.0.0.1"
    port: int = field(default_factory=free_port)
    supervisor: Supervisor = field(default_factory=lambda: Supervisor(log=False))

    @property
    def base_url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def ws_url(self, session_id: str, query: str = "") -> str:
        return f"ws://{self.host}:{self.port}/ws/sessions/{session_id}/" + (f"?{query}" if query else "")

    def start(self) -> None:
        for serial in self.serials:
            self.supervisor.start(serial, worker_argv(serial), self.env)
        for queue in SERVICE_QUEUES:
            self.supervisor.start(queue, queue_worker_argv(queue, concurrency=2), self.env)
        self.supervisor.start("scheduler", scheduler_argv(), self.env)
        web = self.supervisor.start("web", daphne_argv(self.host, self.port), self.env)
        wait_for_port(self.host, self.port, timeout=120, proc=web)  # a loaded machine starts daphne slowly
        threading.Thread(target=self.supervisor.watch, daemon=True).start()

    def kill(self, name: str) -> int:
        """SIGKILL a child (a serial, "web" or "scheduler"); the supervisor restarts it. Returns the old pid."""
        pid = self.supervisor.pid(name)
        os.kill(pid, signal.SIGKILL)
        return pid

    def wait_back(self, name: str, old_pid: int, timeout: float = 60) -> None:
        """Wait until the supervisor restarted the child (and, for the web server, until it listens)."""
        deadline = time.monotonic() + timeout
        while self.supervisor.pid(name) == old_pid:
            if time.monotonic() > deadline:
                raise TimeoutError(f"{name} was not restarted within {timeout} s")
            time.sleep(0.05)
        if name == "web":
            wait_for_port(self.host, self.port, timeout=deadline - time.monotonic())

    def stop(self) -> None:
        self.supervisor.stop()


def stack_env(database_url: str) -> dict[str, str]:
    env = dict(os.environ, DATABASE_URL=database_url, PYTHONUNBUFFERED="1")
    env.pop("DJANGO_SETTINGS_MODULE", None)
    return env
