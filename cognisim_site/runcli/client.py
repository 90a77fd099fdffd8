"""The REST client of `cognisim run` / `replay`: the stdlib's urllib, a token, JSON both ways."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from dataclasses import dataclass
from typing import Any


class CliError(Exception):
    """A usage or connection problem: exit 2 with this message."""


@dataclass
class Api:
    server: str
    token: str
    timeout: float = 30

    def raw(self, method: str, path: str, body: Any = None) -> tuple[int, bytes]:
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(self.server.rstrip("/") + path, data=data, method=method)
        request.add_header("Content-Type", "application/json")
        request.add_header("Authorization", f"Token {self.token}")
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as reply:
                status, payload = reply.status, reply.read()
        except urllib.error.HTTPError as exc:
            status, payload = exc.code, exc.read()
        except (urllib.error.URLError, OSError, ValueError) as exc:  # ValueError: a malformed URL
            raise CliError(f"cannot reach {self.server}: {getattr(exc, 'reason', exc)}") from None
        if status in (401, 403):
            raise CliError(f"{self.server} refused the token ({status}); pass --token or set COGNISIM_TOKEN.")
        return status, payload

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
