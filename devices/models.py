from django.conf import settings
from django.db import models


class DeviceStatus(models.TextChoices):
    OFFLINE = "offline", "offline"
    AVAILABLE = "available", "available"
    BUSY = "busy", "busy"
    MAINTENANCE = "maintenance", "maintenance"


class Device(models.Model):
    class Transport(models.TextChoices):
        ADB = "adb", "adb"
        SIM = "sim", "simulated"

    Status = DeviceStatus

    serial = models.CharField(max_length=128, unique=True)
    name = models.CharField(max_length=200, blank=True)
    host = models.CharField(max_length=200, blank=True)
    transport = models.CharField(max_length=8, choices=Transport.choices, default=Transport.SIM)
    model = models.CharField(max_length=200, blank=True)
    os_version = models.CharField(max_length=50, blank=True)
    screen_width = models.PositiveIntegerField(null=True, blank=True)
    screen_height = models.PositiveIntegerField(null=True, blank=True)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.OFFLINE)
    last_heartbeat = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    residue = models.JSONField(default=dict, blank=True, editable=False)
    """`{session, packages}`: the apps a session used (started them, or ran a step with a secret in them). What it
    did there (signed in, typed a password) must not reach the next session: their data is cleared before another
    session's setup reads the screen."""

    class Meta:
        ordering = ["serial"]
        indexes = [models.Index(fields=["status"])]
        constraints = [
            models.CheckConstraint(condition=models.Q(status__in=DeviceStatus.values), name="device_status_valid"),
        ]

    def __str__(self) -> str:
        return f"{self.name or self.serial} ({self.status})"

    @property
    def queue(self) -> str:
        return f"device-{self.serial}"


class HostAgent(models.Model):
    """A host agent's token belongs to one host: it registers, heartbeats and takes offline only the
    devices of that host (`create_api_user NAME --host-agent [HOST]`)."""

    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="host_agent")
    host = models.CharField(max_length=200, unique=True)
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return f"{self.host} ({self.user})"
