"""The programs of the simulated phone's shell, each a thin mapping onto one `SimDriver` primitive.

Output imitates the real tools closely enough for the parsers real tooling uses
(`UI hierchary dumped to:` with uiautomator's spelling, `mCurrentFocus=Window{… u0
PKG/ACTIVITY}`, `Physical size: WxH`, `package:NAME`). Files written by
`uiautomator dump`, `screencap FILE` and `adb push` live in a small in-memory filesystem.

Every program takes the time the phone's latency profile gives it (`profiles.py`), and
`uiautomator dump` keeps the stock tool's idle rule: it answers only once the screen has been
quiet for the profile's idle window, and says "ERROR: could not get idle state." (exit status
0, no file written, as AOSP's DumpCommand does) when that does not happen in time.
`app_process` runs the uiautomator2 server (`u2server.py`) when its jar has been pushed.
"""

from __future__ import annotations

import hashlib
import random
import threading
import time
from collections.abc import Callable
from functools import partial

from core.steps import KEYS
from devices.drivers.base import AppNotInstalled, DeviceError
from devices.drivers.sim import SimDriver
from devices.drivers.sim.apps import MODEL, OS_VERSION
from devices.drivers.sim.views import HEIGHT, WIDTH

from .packages import Packages
from .profiles import PROFILES, Cost, Profile
from .shell import Program, UsageError

DUMP_PATH = "/sdcard/window_dump.xml"
LONG_PRESS_TIMEOUT_MS = 400
DEFAULT_SWIPE_MS = 300
WAKEUP = "wakeup"
_KEY_NAMES = {code: name for name, code in KEYS.items()} | {224: WAKEUP}
_INPUT_SOURCES = {"keyboard", "touchscreen", "touchpad", "mouse", "stylus", "trackball", "dpad", "gamepad"}
U2_JAR = "/data/local/tmp/u2.jar"
U2_MAIN = "com.wetest.uia2.Main"
DIRECTORIES = ("/", "/data", "/data/local", "/data/local/tmp", "/sdcard")
_NPE = (
    "Exception occurred while executing 'text':\n"
    "java.lang.NullPointerException: Attempt to get length of null array\n"
    "\tat com.android.server.input.InputShellCommand.sendText(InputShellCommand.java)\n"
)


def properties(serial: str) -> dict[str, str]:
    return {
        "ro.build.version.release": OS_VERSION,
        "ro.build.version.sdk": "34",
        "ro.product.brand": "CogniSim",
        "ro.product.device": "cognisim",
        "ro.product.manufacturer": "CogniSim",
        "ro.product.model": MODEL,
        "ro.product.name": "cognisim_phone",
        "ro.serialno": serial,
        "sys.boot_completed": "1",
    }


def _number(text: str) -> int:
    try:
        return int(float(text))
    except ValueError:
        raise UsageError(f'Error: java.lang.NumberFormatException: For input string: "{text}"') from None


def _key(text: str) -> str:
    """A key name of `devices.actions.KEYS` (or WAKEUP) for `4`, `KEYCODE_BACK` or `BACK`."""
    name = _KEY_NAMES.get(int(text)) if text.isdigit() else text.upper().removeprefix("KEYCODE_").lower()
    if name not in KEYS and name != WAKEUP:
        raise UsageError(f"Error: key {text} is not simulated on this phone")
    return name


def _typeable(text: str) -> bool:
    """What the virtual keyboard's key map can type: printable ASCII."""
    return all(" " <= char <= "~" for char in text)


class Cancelled(Exception):
    """The stream running the program was closed: the program is killed."""


class Programs:
    """The phone's programs; one instance per phone, shared by every connection and stream.

    `servers` starts the uiautomator2 server for `app_process` (None: this phone cannot run it,
    and `app_process` is not found). Each stream's thread binds its close event with `bound`,
    so that a program waiting or sleeping dies with its stream.
    """

    def __init__(
        self,
        driver: SimDriver,
        *,
        serial: str,
        profile: Profile | None = None,
        servers: Callable[[int, threading.Event], str | None] | None = None,
    ) -> None:
        self.driver = driver
        self.props = properties(serial)
        self.profile = profile or PROFILES["instant"]
        self.files: dict[str, bytes] = {}
        self.packages = Packages(driver, pause=self.pause)
        self.packages.profile = self.profile
        self.servers = servers
        self._rng = random.Random(serial)
        self._local = threading.local()
        self._lock = threading.Lock()
        self._table: dict[str, Callable[[list[str], bytearray], int]] = {
            "toybox": self.toybox,
            "md5sum": self.md5sum,
            "input": self.input,
            "uiautomator": self.uiautomator,
            "cat": self.cat,
            "rm": self.rm,
            "screencap": self.screencap,
            "am": self.packages.am,
            "monkey": self.packages.monkey,
            "pm": self.packages.pm,
            "dumpsys": self.packages.dumpsys,
            "getprop": self.getprop,
            "wm": self.wm,
            "echo": self.echo,
            "logcat": self.logcat,
            "true": lambda args, out: 0,
            "false": lambda args, out: 1,
        }

    def lookup(self, name: str, env: dict[str, str] | None = None) -> Program | None:
        name = name.removeprefix("/system/bin/")
        if name == "app_process" and self.servers is not None:
            return _guarded(partial(self.app_process, env=env or {}))
        program = self._table.get(name)
        return None if program is None else _guarded(program)

    def bound(self, cancelled: threading.Event) -> None:
        """Bind the calling thread (one stream) to its close event."""
        self._local.cancelled = cancelled

    def _cancelled(self) -> threading.Event:
        event: threading.Event | None = getattr(self._local, "cancelled", None)
        if event is None:
            event = self._local.cancelled = threading.Event()
        return event

    def sample(self, cost: Cost) -> float:
        with self._lock:
            return cost.sample(self._rng)

    def pause(self, cost: Cost | float) -> None:
        """Take the time a cost (or a number of seconds) says; raises `Cancelled` if the stream closes meanwhile."""
        seconds = cost if isinstance(cost, float | int) else self.sample(cost)
        if seconds > 0 and self._cancelled().wait(seconds):
            raise Cancelled

    def wait_idle(self, quiet_ms: int, timeout_ms: float) -> bool:
        """Wait until the screen has been still for `quiet_ms`; False if that does not happen within `timeout_ms`."""
        give_up = time.monotonic() + timeout_ms / 1000
        while True:
            still_for = time.time() - self.driver.quiet_since()
            if still_for >= quiet_ms / 1000:
                return True
            left = give_up - time.monotonic()
            if left <= 0:
                return False
            self.pause(min(left, max(quiet_ms / 1000 - still_for, 0.001), 0.05))

    def input(self, args: list[str], out: bytearray) -> int:
        """tap, swipe, keyevent and text.

        A swipe that does not move is a long press, or a tap when it is shorter than the long-press
        timeout, as on a phone; tools long-press with `input swipe X Y X Y MS`.
        """
        if args and args[0] in _INPUT_SOURCES:
            args = args[1:]
        command, rest = (args[0], args[1:]) if args else ("", [])
        self.pause(self.profile.input)
        if command == "tap" and len(rest) == 2:
            self.driver.tap(_number(rest[0]), _number(rest[1]))
        elif command == "swipe" and len(rest) in (4, 5):
            x1, y1, x2, y2 = (_number(value) for value in rest[:4])
            duration = _number(rest[4]) if len(rest) == 5 else DEFAULT_SWIPE_MS
            if self.profile.input.median_ms:
                self.pause(duration / 1000)
            if (x1, y1) != (x2, y2):
                self.driver.swipe(x1, y1, x2, y2, duration)
            elif duration >= LONG_PRESS_TIMEOUT_MS:
                self.driver.long_press(x1, y1, duration)
            else:
                self.driver.tap(x1, y1)
        elif command == "keyevent" and rest:
            for key in [_key(code) for code in rest if code != "--longpress"]:
                if key == WAKEUP:
                    self.driver.wake()
                else:
                    self.driver.press_key(key)
        elif command == "text" and rest:
            text = rest[0].replace("%s", " ")
            if not _typeable(text):
                out += _NPE.encode()
                return 255
            self.driver.input_text(text)
        else:
            raise UsageError("Usage: input [<source>] <command> [<arg>...]\n  (tap, swipe, keyevent, text)")
        return 0

    def uiautomator(self, args: list[str], out: bytearray) -> int:
        paths = [arg for arg in args[1:] if not arg.startswith("--")]
        if args[:1] != ["dump"] or len(paths) > 1:
            raise UsageError("Usage: uiautomator dump [--compressed] [file]")
        path = paths[0] if paths else DUMP_PATH
        if not self.wait_idle(self.profile.idle_ms, self.profile.idle_timeout_ms):
            out += b"ERROR: could not get idle state.\n"
            return 0
        self.pause(self.profile.dump_compressed if "--compressed" in args else self.profile.dump)
        xml = self.driver.dump_ui().encode()
        if path == "/dev/tty":
            out += xml
        else:
            with self._lock:
                self.files[path] = xml
        out += f"UI hierchary dumped to: {path}\n".encode()
        return 0

    def cat(self, args: list[str], out: bytearray) -> int:
        status = 0
        for path in args:
            with self._lock:
                data = self.files.get(path)
            if data is None:
                out += f"cat: {path}: No such file or directory\n".encode()
                status = 1
            else:
                out += data
        return status

    def rm(self, args: list[str], out: bytearray) -> int:
        force = any(arg.startswith("-") and "f" in arg for arg in args)
        status = 0
        for path in (arg for arg in args if not arg.startswith("-")):
            with self._lock:
                found = self.files.pop(path, None) is not None
            if not found and not force:
                out += f"rm: {path}: No such file or directory\n".encode()
                status = 1
        return status

    def screencap(self, args: list[str], out: bytearray) -> int:
        paths = [arg for arg in args if not arg.startswith("-")]
        if len(paths) > 1 or ("-p" not in args and not (paths and paths[0].endswith(".png"))):
            raise UsageError("usage: screencap [-p] [FILENAME]  (only PNG output is simulated)")
        self.pause(self.profile.screencap)
        png = self.driver.screenshot()
        if paths:
            with self._lock:
                self.files[paths[0]] = png
        else:
            out += png
        return 0

    def md5sum(self, args: list[str], out: bytearray) -> int:
        status = 0
        for path in args:
            with self._lock:
                data = self.files.get(path)
            if data is None:
                out += f"md5sum: {path}: No such file or directory\n".encode()
                status = 1
            else:
                out += f"{hashlib.md5(data).hexdigest()}  {path}\n".encode()
        return status

    def toybox(self, args: list[str], out: bytearray) -> int:
        if args[:1] == ["md5sum"]:
            return self.md5sum(args[1:], out)
        out += f"toybox: Unknown command {args[0] if args else ''}\n".encode()
        return 1

    def app_process(self, args: list[str], out: bytearray, *, env: dict[str, str]) -> int:
        """`CLASSPATH=/data/local/tmp/u2.jar app_process / com.wetest.uia2.Main -p PORT`: the uiautomator2
        server, until the stream that started it is closed."""
        classpath = env.get("CLASSPATH", "")
        with self._lock:
            jar = self.files.get(classpath)
        main = next((arg for arg in args if not arg.startswith(("-", "/"))), "")
        if jar is None or not jar.startswith(b"PK") or main != U2_MAIN:
            out += f"Error: Could not find class '{main}'\n".encode()
            return 1
        port = int(args[args.index("-p") + 1]) if "-p" in args[:-1] else 9008
        cancelled = self._cancelled()
        self.pause(self.profile.u2_start)
        assert self.servers is not None
        refused = self.servers(port, cancelled)
        if refused:
            out += f"{refused}\n".encode()
            return 1
        out += b"[server] INFO: [UiAutomator2Server] Starting Server\n"
        cancelled.wait()
        return 137

    def file_stat(self, path: str) -> tuple[int, int] | None:
        """(mode, size) of a file or directory of the in-memory filesystem, None when there is none."""
        with self._lock:
            data = self.files.get(path)
        if data is not None:
            return 0o100644, len(data)
        return (0o40771, 4096) if path.rstrip("/") in DIRECTORIES or path == "/" else None

    def file_write(self, path: str, data: bytes) -> None:
        with self._lock:
            self.files[path] = data

    def file_read(self, path: str) -> bytes | None:
        with self._lock:
            return self.files.get(path)

    def getprop(self, args: list[str], out: bytearray) -> int:
        if args:
            out += f"{self.props.get(args[0], args[1] if len(args) > 1 else '')}\n".encode()
        else:
            out += "".join(f"[{key}]: [{value}]\n" for key, value in sorted(self.props.items())).encode()
        return 0

    def wm(self, args: list[str], out: bytearray) -> int:
        if args == ["size"]:
            out += f"Physical size: {WIDTH}x{HEIGHT}\n".encode()
        elif args == ["dismiss-keyguard"]:
            pass
        elif args == ["density"]:
            out += b"Physical density: 420\n"
        else:
            raise UsageError("usage: wm [size | density]")
        return 0

    def logcat(self, args: list[str], out: bytearray) -> int:
        """`logcat -d` (dump and exit), `-t N` (the last N lines and exit), `-c` (clear); following the log
        (`logcat` without them) streams, so the connection serves it (`logcat_follows`)."""
        mode, last = logcat_args(args)
        if mode == "clear":
            self.driver.log_clear()
        elif mode == "dump":
            out += "".join(line + "\n" for line in self.driver.log_tail(last or 1_000_000)).encode()
        else:
            raise UsageError("logcat: following the log is served as a stream; run it alone on its command line")
        return 0

    def echo(self, args: list[str], out: bytearray) -> int:
        newline = args[:1] != ["-n"]
        out += (" ".join(args[0 if newline else 1 :]) + ("\n" if newline else "")).encode()
        return 0


def logcat_args(args: list[str]) -> tuple[str, int]:
    """("dump" | "clear" | "follow", how many of the last lines) of a `logcat` command line."""
    mode, last, at = "follow", 0, 0
    while at < len(args):
        arg = args[at]
        if arg == "-v" and at + 1 < len(args):
            if args[at + 1] != "threadtime":
                raise UsageError(f"logcat: the simulated phone prints -v threadtime only, not {args[at + 1]}")
            at += 1
        elif arg in ("-t", "-T") and at + 1 < len(args):
            if not args[at + 1].isdigit():
                raise UsageError(f"logcat: {arg} takes a number of lines here, not {args[at + 1]!r}")
            last = int(args[at + 1])
            mode = "dump" if arg == "-t" else mode
            at += 1
        elif arg == "-d":
            mode = "dump"
        elif arg == "-c":
            mode = "clear"
        elif arg == "-b" and at + 1 < len(args):
            at += 1
        else:
            raise UsageError(f"logcat: option {arg!r} is not simulated")
        at += 1
    return mode, last


def logcat_follows(command: str) -> int | None:
    """How many of the last lines a command line that follows the log asks for first (`logcat -T N`, at
    least 0); None when it is not one (then it runs as a program)."""
    words = command.split()
    if not words or words[0].removeprefix("/system/bin/") != "logcat" or any(c in command for c in ";&|'\""):
        return None
    try:
        mode, last = logcat_args(words[1:])
    except UsageError:
        return None
    return last if mode == "follow" else None


def _guarded(program: Callable[[list[str], bytearray], int]) -> Program:
    """Usage mistakes and the simulated phone's refusals become output and an exit status, as on a phone."""

    def run(args: list[str], out: bytearray) -> int:
        try:
            return program(args, out)
        except Cancelled:
            return 137
        except UsageError as exc:
            out += f"{exc}\n".encode()
            return 1
        except AppNotInstalled as exc:
            out += f"Error: {exc.message}\n".encode()
            return 1
        except DeviceError as exc:
            out += f"Error: {exc.message}\n".encode()
            return 255

    return run
