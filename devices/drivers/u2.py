"""The fast backend of `AdbDriver`: the uiautomator2 server on the phone, through the `uiautomator2` client.

`uiautomator2.connect` pushes the server's jar (`/data/local/tmp/u2.jar`) when the phone
does not have that version, starts it with `app_process` and talks JSON-RPC to it over an
adb `tcp:` stream. A hierarchy then costs one call to a running server (~100 ms on a
phone) instead of a `uiautomator dump` process (seconds), and taps and keys skip the JVM
start of `input`. `start` raises `U2Unavailable` when the phone cannot run the server;
`AdbDriver` then keeps to the stock tools.
"""

from __future__ import annotations

import logging
import time
from typing import Any

import adbutils

from devices.drivers.base import ActionTimeout, DeviceError, TransportError
from devices.uitree import stock_form

log = logging.getLogger(__name__)

IDLE_WAIT_MS = 1000
"""How long a hierarchy read waits for the screen to be quiet (the server's `waitForIdle`) before it reads anyway."""
MAX_DEPTH = 50


class U2Unavailable(Exception):
    """The uiautomator2 server cannot run on this phone (or could not be reached)."""


class U2Backend:
    def __init__(self, device: adbutils.AdbDevice, *, compressed: bool = True) -> None:
        self._device = device
        self.compressed = compressed
        self._client: Any = None

    @property
    def running(self) -> bool:
        return self._client is not None

    def start(self) -> None:
        """Connect the client, starting the server on the phone when it is not running; `U2Unavailable` if it cannot."""
        if self._client is not None:
            return
        try:
            import uiautomator2
            from uiautomator2.exceptions import BaseException as U2Error
        except ImportError as exc:  # pragma: no cover - a dependency of the project
            raise U2Unavailable(f"the uiautomator2 package is not installed ({exc})") from exc
        try:
            self._client = uiautomator2.connect(self._device)
        except (U2Error, adbutils.AdbError, OSError, AssertionError) as exc:
            raise U2Unavailable(f"{type(exc).__name__}: {exc}") from exc

    def stop(self) -> None:
        client, self._client = self._client, None
        if client is not None:
            try:
                client.stop_uiautomator(wait=False)
            except Exception:  # the server may be gone with the phone
                log.debug("stopping the uiautomator2 server failed", exc_info=True)

    def dump(self, *, deadline: float | None) -> str:
        """The tree once the screen is quiet (or after `IDLE_WAIT_MS`, when it keeps moving), in stock form.

        The wait for a quiet screen takes at most half the time left, so that the tree is still read in time.
        """
        left_ms = IDLE_WAIT_MS * 2 if deadline is None else (deadline - time.monotonic()) * 1000
        wait_ms = min(IDLE_WAIT_MS, left_ms / 2)
        if wait_ms >= 1:
            self.call("waitForIdle", int(wait_ms), deadline=deadline)
        xml = self.call("dumpWindowHierarchy", self.compressed, MAX_DEPTH, deadline=deadline)
        if not isinstance(xml, str) or "<hierarchy" not in xml:
            raise TransportError(f"The uiautomator2 server gave no UI tree: {str(xml)[:200]!r}")
        return stock_form(xml)

    def call(self, method: str, *params: Any, deadline: float | None) -> Any:
        """One JSON-RPC call through the client, bounded by the deadline."""
        if self._client is None:
            raise U2Unavailable("the uiautomator2 server is not started")
        from uiautomator2.exceptions import BaseException as U2Error
        from uiautomator2.exceptions import HTTPTimeoutError

        timeout = 60.0 if deadline is None else deadline - time.monotonic()
        if timeout <= 0:
            raise ActionTimeout(f"The step ran out of time before the uiautomator2 call {method}.")
        try:
            return getattr(self._client.jsonrpc, method)(*params, http_timeout=timeout)
        except (HTTPTimeoutError, TimeoutError) as exc:
            raise ActionTimeout(f"The uiautomator2 server did not answer {method} in time.") from exc
        except (U2Error, adbutils.AdbError, OSError) as exc:
            raise DeviceError(f"The uiautomator2 server failed {method}: {exc}") from exc
