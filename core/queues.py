"""Names of the Celery queues that are not a device's own (`device-<serial>`, see `Device.queue`)."""

from django.conf import settings

SERVICE_QUEUES = ("control", "agents")
"""`control`: chat turns' accumulation and answers; `agents`: planning, which may wait seconds on an LLM.
Each has its own workers, scaled apart from the devices'."""


def service_queue(name: str) -> str:
    """The deployment's name for a service queue (COGNISIM_QUEUE_PREFIX keeps two stacks on one Redis apart)."""
    assert name in SERVICE_QUEUES, name
    return f"{settings.QUEUE_PREFIX}{name}"
