"""`cognisim up` (the whole local stack in the foreground), `cognisim web`, `cognisim worker --device SERIAL`
or `--queue control|agents`, `cognisim scheduler`, `cognisim agent` and `cognisim probe` (health checks)."""

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
from pathlib import Path
from types import FrameType
from urllib.parse import urlsplit

from core.queues import SERVICE_QUEUES

from .config import EXIT_CONFIG, SUPERVISED, ConfigError, env_choice, secret_key_check, settings_check
from .processes import (
    PortTimeout,
    PortUnavailable,
    ProcessExited,
    Supervisor,
    celery_queue_argv,
    port_check,
    queue_worker_argv,
    scheduler_argv,
    wait_for_port,
    web_start,
    worker_argv,
)


def logging_setup() -> None:
    """Logging for a command that runs without Django's settings (the agent, the web supervisor)."""
    from core.logs import logging_config

    logging.config.dictConfig(
        logging_config(
            fmt=env_choice("LOG_FORMAT", "text", ("text", "json")),
            level=env_choice("LOG_LEVEL", "INFO", ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"), upper=True),
        )
    )


def _demo_password(home: Path) -> str:
    path = home / "demo_password"
    if not path.exists():
        import secrets

        path.write_text(secrets.token_urlsafe(12))
        path.chmod(0o600)
    return path.read_text().strip()


def cmd_up(args: argparse.Namespace) -> int:
    try:
        port_check(args.host, args.port)
    except PortUnavailable as exc:
        print(f"cognisim up: {exc}", file=sys.stderr, flush=True)
        return 1
    supervisor = Supervisor()

    def interrupted(signum: int, frame: FrameType | None) -> None:
        raise KeyboardInterrupt

    # Ctrl-C stops the stack even when it was started in the background, where SIGINT is inherited ignored.
    signal.signal(signal.SIGINT, interrupted)
    signal.signal(signal.SIGTERM, interrupted)
    try:
        redis_port = None
        if not os.environ.get("REDIS_URL"):
            from .redis_server import free_port

            redis_port = free_port()
            os.environ["REDIS_URL"] = f"redis://127.0.0.1:{redis_port}/0"

        import django

        # The settings first (a bad one ends the command here, before anything starts), with the URL of
        # the private Redis, which starts next.
        os.environ.setdefault("DJANGO_SETTINGS_MODULE", "cognisim_site.settings")
        django.setup()
        if redis_port is not None:
            from .redis_server import redis_argv

            redis = supervisor.start("redis", redis_argv(redis_port, Path(tempfile.gettempdir())), last=True)
            _wait(args, "the private Redis", "127.0.0.1", redis_port, redis)
            print(
                f"Started a private Redis on 127.0.0.1:{redis_port} "
                f"(for other commands, such as `cognisim probe --worker`: REDIS_URL={os.environ['REDIS_URL']})",
                flush=True,
            )
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
        for queue in SERVICE_QUEUES:
            supervisor.start(f"worker {queue}", queue_worker_argv(queue))
        supervisor.start("scheduler", scheduler_argv())
        webs = web_start(supervisor, host=args.host, port=args.port, processes=args.web_processes)
        for web in webs:
            _wait(args, "the web server", args.host, args.port, web)
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
    except StartFailed as exc:
        print(f"cognisim up: {exc}", file=sys.stderr, flush=True)
        return 1
    finally:
        supervisor.stop()
    return 1 if supervisor.failed else 0


class StartFailed(Exception):
    """A process of `cognisim up` that did not come up; `str()` is the line to show."""


def _wait(args: argparse.Namespace, what: str, host: str, port: int, proc: subprocess.Popen[bytes]) -> None:
    """Wait up to `--wait` seconds for `what` to answer on host:port, saying so every 10 s."""

    def waiting(elapsed: float) -> None:
        print(f"Waiting for {what} on {host}:{port} ({elapsed:.0f} s of {args.wait:g} s)…", flush=True)

    try:
        wait_for_port(host, port, timeout=args.wait, proc=proc, progress=waiting)
    except ProcessExited as exc:
        cause = "a configuration error" if exc.returncode == EXIT_CONFIG else f"exit status {exc.returncode}"
        raise StartFailed(
            f"{what} stopped before it answered on {host}:{port} ({cause}); its log is above, on this "
            "command's standard error"
        ) from None
    except PortTimeout:
        raise StartFailed(
            f"{what} did not answer on {host}:{port} within {args.wait:g} s; its log is above, on this "
            f"command's standard error. On a loaded machine, try a longer wait: cognisim up --wait "
            f"{max(2 * args.wait, 120):g}"
        ) from None


def metrics_reset(directory: Path) -> None:
    """Start the stack's metrics from zero: remove the samples of processes from an earlier run."""
    for path in Path(directory).glob("*.db"):
        path.unlink(missing_ok=True)


def cmd_web(args: argparse.Namespace) -> int:
    """The web server in the foreground: N daphne processes on one port, restarted if they die."""
    settings_check()
    secret_key_check()
    try:
        port_check(args.host, args.port)
    except PortUnavailable as exc:
        print(f"cognisim web: {exc}", file=sys.stderr, flush=True)
        return 1
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
    return 1 if supervisor.failed else 0


def cmd_scheduler(args: argparse.Namespace) -> int:
    """The recovery sweeper in a loop (cognisim_site/scheduler.py), until SIGTERM or Ctrl-C."""
    import django

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "cognisim_site.settings")
    django.setup()
    secret_key_check()
    from django.conf import settings

    from core import metrics
    from devices.workers import worker_beat

    from .scheduler import sweep

    stopping = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stopping.set())
    log = logging.getLogger("cognisim.scheduler")
    node = f"scheduler@{socket.gethostname()}"
    try:
        while not stopping.wait(settings.SWEEP_INTERVAL_SECONDS):
            done = {duty: count for duty, count in sweep().items() if count}
            if done:
                metrics.sweeper_recovered(done=done)
                log.info("sweep: %s", done)
            try:  # a beat after every sweep: `cognisim probe --worker scheduler` (a sweep that hangs, none)
                worker_beat(node=node, queues=["scheduler"])
            except Exception as exc:  # Redis away: the next sweep beats again
                log.warning("scheduler heartbeat failed: %s", exc)
    except KeyboardInterrupt:
        pass
    return 0


def cmd_agent(args: argparse.Namespace) -> int:
    from .agent import HostAgent

    host_metrics = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    settings_check()  # the agent's own settings, and the ones its workers will meet
    if host_metrics is None:  # the settings' default (under COGNISIM_HOME) is the server's; the agent picks its own
        os.environ.pop("PROMETHEUS_MULTIPROC_DIR", None)
    secret_key_check()
    logging_setup()

    token = args.token or os.environ.get("COGNISIM_TOKEN")
    if not token:
        print(
            "cognisim agent needs a host agent's token: --token or COGNISIM_TOKEN "
            "(python manage.py create_api_user NAME --host-agent HOST prints one).",
            file=sys.stderr,
        )
        return 2
    agent = HostAgent(
        server=args.server.rstrip("/"),
        token=token,
        host=args.host_name,
        adb_host=args.adb_host,
        adb_port=args.adb_port,
        heartbeat_s=args.heartbeat,
        metrics_port=args.metrics_port,
        metrics_host=args.metrics_host,
    )
    signal.signal(signal.SIGTERM, lambda *_: agent.stopping.set())
    try:
        agent.run()
    except KeyboardInterrupt:
        pass
    finally:
        agent.shutdown()
    if agent.refused:
        print(
            f"cognisim agent: {agent.refused}. It needs a host agent's token of its own: --token or "
            "COGNISIM_TOKEN (python manage.py create_api_user NAME --host-agent HOST prints one).",
            file=sys.stderr,
            flush=True,
        )
        return 1
    return 1 if agent.supervisor.failed else 0


def cmd_worker(args: argparse.Namespace) -> int:
    if args.sim and not args.device:
        print("cognisim worker: --sim goes with --device SERIAL", file=sys.stderr)
        return 2
    settings_check()
    secret_key_check()
    if args.sim:
        import django

        os.environ.setdefault("DJANGO_SETTINGS_MODULE", "cognisim_site.settings")
        django.setup()
        from devices.services import device_register_sim

        device_register_sim(serial=args.device)
    if args.device:
        argv = worker_argv(args.device, loglevel=args.loglevel)
    else:
        queue = os.environ.get("COGNISIM_QUEUE_PREFIX", "") + args.queue  # core.queues.service_queue
        argv = celery_queue_argv(queue, concurrency=args.concurrency, loglevel=args.loglevel)
    os.execv(sys.executable, argv)
    return 0  # not reached


def cmd_probe(args: argparse.Namespace) -> int:
    """A container's health check without curl: exit 0 when URL answers 200, or when QUEUE has a live worker."""
    if args.worker:
        import django

        os.environ.setdefault("DJANGO_SETTINGS_MODULE", "cognisim_site.settings")
        django.setup()
        from redis.exceptions import RedisError

        from devices.workers import workers_alive

        try:
            alive = workers_alive([args.worker])[args.worker]
        except (RedisError, OSError) as exc:
            print(f"{args.worker}: Redis unreachable ({exc})", file=sys.stderr, flush=True)
            return 1
        print(f"{args.worker}: {alive} live worker(s)")
        return 0 if alive else 1
    if not args.url:
        print("cognisim probe: give a URL or --worker QUEUE", file=sys.stderr)
        return 2
    import urllib.error
    import urllib.request

    try:
        with urllib.request.urlopen(args.url, timeout=args.timeout) as reply:
            status = reply.status
    except urllib.error.HTTPError as exc:
        status = exc.code
    except (OSError, ValueError) as exc:
        print(f"{args.url}: {exc}", file=sys.stderr)
        return 1
    print(f"{args.url}: {status}")
    return 0 if status == 200 else 1


MAX_WEB_PROCESSES = 64


def _port(raw: str) -> int:
    try:
        value = int(raw)
    except ValueError:
        value = 0
    if not 1 <= value <= 65535:
        raise argparse.ArgumentTypeError(f"must be a port from 1 to 65535, got {raw!r}")
    return value


def _web_processes(raw: str) -> int:
    try:
        value = int(raw)
    except ValueError:
        value = 0
    if not 1 <= value <= MAX_WEB_PROCESSES:
        raise argparse.ArgumentTypeError(f"must be a number of processes from 1 to {MAX_WEB_PROCESSES}, got {raw!r}")
    return value


MAX_SIM_DEVICES = 64  # each runs a worker process of its own


def _sim_devices(raw: str) -> int:
    value = int(raw) if raw.isascii() and raw.isdigit() else -1
    if not 0 <= value <= MAX_SIM_DEVICES:
        raise argparse.ArgumentTypeError(f"must be a number of phones from 0 to {MAX_SIM_DEVICES}, got {raw!r}")
    return value


def _server_url(raw: str) -> str:
    try:
        parts = urlsplit(raw)
        parts.port  # noqa: B018  (a port that is not a number raises here)
    except ValueError:
        parts = urlsplit("")
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise argparse.ArgumentTypeError(f"must be a URL starting with http:// or https:// and a host, got {raw!r}")
    return raw


def _seconds(raw: str) -> float:
    value = float(raw)
    if not value > 0:
        raise ValueError(raw)
    return value


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="cognisim", description="Run tests on Android devices.")
    commands = parser.add_subparsers(dest="command", required=True)
    up = commands.add_parser("up", help="start the whole local stack in the foreground")
    up.add_argument("--port", type=_port, default=8000)
    up.add_argument("--host", default="127.0.0.1")
    up.add_argument(
        "--sim-devices",
        type=_sim_devices,
        default=2,
        metavar="N",
        help=f"simulated phones, each with its worker (0 to {MAX_SIM_DEVICES}, default 2)",
    )
    up.add_argument(
        "--web-processes",
        type=_web_processes,
        default=1,
        metavar="N",
        help=f"daphne processes sharing the port (1 to {MAX_WEB_PROCESSES}, default 1)",
    )
    up.add_argument(
        "--wait",
        type=_seconds,
        default=os.environ.get("COGNISIM_UP_WAIT_SECONDS") or "120",
        metavar="SECONDS",
        help="how long Redis and the web server may take to answer (default 120, or $COGNISIM_UP_WAIT_SECONDS)",
    )
    up.set_defaults(run=cmd_up)
    web = commands.add_parser("web", help="the web server: N daphne processes sharing one port")
    web.add_argument("--host", default="127.0.0.1")
    web.add_argument("--port", type=_port, default=8000)
    web.add_argument(
        "--processes", type=_web_processes, default=1, metavar="N", help=f"1 to {MAX_WEB_PROCESSES} (default 1)"
    )
    web.add_argument(
        "--proxy-headers",
        action="store_true",
        help="take the client address from X-Forwarded-For, its last value (behind one proxy)",
    )
    web.set_defaults(run=cmd_web)
    scheduler = commands.add_parser("scheduler", help="the recovery sweeper (cognisim up starts one)")
    scheduler.set_defaults(run=cmd_scheduler)
    agent = commands.add_parser("agent", help="on a host with devices: register them and run their workers")
    agent.add_argument(
        "--server", required=True, type=_server_url, help="the CogniSim server, e.g. http://cognisim.example:8000"
    )
    agent.add_argument("--token", help="a host agent's API token (default: $COGNISIM_TOKEN)")
    agent.add_argument("--host-name", help="this host's name (default: the one its token belongs to)")
    agent.add_argument("--adb-host", default="127.0.0.1")
    agent.add_argument("--adb-port", type=int, default=5037)
    agent.add_argument("--heartbeat", type=float, default=3.0, metavar="SECONDS")
    agent.add_argument("--metrics-port", type=int, metavar="PORT", help="serve this host's Prometheus metrics")
    agent.add_argument("--metrics-host", default="127.0.0.1", help="the address the metrics listen on")
    agent.set_defaults(run=cmd_agent)
    from .runcli import add_commands

    add_commands(commands)
    worker = commands.add_parser("worker", help="the worker of one device, or of the control or agents queue")
    kind = worker.add_mutually_exclusive_group(required=True)
    kind.add_argument("--device", metavar="SERIAL", help="run the device's lane (queue device-SERIAL)")
    kind.add_argument("--queue", choices=SERVICE_QUEUES, help="run a service queue: control or agents")
    worker.add_argument("--concurrency", type=int, default=4, help="threads of a service queue's worker")
    worker.add_argument("--loglevel", default="info")
    worker.add_argument("--sim", action="store_true", help="register the simulated phone SERIAL first (compose)")
    worker.set_defaults(run=cmd_worker)
    probe = commands.add_parser("probe", help="a health check: exit 0 when URL answers 200 or QUEUE has a worker")
    probe.add_argument("url", nargs="?", help="e.g. http://127.0.0.1:8000/healthz")
    probe.add_argument(
        "--worker", metavar="QUEUE", help="a live worker on QUEUE (device-sim-1, control; scheduler) instead"
    )
    probe.add_argument("--timeout", type=float, default=5, metavar="SECONDS")
    probe.set_defaults(run=cmd_probe)
    args = parser.parse_args(argv)
    try:
        return int(args.run(args))
    except ConfigError as exc:
        print(f"cognisim: configuration error: {exc}", file=sys.stderr, flush=True)
        # Under a Supervisor (`cognisim up`, `web`, `agent`): EXIT_CONFIG stops it instead of a restart.
        return EXIT_CONFIG if os.environ.get(SUPERVISED) else 1


if __name__ == "__main__":
    sys.exit(main())
