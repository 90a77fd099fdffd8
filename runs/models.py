import uuid

from django.conf import settings
from django.db import models


class RunKind(models.TextChoices):
    FLOW = "flow"
    REPLAY = "replay"


class RunStatus(models.TextChoices):
    RUNNING = "running"
    PASSED = "passed"  # a flow: every step completed
    FAILED = "failed"  # a flow: a step failed (the ones after it are skipped)
    IDENTICAL = "identical"  # a replay: every effect hash as captured
    DIVERGED = "diverged"  # a replay: some step did something else
    ERROR = "error"  # the session could not run the steps (setup failed, stopped from outside)
    CANCELLED = "cancelled"  # stopped on purpose (a CI job cancelled: `cognisim run` got SIGTERM/SIGINT)


class RunTrigger(models.TextChoices):
    API = "api"  # POST /api/runs/ (the CLI)
    MANUAL = "manual"  # POST /api/flows/{id}/run/
    WEBHOOK = "webhook"  # POST /api/flows/{id}/trigger/, signed with the flow's secret
    SCHEDULE = "schedule"  # the flow's cron expression came due


class Run(models.Model):
    """A flow (or a capture bundle's steps) run unattended as one session; its verdict once it ended."""

    Kind = RunKind
    Status = RunStatus
    Trigger = RunTrigger

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="runs")
    session = models.OneToOneField("test_sessions.TestSession", on_delete=models.CASCADE, related_name="run")
    kind = models.CharField(max_length=8, choices=Kind.choices, default=Kind.FLOW)
    name = models.CharField(max_length=200, blank=True)
    filename = models.CharField(max_length=255, blank=True)
    tags = models.JSONField(default=list, blank=True)
    flow = models.TextField(blank=True)  # the YAML as submitted
    files = models.JSONField(default=dict, blank=True)  # the other files it ran (`run_flow: {file: …}`): path → YAML
    syntax = models.CharField(max_length=8, default="native", blank=True)  # native | maestro
    # Who started it and why: `--meta commit=… --meta build_url=…`, or a webhook's body under "webhook".
    meta = models.JSONField(default=dict, blank=True)
    cancel_reason = models.CharField(max_length=500, blank=True)  # why it was cancelled (status cancelled)
    # One entry per step, in index order: {"label", "line"} for a flow; the captured step for a replay.
    plan = models.JSONField(default=list)
    steps_total = models.PositiveIntegerField()
    stop_on_failure = models.BooleanField(default=True)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.RUNNING)
    trigger = models.CharField(max_length=8, choices=Trigger.choices, default=Trigger.API)
    saved_flow = models.ForeignKey("SavedFlow", on_delete=models.SET_NULL, null=True, blank=True, related_name="runs")
    created_at = models.DateTimeField(auto_now_add=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["owner", "-created_at"]), models.Index(fields=["status"])]
        constraints = [
            models.CheckConstraint(condition=models.Q(status__in=RunStatus.values), name="run_status_valid"),
            models.CheckConstraint(condition=models.Q(kind__in=RunKind.values), name="run_kind_valid"),
            models.CheckConstraint(condition=models.Q(trigger__in=RunTrigger.values), name="run_trigger_valid"),
        ]

    def __str__(self) -> str:
        return f"{self.kind} {self.name or self.id} [{self.status}]"


class SavedFlow(models.Model):
    """A flow kept on the server: run on demand, by a signed webhook, or when its cron expression comes due.

    The webhook secret is never stored: it is derived from `webhook_nonce` and the server's SECRET_KEY
    (`services.flow_webhook_secret`), shown once at creation, and a new nonce revokes it.
    """

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="saved_flows")
    name = models.CharField(max_length=200)
    filename = models.CharField(max_length=255, default="flow.yaml")
    flow = models.TextField()  # the YAML, validated when saved
    env = models.JSONField(default=dict, blank=True)
    device_serial = models.CharField(max_length=128, blank=True)  # blank: any free device
    cron = models.CharField(max_length=100, blank=True)  # five fields; blank: not scheduled
    webhook_nonce = models.CharField(max_length=64)
    enabled = models.BooleanField(default=True)
    last_run = models.ForeignKey(Run, on_delete=models.SET_NULL, null=True, blank=True, related_name="+")
    last_scheduled_at = models.DateTimeField(null=True, blank=True)  # the cron minute last claimed
    last_error = models.TextField(blank=True)  # why the last triggered start failed, if it did
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name"]
        constraints = [models.UniqueConstraint(fields=["owner", "name"], name="saved_flow_name_unique_per_owner")]
        indexes = [models.Index(fields=["enabled", "cron"])]

    def __str__(self) -> str:
        return f"{self.name} ({self.cron or 'unscheduled'})"


class WebhookDelivery(models.Model):
    """A signed webhook delivery that started (or tried to start) a run: the same delivery id is refused
    for the same flow while its timestamp is within the replay window (rows older are deleted)."""

    flow = models.ForeignKey(SavedFlow, on_delete=models.CASCADE, related_name="deliveries")
    delivery = models.CharField(max_length=100)
    signed_at = models.DateTimeField()  # the X-CogniSim-Timestamp it was signed with
    received_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["flow", "delivery"], name="webhook_delivery_once")]
        indexes = [models.Index(fields=["received_at"])]

    def __str__(self) -> str:
        return f"{self.flow_id} {self.delivery}"
