"""The uiautomator2 server's protocol, as the simulated phone answers it.

The real server (`com.wetest.uia2.Main` in uiautomator2's `u2.jar`, started with
`app_process`) is an HTTP server on the phone: `GET /ping` answers `pong`, and
`POST /jsonrpc/0` takes JSON-RPC 2.0 calls. The methods simulated here are the ones
`devices.drivers.u2` calls through the `uiautomator2` Python client, with the real
server's semantics: `dumpWindowHierarchy` reads the tree at once, without waiting for the
screen to be idle (its XML carries the extra attributes and the line breaks of the real
server); `waitForIdle(timeout)` waits for the screen to be quiet; `click`, `swipe` and
`pressKeyCode` inject input. Errors are JSON-RPC errors, an unknown method is -32601.
"""

from __future__ import annotations

import base64
import io
import json
import logging
import threading
import xml.etree.ElementTree as ET
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import TYPE_CHECKING, Any

from core.steps import KEYS
from devices.drivers.base import DeviceError
from devices.uitree import STOCK_ATTRS, escape_attr

from .commands import LONG_PRESS_TIMEOUT_MS, Cancelled

if TYPE_CHECKING:
    from .server import AdbSimPhone

log = logging.getLogger(__name__)

_CODES = {code: name for name, code in KEYS.items()}
METHOD_NOT_FOUND = -32601
SERVER_ERROR = -32001


def u2_xml(stock: str) -> str:
    """A stock `uiautomator dump` as the uiautomator2 server writes the same tree: indented, with CRLF line
    breaks and the attributes `visible-to-user`, `drawing-order` and `hint`."""
    root = ET.fromstring(stock)
    lines = ["<?xml version='1.0' encoding='UTF-8' standalone='yes' ?>", '<hierarchy rotation="0">']

    def write(node: ET.Element, depth: int, order: int) -> None:
        attrs = [f'{name}="{escape_attr(node.get(name, ""))}"' for name in STOCK_ATTRS if name != "bounds"]
        attrs += ['visible-to-user="true"', f'bounds="{node.get("bounds", "")}"', f'drawing-order="{order}"', 'hint=""']
        children = [child for child in node if child.tag == "node"]
        pad = "  " * depth
        if not children:
            lines.append(f"{pad}<node {' '.join(attrs)} />")
            return
        lines.append(f"{pad}<node {' '.join(attrs)}>")
        for position, child in enumerate(children):
            write(child, depth + 1, position + 1)
        lines.append(f"{pad}</node>")

    for position, child in enumerate(node for node in root if node.tag == "node"):
        write(child, 1, position)
    lines.append("</hierarchy>")
    return "\r\n".join(lines)


class U2Server:
    """One running server: a real HTTP server on a free local port, standing for the phone's `PORT`."""

    def __init__(self, phone: AdbSimPhone, port: int) -> None:
        self.phone, self.port = phone, port
        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), _handler(self))
        self.httpd.daemon_threads = True
        self._thread = threading.Thread(target=self.httpd.serve_forever, name=f"adbsim-u2-http-{port}", daemon=True)

    @property
    def address(self) -> tuple[str, int]:
        host, port = self.httpd.server_address[:2]
        return str(host), int(port)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
        self._thread.join(timeout=5)

    def call(self, method: str, params: list[Any]) -> Any:
        programs, driver = self.phone.programs, self.phone.driver
        profile = programs.profile
        if method == "dumpWindowHierarchy":
            programs.pause(profile.u2_dump)
            return u2_xml(driver.dump_ui())
        programs.pause(profile.u2_call)
        if method == "waitForIdle":
            timeout_ms = float(params[0]) if params else 10_000.0
            programs.wait_idle(profile.u2_idle_ms, timeout_ms)
            return None
        if method == "click":
            x, y = int(params[0]), int(params[1])
            if len(params) > 2 and int(params[2]) >= LONG_PRESS_TIMEOUT_MS:
                if profile.input.median_ms:
                    programs.pause(int(params[2]) / 1000)
                driver.long_press(x, y, int(params[2]))
            else:
                driver.tap(x, y)
            return True
        if method == "swipe":
            x1, y1, x2, y2, steps = (int(value) for value in params[:5])
            if profile.input.median_ms:
                programs.pause(steps * 5 / 1000)
            driver.swipe(x1, y1, x2, y2, steps * 5)
            return True
        if method == "pressKeyCode":
            name = _CODES.get(int(params[0]))
            if name is None:
                raise DeviceError(f"key code {params[0]} is not simulated on this phone")
            driver.press_key(name)
            return True
        if method == "pressKey":
            key = {"delete": "del"}.get(str(params[0]), str(params[0]))
            if key not in KEYS:
                raise DeviceError(f"key {params[0]} is not simulated on this phone")
            driver.press_key(key)
            return True
        if method == "deviceInfo":
            facts = driver.facts()
            return {
                "currentPackageName": driver.foreground_package(),
                "displayWidth": facts.screen_width,
                "displayHeight": facts.screen_height,
                "displayRotation": 0,
                "sdkInt": int(programs.props["ro.build.version.sdk"]),
                "productName": programs.props["ro.product.name"],
                "screenOn": True,
                "naturalOrientation": True,
            }
        if method == "takeScreenshot":
            from PIL import Image

            out = io.BytesIO()
            Image.open(io.BytesIO(driver.screenshot())).convert("RGB").save(out, format="JPEG", quality=80)
            return base64.b64encode(out.getvalue()).decode()
        raise LookupError(method)


def _handler(server: U2Server) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        disable_nagle_algorithm = True

        def do_GET(self) -> None:  # noqa: N802
            if self.path == "/ping":
                self._reply(b"pong", "text/plain")
            else:
                self.send_error(404)

        def do_POST(self) -> None:  # noqa: N802
            if self.path != "/jsonrpc/0":
                self.send_error(404)
                return
            request: dict[str, Any] = {}
            try:
                request = json.loads(self.rfile.read(int(self.headers.get("Content-Length", "0"))))
                params = request.get("params") or []
                result = server.call(str(request["method"]), list(params) if isinstance(params, list) else [])
                reply: dict[str, Any] = {"jsonrpc": "2.0", "id": request.get("id"), "result": result}
            except LookupError as exc:
                error = {"code": METHOD_NOT_FOUND, "message": f"Method not found: {exc}"}
                reply = {"jsonrpc": "2.0", "id": request.get("id"), "error": error}
            except Cancelled:
                return
            except (DeviceError, ValueError, TypeError, KeyError, ET.ParseError) as exc:
                message = getattr(exc, "message", None) or str(exc)
                error = {"code": SERVER_ERROR, "message": f"com.github.uiautomator.UiAutomator2Exception: {message}"}
                reply = {"jsonrpc": "2.0", "id": request.get("id"), "error": error}
            self._reply(json.dumps(reply).encode(), "application/json")

        def _reply(self, body: bytes, content_type: str) -> None:
            self.send_response(200)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:
            log.debug("u2 server %s: " + format, server.port, *args)

    return Handler
