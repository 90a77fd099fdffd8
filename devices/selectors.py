from django.db.models import QuerySet

from .models import Device


def device_list() -> QuerySet[Device]:
    return Device.objects.order_by("serial")
