"""A private real adb server on a free port, for tests and benchmarks that attach simulated phones.

It never touches the default server on 5037: it runs `adb -L tcp:PORT server nodaemon`
as a child process (stopped by pid) with its own HOME, and clients name it as
`tcp:127.0.0.1:PORT` — adb only starts a server on its own for a `localhost`
address, so a client can never leave a stray daemon behind when this one is gone.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from .server import AdbSimPhone


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def poll(check: Callable[[], bool], *, timeout: float = 10.0, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise TimeoutError(f"Timed out after {timeout:g} s waiting for {what}.")
        time.sleep(0.02)


class PrivateAdbServer:
    def __init__(self, home: Path | str | None = None) -> None:
        adb = shutil.which("adb")
        if adb is None:
            raise FileNotFoundError(
                "The `adb` binary is not on PATH; install Debian's `adb` package (apt install adb)."
            )
        self.adb = adb
        self.home = Path(home) if home is not None else Path(tempfile.mkdtemp(prefix="adb-home-"))
        self.home.mkdir(parents=True, exist_ok=True)
        self.env = {**os.environ, "HOME": str(self.home), "ANDROID_SDK_HOME": str(self.home)}
        self.port = 0
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> PrivateAdbServer:
        for _ in range(5):
            self.port = free_port()
            with open(self.home / f"adb-server-{self.port}.log", "wb") as log:
                self.proc = subprocess.Popen(
                    [self.adb, "-L", f"tcp:{self.port}", "server", "nodaemon"],
                    env=self.env,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    stdin=subprocess.DEVNULL,
                )
            deadline = time.monotonic() + 10
            while self.proc.poll() is None and time.monotonic() < deadline:
                try:
                    socket.create_connection(("127.0.0.1", self.port), timeout=0.2).close()
                    return self
                except OSError:
                    time.sleep(0.02)
            self.stop()
        raise RuntimeError(f"Could not start a private adb server; its logs are in {self.home}")

    def stop(self) -> None:
        proc, self.proc = self.proc, None
        if proc is None:
            return
        proc.terminate()
        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=5)

    def __enter__(self) -> PrivateAdbServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def run(self, *args: str, check: bool = True, timeout: float = 10) -> subprocess.CompletedProcess[bytes]:
        """`adb ARGS` against this server; with `check`, a failure raises with adb's stderr."""
        result = subprocess.run(
            [self.adb, "-L", f"tcp:127.0.0.1:{self.port}", *args],
            env=self.env,
            capture_output=True,
            timeout=timeout,
            stdin=subprocess.DEVNULL,
        )
        if check and result.returncode != 0:
            raise RuntimeError(f"adb {' '.join(args)} failed ({result.returncode}): {result.stderr!r}")
        return result

    def text(self, *args: str) -> str:
        return self.run(*args).stdout.decode()

    def states(self) -> dict[str, str]:
        """Serial → state (`device`, `offline`, …) as `adb devices` lists them."""
        lines = self.text("devices").splitlines()[1:]
        return dict(line.split("\t", 1) for line in lines if "\t" in line)

    def wait_state(self, serial: str, check: Callable[[str | None], bool], what: str, timeout: float = 10) -> None:
        """Poll `adb devices` until `check(state of serial)` holds (None: not listed)."""
        poll(lambda: check(self.states().get(serial)), timeout=timeout, what=f"{serial} {what}")

    def attach(self, phone: AdbSimPhone | str) -> str:
        """`adb connect` the phone (or HOST:PORT) and wait until adb lists it as `device`; its serial."""
        serial = phone if isinstance(phone, str) else phone.address
        self.run("connect", serial)
        self.wait_state(serial, lambda state: state == "device", "to be listed as device")
        return serial

    def detach(self, phone: AdbSimPhone | str) -> None:
        self.run("disconnect", phone if isinstance(phone, str) else phone.address, check=False)
