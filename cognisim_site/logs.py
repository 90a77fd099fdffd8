"""Log ids for the web process: every HTTP request and every socket binds its ids for its whole life.

`LogContextMiddleware` wraps the ASGI application. It binds
- `request_id`: the client's (or the proxy's) `X-Request-ID` when it is a sane token, otherwise a new
  one; HTTP responses carry it back in `X-Request-ID`;
- `trace_id`: the trace id of a W3C `traceparent` header, when a proxy or client sends one;
- the ids in the path: `session_id` for `/api/sessions/<id>/…` and `/ws/sessions/<id>/`, `run_id`
  for `/api/runs/<id>/…` and `/api/replays/<id>/…`.
Tasks sent while serving the request inherit these ids (cognisim_site/worker_hooks.py).
It also writes the access log (`cognisim.access`): one line per HTTP request, one per socket when it
closes, with the status (or close code) and the time taken.
"""

from __future__ import annotations

import logging
import re
import time
import uuid
from typing import Any

from core.logs import log_bind, log_reset

access_log = logging.getLogger("cognisim.access")

_SANE_ID = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")
_TRACEPARENT = re.compile(r"^[0-9a-f]{2}-([0-9a-f]{32})-[0-9a-f]{16}-[0-9a-f]{2}$")
_PATH_IDS = (
    (re.compile(r"^/(?:api|ws)/sessions/([^/]+)/"), "session_id"),
    (re.compile(r"^/api/(?:runs|replays)/([^/]+)/"), "run_id"),
)


def request_ids(scope: dict[str, Any]) -> dict[str, str]:
    headers = {name.decode("latin-1").lower(): value.decode("latin-1") for name, value in scope.get("headers", [])}
    given = headers.get("x-request-id", "")
    ids = {"request_id": given if _SANE_ID.match(given) else uuid.uuid4().hex}
    trace = _TRACEPARENT.match(headers.get("traceparent", "").strip().lower())
    if trace:
        ids["trace_id"] = trace.group(1)
    path = scope.get("path", "")
    for pattern, name in _PATH_IDS:
        found = pattern.match(path)
        if found and _SANE_ID.match(found.group(1)):
            ids[name] = found.group(1)
    return ids


class LogContextMiddleware:
    def __init__(self, inner: Any) -> None:
        self.inner = inner

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> Any:
        if scope["type"] not in ("http", "websocket"):
            return await self.inner(scope, receive, send)
        ids = request_ids(scope)
        token = log_bind(**ids)
        started = time.monotonic()
        outcome: dict[str, Any] = {}
        header = (b"x-request-id", ids["request_id"].encode())

        async def reply(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.start":
                outcome["status"] = message["status"]
                message = {**message, "headers": [*message.get("headers", []), header]}
            elif message["type"] == "websocket.close":
                outcome.setdefault("status", message.get("code", 1000))
            await send(message)

        try:
            return await self.inner(scope, receive, reply)
        finally:
            access_log.info(
                "%s %s %s",
                scope.get("method", "WS"),
                scope.get("path", ""),
                outcome.get("status", "-"),
                extra={"duration_ms": round((time.monotonic() - started) * 1000, 1)},
            )
            log_reset(token)
