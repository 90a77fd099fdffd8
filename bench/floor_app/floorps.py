"""The stack floor (../shared/floor/floorps.py, unchanged in substance): a bare Channels consumer hands a no-op
Celery task to a worker on queue `device-sim1`; the worker answers through the pub/sub channel layer."""

import os

import django
from django.conf import settings

RPORT = os.environ.get("FLOOR_REDIS_PORT", "6390")
settings.configure(
    DEBUG=False,
    SECRET_KEY="x",
    ALLOWED_HOSTS=["*"],
    ROOT_URLCONF=__name__,
    INSTALLED_APPS=["channels"],
    ASGI_APPLICATION="floorps.application",
    CHANNEL_LAYERS={
        "default": {
            "BACKEND": "channels_redis.pubsub.RedisPubSubChannelLayer",
            "CONFIG": {"hosts": [f"redis://127.0.0.1:{RPORT}/2"]},
        }
    },
)
django.setup()
urlpatterns: list = []

from asgiref.sync import async_to_sync  # noqa: E402
from celery import Celery  # noqa: E402
from channels.generic.websocket import AsyncJsonWebsocketConsumer  # noqa: E402
from channels.layers import get_channel_layer  # noqa: E402
from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402
from django.urls import path  # noqa: E402

capp = Celery("floor", broker=f"redis://127.0.0.1:{RPORT}/0")
capp.conf.update(
    worker_prefetch_multiplier=1, task_acks_late=True, broker_connection_retry_on_startup=True, task_ignore_result=True
)


@capp.task(name="floor.step")
def step(session, payload):
    async_to_sync(get_channel_layer().group_send)("s." + session, {"type": "result", "payload": payload})


class C(AsyncJsonWebsocketConsumer):
    async def connect(self):
        self.sid = "abc"
        await self.channel_layer.group_add("s." + self.sid, self.channel_name)
        await self.accept()

    async def receive_json(self, content):
        step.apply_async((self.sid, content), queue="device-sim1")

    async def result(self, event):
        await self.send_json(event["payload"])


application = ProtocolTypeRouter({"websocket": URLRouter([path("ws/", C.as_asgi())])})
