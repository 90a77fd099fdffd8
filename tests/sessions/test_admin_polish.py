"""The run history in the admin is pleasant to browse: newest first, durations, filters, search, and links
between a session, its device, its steps, events and turns."""

from datetime import timedelta
from html import unescape

import pytest
from django.contrib.auth import get_user_model
from django.utils import timezone

from sessions import services
from sessions.admin import human_duration
from sessions.lane import drain as lane
from sessions.models import SessionEvent, Step, TestSession
from turns.models import Turn

SESSIONS = "/admin/test_sessions/testsession/"


@pytest.fixture
def admin_client(client, db):
    admin = get_user_model().objects.create_superuser("root", password="pw-for-tests")
    client.force_login(admin)
    return client


@pytest.fixture
def run(user, device):
    """A session with two steps (one took 1.5 s), a turn, and its events, still holding its device."""
    session = services.session_open(owner=user, device_serial=device.serial, name="checkout flow")
    lane.session_setup(session_id=session.pk)
    for key in ("home", "back"):
        services.step_submit(session_id=session.pk, owner=user, data={"action": "press_key", "key": key})
    Step.objects.filter(session=session, index=0).update(status=Step.Status.COMPLETED, duration_ms=1500)
    now = timezone.now()
    Turn.objects.create(
        session=session,
        status=Turn.Status.COMPLETED,
        messages=[{"text": "go home"}],
        reply="Went home.",
        finished_at=now,
    )
    session.refresh_from_db()
    return session


def url_of(model, pk) -> str:
    opts = model._meta
    return f"/admin/{opts.app_label}/{opts.model_name}/{pk}/change/"


def html(response) -> str:
    assert response.status_code == 200
    return unescape(response.content.decode())


def test_human_durations():
    assert human_duration(None) == "-"
    assert human_duration(0.412) == "412 ms"
    assert human_duration(timedelta(seconds=3.24)) == "3.2 s"
    assert human_duration(timedelta(minutes=4, seconds=5)) == "4 min 05 s"
    assert human_duration(timedelta(hours=2, minutes=7)) == "2 h 07 min"


def test_the_session_list_links_devices_shows_durations_and_is_newest_first(admin_client, run, user, device):
    ready = run.ready_at
    TestSession.objects.filter(pk=run.pk).update(ended_at=ready + timedelta(minutes=2, seconds=3))
    older = TestSession.objects.create(owner=user, name="older run", status=TestSession.Status.FAILED)
    TestSession.objects.filter(pk=older.pk).update(
        created_at=run.created_at - timedelta(days=1), ended_at=run.created_at - timedelta(days=1, seconds=-9)
    )

    page = html(admin_client.get(SESSIONS))
    assert page.index("checkout flow") < page.index("older run")  # newest first
    assert f'href="{url_of(type(device), device.pk)}"' in page  # the device, as a link
    assert "2 min 03 s" in page  # ready → ended
    assert "9.0 s" in page  # never ready: created → ended
    assert f'href="/admin/test_sessions/step/?session__id__exact={run.pk}">2</a>' in page  # its steps, counted

    by_duration = html(admin_client.get(SESSIONS, {"o": "8"}))  # the duration column sorts
    assert by_duration.index("older run") < by_duration.index("checkout flow")


@pytest.mark.parametrize("query", ["id", "owner", "serial"])
def test_sessions_are_found_by_id_user_and_device(admin_client, run, other_user, query):
    TestSession.objects.create(owner=other_user, name="someone else's")
    q = {"id": str(run.pk), "owner": "carol", "serial": "unit-1"}[query]
    page = html(admin_client.get(SESSIONS, {"q": q}))
    assert "checkout flow" in page and "someone else's" not in page


def test_sessions_are_filtered_by_status_source_and_day(admin_client, run):
    assert "checkout flow" in html(admin_client.get(SESSIONS, {"status__exact": "READY", "source__exact": "api"}))
    assert "checkout flow" not in html(admin_client.get(SESSIONS, {"source__exact": "ide"}))
    today = timezone.localtime().replace(hour=0, minute=0, second=0, microsecond=0)
    since = {"created_at__gte": str(today), "created_at__lt": str(today + timedelta(days=1))}
    assert "checkout flow" not in html(admin_client.get(SESSIONS, {"created_at__lt": str(today)}))
    assert "checkout flow" in html(admin_client.get(SESSIONS, since))


def test_a_session_links_to_its_device_steps_events_and_turns(admin_client, run, device):
    page = html(admin_client.get(url_of(TestSession, run.pk)))
    assert f'href="{url_of(type(device), device.pk)}"' in page
    for path in ("step", "sessionevent", "decision"):
        assert f'href="/admin/test_sessions/{path}/?session__id__exact={run.pk}"' in page
    assert f'href="/admin/turns/turn/?session__id__exact={run.pk}"' in page

    steps = html(admin_client.get("/admin/test_sessions/step/", {"session__id__exact": str(run.pk)}))
    assert steps.count(f'href="{url_of(TestSession, run.pk)}"') == 2  # each step links back to its session
    assert "1.5 s" in steps
    events = html(admin_client.get("/admin/test_sessions/sessionevent/", {"session__id__exact": str(run.pk)}))
    assert events.count(f'href="{url_of(TestSession, run.pk)}"') == SessionEvent.objects.filter(session=run).count()


def test_steps_and_events_are_newest_first_and_read_only(admin_client, run):
    steps = html(admin_client.get("/admin/test_sessions/step/"))
    assert steps.index("#1 press_key") < steps.index("#0 press_key")
    step = Step.objects.get(session=run, index=0)
    detail = html(admin_client.get(url_of(Step, step.pk)))
    assert f'href="{url_of(TestSession, run.pk)}"' in detail
    assert 'name="_save"' not in detail
    assert admin_client.post(url_of(Step, step.pk), {"status": "FAILED"}).status_code == 403
    assert admin_client.get("/admin/test_sessions/step/add/").status_code == 403

    event = SessionEvent.objects.filter(session=run).latest("seq")
    events = html(admin_client.get("/admin/test_sessions/sessionevent/"))
    assert events.index(str(event)) < events.index(str(SessionEvent.objects.get(session=run, seq=1)))
    assert 'name="_save"' not in html(admin_client.get(url_of(SessionEvent, event.pk)))


def test_the_device_shows_the_session_holding_it(admin_client, run, user, device):
    holding = f'href="{url_of(TestSession, run.pk)}"'
    assert holding in html(admin_client.get("/admin/devices/device/"))
    page = html(admin_client.get(url_of(type(device), device.pk)))
    assert holding in page
    assert f'href="{SESSIONS}?device__id__exact={device.pk}"' in page

    services.session_stop(session_id=run.pk, owner=user)
    assert holding not in html(admin_client.get("/admin/devices/device/"))


def test_turns_are_read_only_and_link_to_their_session(admin_client, run):
    turn = Turn.objects.get(session=run)
    listing = html(admin_client.get("/admin/turns/turn/"))
    assert f'href="{url_of(TestSession, run.pk)}"' in listing
    assert "/admin/turns/turn/add/" not in listing
    assert f'href="{url_of(TestSession, run.pk)}"' in html(admin_client.get("/admin/turns/turn/", {"q": "carol"}))
    assert f'href="{url_of(TestSession, run.pk)}"' not in html(admin_client.get("/admin/turns/turn/", {"q": "dave"}))

    page = html(admin_client.get(url_of(Turn, turn.pk)))
    assert f'href="{url_of(TestSession, run.pk)}"' in page and "Went home." in page
    assert 'name="_save"' not in page and 'name="reply"' not in page
    assert admin_client.post(url_of(Turn, turn.pk), {"reply": "edited"}).status_code == 403
    assert admin_client.get("/admin/turns/turn/add/").status_code == 403
    Turn.objects.get(pk=turn.pk, reply="Went home.")


def test_a_device_a_session_holds_is_not_made_available(admin_client, run, user, device):
    change = url_of(type(device), device.pk)
    refused = admin_client.post(change, {"name": "Pixel", "status": "available"})
    assert refused.status_code == 200 and f"Session {run.pk} holds this device" in html(refused)
    device.refresh_from_db()
    assert device.status == "busy" and device.name != "Pixel"
    assert admin_client.post(change, {"name": "Pixel", "status": "maintenance"}).status_code == 302

    services.session_stop(session_id=run.pk, owner=user)
    assert admin_client.post(change, {"name": "Pixel", "status": "available"}).status_code == 302
    device.refresh_from_db()
    assert device.status == "available" and device.name == "Pixel"
