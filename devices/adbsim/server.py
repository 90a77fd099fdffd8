"""`AdbSimPhone`: a simulated phone that speaks the device side of the adb transport over TCP.

Point a real adb server at it with `adb connect HOST:PORT`. Each TCP connection is one
transport: CNXN without authentication, then any number of concurrent streams
(OPEN/OKAY/WRTE/CLSE) to the `shell:` and `exec:` services, which run a command line
through the simulated shell (`Programs`) without a PTY, so their output is
binary-safe, as adbd's raw (non-interactive) subprocesses are; `sync:` (push, pull and
stat of the in-memory files); and `tcp:PORT`, a connection to a port on the phone —
where the uiautomator2 server listens once `app_process` has started it, reached by
`adb forward` or by a client's own `tcp:` stream.

The banner advertises no features: adb then sticks to the plain protocols implemented
here — `shell:` rather than shell_v2, one WRTE in flight per stream (no delayed_ack).
"""

from __future__ import annotations

import contextlib
import itertools
import logging
import queue
import socket
import struct
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from devices.drivers.sim import SimDriver
from devices.drivers.sim.apps import MODEL

from . import protocol as p
from .commands import Programs, logcat_follows
from .profiles import PROFILES, Profile
from .shell import run
from .u2server import U2Server

log = logging.getLogger(__name__)

FEATURES: list[str] = []
SERVICES = ("shell:", "exec:", "sync:", "tcp:")
SYNC_DATA_MAX = 64 * 1024


@dataclass
class _Stream:
    local_id: int
    remote_id: int
    ready: threading.Condition = field(default_factory=threading.Condition)
    can_write: bool = True
    closed: bool = False
    cancelled: threading.Event = field(default_factory=threading.Event)
    inbox: queue.Queue[bytes | None] = field(default_factory=queue.Queue)
    pending: bytearray = field(default_factory=bytearray)

    def read(self, size: int) -> bytes | None:
        """Exactly `size` bytes the peer wrote, or None once the stream is closed first."""
        while len(self.pending) < size:
            chunk = self.inbox.get()
            if chunk is None:
                self.inbox.put(None)
                return None
            self.pending += chunk
        data = bytes(self.pending[:size])
        del self.pending[:size]
        return data


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
                stream.inbox.put(message.data)
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
        target: socket.socket | None = None
        if service == "tcp:":
            target = self.phone.connect_local(destination[len(service) :])
        if remote_id == 0 or service is None or (service == "tcp:" and target is None):
            self.send(p.Message(p.A_CLSE, 0, remote_id))
            return
        with self._lock:
            stream = _Stream(next(self._ids), remote_id)
            self.streams[stream.local_id] = stream
        self.send(p.Message(p.A_OKAY, stream.local_id, remote_id))
        argument = destination[len(service) :]
        name = f"adbsim-{service[:-1]}"
        if service == "sync:":
            threading.Thread(target=self._sync, args=(stream,), name=name, daemon=True).start()
        elif target is not None:
            threading.Thread(target=self._pump_out, args=(stream, target), name=name, daemon=True).start()
            threading.Thread(target=self._pump_in, args=(stream, target), name=name, daemon=True).start()
        else:
            threading.Thread(target=self._run, args=(stream, argument), name=name, daemon=True).start()

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
        stream.cancelled.set()
        stream.inbox.put(None)

    def _run(self, stream: _Stream, command: str) -> None:
        """Run the command, send its output a WRTE at a time (each waits for the peer's OKAY), then CLSE."""
        follow = logcat_follows(command)
        if follow is not None:
            self._follow_log(stream, follow)
            return
        out = bytearray()
        programs = self.phone.programs
        programs.bound(stream.cancelled)
        if command.strip():
            try:
                programs.pause(programs.profile.shell)
                run(command, programs.lookup, out)
            except Exception:
                if stream.cancelled.is_set():
                    return
                log.exception("adbsim %s: %r failed", self.phone.serial, command)
                out += b"/system/bin/sh: the simulated phone failed to run this command\n"
        else:
            out += b"The interactive shell is not simulated; run `adb shell COMMAND`.\n"
        if self._write(stream, bytes(out)):
            self._close_stream(stream)

    def _follow_log(self, stream: _Stream, last: int) -> None:
        """`logcat` without -d: the last lines, then each new one as the phone writes it, until the peer closes."""
        for line in self.phone.driver.logcat(stream.cancelled, last=last):
            if line is not None and not self._write(stream, (line + "\n").encode()):
                return
        self._close_stream(stream)

    def _write(self, stream: _Stream, data: bytes) -> bool:
        """Send data a WRTE at a time, each after the peer's OKAY; False once the stream or connection is gone."""
        try:
            size = self.peer_max
            for start in range(0, len(data), size):
                with stream.ready:
                    stream.ready.wait_for(lambda: stream.can_write or stream.closed)
                    if stream.closed:
                        return False
                    stream.can_write = False
                self.send(p.Message(p.A_WRTE, stream.local_id, stream.remote_id, data[start : start + size]))
        except OSError:
            self.close()
            return False
        return True

    def _close_stream(self, stream: _Stream) -> None:
        with self._lock:
            mine = self.streams.pop(stream.local_id, None) is stream
        if mine:
            with contextlib.suppress(OSError):
                self.send(p.Message(p.A_CLSE, stream.local_id, stream.remote_id))
        self._end(stream)

    def _pump_out(self, stream: _Stream, target: socket.socket) -> None:
        """What the phone-side socket says goes to the peer; its end closes the stream."""
        try:
            while chunk := target.recv(1 << 16):
                if not self._write(stream, chunk):
                    break
        except OSError:
            pass
        finally:
            target.close()
            self._close_stream(stream)

    def _pump_in(self, stream: _Stream, target: socket.socket) -> None:
        """What the peer writes goes to the phone-side socket; the stream's end shuts it."""
        try:
            while (chunk := stream.inbox.get()) is not None:
                target.sendall(chunk)
        except OSError:
            pass
        with contextlib.suppress(OSError):
            target.shutdown(socket.SHUT_WR)

    def _sync(self, stream: _Stream) -> None:
        """The file sync protocol (AOSP `adb/SYNC.TXT`): STAT, SEND (DATA… DONE), RECV, QUIT."""
        programs = self.phone.programs
        while (header := stream.read(8)) is not None:
            request, length = header[:4], struct.unpack("<I", header[4:])[0]
            if request == b"QUIT":
                break
            path_bytes = stream.read(length)
            if path_bytes is None:
                return
            path = path_bytes.decode("utf-8", errors="replace")
            if request == b"STAT":
                found = programs.file_stat(path)
                mode, size = found or (0, 0)
                reply = b"STAT" + struct.pack("<III", mode, size, 1_700_000_000 if found else 0)
            elif request == b"SEND":
                reply = self._receive_file(stream, path.rpartition(",")[0] or path)
            elif request == b"RECV":
                data = programs.file_read(path)
                if data is None:
                    message = b"No such file or directory"
                    reply = b"FAIL" + struct.pack("<I", len(message)) + message
                else:
                    chunks = [data[at : at + SYNC_DATA_MAX] for at in range(0, len(data), SYNC_DATA_MAX)]
                    reply = b"".join(b"DATA" + struct.pack("<I", len(c)) + c for c in chunks)
                    reply += b"DONE" + struct.pack("<I", 0)
            else:
                message = f"unknown sync request {request!r}".encode()
                reply = b"FAIL" + struct.pack("<I", len(message)) + message
            if not reply or not self._write(stream, reply):
                return
        self._close_stream(stream)

    def _receive_file(self, stream: _Stream, path: str) -> bytes:
        data = bytearray()
        while (chunk := stream.read(8)) is not None:
            kind, size = chunk[:4], struct.unpack("<I", chunk[4:])[0]
            if kind == b"DONE":
                self.phone.programs.file_write(path, bytes(data))
                return b"OKAY" + struct.pack("<I", 0)
            body = stream.read(size) if kind == b"DATA" else None
            if body is None:
                break
            data += body
        return b""


class AdbSimPhone:
    """A `SimDriver` phone behind an adb-speaking TCP port; `adb connect HOST:PORT` attaches it.

    Every mutating shell command goes through the `SimDriver`, so `driver.action_log()`
    reads the same as when the plain driver is used. `stop()` is pulling the cable: the
    listener and every connection close at once.
    """

    def __init__(
        self,
        serial: str,
        state_dir: Path | str,
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        profile: Profile | str = "instant",
        uiautomator2: bool = True,
    ) -> None:
        self.serial, self.host = serial, host
        self.profile = PROFILES[profile] if isinstance(profile, str) else profile
        self.driver = SimDriver(serial, state_dir)
        self.programs = Programs(
            self.driver, serial=serial, profile=self.profile, servers=self._serve_u2 if uiautomator2 else None
        )
        self._ports: dict[int, U2Server] = {}
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
        with self._lock:
            threads = list(self._threads)
        for thread in threads:
            if thread is not threading.current_thread():
                thread.join(timeout=5)
        with self._lock:
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
        """Start a thread that `stop` joins; any thread may spawn one, also while `stop` runs."""
        thread = threading.Thread(target=target, args=args, name=name, daemon=True)
        thread.start()
        with self._lock:
            self._threads = [*(alive for alive in self._threads if alive.is_alive()), thread]

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

    def _serve_u2(self, port: int, stopped: threading.Event) -> str | None:
        """Start the uiautomator2 server on the phone's `port` until `stopped`; why not, when it cannot."""
        server = U2Server(self, port)
        with self._lock:
            if port in self._ports:
                return "java.lang.IllegalStateException: UiAutomationService already registered!"
            self._ports[port] = server
        server.start()

        def stop() -> None:
            stopped.wait()
            with self._lock:
                if self._ports.get(port) is server:
                    del self._ports[port]
            server.stop()

        self._spawn(stop, name=f"adbsim-u2-{port}")
        return None

    def connect_local(self, address: str) -> socket.socket | None:
        """A connection to `tcp:PORT` on the phone, None when nothing listens there."""
        with self._lock:
            server = self._ports.get(int(address)) if address.isdigit() else None
        if server is None:
            return None
        try:
            sock = socket.create_connection(server.address, timeout=5)
        except OSError:
            return None
        sock.settimeout(None)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        return sock

    def _forget(self, transport: _Transport) -> None:
        with self._lock:
            self._transports.discard(transport)
