from typing import Any

from django.db.models import QuerySet

from .models import Device, HostAgent


def device_list() -> QuerySet[Device]:
    return Device.objects.order_by("serial")


def agent_host(*, user: Any) -> str | None:
    """The host a host agent's token speaks for, or None for any other token."""
    return HostAgent.objects.filter(user_id=getattr(user, "pk", None)).values_list("host", flat=True).first()
