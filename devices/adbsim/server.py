"""`AdbSimPhone`: a simulated phone that speaks the device side of the adb transport over TCP.

Point a real adb server at it with `adb connect HOST:PORT`. Each TCP connection is one
transport: CNXN without authentication, then any number of concurrent streams
(OPEN/OKAY/WRTE/CLSE) to the `shell:` and `exec:` services. Both run a command line
through the simulated shell (`Programs`) without a PTY, so their output is
binary-safe, as adbd's raw (non-interactive) subprocesses are.

The banner advertises no features: adb then sticks to the plain protocols implemented
here — `shell:` rather than shell_v2, one WRTE in flight per stream (no delayed_ack).
"""

from __future__ import annotations

import contextlib
import itertools
import logging
import socket
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from devices.drivers.sim import SimDriver
from devices.drivers.sim.apps import MODEL

from . import protocol as p
from .commands import Programs
from .shell import run

log = logging.getLogger(__name__)

FEATURES: list[str] = []
SERVICES = ("shell:", "exec:")


@dataclass
class _Stream:
    local_id: int
    remote_id: int
    ready: threading.Condition = field(default_factory=threading.Condition)
    can_write: bool = True
    closed: bool = False


class _Transport:
    """One TCP connection from an adb server: a reader thread, and a thread per open stream."""

    def __init__(self, sock: socket.socket, phone: AdbSimPhone) -> None:
        self.sock, self.phone = sock, phone
        self.version = p.VERSION_MIN
        self.peer_max = p.MAX_PAYLOAD_V1
        self.connected = False
        self.streams: dict[int, _Stream] = {}
        self._ids = itertools.count(1)
        self._send_lock = threading.Lock()
        self._lock = threading.Lock()
        self._dead = False

    def serve(self) -> None:
        try:
            while True:
                limit = p.MAX_PAYLOAD if self.connected else p.MAX_PAYLOAD_V1
                skip = self.version >= p.VERSION_SKIP_CHECKSUM
                self._handle(p.read_message(self.sock, verify_checksum=not skip, max_payload=limit))
        except p.ProtocolError as exc:
            log.warning("adbsim %s: closing the connection: %s", self.phone.serial, exc)
        except (p.ConnectionClosed, OSError):
            pass
        finally:
            self.close()

    def close(self) -> None:
        with self._lock:
            if self._dead:
                return
            self._dead = True
            streams = list(self.streams.values())
            self.streams.clear()
        for stream in streams:
            self._end(stream)
        with contextlib.suppress(OSError):
            self.sock.shutdown(socket.SHUT_RDWR)
        self.sock.close()
        self.phone._forget(self)

    def send(self, message: p.Message) -> None:
        data = p.pack(message, with_checksum=self.version < p.VERSION_SKIP_CHECKSUM)
        with self._send_lock:
            self.sock.sendall(data)

    def _handle(self, message: p.Message) -> None:
        if message.command == p.A_CNXN:
            self._connect(message)
        elif not self.connected:
            return
        elif message.command == p.A_OPEN:
            self._open(message.arg0, message.data.rstrip(b"\0").decode("utf-8", errors="replace"))
        elif message.command == p.A_OKAY:
            self._ready(message.arg1, message.arg0)
        elif message.command == p.A_WRTE:
            stream = self.streams.get(message.arg1)
            if stream is not None:
                self.send(p.Message(p.A_OKAY, stream.local_id, stream.remote_id))
        elif message.command == p.A_CLSE:
            with self._lock:
                stream = self.streams.pop(message.arg1, None)
            if stream is not None:
                self._end(stream)

    def _connect(self, message: p.Message) -> None:
        if message.arg0 < p.VERSION_MIN or message.arg1 < p.MAX_PAYLOAD_V1:
            raise p.ProtocolError(f"Unusable CNXN version 0x{message.arg0:08x}, maxdata {message.arg1}.")
        with self._lock:
            streams = list(self.streams.values())
            self.streams.clear()
        for stream in streams:
            self._end(stream)
        banner = p.banner(product="cognisim_phone", model=MODEL, device="cognisim", features=FEATURES)
        self.send(p.Message(p.A_CNXN, p.VERSION_SKIP_CHECKSUM, p.MAX_PAYLOAD, banner))
        self.version = min(message.arg0, p.VERSION_SKIP_CHECKSUM)
        self.peer_max = min(message.arg1, p.MAX_PAYLOAD)
        self.connected = True

    def _open(self, remote_id: int, destination: str) -> None:
        service = next((name for name in SERVICES if destination.startswith(name)), None)
        if remote_id == 0 or service is None:
            self.send(p.Message(p.A_CLSE, 0, remote_id))
            return
        with self._lock:
            stream = _Stream(next(self._ids), remote_id)
            self.streams[stream.local_id] = stream
        self.send(p.Message(p.A_OKAY, stream.local_id, remote_id))
        command = destination[len(service) :]
        threading.Thread(target=self._run, args=(stream, command), name=f"adbsim-{service[:-1]}", daemon=True).start()

    def _ready(self, local_id: int, remote_id: int) -> None:
        stream = self.streams.get(local_id)
        if stream is None or stream.remote_id != remote_id:
            return
        with stream.ready:
            stream.can_write = True
            stream.ready.notify_all()

    def _end(self, stream: _Stream) -> None:
        with stream.ready:
            stream.closed = True
            stream.ready.notify_all()

    def _run(self, stream: _Stream, command: str) -> None:
        """Run the command, send its output a WRTE at a time (each waits for the peer's OKAY), then CLSE."""
        out = bytearray()
        if command.strip():
            try:
                run(command, self.phone.programs.lookup, out)
            except Exception:
                log.exception("adbsim %s: %r failed", self.phone.serial, command)
                out += b"/system/bin/sh: the simulated phone failed to run this command\n"
        else:
            out += b"The interactive shell is not simulated; run `adb shell COMMAND`.\n"
        try:
            data, size = bytes(out), self.peer_max
            for start in range(0, len(data), size):
                with stream.ready:
                    stream.ready.wait_for(lambda: stream.can_write or stream.closed)
                    if stream.closed:
                        return
                    stream.can_write = False
                self.send(p.Message(p.A_WRTE, stream.local_id, stream.remote_id, data[start : start + size]))
            with self._lock:
                mine = self.streams.pop(stream.local_id, None) is stream
            if mine:
                self.send(p.Message(p.A_CLSE, stream.local_id, stream.remote_id))
        except OSError:
            self.close()


class AdbSimPhone:
    """A `SimDriver` phone behind an adb-speaking TCP port; `adb connect HOST:PORT` attaches it.

    Every mutating shell command goes through the `SimDriver`, so `driver.action_log()`
    reads the same as when the plain driver is used. `stop()` is pulling the cable: the
    listener and every connection close at once.
    """

    def __init__(self, serial: str, state_dir: Path | str, host: str = "127.0.0.1", port: int = 0) -> None:
        self.serial, self.host = serial, host
        self.driver = SimDriver(serial, state_dir)
        self.programs = Programs(self.driver, serial=serial)
        self._listener: socket.socket | None = None
        self._transports: set[_Transport] = set()
        self._threads: list[threading.Thread] = []
        self._lock = threading.Lock()
        self.port = port

    def start(self) -> AdbSimPhone:
        """Listen and accept in a background thread; returns once the port accepts connections.

        A stopped phone can be started again: it listens on the port it had, like a phone plugged back in.
        """
        if self._listener is not None:
            raise RuntimeError(f"Simulated phone {self.serial} is already running on port {self.port}.")
        listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            listener.bind((self.host, self.port))
            listener.listen(16)
        except OSError:
            listener.close()
            raise
        self._listener, self.port = listener, listener.getsockname()[1]
        self._spawn(self._accept, listener, name=f"adbsim-accept-{self.port}")
        return self

    def stop(self) -> None:
        listener, self._listener = self._listener, None
        if listener is not None:
            with contextlib.suppress(OSError):
                listener.shutdown(socket.SHUT_RDWR)
            listener.close()
        with self._lock:
            transports = list(self._transports)
        for transport in transports:
            transport.close()
        for thread in self._threads:
            if thread is not threading.current_thread():
                thread.join(timeout=5)
        self._threads = [thread for thread in self._threads if thread.is_alive()]

    def __enter__(self) -> AdbSimPhone:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def address(self) -> str:
        """The serial a real adb server gives this phone after `adb connect`."""
        return f"{self.host}:{self.port}"

    def _spawn(self, target: Callable[..., object], *args: object, name: str) -> None:
        thread = threading.Thread(target=target, args=args, name=name, daemon=True)
        self._threads = [*(alive for alive in self._threads if alive.is_alive()), thread]
        thread.start()

    def _accept(self, listener: socket.socket) -> None:
        while True:
            try:
                sock, _ = listener.accept()
            except OSError:
                return
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            transport = _Transport(sock, self)
            with self._lock:
                if self._listener is not listener:
                    sock.close()
                    return
                self._transports.add(transport)
            self._spawn(transport.serve, name=f"adbsim-conn-{self.port}")

    def _forget(self, transport: _Transport) -> None:
        with self._lock:
            self._transports.discard(transport)
