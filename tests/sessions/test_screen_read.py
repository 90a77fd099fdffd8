"""The screen read after a step never holds the next step's STARTED back (issue 18): the lane reads the new
screen on a thread of its own and listens on the session's bell meanwhile; a step sent during the read is
claimed at once, and the read then leaves its picture out (the next step's read brings the IDE its screen)."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

import pytest
from django.conf import settings
from django.db import connection

from devices.drivers.sim import SimDriver
from devices.services import _drivers
from sessions import services
from sessions.lane import drain as lane
from sessions.models import SessionEvent, Step, TestSession

pytestmark = pytest.mark.django_db(transaction=True)
SETTINGS = "com.android.settings"


class SlowReads(SimDriver):
    """The simulated phone, whose first tree read by the lane's screen reader after `arm()` holds until
    `release` is set: a phone whose `uiautomator dump` takes as long as the test wants."""

    def __init__(self, serial: str, state_dir: Any) -> None:
        super().__init__(serial, state_dir)
        self.armed = False
        self.entered = threading.Event()
        self.release = threading.Event()

    def dump_ui(self, *, deadline: float | None = None, max_age: float = 0.0) -> str:
        if self.armed and threading.current_thread().name.startswith("screen-read"):
            self.armed = False
            self.entered.set()
            assert self.release.wait(120), "the test never released the read"
        return super().dump_ui(deadline=deadline, max_age=max_age)


@pytest.fixture
def phone(device: Any) -> SlowReads:
    driver = SlowReads(device.serial, settings.SIM_DEVICE_DIR)
    _drivers[device.serial] = driver
    yield driver
    driver.release.set()
    _drivers.clear()


def until(check: Callable[[], bool], what: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, f"no {what} within {timeout} s"
        time.sleep(0.01)


def drain_in_background(session_id: Any) -> threading.Thread:
    def run() -> None:
        try:
            lane.session_drain(session_id=session_id)
        finally:
            connection.close()

    thread = threading.Thread(target=run)
    thread.start()
    return thread


def test_a_step_sent_during_the_screen_read_starts_before_the_read_ends(user, device, phone):
    session = services.session_open(owner=user, device_serial=device.serial)
    lane.session_setup(session_id=session.pk)
    phone.armed = True
    first = services.step_submit(session_id=session.pk, owner=user, data={"action": "launch_app", "package": SETTINGS})
    drain = drain_in_background(session.pk)
    assert phone.entered.wait(60), "the lane never read the screen after the first step"
    assert Step.objects.get(pk=first.pk).status == "COMPLETED"  # the read is off the step's critical path

    second = services.step_submit(session_id=session.pk, owner=user, data={"action": "tap", "text": "Wi-Fi"})
    until(lambda: Step.objects.get(pk=second.pk).status != "QUEUED", "STARTED of the second step")
    assert not phone.release.is_set() and drain.is_alive()  # the first step's read is still under way
    started = SessionEvent.objects.get(
        session=session, type="STEP_STATUS", payload__step_id=second.pk, payload__status="STARTED"
    )

    phone.release.set()
    drain.join(120)
    assert not drain.is_alive()
    steps = {s.pk: s for s in Step.objects.filter(session=session)}
    assert steps[first.pk].status == steps[second.pk].status == "COMPLETED"
    assert steps[first.pk].effect["foreground"] == SETTINGS  # the read recorded the first step's screen
    assert steps[second.pk].screen_hash not in (None, steps[first.pk].screen_hash)
    screens = list(SessionEvent.objects.filter(session=session, type="SCREEN", seq__gt=started.seq))
    assert [e.payload.get("step_id") for e in screens] == [second.pk]  # the IDE gets the screen after the last step
    assert screens[0].payload["screen"] == steps[second.pk].screen_hash
    assert not SessionEvent.objects.filter(session=session, type="SCREEN", payload__step_id=first.pk).exists()
    session = TestSession.objects.get(pk=session.pk)
    assert services.state_rebuild(session=session) == session.current_state
    assert session.current_state["device"]["screen"] == steps[second.pk].screen_hash


def test_without_a_next_step_the_read_brings_the_screen_of_the_step(user, device, phone):
    session = services.session_open(owner=user, device_serial=device.serial)
    lane.session_setup(session_id=session.pk)
    step = services.step_submit(session_id=session.pk, owner=user, data={"action": "launch_app", "package": SETTINGS})
    lane.session_drain(session_id=session.pk)  # returns once the read after the step is recorded
    step = Step.objects.get(pk=step.pk)
    screen = SessionEvent.objects.filter(session=session, type="SCREEN").order_by("-seq").first()
    assert screen is not None and screen.payload["step_id"] == step.pk
    assert screen.payload["screen"] == step.screen_hash and step.effect["foreground"] == SETTINGS
