"""`AdbDriver`: the driver primitives over a real adb server, with adbutils.

Every primitive is one `shell:` (or `exec:`) command line on the device, ended by
`; echo <marker>$?` so the driver learns the exit status and can tell a finished
command from a stream the device dropped halfway. Every command has the driver's
timeout, per socket operation and overall, and never runs past the deadline it is given.

UI trees and touches go through the uiautomator2 server on the phone when it can run
there (`devices/drivers/u2.py`, backend "auto" or "uiautomator2"): a tree in one call to a
running server instead of a `uiautomator dump` process. Otherwise, and whenever that server
fails, the stock tools: `uiautomator dump --compressed` (which waits for the screen to be
idle, and answers "could not get idle state" while it animates: `ScreenBusy`) and `input`.
The last tree read is kept and handed out again to a reader that accepts its age (counted
from the end of the read: both tools walk the tree once the screen is idle, at the end), until
the driver sends the phone any input.

Typing: `input text` can only type what the virtual keyboard's key map has, which
is ASCII, and it has no escape for a literal "%s" (it means a space). `input_text`
therefore refuses anything but printable ASCII with `UnsupportedInput` (there is no
path that works on a stock device without installing an IME), sends spaces as
`%s`, quotes the rest for the device's shell, and splits the text between "%" and
"s" where the two meet — such a text is typed by two `input text` commands.
"""

from __future__ import annotations

import logging
import re
import shlex
import socket
import threading
import time
from collections.abc import Iterator
from typing import Any, Literal, NoReturn

import adbutils
from adbutils import AdbConnection, AdbError, AdbTimeout
from adbutils.errors import AdbConnectionError

from core.steps import KEYS
from devices.drivers.base import (
    ActionTimeout,
    AppNotInstalled,
    DeviceError,
    DeviceFacts,
    ScreenBusy,
    TransportError,
    UnsupportedInput,
)
from devices.drivers.u2 import U2Backend, U2Unavailable

log = logging.getLogger(__name__)

DUMP_PATH = "/sdcard/window_dump.xml"
LAUNCHER_CATEGORY = "android.intent.category.LAUNCHER"
_STATUS = b"__cognisim_status="
_FOCUS = re.compile(r"mCurrentFocus=Window\{\S+ u\d+ ([A-Za-z0-9_.]+)/")
_FOCUSED_APP = re.compile(r"mFocusedApp=\S*\{\S+ u\d+ ([A-Za-z0-9_.]+)/")
_SIZE = re.compile(r"(Physical|Override) size: (\d+)x(\d+)")
_GONE = ("offline", "not found", "no devices", "closed", "unknown data")
_NOT_IDLE = "could not get idle state"
U2_RETRY_S = 60.0
LOG_IDLE_S = 0.25
"""After the uiautomator2 server failed, how long the driver keeps to the stock tools before trying it again."""
Backend = Literal["auto", "stock", "uiautomator2"]


class _DeadlineCut(ActionTimeout):
    """The command was cut short by the caller's deadline, not by the driver's own timeout."""


class _Connection(AdbConnection):
    """adbutils' connection without its fallback of running `adb start-server` when the server does not answer.

    That fallback starts a server on the default port, behind the operator's back.
    """

    def _safe_connect(self) -> socket.socket:
        sock: socket.socket = self._create_socket()
        return sock


class _Client(adbutils.AdbClient):
    def __init__(self, *, host: str, port: int, socket_timeout: float) -> None:
        super().__init__(host=host, port=port, socket_timeout=socket_timeout)
        self._timeout = socket_timeout
        self._version: int | None = None

    def make_connection(self, timeout: float | None = None) -> AdbConnection:
        """A connection to the adb server without Nagle's algorithm: a request written in two parts (an HTTP
        client's headers and body, to the uiautomator2 server) must not wait 40 ms for a delayed ACK."""
        conn = _Connection(self.host, self.port)
        conn.conn.settimeout(timeout or self._timeout)
        conn.conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        return conn

    def server_version(self) -> int:
        """Asked once: adbutils asks before every transport, which costs a connection per command."""
        if self._version is None:
            self._version = int(super().server_version())
        return self._version


def _printable_ascii(text: str) -> bool:
    return all(" " <= char <= "~" for char in text)


def input_text_commands(text: str) -> list[str]:
    """The `input text` command lines that type `text` (printable ASCII) on a device."""
    return [f"input text {shlex.quote(part.replace(' ', '%s'))}" for part in re.split(r"(?<=%)(?=s)", text)]


def _read_to_end(sock: socket.socket, deadline: float) -> bytes:
    """Everything until the device closes the stream, within the deadline."""
    data = bytearray()
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            raise TimeoutError("The device had not finished by the deadline.")
        sock.settimeout(left)
        chunk = sock.recv(1 << 16)
        if not chunk:
            return bytes(data)
        data += chunk


class AdbDriver:
    """A device behind an adb server (`adb devices` lists it as `serial`)."""

    def __init__(
        self,
        serial: str,
        *,
        adb_host: str = "127.0.0.1",
        adb_port: int = 5037,
        timeout_s: float = 10.0,
        backend: Backend = "auto",
    ) -> None:
        self.serial = serial
        self.timeout_s = timeout_s
        self.backend = backend
        self._client = _Client(host=adb_host, port=adb_port, socket_timeout=timeout_s)
        self._device = self._client.device(serial)
        self._facts: DeviceFacts | None = None
        self._u2 = U2Backend(self._device) if backend != "stock" else None
        self._u2_down_until = 0.0
        self._tree: tuple[float, str] | None = None

    @property
    def hierarchy_backend(self) -> str:
        """ "uiautomator2" while the server on the phone is in use, else "stock"."""
        return "uiautomator2" if self._fast() is not None else "stock"

    def close(self) -> None:
        """Stop the uiautomator2 server this driver started."""
        if self._u2 is not None:
            self._u2.stop()

    def _fast(self) -> U2Backend | None:
        """The uiautomator2 backend when it is (or can now be) running, else None."""
        if self._u2 is None or time.monotonic() < self._u2_down_until:
            return None
        try:
            self._u2.start()
        except U2Unavailable as exc:
            if self.backend == "uiautomator2":
                raise TransportError(
                    f"The uiautomator2 server cannot run on {self.serial}: {exc}", details=self._where()
                ) from exc
            log.info("%s: uiautomator2 server unavailable (%s); using the stock tools", self.serial, exc)
            self._u2_down_until = time.monotonic() + U2_RETRY_S
            return None
        return self._u2

    def _u2_failed(self, exc: DeviceError) -> None:
        if self.backend == "uiautomator2":
            raise exc
        log.warning("%s: the uiautomator2 server failed (%s); using the stock tools", self.serial, exc.message)
        assert self._u2 is not None
        self._u2.stop()
        self._u2_down_until = time.monotonic() + U2_RETRY_S

    def _touched(self) -> None:
        """The driver is about to send input: the tree it kept is no longer known to be current."""
        self._tree = None

    def facts(self) -> DeviceFacts:
        """Model, Android version and screen size; asked once, they do not change while a device is up."""
        if self._facts is None:
            keys = ("ro.product.model", "ro.build.version.release", "ro.serialno", "ro.product.manufacturer")
            output = self._check("; ".join([*(f"getprop {key}" for key in keys), "wm size"]), "read its properties")
            lines = output.decode(errors="replace").splitlines()
            sizes = {kind: (int(w), int(h)) for kind, w, h in _SIZE.findall("\n".join(lines[len(keys) :]))}
            size = sizes.get("Override") or sizes.get("Physical")
            if size is None:
                self._fail(f"`wm size` gave no screen size: {output[-200:]!r}")
            model, release, serialno, maker = (line.strip() for line in lines[: len(keys)])
            extra: dict[str, Any] = {"transport": "adb", "serialno": serialno, "manufacturer": maker}
            self._facts = DeviceFacts(model, release, size[0], size[1], extra)
        return self._facts

    def wake(self) -> None:
        self._touched()
        self._check("input keyevent KEYCODE_WAKEUP && wm dismiss-keyguard", "wake up")

    def dump_ui(self, *, deadline: float | None = None, max_age: float = 0.0) -> str:
        """The tree of the idle screen, in stock `uiautomator dump` form (see the module's docstring)."""
        kept = self._tree
        if kept is not None and max_age > 0 and time.monotonic() - kept[0] <= max_age:
            return kept[1]
        fast = self._fast()
        xml = None
        if fast is not None:
            try:
                xml = fast.dump(deadline=deadline)
            except ActionTimeout:
                raise
            except DeviceError as exc:
                self._u2_failed(exc)
        if xml is None:
            xml = self._stock_dump(deadline)
        self._tree = (time.monotonic(), xml)
        return xml

    def _stock_dump(self, deadline: float | None) -> str:
        """`uiautomator dump --compressed` into a file removed first: a dump that fails leaves none, so a stale
        one is never read back."""
        command = f"rm -f {DUMP_PATH}; uiautomator dump --compressed {DUMP_PATH}; cat {DUMP_PATH}"
        try:
            _, data = self._run(command, deadline=deadline)
        except _DeadlineCut as exc:
            raise ScreenBusy(
                "`uiautomator dump` had not answered when the step's time ran out; it waits until nothing on "
                "screen changes.",
                details=self._where(),
            ) from exc
        output = data.decode(errors="replace")
        if _NOT_IDLE in output:
            raise ScreenBusy(
                "`uiautomator dump`: could not get idle state (something on screen keeps changing).",
                details=self._where(),
            )
        start, end = output.find("<?xml"), output.rfind("</hierarchy>")
        if start < 0 or end < 0:
            raise ActionTimeout(f"`uiautomator dump` gave no UI tree: {output.strip()[-200:]!r}", details=self._where())
        return output[start : end + len("</hierarchy>")]

    def foreground_package(self) -> str:
        output = self._check("dumpsys window", "tell its foreground app").decode(errors="replace")
        match = _FOCUS.search(output) or _FOCUSED_APP.search(output)
        if match is None:
            self._fail("`dumpsys window` names no focused app.")
        return match.group(1)

    def tap(self, x: int, y: int) -> None:
        if not self._fast_input("click", int(x), int(y)):
            self._check(f"input tap {int(x)} {int(y)}", "tap")

    def long_press(self, x: int, y: int, duration_ms: int) -> None:
        if not self._fast_input("click", int(x), int(y), int(duration_ms)):
            self._check(f"input swipe {int(x)} {int(y)} {int(x)} {int(y)} {int(duration_ms)}", "long-press")

    def swipe(self, x1: int, y1: int, x2: int, y2: int, duration_ms: int) -> None:
        steps = max(2, round(int(duration_ms) / 5))
        if not self._fast_input("swipe", int(x1), int(y1), int(x2), int(y2), steps):
            self._check(f"input swipe {int(x1)} {int(y1)} {int(x2)} {int(y2)} {int(duration_ms)}", "swipe")

    def _fast_input(self, method: str, *params: Any) -> bool:
        """Send input through the uiautomator2 server when it runs; False when the stock tools must do it.

        A call that fails before the server answered falls back to the stock tools; one that timed out
        is not sent again (it may have been applied).
        """
        self._touched()
        fast = self._fast() if self._u2 is not None and self._u2.running else None
        if fast is None:
            return False
        try:
            fast.call(method, *params, deadline=time.monotonic() + self.timeout_s)
        except ActionTimeout:
            raise
        except DeviceError as exc:
            self._u2_failed(exc)
            return False
        return True

    def input_text(self, text: str) -> None:
        if not _printable_ascii(text):
            odd = sorted({char for char in text if not " " <= char <= "~"})
            raise UnsupportedInput(
                f"adb's `input text` can only type printable ASCII; {''.join(odd)!r} cannot be typed on an adb "
                "device. Use ASCII text (press_key for enter/tab), or type it on the device some other way.",
                details={"unsupported": odd},
            )
        self._touched()
        self._check(" && ".join(input_text_commands(text)), "type")

    def press_key(self, key: str) -> None:
        if key not in KEYS:
            raise UnsupportedInput(f"Unknown key {key!r}.", details={"key": key})
        if not self._fast_input("pressKeyCode", KEYS[key]):
            self._check(f"input keyevent KEYCODE_{key.upper()}", f"press {key}")

    def launch_app(self, package: str, *, clear_state: bool = False) -> None:
        self._touched()
        quoted = shlex.quote(package)
        steps = [f"pm path {quoted}", *([f"pm clear {quoted}"] if clear_state else [])]
        steps.append(f"monkey -p {quoted} -c {LAUNCHER_CATEGORY} 1")
        status, output = self._run(" && ".join(steps))
        self._installed(package, output)
        if b"No activities found" in output:
            raise DeviceError(f"{package} has no launcher activity to start.", details={"package": package})
        if status != 0:
            self._fail(f"Could not start {package}: {output.decode(errors='replace')[-300:]}")

    def stop_app(self, package: str, *, clear_state: bool = False) -> None:
        self._touched()
        quoted = shlex.quote(package)
        clear = f" && pm clear {quoted}" if clear_state else ""
        status, output = self._run(f"pm path {quoted} && am force-stop {quoted}{clear}")
        self._installed(package, output)
        if status != 0:
            self._fail(f"Could not stop {package}: {output.decode(errors='replace')[-300:]}")

    def screenshot(self) -> bytes:
        png = self._check("screencap -p", "take a screenshot", service="exec:")
        if not png.startswith(b"\x89PNG\r\n\x1a\n"):
            self._fail(f"`screencap -p` gave no PNG: {png[:200]!r}")
        return png

    def logcat(self, stop: threading.Event, *, last: int = 0) -> Iterator[str | None]:
        """The device's log, followed from this call on: `logcat -v threadtime -T N` through adbutils'
        streaming shell. The last `last` lines (at least the one `-T 1` gives), then each new line; None when
        nothing came for a moment. Ends when `stop` is set (closing the stream ends `logcat` on the phone);
        a dropped stream raises `TransportError`."""
        try:
            stream = self._device.shell(f"logcat -v threadtime -T {max(int(last), 1)}", stream=True)
            assert isinstance(stream, AdbConnection)
        except (AdbError, AdbTimeout, OSError, EOFError) as exc:
            self._lost(exc)
        return self._follow_log(stream, stop)

    def _follow_log(self, stream: AdbConnection, stop: threading.Event) -> Iterator[str | None]:
        pending = b""
        try:
            stream.conn.settimeout(LOG_IDLE_S)
            while not stop.is_set():
                try:
                    chunk = stream.conn.recv(1 << 16)
                except TimeoutError:
                    yield None
                    continue
                except OSError as exc:
                    self._lost(exc)
                if not chunk:
                    self._fail(f"The log stream of {self.serial} ended; the device may have been unplugged.")
                pending += chunk
                *lines, pending = pending.split(b"\n")
                for line in lines:
                    yield line.decode(errors="replace").rstrip("\r")
        finally:
            stream.close()

    def log_tail(self, lines: int) -> list[str]:
        """The last `lines` lines of the device's log (`logcat -d -t N -v threadtime`)."""
        output = self._check(f"logcat -d -v threadtime -t {int(lines)}", "read its log")
        return output.decode(errors="replace").splitlines()

    def _installed(self, package: str, output: bytes) -> None:
        if not output.startswith(b"package:"):
            raise AppNotInstalled(f"{package} is not installed on {self.serial}.", details={"package": package})

    def _check(self, command: str, doing: str, *, service: str = "shell:") -> bytes:
        status, output = self._run(command, service=service)
        if status != 0:
            text = output.decode(errors="replace").strip()[-300:]
            raise DeviceError(f"{self.serial} could not {doing} (exit status {status}): {text}")
        return output

    def _run(self, command: str, *, service: str = "shell:", deadline: float | None = None) -> tuple[int, bytes]:
        """Run one command line on the device; its exit status and output (stdout and stderr).

        The command gets the driver's timeout, or less when the caller's `deadline` comes first;
        a command cut by that deadline raises `_DeadlineCut` (closing the stream kills it on the phone).
        """
        request = f"{service}{command}; echo {_STATUS.decode()}$?".encode()
        if len(request) > 0xFFFF:
            raise UnsupportedInput(f"The command for {self.serial} is {len(request)} bytes, over adb's 65535.")
        timeout, cut = self.timeout_s, False
        if deadline is not None and deadline - time.monotonic() < timeout:
            timeout, cut = deadline - time.monotonic(), True
            if timeout <= 0:
                raise _DeadlineCut(f"The step ran out of time before {self.serial} was asked.", details=self._where())
        until = time.monotonic() + timeout
        try:
            conn = self._device.open_transport(timeout=timeout)
            try:
                conn.conn.settimeout(timeout)
                conn.conn.sendall(b"%04x" % len(request) + request)
                conn.check_okay()
                data = _read_to_end(conn.conn, until)
            finally:
                conn.conn.close()
        except (AdbTimeout, TimeoutError) as exc:
            if cut:
                raise _DeadlineCut(
                    f"{self.serial} had not finished when the step's time ran out.", details=self._where()
                ) from exc
            raise ActionTimeout(
                f"adb did not answer within {self.timeout_s:g} s for {self.serial}.", details=self._where()
            ) from exc
        except (AdbError, OSError, EOFError) as exc:
            self._lost(exc)
        mark = data.rfind(_STATUS)
        status = data[mark + len(_STATUS) :].strip()
        if mark < 0 or not status.isdigit():
            raise TransportError(
                f"The connection to {self.serial} dropped before the command finished; the device may have "
                "been unplugged.",
                details=self._where(),
            )
        return int(status), data[:mark]

    def _where(self) -> dict[str, Any]:
        return {"serial": self.serial, "adb": f"{self._client.host}:{self._client.port}"}

    def _lost(self, exc: Exception) -> NoReturn:
        reason = str(exc) or type(exc).__name__
        if isinstance(exc, AdbConnectionError):
            message = f"Cannot reach the adb server at {self._client.host}:{self._client.port}: {reason}"
        elif "unauthorized" in reason:
            raise DeviceError(
                f"{self.serial} has not authorized this computer: accept the USB debugging prompt on the device.",
                details=self._where(),
            ) from exc
        elif any(word in reason.lower() for word in _GONE) or isinstance(exc, (OSError, EOFError)):
            message = f"Device {self.serial} is offline or unplugged (adb: {reason})."
        else:
            message = f"adb failed for {self.serial}: {reason}"
        raise TransportError(message, details=self._where()) from exc

    def _fail(self, message: str) -> NoReturn:
        raise TransportError(message, details=self._where())


def adb_client(*, host: str, port: int, timeout_s: float | None) -> adbutils.AdbClient:
    """A client of one adb server that never starts a server of its own."""
    return _Client(host=host, port=port, socket_timeout=timeout_s)  # type: ignore[arg-type]
