"""Starting, stopping and clearing apps: `am`, `monkey`, `pm`, and `dumpsys window` to see which is in front."""

from __future__ import annotations

import time
from collections.abc import Callable

from devices.drivers.base import DeviceError
from devices.drivers.sim import DEMO, LAUNCHER, SETTINGS, SimDriver
from devices.drivers.sim.phone import APPS

from .profiles import PROFILES, Cost
from .shell import UsageError

ACTIVITIES = {
    LAUNCHER: "com.android.launcher3.uioverride.QuickstepLauncher",
    SETTINGS: "com.android.settings.Settings",
    DEMO: "com.cognisim.demo.MainActivity",
}


class Packages:
    """The package and activity managers of one phone."""

    def __init__(self, driver: SimDriver, *, pause: Callable[[Cost], None] | None = None) -> None:
        self.driver = driver
        self.pause = pause or (lambda cost: None)
        self.profile = PROFILES["instant"]

    def am(self, args: list[str], out: bytearray) -> int:
        if args[:1] == ["force-stop"] and len(args) == 2:
            if args[1] in APPS:
                self.driver.stop_app(args[1])
            return 0
        if args[:1] == ["start"] and "-n" in args[:-1]:
            component = args[args.index("-n") + 1]
            package, _, activity = component.partition("/")
            out += f"Starting: Intent {{ cmp={component} }}\n".encode()
            main = ACTIVITIES.get(package, "")
            if package not in APPS or not activity:
                out += f"Error type 3\nError: Activity class {{{component}}} does not exist.\n".encode()
                return 1
            if "-S" in args:
                self.driver.stop_app(package)
            if activity in (main, main.removeprefix(package)):
                self._launch(package)
            else:
                try:
                    self.driver.start_activity(package, activity, _extras(args))
                except DeviceError:
                    out += f"Error type 3\nError: Activity class {{{component}}} does not exist.\n".encode()
                    return 1
            self.pause(self.profile.am_start)
            return 0
        raise UsageError("usage: am [start -n PKG/ACTIVITY | force-stop PKG]")

    def monkey(self, args: list[str], out: bytearray) -> int:
        """`monkey -p PKG -c android.intent.category.LAUNCHER 1`: the launcher-intent start real tools use."""
        out += "".join(f"  bash arg: {arg}\n" for arg in args).encode()
        if "-p" not in args[:-1] or args[-1] != "1":
            raise UsageError("** Error: the simulated monkey only runs `-p PKG [-c CATEGORY] 1`")
        package = args[args.index("-p") + 1]
        if package not in APPS:
            out += b"** No activities found to run, monkey aborted.\n"
            return 251
        started = time.monotonic()
        self._launch(package)
        self.pause(self.profile.am_start)
        elapsed = round((time.monotonic() - started) * 1000)
        stats = f"elapsed time={elapsed}ms (0ms mobile, 0ms wifi, {elapsed}ms not connected)"
        out += f"Events injected: 1\n## Network stats: {stats}\n".encode()
        return 0

    def _launch(self, package: str) -> None:
        self.driver.launch_app(package)

    def pm(self, args: list[str], out: bytearray) -> int:
        """`pm clear` stops the app and wipes its data at once, as on a phone: however the app starts next
        (`am start`, `monkey`, its launcher icon), it starts clean."""
        command, rest = (args[0], args[1:]) if args else ("", [])
        if command == "list" and rest[:1] == ["packages"]:
            needle = next((arg for arg in rest[1:] if not arg.startswith("-")), "")
            out += "".join(f"package:{name}\n" for name in sorted(APPS) if needle in name).encode()
            return 0
        if command == "path" and len(rest) == 1:
            if rest[0] not in APPS:
                return 1
            out += f"package:/data/app/~~sim/{rest[0]}-1/base.apk\n".encode()
            return 0
        if command == "clear" and len(rest) == 1:
            if rest[0] not in APPS:
                out += b"Failed\n"
                return 1
            self.driver.stop_app(rest[0], clear_state=True)
            out += b"Success\n"
            return 0
        raise UsageError("usage: pm [list packages [FILTER] | path PKG | clear PKG]")

    def dumpsys(self, args: list[str], out: bytearray) -> int:
        if args[:1] != ["window"]:
            out += f"Can't find service: {args[0] if args else ''}\n".encode()
            return 0
        self.pause(self.profile.dumpsys)
        package = self.driver.foreground_package()
        activity = ACTIVITIES.get(package, f"{package}.MainActivity")
        window = f"Window{{5e1f0c2 u0 {package}/{activity}}}"
        out += (
            "WINDOW MANAGER WINDOWS (dumpsys window windows)\n"
            f"  Window #0 {window}:\n    mDisplayId=0 rootTaskId=12 mHasSurface=true\n"
            f"  mCurrentFocus={window}\n"
            f"  mFocusedApp=ActivityRecord{{9a3d7e1 u0 {package}/{activity.removeprefix(package)} t12}}\n"
        ).encode()
        return 0


def _extras(args: list[str]) -> dict[str, int | str]:
    """The `--ei KEY INT` and `--es KEY STRING` extras of an `am start`."""
    extras: dict[str, int | str] = {}
    for at, flag in enumerate(args[:-2]):
        if flag == "--ei":
            try:
                extras[args[at + 1]] = int(args[at + 2])
            except ValueError:
                raise UsageError(f"Error: bad integer extra {args[at + 2]!r}") from None
        elif flag == "--es":
            extras[args[at + 1]] = args[at + 2]
    return extras
