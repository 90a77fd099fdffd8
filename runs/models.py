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


class Run(models.Model):
    """A flow (or a capture bundle's steps) run unattended as one session; its verdict once it ended."""

    Kind = RunKind
    Status = RunStatus

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="runs")
    session = models.OneToOneField("test_sessions.TestSession", on_delete=models.CASCADE, related_name="run")
    kind = models.CharField(max_length=8, choices=Kind.choices, default=Kind.FLOW)
    name = models.CharField(max_length=200, blank=True)
    filename = models.CharField(max_length=255, blank=True)
    tags = models.JSONField(default=list, blank=True)
    flow = models.TextField(blank=True)  # the YAML as submitted
    # One entry per step, in index order: {"label", "line"} for a flow; the captured step for a replay.
    plan = models.JSONField(default=list)
    steps_total = models.PositiveIntegerField()
    stop_on_failure = models.BooleanField(default=True)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.RUNNING)
    created_at = models.DateTimeField(auto_now_add=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["owner", "-created_at"]), models.Index(fields=["status"])]
        constraints = [
            models.CheckConstraint(condition=models.Q(status__in=RunStatus.values), name="run_status_valid"),
            models.CheckConstraint(condition=models.Q(kind__in=RunKind.values), name="run_kind_valid"),
        ]

    def __str__(self) -> str:
        return f"{self.kind} {self.name or self.id} [{self.status}]"
