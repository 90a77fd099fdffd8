"""The REST client of `cognisim run` / `replay`: the stdlib's urllib, a token, JSON both ways.

Once it has reached the server, it rides out the server being away (a restart, a deploy) for
`RECONNECT_S`: a read is tried again, and so is a write the server never received (the connection was
refused); a write that may have reached it is not, so nothing is started twice.
"""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

RECONNECT_S = 120.0
"""How long a client that has reached the server keeps trying while it does not answer."""

AWAY = (502, 503, 504)
"""What a proxy in front of a server that is restarting answers."""


class CliError(Exception):
    """A usage or connection problem: exit 2 with this message."""


@dataclass
class Api:
    server: str
    token: str
    timeout: float = 30
    say: Callable[[str], None] | None = None
    """Where to tell the user that the server is away, and back."""
    reached: bool = False

    def raw(self, method: str, path: str, body: Any = None) -> tuple[int, bytes]:
        data = None if body is None else json.dumps(body).encode()
        away_since: float | None = None
        delay = 0.5
        while True:
            try:
                status, payload = self._send(method, path, data)
                if not (status in AWAY and method == "GET" and self.reached):
                    break
                why = f"it answered {status}"
            except (urllib.error.URLError, OSError, ValueError) as exc:  # ValueError: a malformed URL
                reason = getattr(exc, "reason", exc)
                unsent = isinstance(reason, ConnectionRefusedError)
                if not self.reached or not (method == "GET" or unsent):
                    raise CliError(f"cannot reach {self.server}: {reason}") from None
                why = str(reason)
            now = time.monotonic()
            if away_since is None:
                away_since = now
                self._say(f"{self.server} does not answer ({why}); trying again for up to {RECONNECT_S:.0f} s")
            elif now - away_since > RECONNECT_S:
                raise CliError(f"{self.server} did not answer for {RECONNECT_S:.0f} s ({why}).")
            time.sleep(delay)
            delay = min(delay * 2, 5.0)
        if away_since is not None:
            self._say(f"{self.server} answers again, after {time.monotonic() - away_since:.0f} s")
        self.reached = True
        if status in (401, 403):
            raise CliError(f"{self.server} refused the token ({status}); pass --token or set COGNISIM_TOKEN.")
        return status, payload

    def _send(self, method: str, path: str, data: bytes | None) -> tuple[int, bytes]:
        request = urllib.request.Request(self.server.rstrip("/") + path, data=data, method=method)
        request.add_header("Content-Type", "application/json")
        request.add_header("Authorization", f"Token {self.token}")
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as reply:
                return reply.status, reply.read()
        except urllib.error.HTTPError as exc:
            return exc.code, exc.read()

    def _say(self, text: str) -> None:
        if self.say is not None:
            self.say(text)

    def call(self, method: str, path: str, body: Any = None) -> tuple[int, Any]:
        status, payload = self.raw(method, path, body)
        try:
            return status, json.loads(payload) if payload else None
        except ValueError:
            raise CliError(f"{self.server} answered {status} with something that is not JSON.") from None

    def ok(self, method: str, path: str, body: Any = None) -> Any:
        status, answer = self.call(method, path, body)
        if status >= 400:
            message = answer.get("message") if isinstance(answer, dict) else answer
            raise CliError(f"{method} {path}: {status} {message}")
        return answer
