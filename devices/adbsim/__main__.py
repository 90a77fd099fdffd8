"""`python -m devices.adbsim --serial S --port P --state-dir D [--profile typical]`: serve one simulated phone
until Ctrl-C."""

from __future__ import annotations

import argparse
import contextlib
import logging
import signal
import threading

from .profiles import PROFILES
from .server import AdbSimPhone


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m devices.adbsim", description=__doc__)
    parser.add_argument("--serial", default="adbsim-1", help="the phone's ro.serialno and state file name")
    parser.add_argument("--port", type=int, default=5555, help="TCP port to listen on (0: any free one)")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--state-dir", required=True, help="where the phone keeps <serial>.json")
    parser.add_argument(
        "--profile", choices=sorted(PROFILES), default="instant", help="how long the phone takes (docs/devices.md)"
    )
    parser.add_argument(
        "--no-uiautomator2", action="store_true", help="a phone that cannot run the uiautomator2 server"
    )
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    stopped = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stopped.set())
    options = {"profile": args.profile, "uiautomator2": not args.no_uiautomator2}
    with AdbSimPhone(args.serial, args.state_dir, host=args.host, port=args.port, **options) as phone:  # type: ignore[arg-type]
        print(f"Simulated phone {args.serial} listening; attach it with: adb connect {phone.address}", flush=True)
        with contextlib.suppress(KeyboardInterrupt):
            stopped.wait()


if __name__ == "__main__":
    main()
