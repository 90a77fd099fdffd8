"""The live device view: frames per second, frame latency, and what watching costs the session's steps.

    python bench/live.py                          # the simulated phone, and adb phones (instant, typical)
    python bench/live.py --profiles instant       # adb phones of these latency profiles only ("" for none)
    python bench/live.py --changes 200 --seconds 5 --steps 200

Starts its own `cognisim up` (one simulated phone, SQLite, a private Redis) and, for each adb profile, a
private real adb server, an adb-speaking simulated phone in a process of its own and `cognisim agent`,
which registers the phone and runs its worker — the caster then reads it with `screencap` through adb.
For each device it opens a session (the demo app, the e-mail field focused), opens the frame socket
`/ws/devices/<serial>/live/` and prints:

1. change → frame: the bench changes the phone's screen (a character typed or deleted, written into the
   phone's own state file, as the world changes a real screen) and waits for the frame that shows it:
   p50 / p99 from the change to the frame's arrival, and capture → arrival (the header's capture time);
2. fps: the screen changes 60 times a second for `--seconds`; the frames that arrived per second;
3. steps while watched: the round trip of steps that change the screen (`type "a"`, `press_key del`),
   EXECUTE_SINGLE → COMPLETED, in alternating blocks without and with a watcher (the caster then renders
   every change the steps make): p50 / p99 of each.

With the stack floor measured in the same run (bench/floor.py; `--no-floor` skips it) and the ratio of
capture → arrival to it.
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import redis  # noqa: E402
from websockets.exceptions import ConnectionClosed  # noqa: E402
from websockets.sync.client import connect  # noqa: E402

from bench.devices import phone_process  # noqa: E402
from bench.floor import Floor, measure_floor  # noqa: E402
from bench.roundtrip import running_stack  # noqa: E402
from cognisim_site.redis_server import start_private_redis  # noqa: E402
from devices.adbsim.adbserver import PrivateAdbServer, poll  # noqa: E402
from devices.drivers.sim import DEMO, SimDriver  # noqa: E402
from devices.screencast import FRAME_HEADER  # noqa: E402
from tests.live import Rest, Socket, session_status, step_done  # noqa: E402

CHANGES_PER_SECOND = 60


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


def figures(values: list[float]) -> str:
    return f"p50 {statistics.median(values):.1f} ms, p99 {percentile(values, 99):.1f} ms (n={len(values)})"


@dataclass
class Frame:
    arrived: float  # time.time()
    captured: float
    number: int
    digest: str


@dataclass
class FrameSocket:
    """The frame socket, read on a thread of its own: every frame with its arrival time."""

    url: str
    token: str
    frames: list[Frame] = field(default_factory=list)
    arrived: threading.Condition = field(default_factory=threading.Condition)

    def __post_init__(self) -> None:
        self.conn = connect(
            self.url, additional_headers={"Authorization": f"Token {self.token}"}, max_size=None, legacy=True
        )
        hello = json.loads(self.conn.recv(timeout=30))
        if hello.get("type") != "LIVE":
            raise SystemExit(f"the frame socket said {hello}")
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        try:
            while True:
                message = self.conn.recv()
                now = time.time()
                if not isinstance(message, bytes):
                    continue
                self.conn.send('{"type": "SEEN"}')  # as the page does: the server keeps 4 frames in flight
                number, captured = FRAME_HEADER.unpack_from(message)
                digest = hashlib.blake2b(message[FRAME_HEADER.size :], digest_size=16).hexdigest()
                with self.arrived:
                    self.frames.append(Frame(now, captured, number, digest))
                    self.arrived.notify_all()
        except ConnectionClosed:
            return

    def wait(self, check: Callable[[], bool], timeout: float = 60) -> None:
        with self.arrived:
            if not self.arrived.wait_for(check, timeout):
                raise SystemExit(f"no such frame within {timeout} s ({len(self.frames)} frames so far)")

    def close(self) -> None:
        self.conn.close()


class Screen:
    """Changes the phone's screen from outside the stack, through the phone's own state file: characters typed
    into the focused field up to 12, then deleted one by one, and again; a screen never shows again within two
    changes except at the turns (a reader that lags two changes behind would otherwise see nothing change)."""

    LONGEST = 12

    def __init__(self, serial: str, state_dir: Path) -> None:
        self.phone = SimDriver(serial, state_dir)
        self.length = 0
        self.growing = True

    def change(self) -> None:
        if self.growing:
            self.phone.input_text("abcdefghijkl"[self.length])
            self.length += 1
        else:
            self.phone.press_key("del")
            self.length -= 1
        if self.length in (0, self.LONGEST):
            self.growing = self.length == 0


def watch_latency(live: FrameSocket, screen: Screen, changes: int) -> tuple[list[float], list[float]]:
    """(change → arrival, capture → arrival) in ms, one change at a time."""
    to_frame: list[float] = []
    start = len(live.frames)
    for _ in range(changes):
        with live.arrived:
            seen = len(live.frames)
            last = live.frames[-1].digest
        started = time.time()
        screen.change()
        live.wait(lambda s=seen, d=last: any(f.digest != d for f in live.frames[s:]))  # type: ignore[misc]
        first = next(f for f in live.frames[seen:] if f.digest != last)
        to_frame.append((first.arrived - started) * 1000)
    transport = [(f.arrived - f.captured) * 1000 for f in live.frames[start:]]
    return to_frame, transport


def watch_fps(live: FrameSocket, screen: Screen, seconds: float) -> tuple[float, int]:
    """Frames a second while the screen changes CHANGES_PER_SECOND times a second; and how many changes."""
    stop = threading.Event()
    count = 0

    def changing() -> None:
        nonlocal count
        interval = 1 / CHANGES_PER_SECOND
        next_at = time.monotonic()
        while not stop.is_set():
            screen.change()
            count += 1
            next_at += interval
            stop.wait(max(0.0, next_at - time.monotonic()))

    thread = threading.Thread(target=changing)
    with live.arrived:
        before = len(live.frames)
    started = time.time()
    thread.start()
    thread.join(seconds)
    stop.set()
    thread.join()
    ended = time.time()
    received = [f for f in live.frames[before:] if started <= f.arrived <= ended]
    return len(received) / (ended - started), count


def step_round_trips(sock: Socket, steps: int) -> list[float]:
    times = []
    for n in range(steps):
        step = {"action": "type", "text": "a"} if n % 2 == 0 else {"action": "press_key", "key": "del"}
        started = time.perf_counter()
        sock.send({"type": "EXECUTE_SINGLE", "step": step})
        ack = sock.wait_for(lambda m: m.get("type") == "ACK")
        done = sock.wait_for(step_done(ack["step_id"]))
        times.append((time.perf_counter() - started) * 1000)
        if done["status"] != "COMPLETED":
            raise SystemExit(f"a step failed: {done}")
        sock.received.clear()
    return times


def casting(client: redis.Redis, serial: str) -> bool:
    return bool(client.exists(f"cognisim:live:casting:{serial}"))


def bench_device(
    label: str, url: str, token: str, serial: str, screen: Screen, client: redis.Redis, *, changes: int, steps: int,
    seconds: float,
) -> list[float]:
    """Print the device's figures; its capture → arrival times."""
    rest = Rest(url, token)
    reply = rest.post("/api/sessions/", {"device": serial, "app": {"package": DEMO}})
    if reply.status != 201:
        raise SystemExit(f"could not open a session on {serial}: {reply.status} {reply.body}")
    session = reply.body
    sock = Socket(session["ws_url"] + "?last_seq=0", token=token)
    sock.wait_for(session_status("READY"), timeout=120)
    for step in ({"action": "launch_app", "package": DEMO, "clear_state": True}, {"action": "tap", "id": "email"}):
        sock.send({"type": "EXECUTE_SINGLE", "step": step})
        ack = sock.wait_for(lambda m: m.get("type") == "ACK")
        sock.wait_for(step_done(ack["step_id"]), timeout=60)
    sock.received.clear()
    live_url = session["live_url"].replace("http", "ws", 1).replace("/devices/", "/ws/devices/", 1)

    live = FrameSocket(live_url, token)
    live.wait(lambda: bool(live.frames))
    watch_latency(live, screen, 5)  # warm-up
    to_frame, transport = watch_latency(live, screen, changes)
    fps, made = watch_fps(live, screen, seconds)
    live.close()
    print(f"{label}: change → frame {figures(to_frame)}")
    print(f"{label}: capture → arrival {figures(transport)}")
    print(f"{label}: {fps:.1f} frames/s while the screen changed {made / seconds:.0f} times a second")

    block = min(50, steps)
    alone: list[float] = []
    watched: list[float] = []
    frames = 0
    for _ in range(max(1, steps // block)):
        poll(lambda: not casting(client, serial), timeout=30, what="the caster to stop")
        alone += step_round_trips(sock, block)
        live = FrameSocket(live_url, token)
        poll(lambda: casting(client, serial), timeout=30, what="the caster to start")
        watched += step_round_trips(sock, block)
        live.close()
        frames += len(live.frames)
    print(f"{label}: steps unwatched {figures(alone)}")
    print(f"{label}: steps watched   {figures(watched)} ({frames} frames sent meanwhile)")
    rest.post(f"/api/sessions/{session['id']}/stop/")
    sock.close()
    return transport


@contextlib.contextmanager
def adb_phone(home: Path, url: str, env: dict[str, str], profile: str) -> Iterator[tuple[str, Screen]]:
    """An adb-speaking phone behind a private real adb server, registered and served by `cognisim agent`."""
    phones = home / f"phones-{profile}"
    name = f"bench-{profile}"
    with PrivateAdbServer(home / f"adb-{profile}") as server, phone_process(phones, name, profile) as address:
        serial = server.attach(address)
        manage = [sys.executable, str(ROOT / "manage.py")]
        host = f"bench-host-{profile}"
        token = subprocess.run(
            [*manage, "create_api_user", f"agent-{profile}", "--host-agent", host],
            env=env,
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
        agent = subprocess.Popen(
            [sys.executable, "-m", "cognisim_site.cli", "agent", "--server", url, "--token", token]
            + ["--host-name", host, "--adb-port", str(server.port), "--heartbeat", "1"],
            env=env,
        )
        try:
            yield serial, Screen(name, phones)
        finally:
            agent.terminate()
            agent.wait(timeout=30)


def available(url: str, token: str, serial: str) -> bool:
    return any(d["serial"] == serial and d["status"] == "available" for d in Rest(url, token).get("/api/devices/").body)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--changes", type=int, default=200, help="screen changes timed one at a time")
    parser.add_argument("--seconds", type=float, default=5.0, help="how long the screen changes for fps")
    parser.add_argument("--steps", type=int, default=200, help="steps timed without and with a watcher, each")
    parser.add_argument("--profiles", default="instant,typical", help="adb phones' latency profiles")
    parser.add_argument("--slow-changes", type=int, default=30, help="--changes for the typical and slow profiles")
    parser.add_argument("--slow-steps", type=int, default=10, help="--steps for the typical and slow profiles")
    parser.add_argument("--no-floor", action="store_true")
    args = parser.parse_args()
    floor: Floor | None = None if args.no_floor else measure_floor()
    home = Path(tempfile.mkdtemp(prefix="cognisim-bench-live-"))
    redis_proc, redis_url = start_private_redis(home / "redis")
    os.environ["REDIS_URL"] = redis_url
    os.environ["COGNISIM_HOME"] = str(home)
    os.environ["SOCKET_MESSAGES_PER_SECOND"] = "1000"  # steps back to back on one socket are the point
    os.environ.setdefault("LOG_LEVEL", "WARNING")
    client = redis.Redis.from_url(redis_url)
    transport: list[float] = []
    try:
        with running_stack(devices=1, home=str(home)) as (url, token):
            env = dict(os.environ, RATE_LIMIT_STEPS="0")
            screen = Screen("sim-1", home / "devices")
            sizes = {"changes": args.changes, "steps": args.steps, "seconds": args.seconds}
            transport += bench_device("sim", url, token, "sim-1", screen, client, **sizes)
            for profile in filter(None, args.profiles.split(",")):
                if profile != "instant":
                    sizes = {"changes": args.slow_changes, "steps": args.slow_steps, "seconds": args.seconds}
                with adb_phone(home, url, env, profile) as (serial, screen):
                    poll(lambda s=serial: available(url, token, s), timeout=60, what="the adb phone to register")
                    transport += bench_device(f"adb {profile}", url, token, serial, screen, client, **sizes)
    finally:
        redis_proc.terminate()
    if floor is not None and transport:
        p50 = statistics.median(transport)
        print(f"{floor}; capture → arrival p50 over every device {p50:.1f} ms = {p50 / floor.p50_ms:.2f}x floor p50")


if __name__ == "__main__":
    main()
