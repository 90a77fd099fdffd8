import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "cognisim_site.settings")
django_asgi_app = get_asgi_application()

from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402
from django.contrib.staticfiles.handlers import ASGIStaticFilesHandler  # noqa: E402

from ide.routing import websocket_urlpatterns as ide_websockets  # noqa: E402
from sessions.auth import SocketAuthMiddleware  # noqa: E402
from sessions.routing import websocket_urlpatterns  # noqa: E402

from .logs import LogContextMiddleware  # noqa: E402

application = LogContextMiddleware(
    ProtocolTypeRouter(
        {
            "http": ASGIStaticFilesHandler(django_asgi_app),
            "websocket": SocketAuthMiddleware(URLRouter(websocket_urlpatterns + ide_websockets)),
        }
    )
)
