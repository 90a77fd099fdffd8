"""The processes of a CogniSim stack — device workers, service-queue workers, daphne, the scheduler — and
the Supervisor that keeps them running. Shared by `cognisim up`, `cognisim web`, `cognisim agent` and the tests."""

from __future__ import annotations

import errno
import logging
import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from .config import EXIT_CONFIG, SUPERVISED

WS_MAX_MESSAGE_BYTES = 64 * 1024
logger = logging.getLogger("cognisim.cli")


def task_events() -> list[str]:
    """`-E` when COGNISIM_TASK_EVENTS is on. Task events cost a worker about 1.5 ms of CPU per task (three
    messages), so they are off by default; Flower turns them on in the running workers while it watches
    (its default `--enable_events`), and the workers send heartbeats either way (docs/deploy.md)."""
    return ["-E"] if os.environ.get("COGNISIM_TASK_EVENTS", "").strip().lower() in {"1", "true", "yes", "on"} else []


def worker_argv(serial: str, *, loglevel: str = "warning") -> list[str]:
    """One worker per device, on the device's own queue, one step at a time; with heartbeats, and task
    events when COGNISIM_TASK_EVENTS is on (`task_events`)."""
    quiet = ["--quiet"] if os.environ.get("LOG_FORMAT", "").strip().lower() == "json" else []  # no banner
    return [
        sys.executable,
        "-m",
        "celery",
        "-A",
        "cognisim_site",
        *quiet,
        "worker",
        "-Q",
        f"device-{serial}",
        "-c",
        "1",
        "-P",
        "solo",
        "-n",
        f"device-{serial}@%h",
        "--without-gossip",
        "--without-mingle",
        *task_events(),
        "-l",
        loglevel,
    ]


def queue_worker_argv(queue: str, *, concurrency: int = 4, loglevel: str = "warning") -> list[str]:
    """`cognisim worker --queue NAME`: it names the queue in its own environment (COGNISIM_QUEUE_PREFIX)."""
    command = ["worker", "--queue", queue, "--concurrency", str(concurrency), "--loglevel", loglevel]
    return [sys.executable, "-m", "cognisim_site.cli", *command]


def celery_queue_argv(queue: str, *, concurrency: int, loglevel: str) -> list[str]:
    """The Celery worker of a service queue (`core.queues`): threads, since its tasks mostly wait (on a
    countdown, on an LLM). `-E` as for a device's worker."""
    quiet = ["--quiet"] if os.environ.get("LOG_FORMAT", "").strip().lower() == "json" else []  # no banner
    return [
        sys.executable,
        "-m",
        "celery",
        "-A",
        "cognisim_site",
        *quiet,
        "worker",
        "-Q",
        queue,
        "-c",
        str(concurrency),
        "-P",
        "threads",
        "-n",
        f"{queue}@%h",
        "--without-gossip",
        "--without-mingle",
        *task_events(),
        "-l",
        loglevel,
    ]


def daphne_argv(host: str, port: int, *, fd: int | None = None, proxy_headers: bool = False) -> list[str]:
    """daphne on host:port, or on an inherited listening socket `fd` (several processes share one port)."""
    where = ["--fd", str(fd)] if fd is not None else ["-b", host, "-p", str(port)]
    return [
        sys.executable,
        "-m",
        "cognisim_site.web",
        *where,
        *(["--proxy-headers"] if proxy_headers else []),
        "--verbosity",  # no access log of daphne's own: cognisim_site/logs.py writes it, in LOG_FORMAT
        "0",
        "--websocket-max-message-size",
        str(WS_MAX_MESSAGE_BYTES),
        "--websocket-max-frame-size",
        str(WS_MAX_MESSAGE_BYTES),
        "cognisim_site.asgi:application",
    ]


def listening_socket(host: str, port: int) -> socket.socket:
    """A listening TCP socket that child processes inherit (daphne `--fd`): the kernel spreads connections."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    sock.listen(1024)
    sock.set_inheritable(True)
    return sock


class PortUnavailable(Exception):
    """An address the web server cannot listen on; `str()` is the line to show."""


def port_check(host: str, port: int) -> None:
    """Refuse, before anything starts, a port another process listens on (or an address that is not this
    machine's): daphne would otherwise fail there, be restarted for ever, and the port answer for another."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    try:
        with socket.socket(family, socket.SOCK_STREAM) as sock:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as daphne: TIME_WAIT is no obstacle
            sock.bind((host, port))
            sock.listen(1)
    except OSError as exc:
        if exc.errno == errno.EADDRINUSE:
            raise PortUnavailable(
                f"port {port} on {host} is in use by another process; stop it or choose another with --port"
            ) from None
        raise PortUnavailable(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from None


def web_start(
    supervisor: Supervisor,
    *,
    host: str,
    port: int,
    processes: int = 1,
    proxy_headers: bool = False,
    env: dict[str, str] | None = None,
) -> list[subprocess.Popen[bytes]]:
    """The web server: one daphne on host:port, or `processes` daphnes sharing one listening socket."""
    if processes <= 1:
        return [supervisor.start("web", daphne_argv(host, port, proxy_headers=proxy_headers), env)]
    sock = listening_socket(host, port)
    supervisor.keep(sock)
    fd = sock.fileno()
    return [
        supervisor.start(f"web {n}", daphne_argv(host, port, fd=fd, proxy_headers=proxy_headers), env, pass_fds=(fd,))
        for n in range(1, processes + 1)
    ]


class ProcessExited(RuntimeError):
    def __init__(self, host: str, port: int, returncode: int) -> None:
        super().__init__(f"the process for {host}:{port} exited with {returncode}")
        self.returncode = returncode


class PortTimeout(RuntimeError):
    pass


def wait_for_port(
    host: str,
    port: int,
    *,
    timeout: float,
    proc: subprocess.Popen[bytes] | None = None,
    progress: Callable[[float], None] | None = None,
    every: float = 10.0,
) -> None:
    """Until something accepts a connection on host:port: `ProcessExited` if `proc` ends first,
    `PortTimeout` after `timeout` s; `progress(elapsed)` every `every` s meanwhile."""
    start = time.monotonic()
    deadline, next_progress = start + timeout, start + every
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise ProcessExited(host, port, proc.returncode)
        try:
            with socket.create_connection((host, port), timeout=0.2):
                return
        except OSError:
            time.sleep(0.05)
        if progress is not None and time.monotonic() >= next_progress:
            progress(time.monotonic() - start)
            next_progress += every
    raise PortTimeout(f"nothing answered on {host}:{port} within {timeout:.0f} s")


@dataclass
class Child:
    argv: list[str]
    env: dict[str, str] | None
    proc: subprocess.Popen[bytes]
    started: float
    quick_deaths: int = 0
    restart_at: float | None = None
    pass_fds: tuple[int, ...] = ()
    last: bool = False
    """Something the others use (Redis): stopped after them, and out of reach of the terminal's Ctrl-C."""


class Supervisor:
    """Children started in the foreground, restarted when they die, all stopped on Ctrl-C.

    A child killed by a signal (the OOM killer, an operator, a test) or one that dies after running a
    while is restarted at once: a device's worker that comes back takes over its orphaned step, and
    every second counts. One that keeps exiting on its own within STABLE_S of its start (a crash
    loop: a missing dependency, a server away) waits 1 s, then twice as long each time, up to 30 s.
    One that exits with EXIT_CONFIG (a bad setting, cognisim_site/config.py), which no restart fixes,
    ends `watch`: `failed` names it, and the command stops the others and exits 1.
    """

    STABLE_S = 3.0

    def __init__(self, *, log: bool = True) -> None:
        self.children: dict[str, Child] = {}
        self.stopping = threading.Event()
        self.log = log
        self.kept: list[socket.socket] = []
        self.failed: str | None = None

    def keep(self, sock: socket.socket) -> None:
        """A socket the children share, closed when they are stopped."""
        self.kept.append(sock)

    def start(
        self,
        name: str,
        argv: list[str],
        env: dict[str, str] | None = None,
        *,
        pass_fds: tuple[int, ...] = (),
        last: bool = False,
    ) -> subprocess.Popen[bytes]:
        child = self.children.get(name)
        last = child.last if child else last
        child_env = {**(os.environ if env is None else env), SUPERVISED: "1"}
        proc = subprocess.Popen(argv, env=child_env, pass_fds=pass_fds, start_new_session=last)
        if child is None:
            self.children[name] = Child(
                argv=argv, env=env, proc=proc, started=time.monotonic(), pass_fds=pass_fds, last=last
            )
        else:
            child.proc, child.started, child.restart_at = proc, time.monotonic(), None
        return proc

    def remove(self, name: str, timeout: float = 10) -> None:
        """Stop a child for good (SIGTERM, then SIGKILL after `timeout`)."""
        child = self.children.pop(name, None)
        if child is None:
            return
        if child.proc.poll() is None:
            child.proc.terminate()
            try:
                child.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                child.proc.kill()
                child.proc.wait()

    def pid(self, name: str) -> int:
        return self.children[name].proc.pid

    def watch(self) -> None:
        while not self.stopping.wait(0.1):
            now = time.monotonic()
            for name, child in list(self.children.items()):
                if child.proc.poll() is None:
                    continue
                if child.proc.returncode == EXIT_CONFIG:
                    if self.log:
                        logger.error("%s stopped on a configuration error; not restarting it", name)
                    self.failed = name
                    return
                if child.restart_at is None:
                    lived, killed = now - child.started, child.proc.returncode < 0
                    child.quick_deaths = child.quick_deaths + 1 if lived < self.STABLE_S and not killed else 0
                    delay = min(2 ** (child.quick_deaths - 1), 30) if child.quick_deaths else 0
                    child.restart_at = now + delay
                    if self.log:
                        logger.warning("%s exited with %s; restarting in %s s", name, child.proc.returncode, delay)
                elif now >= child.restart_at:
                    self.start(name, child.argv, child.env, pass_fds=child.pass_fds)

    def stop(self, *_: object) -> None:
        """Stop every child (SIGTERM, then SIGKILL after 10 s): those the others use (`last`) once the others
        have ended, so that a worker finishing its task can still reach Redis."""
        self.stopping.set()
        for last in (False, True):
            procs = [child.proc for child in self.children.values() if child.last == last]
            for proc in procs:
                if proc.poll() is None:
                    proc.terminate()
            deadline = time.monotonic() + 10
            for proc in procs:
                try:
                    proc.wait(timeout=max(0.1, deadline - time.monotonic()))
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait()
        for sock in self.kept:
            sock.close()


def scheduler_argv() -> list[str]:
    return [sys.executable, "-m", "cognisim_site.cli", "scheduler"]
