"""The lane's entry points on the device's worker: `sessions.setup`, `sessions.drain`, and the recovery a
worker runs when it starts.

Request-side services only write rows and ring the lane (`sessions/dispatch.py`). `session_drain` takes
the device's lease (held by this worker for as long as it lives, `devices.leases.lane_lease`), sets the
session up if it still has to be, then runs its queued steps strictly in index order, applying the
session's policy before each one: a CI run stops at its first failed step (every later step is cancelled
before it starts, but those marked `always`, its teardown) and ends when its steps are done; a stopped,
paused or hibernated session runs nothing more; a deferred step or an open question waits. A drain that
finds nothing to do costs two queries: ringing twice is harmless.
"""

from __future__ import annotations

import contextlib
import logging
import time
from functools import partial
from typing import Any

import redis
from django.conf import settings
from django.db import DatabaseError, transaction
from django.utils import timezone

from core import metrics
from core.rows import rows_where
from devices import actions
from devices.drivers.base import AppNotInstalled, DeviceDriver, DeviceError
from devices.leases import Lease, lane_lease
from devices.models import Device
from devices.services import driver_for

from ..dispatch import lane_listen, lane_open, lane_ring, lane_unlisten
from ..events import screen_save, screen_store, step_event
from ..models import Step, TestSession
from ..secrets import secrets_mask_png, secrets_mask_xml
from ..services.base import (
    locked_session,
    release_device,
    set_status,
    state_rebuild,
    steps_cancel,
    steps_cancel_pending,
)
from ..signals import lane_recovered
from .run import Lane, backoff_delay_ms, screen_read_finish, screen_read_hurry, step_claim, step_run

logger = logging.getLogger(__name__)
Status = TestSession.Status
PENDING_STEP = (Step.Status.QUEUED, Step.Status.DEFERRED, Step.Status.RUNNING)
SETUP_RETRIES = 3
WORKER_LOST = {"code": "worker_lost", "message": "The device's worker stopped during this step.", "retryable": True}


def _lease(device: Device) -> Lease | None:
    lease = lane_lease(serial=device.serial)
    if lease is None:
        logger.warning("device %s: its lease is held by another process; not draining", device.serial)
    return lease


def _lane(session_id: Any) -> Lane | None:
    """The session as its drain sees it, or None when there is nothing a drain may do for it."""
    try:
        session = TestSession.objects.select_related("device").get(pk=session_id)
    except TestSession.DoesNotExist:
        return None
    if session.device is None or session.status in TestSession.TERMINAL:
        return None
    lease = _lease(session.device)
    if lease is None:
        return None
    lane = Lane(
        session_id=session.pk,
        device=session.device,
        lease=lease,
        state=session.current_state,
        secrets=session.secrets,
        status=session.status,
        stop_on_failure=session.stop_on_failure,
        end_when_drained=session.end_when_drained,
    )
    if lane.stop_on_failure:
        lane.failed = session.steps.filter(status=Step.Status.FAILED, optional=False).exists()
    return lane


def session_setup(*, session_id: Any) -> None:
    """`sessions.setup`, first link of `chain(setup, drain)`: wake the device and open the app."""
    session = TestSession.objects.select_related("device").filter(pk=session_id).first()
    if session is None or session.device is None or session.status != Status.PENDING:
        return
    if _lease(session.device) is not None:
        _setup(session.pk, session.device)


def session_drain(*, session_id: Any, linger: bool = True) -> None:
    """`sessions.drain`: run the session's pending work in order — setup, then steps — under the lease.

    While it runs them, reads the screen after the last of them and lingers a moment after that
    (`LANE_LINGER_SECONDS`, unless `linger` is off: a chat turn answers once its steps ran), it listens
    on the session's bell and runs the steps queued meanwhile too (their STARTED does not wait for the
    read, nor for a task through the queue). Then it stops listening, looks once more, and ends: a step
    appended after that rang the lane with a task of its own (`sessions/dispatch.py`).
    """
    lane = _lane(session_id)
    if lane is None:
        return
    if lane.status == Status.PENDING and (not _setup(lane.session_id, lane.device) or not (lane := _lane(session_id))):
        return
    try:
        _drain(lane, linger=linger)
    finally:
        screen_read_finish(lane)
        lane_unlisten(session_id=lane.session_id)


def _drain(lane: Lane, *, linger: bool) -> None:
    with contextlib.suppress(redis.RedisError):  # unheard, every ring sends a task: slower, never lost
        lane_listen(session_id=lane.session_id)
    queued, blocked = _pending(lane)
    while queued:
        for step in queued:
            if lane.stop_on_failure and lane.failed and not step.always:
                screen_read_finish(lane)
                if not _cancel_after_failure(lane.session_id):
                    return
                break  # what is left to run is the steps marked `always`
            if step.batch and not step.always and _batch_failed(lane, step):
                continue
            if lane.status == Status.READY:
                _running(lane)
            if not step_claim(lane, step):
                return  # stopped, paused or hibernated meanwhile, or already claimed
            try:
                step_run(lane, step)
            except DatabaseError:
                _step_interrupted(lane, step)
                raise
            if step.status == Step.Status.RUNNING:
                return  # a question: the answer rings again
        queued, blocked = _next(lane, linger=linger and not lane.end_when_drained and not lane.failed)
    if lane.stop_on_failure and lane.failed:
        _stop_at_failure(lane.session_id)
    elif lane.end_when_drained and not blocked:
        _end(lane.session_id)


def _next(lane: Lane, *, linger: bool) -> tuple[list[Step], bool]:
    """The steps to run next (as `_pending`): those queued while the screen after the last step is read, or
    while the lane lingers after that; else, once it stopped listening, what a last look finds."""
    linger_until: float | None = None
    while True:
        read = lane.reading
        if read is not None and read.done.is_set():
            screen_read_finish(lane)  # the IDE gets its screen now, not when the lingering ends
            read = None
        if read is not None:
            until = read.give_up
        else:
            if linger_until is None:
                linger_until = time.monotonic() + (settings.LANE_LINGER_SECONDS if linger else 0)
            until = linger_until
        if (left := until - time.monotonic()) <= 0:
            break
        try:
            rang = lane_listen(session_id=lane.session_id, timeout=left)
        except redis.RedisError as exc:
            logger.warning("the bell of session %s is out of reach (%s): not listening", lane.session_id, exc)
            break
        if rang == "ring":
            queued, blocked = _pending(lane)
            if queued:
                screen_read_hurry(lane)
            if queued or blocked:
                return queued, blocked
    screen_read_finish(lane)
    lane_unlisten(session_id=lane.session_id)
    return _pending(lane)


def _step_interrupted(lane: Lane, step: Step) -> None:
    """The database failed the drain during a claimed step (a deadlock, a lost connection): the step runs again
    in a drain of its own (within its retries), as it would had the worker died; the rings this drain heard
    are answered by that drain too."""
    with transaction.atomic():
        session = locked_session(lane.session_id)
        running = session.steps.filter(pk=step.pk, status=Step.Status.RUNNING, lease_token=lane.lease.token).first()
        if running is not None:
            running.session = session
            steps_requeue_lost(running)
    lane_ring(session_id=lane.session_id, queue=lane.device.queue, always=True)


def _pending(lane: Lane) -> tuple[list[Step], bool]:
    """The queued steps that may run now, in order, and whether something (a deferred step, a question, a step
    still running) holds the rest back."""
    steps = rows_where(Step, where={"session": lane.session_id, "status": PENDING_STEP}, order_by="index")
    queued: list[Step] = []
    for step in steps:
        if step.status != Step.Status.QUEUED:
            return queued, True
        queued.append(step)
    return queued, False


def _batch_failed(lane: Lane, step: Step) -> bool:
    """Whether a step before this one in its batch (a chat turn's steps) failed: then it is cancelled, not run."""
    earlier = Step.objects.filter(session=lane.session_id, batch=step.batch, index__lt=step.index)
    if not earlier.filter(status=Step.Status.FAILED, optional=False).exists():
        return False
    with transaction.atomic():
        session = locked_session(lane.session_id)
        queued = session.steps.filter(pk=step.pk, status=Step.Status.QUEUED)
        steps_cancel(session, queued, reason="earlier_step_failed")
    return True


def _running(lane: Lane) -> None:
    """The session's first step starts: READY → RUNNING."""
    with transaction.atomic():
        session = locked_session(lane.session_id)
        if session.status == Status.READY:
            set_status(session, Status.RUNNING)
        lane.status = session.status


def _cancel_after_failure(session_id: Any) -> bool:
    """A CI run's step failed: every later step not marked `always` is cancelled before it starts. False when the
    session has ended meanwhile."""
    with transaction.atomic():
        session = locked_session(session_id)
        if session.status in TestSession.TERMINAL:
            return False
        pending = session.steps.exclude(status__in=Step.TERMINAL).filter(always=False)
        steps_cancel(session, pending, reason="earlier_step_failed")
    return True


def _stop_at_failure(session_id: Any) -> None:
    """A CI run's step failed and its `always` steps ran: anything still pending is cancelled, and the run's
    session ends."""
    with transaction.atomic():
        session = locked_session(session_id)
        if session.status in TestSession.TERMINAL:
            return
        steps_cancel_pending(session, reason="earlier_step_failed")
        _end_locked(session)


def _end(session_id: Any) -> None:
    """A CI run's steps are done: its session ends and frees the device."""
    with transaction.atomic():
        session = locked_session(session_id)
        pending = session.steps.filter(status__in=PENDING_STEP).exists()
        if session.status in (Status.READY, Status.RUNNING) and not pending:
            _end_locked(session)


def _end_locked(session: TestSession) -> None:
    """COMPLETED, or FAILED at the first failed step that is not optional."""
    failed = session.steps.filter(status=Step.Status.FAILED, optional=False).order_by("index").first()
    error = None
    if failed is not None:
        reason = (failed.error or {}).get("message", "")
        message = f"Step {failed.index + 1} failed: {reason}"  # numbered from 1, as people count (index is 0-based)
        error = {"code": "step_failed", "step_index": failed.index, "message": message}
    release_device(session)
    set_status(
        session, Status.FAILED if failed else Status.COMPLETED, error=error or session.error, ended_at=timezone.now()
    )


def _setup(session_id: Any, device: Device) -> bool:
    """Wake the device, open the app, and record (or, after IDLE, rebuild) the state. True when READY."""
    with transaction.atomic():
        session = locked_session(session_id)
        if session.status != Status.PENDING or session.device_id != device.pk:
            return session.status not in TestSession.TERMINAL
        set_status(session, Status.SETTING_UP)
    try:
        device_state, png, ui_xml = _setup_device(session, device)
    except DeviceError as exc:
        with transaction.atomic():
            session = locked_session(session_id)
            if session.status != Status.SETTING_UP:
                return False
            release_device(session)
            error = {"code": exc.code, "message": f"Device setup failed: {exc.message}"}
            steps_cancel_pending(session, reason="setup_failed")
            set_status(session, Status.FAILED, error=error, ended_at=timezone.now())
        return False
    screen = device_state["device"]["screen"]
    if session.secrets:  # typed before an IDLE, still in a field
        png = secrets_mask_png(png, ui_xml=ui_xml, secrets=session.secrets)
    picture = screen_save(session_id=session_id, screen_hash=screen, png=png)
    with transaction.atomic():
        session = locked_session(session_id)
        if session.status != Status.SETTING_UP:
            return False
        if session.ready_at is None:
            state = device_state
            set_status(session, Status.READY, initial_state=state, current_state=state, ready_at=timezone.now())
        else:  # resuming after IDLE: the state is what the stored patches say, on the device as it is now
            state = {**state_rebuild(session=session), **device_state}
            has_run = session.steps.filter(status__in=Step.TERMINAL).exists()
            set_status(session, Status.RUNNING if has_run else Status.READY, current_state=state)
        ui_xml = secrets_mask_xml(ui_xml, session.secrets or {})  # typed before an IDLE, still in a field
        screen_store(session_id=session.pk, picture=picture, screen_hash=screen, ui_xml=ui_xml)
    return True


def _setup_device(session: TestSession, device: Device) -> tuple[dict[str, Any], bytes, str]:
    """Wake the device, clear what another session left (`_residue_take_over`) and open the app; its state,
    picture and UI tree. A retryable error (a transport fault, a timeout) is tried again SETUP_RETRIES times,
    after 0.5, 1, 2 … s, unless the session stopped or its device went away meanwhile."""
    retries = 0
    while True:
        try:
            driver = driver_for(device)
            driver.wake()
            _residue_take_over(driver, device, session)
            if session.app_package:  # a new session starts its app afresh; one back from IDLE finds it as it was
                driver.launch_app(session.app_package, clear_state=session.ready_at is None)
            device_state = {"device": actions.device_state(driver)}
            return device_state, driver.screenshot(), driver.dump_ui()
        except DeviceError as exc:
            if not exc.retryable or retries == SETUP_RETRIES:
                raise
            retries += 1
            delay = backoff_delay_ms(backoff={}, attempt=retries) / 1000
            logger.warning("device %s: setup failed (%s); again in %.1f s", device.serial, exc.message, delay)
            time.sleep(delay)
            if not TestSession.objects.filter(pk=session.pk, status=Status.SETTING_UP).exists():
                raise


def _residue_take_over(driver: DeviceDriver, device: Device, session: TestSession) -> None:
    """Clear the data of the apps another session used: what it did there (signed in, typed a secret) goes.
    From now on the device's residue is this session's, its own app first."""
    residue = device.residue
    if residue.get("session") == str(session.pk):
        return
    for package in residue.get("packages", []):
        with contextlib.suppress(AppNotInstalled):
            driver.stop_app(package, clear_state=True)
    if residue.get("packages"):
        logger.info("device %s: cleared %s, used by an earlier session", device.serial, residue["packages"])
    device.residue = {"session": str(session.pk), "packages": [session.app_package] if session.app_package else []}
    Device.objects.filter(pk=device.pk).update(residue=device.residue)


# --- recovery when the worker starts --------------------------------------------------------------------


def lane_recover(*, serial: str) -> int:
    """Run by a device's worker when it starts: seize the device's lease and take back the step its
    predecessor left RUNNING (the fencing token keeps that predecessor out if it still lives), and the
    setup it left half done; then ring the lane of every session on the device with work."""
    device = Device.objects.filter(serial=serial).first()
    if device is None:
        return 0
    lease = lane_lease(serial=serial, seize=True)
    assert lease is not None
    recovered = 0
    open_sessions = TestSession.objects.filter(device=device, status__in=TestSession.HOLDING_DEVICE)
    for session_id in open_sessions.values_list("pk", flat=True):
        with transaction.atomic():
            session = locked_session(session_id)
            if session.status == Status.SETTING_UP:
                set_status(session, Status.PENDING)
            orphans = session.steps.filter(status=Step.Status.RUNNING).exclude(action="ask_user")
            for step in orphans.exclude(lease_token=lease.token):
                step.session = session
                steps_requeue_lost(step)
                recovered += 1
        status = TestSession.objects.filter(pk=session_id).values_list("status", flat=True).first()
        lane_unlisten(session_id=session_id)  # its predecessor's drain, dead, may have left it listening
        (lane_open if status == Status.PENDING else lane_ring)(session_id=session_id, queue=device.queue)
        for _, failure in lane_recovered.send_robust(sender=TestSession, session_id=session_id):
            if isinstance(failure, Exception):  # a receiver's failure must not stop the device's recovery
                logger.error("session %s: a lane_recovered receiver failed: %r", session_id, failure)
    logger.info("device %s: this worker owns its lane (lease %s); %d step(s) back", serial, lease.token, recovered)
    return recovered


def steps_requeue_lost(step: Step) -> None:
    """A step whose worker died (its session locked in this transaction): run it again, or fail it when
    its retries are spent or its session ended. Its effect was never recorded, so it applies once; a block's
    journal (`JournalEntry`) is kept, and the next attempt goes on from it."""
    session = step.session
    if step.attempt > step.max_retries or session.status in TestSession.TERMINAL:
        now = timezone.now()
        Step.objects.filter(pk=step.pk).update(status=Step.Status.FAILED, error=WORKER_LOST, finished_at=now)
        step.status, step.error, step.finished_at = Step.Status.FAILED, WORKER_LOST, now
        step_event(step=step)
        transaction.on_commit(partial(metrics.step_finished, step=step))
    else:
        Step.objects.filter(pk=step.pk).update(status=Step.Status.QUEUED, error=WORKER_LOST)
        step_event(step=step, status="RETRYING", error=WORKER_LOST, delay_ms=0)
        step.status = Step.Status.QUEUED
    logger.warning("step %s of session %s: its worker was lost; %s", step.pk, session.pk, step.status)
