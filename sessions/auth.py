"""Who is on a socket: an `Authorization: Token` header, or the browser's session cookie with its Origin checked.

Secrets never travel in the query string. A browser cannot set the Authorization header on a
WebSocket, so a token-bearing socket is not a cross-site risk; a cookie-bearing one is, hence the
Origin check for it, done as Django's CSRF check does it for a POST: the Origin must be the
socket's own origin (scheme, host and port: `https://` for `wss://`, the `Host` header, which must
be in ALLOWED_HOSTS) or one of CSRF_TRUSTED_ORIGINS (`https://*.example.com` allows subdomains).
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from channels.auth import AuthMiddlewareStack
from channels.db import database_sync_to_async
from django.conf import settings
from django.contrib.auth.models import AnonymousUser
from django.http.request import split_domain_port, validate_host
from django.utils.http import is_same_domain
from rest_framework.authtoken.models import Token


@database_sync_to_async
def _token_user(header: bytes) -> Any:
    scheme, _, key = header.decode("latin-1").partition(" ")
    if scheme.lower() != "token" or not key.strip():
        return AnonymousUser()
    token = Token.objects.select_related("user").filter(key=key.strip()).first()
    return token.user if token and token.user.is_active else AnonymousUser()


def _secure(scope: dict[str, Any], headers: dict[bytes, bytes]) -> bool:
    if scope.get("scheme") in ("wss", "https"):
        return True
    proxy = getattr(settings, "SECURE_PROXY_SSL_HEADER", None)
    if proxy:  # ("HTTP_X_FORWARDED_PROTO", "https") → the header x-forwarded-proto
        name = proxy[0].removeprefix("HTTP_").replace("_", "-").lower().encode("latin-1")
        return headers.get(name, b"").decode("latin-1").split(",")[0].strip() == proxy[1]
    return False


def _origin_allowed(origin: bytes, scope: dict[str, Any], headers: dict[bytes, bytes]) -> bool:
    """Django's CSRF Origin check (CsrfViewMiddleware._origin_verified) for a socket."""
    request_origin = origin.decode("latin-1")
    host = headers.get(b"host", b"").decode("latin-1")
    domain, _ = split_domain_port(host)
    if domain and validate_host(domain, settings.ALLOWED_HOSTS):
        good_origin = f"{'https' if _secure(scope, headers) else 'http'}://{host}"
        if request_origin == good_origin:
            return True
    trusted = list(settings.CSRF_TRUSTED_ORIGINS)
    if request_origin in (o for o in trusted if "*" not in o):
        return True
    try:
        parsed = urlsplit(request_origin)
    except ValueError:
        return False
    return any(
        is_same_domain(parsed.netloc, urlsplit(o).netloc.replace("*", ""))
        for o in trusted
        if "*" in o and urlsplit(o).scheme == parsed.scheme
    )


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
        if not _origin_allowed(origin, scope, headers):
            return await self.inner(dict(scope, user=AnonymousUser(), auth_error="origin_not_allowed"), receive, send)
        return await self.cookie_auth(scope, receive, send)
