import uuid
from typing import Any

from django.conf import settings
from django.db import models

from core.sealed import SealedJSONField
from core.storage import artifact_storage


def new_trace_id() -> str:
    return uuid.uuid4().hex


class SessionStatus(models.TextChoices):
    PENDING = "PENDING"
    SETTING_UP = "SETTING_UP"
    READY = "READY"
    RUNNING = "RUNNING"
    WAITING_INPUT = "WAITING_INPUT"
    IDLE = "IDLE"
    COMPLETED = "COMPLETED"
    FAILED = "FAILED"
    CANCELLED = "CANCELLED"


class StepStatus(models.TextChoices):
    QUEUED = "QUEUED"
    DEFERRED = "DEFERRED"
    RUNNING = "RUNNING"
    COMPLETED = "COMPLETED"
    FAILED = "FAILED"
    CANCELLED = "CANCELLED"
    SKIPPED = "SKIPPED"


class TestSession(models.Model):
    __test__ = False  # not a pytest class, despite the name

    Status = SessionStatus

    class Source(models.TextChoices):
        IDE = "ide"
        API = "api"
        CI = "ci"
        REPLAY = "replay"

    ACTIVE = (
        Status.PENDING,
        Status.SETTING_UP,
        Status.READY,
        Status.RUNNING,
        Status.WAITING_INPUT,
        Status.IDLE,
    )
    HOLDING_DEVICE = (Status.PENDING, Status.SETTING_UP, Status.READY, Status.RUNNING, Status.WAITING_INPUT)
    TERMINAL = (Status.COMPLETED, Status.FAILED, Status.CANCELLED)

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="test_sessions")
    device = models.ForeignKey(
        "devices.Device", on_delete=models.PROTECT, null=True, blank=True, related_name="sessions"
    )
    name = models.CharField(max_length=200, blank=True)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.PENDING)
    source = models.CharField(max_length=8, choices=Source.choices, default=Source.API)
    app_package = models.CharField(max_length=255, blank=True)
    requested_device = models.CharField(max_length=128, blank=True)
    initial_state = models.JSONField(default=dict, blank=True)
    current_state = models.JSONField(default=dict, blank=True)
    trace_id = models.CharField(max_length=32, default=new_trace_id, editable=False)
    screen_url = models.CharField(max_length=500, blank=True)
    error = models.JSONField(null=True, blank=True)
    # The session's policy (docs/architecture.md, "The lane"). A CI run stops at its first failed
    # step and ends when its steps are done; an interactive session does neither.
    stop_on_failure = models.BooleanField(default=False)
    end_when_drained = models.BooleanField(default=False)
    # Values steps refer to as ${NAME}: substituted on the device's worker, masked in every output,
    # never serialized.
    secrets: Any = SealedJSONField(default=dict, blank=True, editable=False)  # encrypted at rest: core/sealed.py
    last_seq = models.PositiveIntegerField(default=0)
    next_index = models.PositiveIntegerField(default=0)  # the index the next step gets
    created_at = models.DateTimeField(auto_now_add=True)
    ready_at = models.DateTimeField(null=True, blank=True)
    ended_at = models.DateTimeField(null=True, blank=True)
    last_activity_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at"]
        indexes = [
            models.Index(fields=["owner", "status"]),
            models.Index(fields=["device", "status"]),
            models.Index(fields=["status", "last_activity_at"]),
        ]
        constraints = [
            models.CheckConstraint(condition=models.Q(status__in=SessionStatus.values), name="session_status_valid"),
        ]

    def __str__(self) -> str:
        return f"{self.name or self.id} [{self.status}]"

    @property
    def group_name(self) -> str:
        return f"session.{self.id.hex}"


class Step(models.Model):
    Status = StepStatus

    TERMINAL = (Status.COMPLETED, Status.FAILED, Status.CANCELLED, Status.SKIPPED)

    session = models.ForeignKey(TestSession, on_delete=models.CASCADE, related_name="steps")
    index = models.PositiveIntegerField()
    action = models.CharField(max_length=32)
    params = models.JSONField(default=dict)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.QUEUED)
    attempt = models.PositiveSmallIntegerField(default=0)
    timeout_ms = models.PositiveIntegerField()
    max_retries = models.PositiveSmallIntegerField(default=3)
    backoff = models.JSONField(default=dict, blank=True)
    optional = models.BooleanField(default=False)
    # Runs even after an earlier step failed (a run's teardown, Maestro's onFlowComplete); a stop cancels it.
    always = models.BooleanField(default=False)
    # Steps sent as one batch (a chat turn's: "turn-<id>"): the lane runs one only while no earlier step of its
    # batch has failed, else cancels it (reason earlier_step_failed). Empty: a step on its own.
    batch = models.CharField(max_length=64, blank=True, editable=False)
    lease_token = models.BigIntegerField(null=True, blank=True, editable=False)
    scheduled_at = models.DateTimeField(null=True, blank=True, db_index=True)
    result = models.JSONField(null=True, blank=True)
    error = models.JSONField(null=True, blank=True)
    state_patch = models.JSONField(default=list, blank=True)
    effect = models.JSONField(null=True, blank=True)
    effect_hash = models.CharField(max_length=64, blank=True)
    # The picture a `screenshot` step took: a file in the artifact storage (core/storage.py), written
    # after the step's outcome is out.
    screenshot = models.FileField(storage=artifact_storage, max_length=255, blank=True, editable=False)
    # The screen the device showed when the step ended (for a failed step: at the moment of failure).
    screen_hash = models.CharField(max_length=64, blank=True)
    # Where the step's time went: queue_ms (waiting for the device), device_ms (on the device),
    # record_ms (reading the new screen after it, off the step's critical path).
    timings = models.JSONField(default=dict, blank=True)
    queued_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    duration_ms = models.PositiveIntegerField(null=True, blank=True)

    class Meta:
        ordering = ["session", "index"]
        indexes = [models.Index(fields=["session", "status", "index"])]
        constraints = [
            models.UniqueConstraint(fields=["session", "index"], name="step_index_unique_per_session"),
            models.CheckConstraint(condition=models.Q(status__in=StepStatus.values), name="step_status_valid"),
        ]

    def __str__(self) -> str:
        return f"#{self.index} {self.action} [{self.status}]"


class JournalEntry(models.Model):
    """One entry of a control-flow step's journal on the device (devices/flowcontrol.py `Progress`): an inner
    step's outcome or a condition's answer, appended after each inner step. An attempt after its worker died
    goes on from there instead of starting the block over. One row each: a block of 10,000 inner steps
    appends 10,000 small rows, where rewriting one growing list would write its whole length every time."""

    step = models.ForeignKey(Step, on_delete=models.CASCADE, related_name="journal")
    position = models.PositiveIntegerField()
    entry = models.JSONField()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["step", "position"], name="journal_entry_unique")]


class SessionEvent(models.Model):
    """Append-only, numbered 1, 2, 3 … per session with no gaps."""

    class Type(models.TextChoices):
        SESSION_STATUS = "SESSION_STATUS"
        STEP_STATUS = "STEP_STATUS"
        USER_INPUT_REQUIRED = "USER_INPUT_REQUIRED"
        AGENT_MESSAGE = "AGENT_MESSAGE"
        SCREEN = "SCREEN"

    session = models.ForeignKey(TestSession, on_delete=models.CASCADE, related_name="events")
    seq = models.PositiveIntegerField()
    type = models.CharField(max_length=32, choices=Type.choices)
    payload = models.JSONField(default=dict)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["session", "seq"]
        constraints = [
            models.UniqueConstraint(fields=["session", "seq"], name="event_seq_unique_per_session"),
        ]

    def __str__(self) -> str:
        return f"{self.session_id} #{self.seq} {self.type}"


class Screen(models.Model):
    """A screen the session's device showed, once per distinct screen: its picture and its UI tree."""

    session = models.ForeignKey(TestSession, on_delete=models.CASCADE, related_name="screens")
    screen_hash = models.CharField(max_length=64)
    picture = models.FileField(storage=artifact_storage, max_length=255, blank=True)  # PNG, artifact storage
    size = models.PositiveIntegerField(default=0)  # the picture's bytes, for the per-user quota
    ui_xml = models.TextField(blank=True)
    seen_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["session", "screen_hash"], name="screen_unique_per_session")]
        indexes = [models.Index(fields=["session", "-seen_at"])]

    def __str__(self) -> str:
        return f"screen {self.screen_hash[:12]} of {self.session_id}"


class Artifact(models.Model):
    """A file of a session in the artifact storage, other than its screens: device logs (in chunks, in
    order), a failed step's last log lines, a recording. The row knows its size (the per-user quota)."""

    class Kind(models.TextChoices):
        LOG = "log"
        FAILURE_LOG = "failure_log"
        RECORDING = "recording"

    session = models.ForeignKey(TestSession, on_delete=models.CASCADE, related_name="artifacts")
    step = models.ForeignKey(Step, on_delete=models.CASCADE, null=True, blank=True, related_name="artifacts")
    kind = models.CharField(max_length=16, choices=Kind.choices)
    file = models.FileField(storage=artifact_storage, max_length=255)
    size = models.PositiveBigIntegerField(default=0)
    lines = models.PositiveIntegerField(default=0)  # log lines in a log chunk or a failure's log
    frames = models.PositiveIntegerField(default=0)  # a recording's frames
    upto_seq = models.PositiveIntegerField(default=0)  # a recording: the session's events it covers
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        indexes = [models.Index(fields=["session", "kind", "id"])]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(kind__in=["log", "failure_log", "recording"]), name="artifact_kind_valid"
            )
        ]

    def __str__(self) -> str:
        return f"{self.kind} {self.file.name}"


class Decision(models.Model):
    """What the scheduler decided for a step request, as the seed 003 supervisor logs it."""

    class Kind(models.TextChoices):
        INVOKE = "INVOKE"
        DEFER = "DEFER"
        SKIP = "SKIP"

    session = models.ForeignKey(TestSession, on_delete=models.CASCADE, related_name="decisions")
    step = models.ForeignKey(Step, on_delete=models.CASCADE, related_name="decisions")
    kind = models.CharField(max_length=8, choices=Kind.choices)
    reason = models.CharField(max_length=64, blank=True)
    schedule_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["session", "id"]

    def __str__(self) -> str:
        return f"{self.kind} step {self.step_id} {self.reason}".strip()


class UserQuota(models.Model):
    """Per-user overrides of MAX_ACTIVE_SESSIONS_PER_USER and of the step rate limit."""

    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="quota")
    max_active_sessions = models.PositiveIntegerField(null=True, blank=True)
    steps_per_window = models.PositiveIntegerField(null=True, blank=True)

    def __str__(self) -> str:
        return f"{self.user} ≤ {self.max_active_sessions} sessions"
