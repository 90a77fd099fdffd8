from django.db import models

from sessions.models import TestSession, new_trace_id


class Turn(models.Model):
    """Chat messages of one session gathered into one logical turn, planned into steps and answered."""

    class Status(models.TextChoices):
        ACCUMULATING = "ACCUMULATING"
        RUNNING = "RUNNING"
        WAITING_INPUT = "WAITING_INPUT"
        COMPLETED = "COMPLETED"
        FAILED = "FAILED"

    OPEN = (Status.ACCUMULATING, Status.RUNNING, Status.WAITING_INPUT)

    session = models.ForeignKey(TestSession, on_delete=models.CASCADE, related_name="turns")
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.ACCUMULATING)
    messages = models.JSONField(default=list)
    plan = models.JSONField(default=list, blank=True)
    step_ids = models.JSONField(default=list, blank=True)
    remaining = models.TextField(blank=True)
    waiting_step_id = models.BigIntegerField(null=True, blank=True)
    summary = models.TextField(blank=True)
    rounds = models.PositiveSmallIntegerField(default=0)
    # The chain driving the turn now: a task of an older chain (the one before a question) finds it stale.
    chain_token = models.CharField(max_length=32, blank=True)
    reply = models.TextField(blank=True)
    accumulation = models.TextField(blank=True)
    trace_id = models.CharField(max_length=32, default=new_trace_id, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["session", "id"]
        indexes = [models.Index(fields=["session", "status"])]

    def __str__(self) -> str:
        return f"turn {self.pk} [{self.status}]"

    @property
    def text(self) -> str:
        return "\n".join(m["text"] for m in self.messages)
