"""A secret's value is not on a session's pictures: before the device's worker stores one (the screen after a
step, the screen at a failure, a `screenshot` step's picture, the screen at setup), it blacks out every UI
node whose text or content-desc holds a secret value of the session. Checked on the simulated phone's
pictures, against the picture the phone gives of the same screen."""

from __future__ import annotations

import io

import pytest
from django.utils import timezone
from PIL import Image

from core.storage import artifact_read
from devices.services import _drivers, driver_for
from devices.uitree import Bounds, parse
from sessions import services
from sessions.lane import drain as lane
from sessions.models import Screen, Step, TestSession
from sessions.secrets import BLACKOUT

DEMO = "com.cognisim.demo"
TOKEN = "Sup3rS3cr3tXyz"
SECRETS = {"TOKEN": TOKEN}


@pytest.fixture(autouse=True)
def _fresh_drivers():
    _drivers.clear()
    yield
    _drivers.clear()


def _email_bounds(ui_xml: str) -> Bounds:
    (node,) = [n for n in parse(ui_xml) if n.resource_id.endswith(":id/email")]
    return node.bounds


def _blacked_out(png: bytes, bounds: Bounds) -> bool:
    image = Image.open(io.BytesIO(png)).convert("RGB")
    x1, y1, x2, y2 = bounds
    return image.crop((x1, y1, x2, y2)).getextrema() == tuple((c, c) for c in BLACKOUT)


def _pixel(png: bytes, at: tuple[int, int]) -> tuple[int, ...]:
    return tuple(Image.open(io.BytesIO(png)).convert("RGB").getpixel(at))  # type: ignore[arg-type]


def test_the_pictures_a_session_keeps_do_not_show_its_secrets(user, device):
    """A secret typed into the email field (not a password field: the phone shows it), a `screenshot`, then a
    failing step: the screen after typing, the screenshot and the screen at the failure are stored with the
    field blacked out, where the phone's own picture of that screen shows the value."""
    session = services.session_open(owner=user, device_serial=device.serial, secrets=SECRETS)
    lane.session_setup(session_id=session.pk)
    for data in (
        {"action": "launch_app", "package": DEMO, "clear_state": True},
        {"action": "type", "text": "user-${TOKEN}", "into": {"id": "email"}},
        {"action": "screenshot"},
        {"action": "assert_visible", "text": "Nowhere", "timeout_ms": 300},
    ):
        services.step_submit(session_id=session.pk, owner=user, data=data)
    lane.session_drain(session_id=session.pk, linger=False)

    steps = list(Step.objects.filter(session=session).order_by("index"))
    assert [s.status for s in steps] == ["COMPLETED", "COMPLETED", "COMPLETED", "FAILED"], [s.error for s in steps]
    phone = driver_for(device)
    tree = phone.dump_ui()
    assert f"user-{TOKEN}" in tree  # still in the field: the phone's picture shows it
    bounds = _email_bounds(tree)
    unmasked = phone.screenshot()
    assert not _blacked_out(unmasked, bounds)

    typed, failed = (Screen.objects.get(session=session, screen_hash=steps[i].screen_hash) for i in (1, 3))
    pictures = {
        "screen after typing": artifact_read(name=typed.picture.name),
        "screenshot step": artifact_read(name=steps[2].screenshot.name),
        "screen at the failure": artifact_read(name=failed.picture.name),
    }
    for name, png in pictures.items():
        assert _blacked_out(png, bounds), name
        assert png != unmasked, name
        outside = (bounds[0] - 5, bounds[1] - 5)
        assert _pixel(png, outside) == _pixel(unmasked, outside), name


def test_the_screen_at_setup_does_not_show_a_secret_already_on_it(user, device):
    """A session resuming after IDLE finds what it typed still in a field: the picture its setup keeps hides it."""
    phone = driver_for(device)
    phone.launch_app(DEMO, clear_state=True)
    bounds = _email_bounds(phone.dump_ui())
    phone.tap((bounds[0] + bounds[2]) // 2, (bounds[1] + bounds[3]) // 2)
    phone.input_text(f"user-{TOKEN}")
    assert not _blacked_out(phone.screenshot(), bounds)

    session = services.session_open(owner=user, device_serial=device.serial, app_package=DEMO, secrets=SECRETS)
    TestSession.objects.filter(pk=session.pk).update(ready_at=timezone.now())  # back from IDLE: its app as it was
    lane.session_setup(session_id=session.pk)
    session.refresh_from_db()
    assert session.status == "READY", session.error
    screen = Screen.objects.get(session=session)
    assert _blacked_out(artifact_read(name=screen.picture.name), bounds)


def test_a_worker_that_cannot_read_the_secrets_fails_the_step_that_names_one(user, device, settings):
    """A worker whose SECRET_KEY is not the web server's reads the sealed secrets as empty: the step naming one
    fails with a code saying why, where it used to type `${TOKEN}` into the field."""
    session = services.session_open(owner=user, device_serial=device.serial, secrets=SECRETS)
    lane.session_setup(session_id=session.pk)
    for data in (
        {"action": "launch_app", "package": DEMO, "clear_state": True},
        {"action": "type", "text": "user-${TOKEN}", "into": {"id": "email"}},
    ):
        services.step_submit(session_id=session.pk, owner=user, data=data)
    settings.SECRET_KEY = "the worker's own key"
    lane.session_drain(session_id=session.pk, linger=False)

    launched, typed = Step.objects.filter(session=session).order_by("index")
    assert launched.status == "COMPLETED"
    assert (typed.status, typed.error["code"]) == ("FAILED", "secrets_unreadable"), typed.error
    assert "${TOKEN}" not in driver_for(device).dump_ui()
