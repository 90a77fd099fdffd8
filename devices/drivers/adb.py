"""`AdbDriver`: the driver primitives over a real adb server, with adbutils.

Every primitive is one `shell:` (or `exec:`) command line on the device, ended by
`; echo <marker>$?` so the driver learns the exit status and can tell a finished
command from a stream the device dropped halfway. Every command has the driver's
timeout, per socket operation and overall.

Typing: `input text` can only type what the virtual keyboard's key map has, which
is ASCII, and it has no escape for a literal "%s" (it means a space). `input_text`
therefore refuses anything but printable ASCII with `UnsupportedInput` (there is no
path that works on a stock device without installing an IME), sends spaces as
`%s`, quotes the rest for the device's shell, and splits the text between "%" and
"s" where the two meet — such a text is typed by two `input text` commands.
"""

from __future__ import annotations

import re
import shlex
import socket
import time
from typing import Any, NoReturn

import adbutils
from adbutils import AdbConnection, AdbError, AdbTimeout
from adbutils.errors import AdbConnectionError

from core.steps import KEYS
from devices.drivers.base import (
    ActionTimeout,
    AppNotInstalled,
    DeviceError,
    DeviceFacts,
    TransportError,
    UnsupportedInput,
)

DUMP_PATH = "/sdcard/window_dump.xml"
LAUNCHER_CATEGORY = "android.intent.category.LAUNCHER"
_STATUS = b"__cognisim_status="
_FOCUS = re.compile(r"mCurrentFocus=Window\{\S+ u\d+ ([A-Za-z0-9_.]+)/")
_FOCUSED_APP = re.compile(r"mFocusedApp=\S*\{\S+ u\d+ ([A-Za-z0-9_.]+)/")
_SIZE = re.compile(r"(Physical|Override) size: (\d+)x(\d+)")
_GONE = ("offline", "not found", "no devices", "closed", "unknown data")


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
        conn = _Connection(self.host, self.port)
        conn.conn.settimeout(timeout or self._timeout)
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
    """Everything until the device closes the stream, within the deadline (each recv has the socket's timeout)."""
    data = bytearray()
    while chunk := sock.recv(1 << 16):
        data += chunk
        if time.monotonic() > deadline:
            raise TimeoutError("The device kept sending past the deadline.")
    return bytes(data)


class AdbDriver:
    """A device behind an adb server (`adb devices` lists it as `serial`)."""

    def __init__(
        self, serial: str, *, adb_host: str = "127.0.0.1", adb_port: int = 5037, timeout_s: float = 10.0
    ) -> None:
        self.serial = serial
        self.timeout_s = timeout_s
        self._client = _Client(host=adb_host, port=adb_port, socket_timeout=timeout_s)
        self._device = self._client.device(serial)
        self._facts: DeviceFacts | None = None

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
        self._check("input keyevent KEYCODE_WAKEUP && wm dismiss-keyguard", "wake up")

    def dump_ui(self) -> str:
        """The tree `uiautomator dump` writes; its failures ("could not get idle state") are transient."""
        status, data = self._run(f"uiautomator dump {DUMP_PATH} && cat {DUMP_PATH}")
        output = data.decode(errors="replace")
        start, end = output.find("<?xml"), output.rfind("</hierarchy>")
        if status != 0 or start < 0 or end < 0:
            raise ActionTimeout(f"`uiautomator dump` gave no UI tree: {output.strip()[-200:]!r}", details=self._where())
        return output[start : end + len("</hierarchy>")]

    def foreground_package(self) -> str:
        output = self._check("dumpsys window", "tell its foreground app").decode(errors="replace")
        match = _FOCUS.search(output) or _FOCUSED_APP.search(output)
        if match is None:
            self._fail("`dumpsys window` names no focused app.")
        return match.group(1)

    def tap(self, x: int, y: int) -> None:
        self._check(f"input tap {int(x)} {int(y)}", "tap")

    def long_press(self, x: int, y: int, duration_ms: int) -> None:
        self._check(f"input swipe {int(x)} {int(y)} {int(x)} {int(y)} {int(duration_ms)}", "long-press")

    def swipe(self, x1: int, y1: int, x2: int, y2: int, duration_ms: int) -> None:
        self._check(f"input swipe {int(x1)} {int(y1)} {int(x2)} {int(y2)} {int(duration_ms)}", "swipe")

    def input_text(self, text: str) -> None:
        if not _printable_ascii(text):
            odd = sorted({char for char in text if not " " <= char <= "~"})
            raise UnsupportedInput(
                f"adb's `input text` can only type printable ASCII; {''.join(odd)!r} cannot be typed on an adb "
                "device. Use ASCII text (press_key for enter/tab), or type it on the device some other way.",
                details={"unsupported": odd},
            )
        self._check(" && ".join(input_text_commands(text)), "type")

    def press_key(self, key: str) -> None:
        if key not in KEYS:
            raise UnsupportedInput(f"Unknown key {key!r}.", details={"key": key})
        self._check(f"input keyevent KEYCODE_{key.upper()}", f"press {key}")

    def launch_app(self, package: str, *, clear_state: bool = False) -> None:
        quoted = shlex.quote(package)
        steps = [f"pm path {quoted}", *([f"pm clear {quoted}"] if clear_state else [])]
        steps.append(f"monkey -p {quoted} -c {LAUNCHER_CATEGORY} 1")
        status, output = self._run(" && ".join(steps))
        self._installed(package, output)
        if b"No activities found" in output:
            raise DeviceError(f"{package} has no launcher activity to start.", details={"package": package})
        if status != 0:
            self._fail(f"Could not start {package}: {output.decode(errors='replace')[-300:]}")

    def stop_app(self, package: str) -> None:
        quoted = shlex.quote(package)
        status, output = self._run(f"pm path {quoted} && am force-stop {quoted}")
        self._installed(package, output)
        if status != 0:
            self._fail(f"Could not stop {package}: {output.decode(errors='replace')[-300:]}")

    def screenshot(self) -> bytes:
        png = self._check("screencap -p", "take a screenshot", service="exec:")
        if not png.startswith(b"\x89PNG\r\n\x1a\n"):
            self._fail(f"`screencap -p` gave no PNG: {png[:200]!r}")
        return png

    def _installed(self, package: str, output: bytes) -> None:
        if not output.startswith(b"package:"):
            raise AppNotInstalled(f"{package} is not installed on {self.serial}.", details={"package": package})

    def _check(self, command: str, doing: str, *, service: str = "shell:") -> bytes:
        status, output = self._run(command, service=service)
        if status != 0:
            text = output.decode(errors="replace").strip()[-300:]
            raise DeviceError(f"{self.serial} could not {doing} (exit status {status}): {text}")
        return output

    def _run(self, command: str, *, service: str = "shell:") -> tuple[int, bytes]:
        """Run one command line on the device; its exit status and output (stdout and stderr)."""
        request = f"{service}{command}; echo {_STATUS.decode()}$?".encode()
        if len(request) > 0xFFFF:
            raise UnsupportedInput(f"The command for {self.serial} is {len(request)} bytes, over adb's 65535.")
        deadline = time.monotonic() + self.timeout_s
        try:
            conn = self._device.open_transport(timeout=self.timeout_s)
            try:
                conn.conn.sendall(b"%04x" % len(request) + request)
                conn.check_okay()
                data = _read_to_end(conn.conn, deadline)
            finally:
                conn.conn.close()
        except (AdbTimeout, TimeoutError) as exc:
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
