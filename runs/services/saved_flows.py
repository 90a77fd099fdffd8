"""Writes of saved flows: create, delete, and start them as ordinary runs — on demand, by a signed
webhook, or when their cron expression comes due.

Webhook secrets are not stored. A flow keeps a random `webhook_nonce`; its secret is
HMAC-SHA256(SECRET_KEY, flow id + nonce), so the database alone does not give it away, and the API
shows it once, at creation. (A signature check needs the key itself, so a plain hash would not do.)
Changing SECRET_KEY changes every webhook secret.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import logging
import re
import secrets
import uuid
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone

from core.errors import ServiceError
from core.jsonsafe import JsonRefused, json_load

from ..cron import CronInvalid, cron_parse
from ..errors import (
    CronRejected,
    DeliveryDuplicate,
    FlowDisabled,
    FlowExists,
    SignatureExpired,
    SignatureInvalid,
    SignatureMissing,
)
from ..models import Run, SavedFlow, WebhookDelivery
from ..selectors import saved_flow_get
from .runs import device_check, flow_check, run_start

logger = logging.getLogger(__name__)
SIGNATURE_PREFIX = "sha256="
DELIVERY_RE = re.compile(r"^[A-Za-z0-9._:-]{1,100}$")
TIMESTAMP_RE = re.compile(r"^[0-9]{1,12}$")


def flow_webhook_secret(*, flow: SavedFlow) -> str:
    message = f"cognisim-webhook:{flow.pk}:{flow.webhook_nonce}".encode()
    digest = hmac.new(settings.SECRET_KEY.encode(), message, hashlib.sha256).digest()
    return "whsec_" + base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def saved_flow_create(
    *,
    owner: AbstractBaseUser,
    flow_text: str,
    filename: str = "flow.yaml",
    name: str = "",
    env: dict[str, str] | None = None,
    device_serial: str = "",
    cron: str = "",
    enabled: bool = True,
) -> tuple[SavedFlow, str]:
    """Validate and save a flow; returns it and its webhook secret (the only time the secret is given out)."""
    flow = flow_check(text=flow_text, filename=filename, env=env)
    cron = " ".join(cron.split())
    if cron:
        try:
            cron_parse(cron)
        except CronInvalid as exc:
            raise CronRejected(f"cron: {exc}", field="cron") from None
    device_check(device_serial=device_serial)  # not only when it runs
    name = name or flow.name
    if SavedFlow.objects.filter(owner=owner, name=name).exists():
        raise FlowExists(f"You already have a flow named {name!r}.", field="name")
    try:
        with transaction.atomic():
            saved = SavedFlow.objects.create(
                owner=owner,
                name=name,
                filename=filename,
                flow=flow_text,
                env=env or {},
                device_serial=device_serial,
                cron=cron,
                enabled=enabled,
                webhook_nonce=secrets.token_hex(32),
            )
    except IntegrityError:
        raise FlowExists(f"You already have a flow named {name!r}.", field="name") from None
    return saved, flow_webhook_secret(flow=saved)


def saved_flow_delete(*, owner: AbstractBaseUser, flow_id: Any) -> None:
    """Delete the owner's flow; its runs stay, without the link."""
    saved_flow_get(owner=owner, flow_id=flow_id).delete()


MAX_WEBHOOK_META = 16_384  # bytes of a webhook's body kept with the run


def webhook_meta(body: bytes) -> dict[str, Any]:
    """What a run keeps of the webhook that started it: its JSON body (or text), up to 16 KiB."""
    if not body:
        return {}
    if len(body) > MAX_WEBHOOK_META:
        return {"webhook": {"truncated": True, "bytes": len(body)}}
    text = body.decode("utf-8", errors="replace").replace("\x00", "\ufffd")
    try:
        return {"webhook": json_load(text)}
    except JsonRefused:
        return {"webhook": text}


def _flow_start(*, flow: SavedFlow, trigger: str, meta: dict[str, Any] | None = None, record_error: bool = True) -> Run:
    """Start the flow as an ordinary `ci` run of its owner, and remember it (or why it did not start)."""
    try:
        run = run_start(
            owner=flow.owner,
            flow_text=flow.flow,
            filename=flow.filename,
            device_serial=flow.device_serial or None,
            name=flow.name,
            env=flow.env,
            meta=meta,
            trigger=trigger,
            saved_flow=flow,
        )
    except ServiceError as exc:
        if record_error:
            SavedFlow.objects.filter(pk=flow.pk).update(last_error=f"{trigger}: {exc.code}: {exc.message}")
        raise
    SavedFlow.objects.filter(pk=flow.pk).update(last_run=run, last_error="")
    return run


def saved_flow_run(*, owner: AbstractBaseUser, flow_id: Any) -> Run:
    """Run the owner's flow now (enabled or not)."""
    return _flow_start(flow=saved_flow_get(owner=owner, flow_id=flow_id), trigger=Run.Trigger.MANUAL)


def webhook_signature(*, secret: str, timestamp: str, delivery: str, body: bytes) -> str:
    """`sha256=<hex>`: HMAC-SHA256 keyed with the flow's secret over `<timestamp>.<delivery>.<raw body>`."""
    message = f"{timestamp}.{delivery}.".encode() + body
    return SIGNATURE_PREFIX + hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


def flow_trigger(
    *,
    flow_id: Any,
    body: bytes,
    signature: str | None,
    bearer: str | None,
    timestamp: str | None = None,
    delivery: str | None = None,
) -> Run:
    """Start a flow for a webhook that proves it knows the flow's secret.

    Proof is a signature (`X-CogniSim-Signature: sha256=<hex>`, see `webhook_signature`) over the
    delivery's `X-CogniSim-Timestamp` (Unix seconds, within WEBHOOK_TOLERANCE_SECONDS of now) and
    `X-CogniSim-Delivery` id (each id starts at most one run of the flow), or the secret itself as
    `Authorization: Bearer <secret>`. No proof → SignatureMissing; a wrong one → SignatureInvalid, as
    is an unknown flow id (no hint whether a flow exists); an old one → SignatureExpired; a delivery
    id seen before → DeliveryDuplicate.
    """
    if not signature and not bearer:
        raise SignatureMissing(
            "Sign the delivery: X-CogniSim-Timestamp, X-CogniSim-Delivery and X-CogniSim-Signature: "
            "sha256=<hex HMAC-SHA256 of '<timestamp>.<delivery>.<body>' with the flow's secret> (docs/ci.md)."
        )
    if signature and not (timestamp and TIMESTAMP_RE.match(timestamp) and delivery and DELIVERY_RE.match(delivery)):
        raise SignatureMissing(
            "A signed delivery names its X-CogniSim-Timestamp (Unix seconds) and X-CogniSim-Delivery "
            "(1 to 100 of A-Z a-z 0-9 . _ : -), and signs '<timestamp>.<delivery>.<body>' (docs/ci.md)."
        )
    flow = SavedFlow.objects.select_related("owner").filter(pk=flow_id).first() if _is_uuid(flow_id) else None
    if flow is None:
        raise SignatureInvalid("The signature does not match this flow's secret.")
    secret = flow_webhook_secret(flow=flow)
    if signature:
        expected = webhook_signature(secret=secret, timestamp=timestamp or "", delivery=delivery or "", body=body)
        valid = hmac.compare_digest(signature.strip().lower().encode(), expected.encode())
    else:
        valid = hmac.compare_digest((bearer or "").strip().encode(), secret.encode())
    if not valid:
        raise SignatureInvalid("The signature does not match this flow's secret.")
    now = timezone.now()
    signed_at = None
    if signature:
        tolerance = settings.WEBHOOK_TOLERANCE_SECONDS
        if abs(now.timestamp() - int(timestamp or 0)) > tolerance:
            raise SignatureExpired(
                f"The delivery was signed at {timestamp}, more than {tolerance} s from the server's clock; "
                "sign it again with the current time."
            )
        signed_at = datetime.fromtimestamp(int(timestamp or 0), tz=now.tzinfo)
    if not flow.enabled:
        raise FlowDisabled("This flow is disabled.")
    meta = webhook_meta(body)
    try:
        with transaction.atomic():
            if signed_at is not None:
                _delivery_claim(flow=flow, delivery=delivery or "", signed_at=signed_at, now=now)
            return _flow_start(flow=flow, trigger=Run.Trigger.WEBHOOK, meta=meta, record_error=False)
    except ServiceError as exc:
        if not isinstance(exc, DeliveryDuplicate):
            SavedFlow.objects.filter(pk=flow.pk).update(last_error=f"webhook: {exc.code}: {exc.message}")
        raise


def _delivery_claim(*, flow: SavedFlow, delivery: str, signed_at: datetime, now: datetime) -> None:
    """Remember a delivery for as long as its signature is fresh; a second one with the same id is refused."""
    window = timedelta(seconds=settings.WEBHOOK_TOLERANCE_SECONDS)
    WebhookDelivery.objects.filter(flow=flow, signed_at__lt=now - window).delete()
    try:
        with transaction.atomic():
            WebhookDelivery.objects.create(flow=flow, delivery=delivery, signed_at=signed_at)
    except IntegrityError:
        raise DeliveryDuplicate(f"Delivery {delivery!r} was already received; each delivery starts one run.") from None


def _is_uuid(value: Any) -> bool:
    try:
        uuid.UUID(str(value))
    except ValueError:
        return False
    return True


def flows_schedule_due(*, now: datetime | None = None) -> list[Run]:
    """Start a run of every enabled flow whose cron expression names the current minute, once per minute.

    Idempotent and safe from several processes: each flow's minute is claimed with a conditional
    update of `last_scheduled_at` before its run starts. Minutes missed while nothing called this
    are not caught up. Cron expressions are read in settings.TIME_ZONE.
    """
    now = now or timezone.now()
    if timezone.is_naive(now):
        now = timezone.make_aware(now)
    minute = now.replace(second=0, microsecond=0)
    local = timezone.localtime(minute)
    not_claimed = Q(last_scheduled_at__isnull=True) | Q(last_scheduled_at__lt=minute)
    candidates = SavedFlow.objects.filter(not_claimed, enabled=True).exclude(cron="")
    started = []
    for flow in candidates.select_related("owner"):
        try:
            due = cron_parse(flow.cron).matches(local)
        except CronInvalid:
            continue  # validated when saved; an edited row is skipped rather than stopping the others
        if not due or not SavedFlow.objects.filter(not_claimed, pk=flow.pk).update(last_scheduled_at=minute):
            continue
        try:
            started.append(_flow_start(flow=flow, trigger=Run.Trigger.SCHEDULE))
        except ServiceError as exc:
            logger.warning("scheduled run of flow %s did not start: %s: %s", flow.pk, exc.code, exc.message)
    return started
