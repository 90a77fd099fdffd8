"""Who is on a socket: an `Authorization: Token` header, or the browser's session cookie with its Origin checked.

Secrets never travel in the query string. A browser cannot set the Authorization header on a
WebSocket, so a token-bearing socket is not a cross-site risk; a cookie-bearing one is, hence the
Origin check for it.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from channels.auth import AuthMiddlewareStack
from channels.db import database_sync_to_async
from django.conf import settings
from django.contrib.auth.models import AnonymousUser
from django.http.request import validate_host
from rest_framework.authtoken.models import Token


@database_sync_to_async
def _token_user(header: bytes) -> Any:
    scheme, _, key = header.decode("latin-1").partition(" ")
    if scheme.lower() != "token" or not key.strip():
        return AnonymousUser()
    token = Token.objects.select_related("user").filter(key=key.strip()).first()
    return token.user if token and token.user.is_active else AnonymousUser()


def _origin_allowed(origin: bytes) -> bool:
    host = urlsplit(origin.decode("latin-1")).hostname
    return bool(host) and validate_host(host, settings.ALLOWED_HOSTS)


class SocketAuthMiddleware:
    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.cookie_auth = AuthMiddlewareStack(inner)

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> Any:
        headers = dict(scope.get("headers", []))
        if b"authorization" in headers:
            scope = dict(scope, user=await _token_user(headers[b"authorization"]))
            return await self.inner(scope, receive, send)
        origin = headers.get(b"origin")
        if origin is None:
            return await self.inner(dict(scope, user=AnonymousUser()), receive, send)
        if not _origin_allowed(origin):
            return await self.inner(dict(scope, user=AnonymousUser(), auth_error="origin_not_allowed"), receive, send)
        return await self.cookie_auth(scope, receive, send)
