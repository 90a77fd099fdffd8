"""One server and two device hosts as one system, each host in a network namespace of its own.

The server — daphne, the scheduler, the service-queue workers, a Redis of the test's own and the
test database — stays in the root namespace. Each host is a namespace joined to it by a veth pair
(link-local addresses), with its own adb server, two simulated phones that speak the adb protocol,
and `cognisim agent` with a token of its own; the agent's workers reach Redis and the database over
the veth. Sessions on all four phones run steps at once; host A's agent dies with its workers; only
A's phones go offline and only A's sessions pause, B's go on; A's agent comes back and A's sessions
run again. Needs root and `ip netns`; skipped with the reason elsewhere. Everything it creates —
namespaces, veth pairs, processes — is removed at the end, also when it fails.

Prints steps/s across the four devices and how B's sessions fared while A was away:
    pytest tests/deploy/test_hosts.py -s
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import threading
import time
import urllib.parse
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

import pytest

from cognisim_site.processes import Supervisor, daphne_argv, queue_worker_argv, scheduler_argv, wait_for_port
from cognisim_site.redis_server import free_port, redis_server_binary
from core.queues import SERVICE_QUEUES
from sessions.accounts import api_user_create
from sessions.models import TestSession
from tests.conftest import _database_url
from tests.live import Rest, Socket, session_status, stack_env, step_done, wait_ready

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]

TAG = os.getpid() % 10000
NET = 100 + os.getpid() % 60  # 169.254.NET.0/24, link-local; never 169.254.169.x
SERVER = f"169.254.{NET}.1"


def _netns_unavailable() -> str | None:
    if os.geteuid() != 0:
        return f"needs root to create network namespaces (running as uid {os.geteuid()})"
    for tool in ("ip", "adb"):
        if shutil.which(tool) is None:
            return f"needs the `{tool}` command"
    probe = f"cognisim-probe-{os.getpid()}"
    made = subprocess.run(["ip", "netns", "add", probe], capture_output=True, text=True)
    if made.returncode != 0:
        return f"`ip netns add` is refused here: {made.stderr.strip()}"
    try:
        pair = ["ip", "-n", probe, "link", "add", "p0", "type", "veth", "peer", "name", "p1"]
        veth = subprocess.run(pair, capture_output=True, text=True)
        if veth.returncode != 0:
            return f"veth pairs are refused here: {veth.stderr.strip()}"
    finally:
        subprocess.run(["ip", "netns", "del", probe], capture_output=True)  # takes the pair along
    return None


def ip(*args: str, ns: str | None = None) -> None:
    argv = ["ip", *(["-n", ns] if ns else []), *args]
    done = subprocess.run(argv, capture_output=True, text=True, timeout=30)
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(argv)}: {done.stderr.strip()}")


class Relay:
    """TCP from ADDRESS:port to TARGET:target_port — PostgreSQL on loopback, for the hosts' workers."""

    def __init__(self, address: str, target: str, target_port: int) -> None:
        self.target = (target, target_port)
        self.server = socket.create_server((address, 0))
        self.port = self.server.getsockname()[1]
        self.stopping = False
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while not self.stopping:
            try:
                client, _ = self.server.accept()
            except OSError:
                return
            upstream = socket.create_connection(self.target, timeout=10)
            upstream.settimeout(None)
            for a, b in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pump, args=(a, b), daemon=True).start()

    @staticmethod
    def _pump(source: socket.socket, sink: socket.socket) -> None:
        try:
            while data := source.recv(65536):
                sink.sendall(data)
        except OSError:
            pass
        finally:
            for sock in (source, sink):
                with contextlib.suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)

    def close(self) -> None:
        self.stopping = True
        self.server.close()


@dataclass
class Host:
    """A device host: a namespace, its veth address, its adb server, its phones and its agent."""

    name: str
    address: str
    ns: str
    home: Path
    phone_ports: tuple[int, int]
    procs: list[subprocess.Popen[bytes]] = field(default_factory=list)
    agent: subprocess.Popen[bytes] | None = None

    @property
    def serials(self) -> list[str]:
        return [f"127.0.0.1:{port}" for port in self.phone_ports]

    def spawn(self, argv: list[str], env: dict[str, str], log: str, **kwargs: Any) -> subprocess.Popen[bytes]:
        with open(self.home / f"{log}.log", "ab") as out:
            proc = subprocess.Popen(
                ["ip", "netns", "exec", self.ns, *argv], env=env, stdout=out, stderr=subprocess.STDOUT, **kwargs
            )
        self.procs.append(proc)
        return proc

    def adb_connect(self, serial: str, env: dict[str, str]) -> bool:
        """`adb connect` on this host's adb server; True once adb lists the phone as a device."""
        adb = ["ip", "netns", "exec", self.ns, "adb", "-L", "tcp:127.0.0.1:5037"]
        subprocess.run([*adb, "connect", serial], env=env, capture_output=True, timeout=60)
        listed = subprocess.run([*adb, "devices"], env=env, capture_output=True, text=True, timeout=60).stdout
        return f"{serial}\tdevice" in listed


def _until(check: Any, *, timeout: float, what: str, state: Any = None) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"{what}: not within {timeout} s" + (f"; {state()}" if state else ""))
        time.sleep(0.1)


def _sessions_state() -> str:
    return "; ".join(
        f"{s.device_id and s.device.serial}: {s.status} {s.error} steps "
        + ",".join(f"{st.index}:{st.status}" for st in s.steps.order_by("-index")[:3])
        for s in TestSession.objects.select_related("device").order_by("created_at")
    )


@pytest.fixture
def hosts(tmp_path: Path) -> Iterator[list[Host]]:
    """Two namespaces joined to the root namespace by veth pairs; removed at the end whatever happens."""
    reason = _netns_unavailable()
    if reason:
        pytest.skip(reason)
    made: list[Host] = []
    try:
        for n, letter in enumerate("ab"):
            host = Host(
                name=f"host-{letter}",
                address=f"169.254.{NET}.{n + 2}",
                ns=f"cognisim-{os.getpid()}-{letter}",
                home=tmp_path / f"host-{letter}",
                phone_ports=(15555 + 2 * n, 15556 + 2 * n),
            )
            host.home.mkdir()
            ip("netns", "add", host.ns)
            made.append(host)
            outside, inside = f"cs{TAG}{letter}", f"cs{TAG}{letter}n"
            ip("link", "add", outside, "type", "veth", "peer", "name", inside)
            ip("link", "set", inside, "netns", host.ns)
            if n == 0:
                ip("addr", "add", f"{SERVER}/32", "dev", outside)
            ip("link", "set", outside, "up")
            ip("route", "add", f"{host.address}/32", "dev", outside, "src", SERVER)  # answers come back
            ip("addr", "add", f"{host.address}/32", "dev", inside, ns=host.ns)
            ip("link", "set", inside, "up", ns=host.ns)
            ip("link", "set", "lo", "up", ns=host.ns)
            ip("route", "add", f"{SERVER}/32", "dev", inside, ns=host.ns)
        yield made
    finally:
        for host in made:
            procs = [*host.procs, *([host.agent] if host.agent else [])]
            for proc in procs:
                if proc.poll() is None:
                    proc.kill()
            for proc in procs:
                proc.wait(timeout=30)
            left = subprocess.run(["ip", "netns", "pids", host.ns], capture_output=True, text=True).stdout.split()
            for pid in left:  # workers the killed agent left behind: ours too
                with contextlib.suppress(ProcessLookupError):
                    os.kill(int(pid), signal.SIGKILL)
            subprocess.run(["ip", "netns", "del", host.ns], capture_output=True)  # takes its veth pair along
        for letter in "ab":
            subprocess.run(["ip", "link", "del", f"cs{TAG}{letter}"], capture_output=True)


@dataclass
class Driver:
    """Steps sent one after another on one session's socket; the time each one finished."""

    serial: str
    session_id: str
    sock: Socket
    done: list[float] = field(default_factory=list)
    paused_at: float | None = None
    stopping: threading.Event = field(default_factory=threading.Event)
    error: BaseException | None = None

    def run(self, resumed: threading.Event) -> None:
        try:
            n = 0
            while not self.stopping.is_set():
                n += 1
                sent = len(self.sock.received)  # a pause may land between a step's end and the next one's ACK
                self.sock.send({"type": "EXECUTE_SINGLE", "step": {"action": "tap", "x": 100 + n % 500, "y": 10}})
                ack = self.sock.wait_for(lambda m: m.get("type") in ("ACK", "ERROR"), timeout=300)
                paused = next((m for m in self.sock.received[sent:] if session_status("IDLE")(m)), None)
                assert ack["type"] == "ACK" or paused, ack
                message = paused or self.sock.wait_for(
                    lambda m, step=ack["step_id"]: step_done(step)(m) or session_status("IDLE")(m), timeout=300
                )
                if message.get("type") == "SESSION_STATUS":  # paused: its device went offline
                    self.paused_at = time.monotonic()
                    resumed.wait(timeout=300)
                    continue  # the next step wakes the session (the one in flight finishes on its own)
                assert message["status"] == "COMPLETED", message
                self.done.append(time.monotonic())
        except BaseException as exc:
            self.error = exc


def test_two_device_hosts_and_a_server_work_as_one_system(hosts, tmp_path):
    a, b = hosts
    # The server: its own Redis on loopback and the server address; the test database (a relay for
    # PostgreSQL on loopback, the same file for SQLite: a namespace shares the file system).
    redis_port = free_port()
    redis = subprocess.Popen(
        [redis_server_binary(), "--port", str(redis_port), "--bind", "127.0.0.1", SERVER]
        + ["--save", "", "--appendonly", "no", "--dir", str(tmp_path)],
        stdout=subprocess.DEVNULL,
    )
    relay: Relay | None = None
    supervisor = Supervisor(log=False)
    drivers: list[Driver] = []
    try:
        wait_for_port("127.0.0.1", redis_port, timeout=30, proc=redis)
        database_url = _database_url()
        host_database_url = database_url
        if database_url.startswith("postgres"):
            parts = urllib.parse.urlsplit(database_url)
            relay = Relay(SERVER, parts.hostname or "127.0.0.1", parts.port or 5432)
            auth = parts.netloc.rsplit("@", 1)[0]
            host_database_url = parts._replace(netloc=f"{auth}@{SERVER}:{relay.port}").geturl()
        web_port = free_port()
        server_env = {
            **stack_env(database_url),
            "REDIS_URL": f"redis://127.0.0.1:{redis_port}/0",
            "ALLOWED_HOSTS": f"127.0.0.1,{SERVER}",
            "DEVICE_STALE_SECONDS": "3",
            "RATE_LIMIT_STEPS": "0",  # four sessions stepping as fast as their phones go
            "SOCKET_MESSAGES_PER_SECOND": "1000",
        }
        for queue in SERVICE_QUEUES:
            supervisor.start(queue, queue_worker_argv(queue, concurrency=2), server_env)
        supervisor.start("scheduler", scheduler_argv(), server_env)
        web = supervisor.start("web", daphne_argv(SERVER, web_port), server_env)
        threading.Thread(target=supervisor.watch, daemon=True).start()
        wait_for_port(SERVER, web_port, timeout=60, proc=web)
        base = f"http://{SERVER}:{web_port}"

        tokens = {h.name: api_user_create(username=h.name, host_agent=True, host=h.name) for h in hosts}
        tester = api_user_create(username="tester", max_sessions=4)
        rest = Rest(base, tester)

        def host_env(host: Host) -> dict[str, str]:
            env = {k: v for k, v in server_env.items() if k != "PROMETHEUS_MULTIPROC_DIR"}
            return {
                **env,
                "COGNISIM_HOME": str(host.home),
                "DATABASE_URL": host_database_url,
                "REDIS_URL": f"redis://{SERVER}:{redis_port}/0",
            }

        def start_agent(host: Host) -> None:
            argv = [sys.executable, "-m", "cognisim_site.cli", "agent", "--server", base]
            argv += ["--adb-port", "5037", "--heartbeat", "1", "--metrics-port", "9100"]
            argv += ["--metrics-host", host.address]
            env = {**host_env(host), "COGNISIM_TOKEN": tokens[host.name]}
            with open(host.home / "agent.log", "ab") as out:  # its own process group: it dies with its workers
                host.agent = subprocess.Popen(
                    ["ip", "netns", "exec", host.ns, *argv],
                    env=env,
                    stdout=out,
                    stderr=subprocess.STDOUT,
                    start_new_session=True,
                )

        for host in hosts:
            adb_env = {**os.environ, "HOME": str(host.home), "ANDROID_SDK_HOME": str(host.home)}
            host.spawn(["adb", "-L", "tcp:5037", "server", "nodaemon"], adb_env, "adb", stdin=subprocess.DEVNULL)
            for serial, port in zip(host.serials, host.phone_ports, strict=True):
                phone = [sys.executable, "-m", "devices.adbsim", "--serial", serial.replace(":", "-")]
                phone += ["--port", str(port), "--state-dir", str(host.home / "phones")]
                host.spawn(phone, host_env(host), f"phone-{port}")
            for serial in host.serials:
                _until(partial(host.adb_connect, serial, adb_env), timeout=60, what=f"{serial} attached on {host.name}")
            start_agent(host)

        def devices() -> dict[str, dict[str, Any]]:
            return {d["serial"]: d for d in rest.get("/api/devices/").body}

        every = [s for h in hosts for s in h.serials]
        _until(
            lambda: all(devices().get(s, {}).get("status") == "available" for s in every),
            timeout=120,
            what="four phones registered by two agents",
        )
        assert {devices()[s]["host"] for s in a.serials} == {"host-a"}
        assert {devices()[s]["host"] for s in b.serials} == {"host-b"}

        for serial in every:
            opened = rest.post("/api/sessions/", {"device": serial})
            assert opened.status == 201, opened.body
            sock = Socket(f"ws://{SERVER}:{web_port}/ws/sessions/{opened.body['id']}/?last_seq=0", token=tester)
            wait_ready(sock, timeout=120)
            drivers.append(Driver(serial=serial, session_id=opened.body["id"], sock=sock))
        resumed = threading.Event()
        for driver in drivers:
            threading.Thread(target=driver.run, args=(resumed,), daemon=True).start()
        on_a = [d for d in drivers if d.serial in a.serials]
        on_b = [d for d in drivers if d.serial in b.serials]

        started = time.monotonic()
        _until(lambda: all(len(d.done) >= 100 for d in drivers), timeout=300, what="100 steps on each phone")
        both_up = time.monotonic() - started
        steps_both = sum(len(d.done) for d in drivers)

        # Host A dies: its agent and its workers (one process group), as when the machine goes down.
        killed = time.monotonic()
        assert a.agent is not None
        os.killpg(a.agent.pid, signal.SIGKILL)
        a.agent.wait(timeout=30)
        _until(
            lambda: all(devices()[s]["status"] == "offline" for s in a.serials),
            timeout=60,
            what="host A's phones offline",
        )
        offline_after = time.monotonic() - killed
        _until(
            lambda: all(d.paused_at for d in on_a), timeout=60, what="host A's sessions paused", state=_sessions_state
        )
        for driver in on_a:
            paused = TestSession.objects.get(pk=driver.session_id)
            assert paused.status == "IDLE" and paused.error["code"] == "device_offline", paused.error
        assert all(devices()[s]["status"] == "busy" for s in b.serials)
        b_before = {id(d): len(d.done) for d in on_b}
        _until(
            lambda: all(len(d.done) >= b_before[id(d)] + 20 for d in on_b),
            timeout=120,
            what="host B's sessions to go on",
        )
        for driver in on_b:
            assert TestSession.objects.get(pk=driver.session_id).status in ("READY", "RUNNING")
        with urllib.request.urlopen(f"http://{b.address}:9100/metrics", timeout=30) as reply:
            b_metrics = reply.read().decode()  # host B's own metrics, from its agent
        assert "cognisim_agent_devices 2.0" in b_metrics and 'cognisim_steps_total{action="tap"' in b_metrics

        # Host A comes back: its agent registers the phones again and its sessions run again.
        back = time.monotonic()
        start_agent(a)
        _until(
            lambda: all(devices()[s]["status"] in ("available", "busy") for s in a.serials),
            timeout=120,
            what="host A's phones back",
        )
        a_before = {id(d): len(d.done) for d in on_a}
        resumed.set()
        _until(
            lambda: all(len(d.done) >= a_before[id(d)] + 10 for d in on_a),
            timeout=180,
            what="host A's sessions to run again",
            state=_sessions_state,
        )
        restored_after = time.monotonic() - back
        for driver in drivers:
            driver.stopping.set()
        assert not [d.error for d in drivers if d.error], [d.error for d in drivers if d.error]

        gaps_before = [y - x for d in on_b for x, y in zip(d.done, d.done[1:], strict=False) if y < killed]
        gaps_during = [y - x for d in on_b for x, y in zip(d.done, d.done[1:], strict=False) if x >= killed]
        gaps_across = [y - x for d in on_b for x, y in zip(d.done, d.done[1:], strict=False) if x < killed <= y]
        print(
            f"\nsteps/s across four devices on two hosts: {steps_both / both_up:.1f} ({steps_both} steps in "
            f"{both_up:.1f} s)\n"
            f"host A killed: its phones offline after {offline_after:.1f} s (DEVICE_STALE_SECONDS=3, "
            f"heartbeat 1 s); its sessions ran again {restored_after:.1f} s after its agent restarted\n"
            f"host B meanwhile: steps kept finishing; gap between steps p50 "
            f"{1000 * statistics.median(gaps_before):.0f} ms before, {1000 * statistics.median(gaps_during):.0f} ms "
            f"after; the gap across the kill {1000 * max(gaps_across, default=0):.0f} ms, the longest after "
            f"{1000 * max(gaps_during):.0f} ms (before {1000 * max(gaps_before):.0f} ms)",
            flush=True,
        )
    finally:
        for driver in drivers:
            driver.stopping.set()
            driver.sock.close()
        supervisor.stop()
        if relay is not None:
            relay.close()
        redis.terminate()
        redis.wait(timeout=30)
