"""`cognisim up` (the whole local stack in the foreground), `cognisim web`, `cognisim worker --device SERIAL`,
`cognisim scheduler` and `cognisim agent`."""

from __future__ import annotations

import argparse
import logging
import logging.config
import os
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from types import FrameType

WS_MAX_MESSAGE_BYTES = 64 * 1024
logger = logging.getLogger("cognisim.cli")


def logging_setup() -> None:
    """Logging for a command that runs without Django's settings (the agent, the web supervisor)."""
    from core.logs import logging_config

    logging.config.dictConfig(
        logging_config(
            fmt=os.environ.get("LOG_FORMAT", "text").strip().lower(),
            level=os.environ.get("LOG_LEVEL", "INFO").upper(),
        )
    )


def worker_argv(serial: str, *, loglevel: str = "warning") -> list[str]:
    """One worker per device, on the device's own queue, one step at a time.

    `-E` sends task events and the worker's heartbeats, for Flower (docs/deploy.md).
    """
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
        "-E",
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


def wait_for_port(host: str, port: int, *, timeout: float, proc: subprocess.Popen[bytes] | None = None) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"the process for {host}:{port} exited with {proc.returncode}")
        try:
            with socket.create_connection((host, port), timeout=0.2):
                return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"nothing answered on {host}:{port} within {timeout:.0f} s")


@dataclass
class Child:
    argv: list[str]
    env: dict[str, str] | None
    proc: subprocess.Popen[bytes]
    started: float
    quick_deaths: int = 0
    restart_at: float | None = None
    pass_fds: tuple[int, ...] = ()


class Supervisor:
    """Children started in the foreground, restarted when they die, all stopped on Ctrl-C.

    A child that dies after running a while is restarted after 1 s; one that keeps dying
    within STABLE_S of its start waits twice as long each time, up to 30 s.
    """

    STABLE_S = 3.0

    def __init__(self, *, log: bool = True) -> None:
        self.children: dict[str, Child] = {}
        self.stopping = threading.Event()
        self.log = log
        self.kept: list[socket.socket] = []

    def keep(self, sock: socket.socket) -> None:
        """A socket the children share, closed when they are stopped."""
        self.kept.append(sock)

    def start(
        self, name: str, argv: list[str], env: dict[str, str] | None = None, *, pass_fds: tuple[int, ...] = ()
    ) -> subprocess.Popen[bytes]:
        child = self.children.get(name)
        proc = subprocess.Popen(argv, env=env, pass_fds=pass_fds)
        if child is None:
            self.children[name] = Child(argv=argv, env=env, proc=proc, started=time.monotonic(), pass_fds=pass_fds)
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
                if child.restart_at is None:
                    lived = now - child.started
                    child.quick_deaths = child.quick_deaths + 1 if lived < self.STABLE_S else 0
                    delay = min(2 ** max(child.quick_deaths - 1, 0), 30)
                    child.restart_at = now + delay
                    if self.log:
                        logger.warning("%s exited with %s; restarting in %s s", name, child.proc.returncode, delay)
                elif now >= child.restart_at:
                    self.start(name, child.argv, child.env, pass_fds=child.pass_fds)

    def stop(self, *_: object) -> None:
        self.stopping.set()
        procs = [child.proc for child in self.children.values()]
        for proc in procs:
            if proc.poll() is None:
                proc.terminate()
        deadline = time.monotonic() + 10
        for proc in procs:
            try:
                proc.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                proc.kill()
        for sock in self.kept:
            sock.close()


def _demo_password(home: Path) -> str:
    path = home / "demo_password"
    if not path.exists():
        import secrets

        path.write_text(secrets.token_urlsafe(12))
        path.chmod(0o600)
    return path.read_text().strip()


def cmd_up(args: argparse.Namespace) -> int:
    supervisor = Supervisor()

    def interrupted(signum: int, frame: FrameType | None) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, interrupted)
    try:
        if not os.environ.get("REDIS_URL"):
            from .redis_server import free_port, redis_argv

            port = free_port()
            supervisor.start("redis", redis_argv(port, Path(tempfile.gettempdir())))
            os.environ["REDIS_URL"] = f"redis://127.0.0.1:{port}/0"
            wait_for_port("127.0.0.1", port, timeout=10)
            print(f"Started a private Redis on 127.0.0.1:{port}", flush=True)

        import django

        os.environ.setdefault("DJANGO_SETTINGS_MODULE", "cognisim_site.settings")
        django.setup()
        from django.conf import settings
        from django.core.management import call_command

        from devices.models import Device
        from devices.services import device_register_sim
        from sessions.accounts import api_user_create

        call_command("migrate", interactive=False, verbosity=0)
        password = _demo_password(settings.COGNISIM_HOME)
        token = api_user_create(username="demo", password=password)
        serials = [f"sim-{n}" for n in range(1, args.sim_devices + 1)]
        for serial in serials:
            device_register_sim(serial=serial)
        Device.objects.filter(transport=Device.Transport.SIM).exclude(serial__in=serials).update(
            status=Device.Status.OFFLINE
        )
        metrics_reset(settings.PROMETHEUS_MULTIPROC_DIR)
        for serial in serials:
            supervisor.start(f"worker {serial}", worker_argv(serial))
        supervisor.start("scheduler", scheduler_argv())
        webs = web_start(supervisor, host=args.host, port=args.port, processes=args.web_processes)
        for web in webs:
            wait_for_port(args.host, args.port, timeout=30, proc=web)
        print(
            f"\nCogniSim is up: http://{args.host}:{args.port}/"
            + (f" ({len(webs)} web processes)" if len(webs) > 1 else "")
            + "\n"
            f"  sign in as demo / {password}\n"
            f"  API token: {token}\n"
            f"  {len(serials)} simulated device(s): {', '.join(serials)}\n"
            "Press Ctrl-C to stop.",
            flush=True,
        )
        supervisor.watch()
    except KeyboardInterrupt:
        print("\nStopping…", flush=True)
    finally:
        supervisor.stop()
    return 0


def metrics_reset(directory: Path) -> None:
    """Start the stack's metrics from zero: remove the samples of processes from an earlier run."""
    for path in Path(directory).glob("*.db"):
        path.unlink(missing_ok=True)


def cmd_web(args: argparse.Namespace) -> int:
    """The web server in the foreground: N daphne processes on one port, restarted if they die."""
    logging_setup()
    supervisor = Supervisor()

    def interrupted(signum: int, frame: FrameType | None) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, interrupted)
    try:
        web_start(
            supervisor, host=args.host, port=args.port, processes=args.processes, proxy_headers=args.proxy_headers
        )
        supervisor.watch()
    except KeyboardInterrupt:
        pass
    finally:
        supervisor.stop()
    return 0


def scheduler_argv() -> list[str]:
    return [sys.executable, "-m", "cognisim_site.cli", "scheduler"]


def cmd_scheduler(args: argparse.Namespace) -> int:
    """The recovery sweeper in a loop (sessions/recovery.py), until SIGTERM or Ctrl-C."""
    import django

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "cognisim_site.settings")
    django.setup()
    from django.conf import settings

    from core import metrics
    from sessions.recovery import sweep

    stopping = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stopping.set())
    log = logging.getLogger("cognisim.scheduler")
    try:
        while not stopping.wait(settings.SWEEP_INTERVAL_SECONDS):
            done = {duty: count for duty, count in sweep().items() if count}
            if done:
                metrics.sweeper_recovered(done=done)
                log.info("sweep: %s", done)
    except KeyboardInterrupt:
        pass
    return 0


def cmd_agent(args: argparse.Namespace) -> int:
    from .agent import HostAgent

    logging_setup()

    token = args.token or os.environ.get("COGNISIM_TOKEN")
    if not token:
        print(
            "cognisim agent needs a host agent's token: --token or COGNISIM_TOKEN "
            "(python manage.py create_api_user NAME --host-agent prints one).",
            file=sys.stderr,
        )
        return 2
    agent = HostAgent(
        server=args.server.rstrip("/"),
        token=token,
        host=args.host_name or socket.gethostname(),
        adb_host=args.adb_host,
        adb_port=args.adb_port,
        heartbeat_s=args.heartbeat,
    )
    signal.signal(signal.SIGTERM, lambda *_: agent.stopping.set())
    try:
        agent.run()
    except KeyboardInterrupt:
        pass
    finally:
        agent.shutdown()
    return 0


def cmd_worker(args: argparse.Namespace) -> int:
    os.execv(sys.executable, worker_argv(args.device, loglevel=args.loglevel))
    return 0  # not reached


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="cognisim", description="Run tests on Android devices.")
    commands = parser.add_subparsers(dest="command", required=True)
    up = commands.add_parser("up", help="start the whole local stack in the foreground")
    up.add_argument("--port", type=int, default=8000)
    up.add_argument("--host", default="127.0.0.1")
    up.add_argument("--sim-devices", type=int, default=2, metavar="N")
    up.add_argument(
        "--web-processes", type=int, default=1, metavar="N", help="daphne processes sharing the port (default 1)"
    )
    up.set_defaults(run=cmd_up)
    web = commands.add_parser("web", help="the web server: N daphne processes sharing one port")
    web.add_argument("--host", default="127.0.0.1")
    web.add_argument("--port", type=int, default=8000)
    web.add_argument("--processes", type=int, default=1, metavar="N")
    web.add_argument(
        "--proxy-headers", action="store_true", help="take the client address from X-Forwarded-For (behind a proxy)"
    )
    web.set_defaults(run=cmd_web)
    scheduler = commands.add_parser("scheduler", help="the recovery sweeper (cognisim up starts one)")
    scheduler.set_defaults(run=cmd_scheduler)
    agent = commands.add_parser("agent", help="on a host with devices: register them and run their workers")
    agent.add_argument("--server", required=True, help="the CogniSim server, e.g. http://cognisim.example:8000")
    agent.add_argument("--token", help="a host agent's API token (default: $COGNISIM_TOKEN)")
    agent.add_argument("--host-name", help="this host's name (default: the hostname)")
    agent.add_argument("--adb-host", default="127.0.0.1")
    agent.add_argument("--adb-port", type=int, default=5037)
    agent.add_argument("--heartbeat", type=float, default=3.0, metavar="SECONDS")
    agent.set_defaults(run=cmd_agent)
    from .runcli import add_commands

    add_commands(commands)
    worker = commands.add_parser("worker", help="the worker of one device")
    worker.add_argument("--device", required=True, metavar="SERIAL")
    worker.add_argument("--loglevel", default="info")
    worker.set_defaults(run=cmd_worker)
    args = parser.parse_args(argv)
    return int(args.run(args))


if __name__ == "__main__":
    sys.exit(main())
