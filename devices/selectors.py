from django.db.models import OuterRef, QuerySet, Subquery

from .models import Device


def device_list() -> QuerySet[Device]:
    """Devices with the id of the session holding each one, if any."""
    from sessions.models import TestSession

    holder = TestSession.objects.filter(device=OuterRef("pk"), status__in=TestSession.HOLDING_DEVICE)
    return Device.objects.annotate(held_by=Subquery(holder.values("pk")[:1])).order_by("serial")
