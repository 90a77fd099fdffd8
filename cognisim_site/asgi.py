import os

import django

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "cognisim_site.settings")
django.setup(set_prefix=False)

from .handler import CogniSimASGIHandler  # noqa: E402

django_asgi_app = CogniSimASGIHandler()

from typing import Any  # noqa: E402

from channels.generic.websocket import AsyncWebsocketConsumer  # noqa: E402
from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402
from django.contrib.staticfiles.handlers import ASGIStaticFilesHandler  # noqa: E402
from django.core.exceptions import SuspiciousFileOperation  # noqa: E402
from django.http import Http404  # noqa: E402
from django.urls import re_path  # noqa: E402

from ide.routing import websocket_urlpatterns as ide_websockets  # noqa: E402
from sessions.auth import SocketAuthMiddleware  # noqa: E402
from sessions.routing import websocket_urlpatterns  # noqa: E402

from .logs import LogContextMiddleware  # noqa: E402

CLOSE_NOT_FOUND = 4404


class StaticFilesHandler(ASGIStaticFilesHandler):
    """A static path that climbs out of its folder (`/static/%2e%2e/…`) is a 404, not a 500."""

    def serve(self, request: Any) -> Any:
        try:
            return super().serve(request)
        except SuspiciousFileOperation:
            raise Http404("No such file.") from None


class NoSuchSocket(AsyncWebsocketConsumer):
    """Any other socket path: accepted and closed with 4404, so the client learns why."""

    async def connect(self) -> None:
        await self.accept()
        await self.close(code=CLOSE_NOT_FOUND)


class NulPathGuard:
    """A socket path holding a NUL names nothing: closed with 4404 before any lookup (PostgreSQL refuses NUL)."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.refuse = NoSuchSocket.as_asgi()

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> Any:
        if "\x00" in scope.get("path", ""):
            return await self.refuse(scope, receive, send)
        return await self.inner(scope, receive, send)


application = LogContextMiddleware(
    ProtocolTypeRouter(
        {
            "http": StaticFilesHandler(django_asgi_app),
            "websocket": NulPathGuard(
                SocketAuthMiddleware(
                    URLRouter([*websocket_urlpatterns, *ide_websockets, re_path(r"", NoSuchSocket.as_asgi())])
                )
            ),
        }
    )
)
