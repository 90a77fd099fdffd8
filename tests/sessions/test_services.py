"""Session services against the real database, with the simulated device driven in-process."""

import json
import uuid

import pytest
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext

from core.errors import NotFound
from core.steps import step_parse
from devices.drivers.sim import DEMO
from devices.leases import lane_lease, lease_acquire, lease_holds, lease_release
from devices.models import Device
from devices.services import _drivers
from devices.workers import worker_beat, worker_gone
from sessions import selectors, services
from sessions.errors import DeviceBusy, DeviceUnavailable, NoDeviceAvailable, SessionClosed, SessionLimit
from sessions.events import event_message
from sessions.lane import drain as lane
from sessions.lane import run
from sessions.models import Decision, JournalEntry, SessionEvent, Step, TestSession, UserQuota


@pytest.fixture(autouse=True)
def fresh_drivers():
    _drivers.clear()
    yield
    _drivers.clear()


def open_ready(user, device):
    session = services.session_open(owner=user, device_serial=device.serial)
    lane.session_setup(session_id=session.pk)
    return TestSession.objects.get(pk=session.pk)


def test_open_claims_the_device_and_setup_makes_it_ready(user, device):
    session = open_ready(user, device)
    assert session.status == "READY"
    assert session.initial_state == session.current_state
    assert session.current_state["device"]["foreground"] == "com.android.launcher3"
    assert Device.objects.get(pk=device.pk).status == "busy"
    events = list(SessionEvent.objects.filter(session=session).values_list("seq", "type", "payload__status"))
    assert events == [
        (1, "SESSION_STATUS", "PENDING"),
        (2, "SESSION_STATUS", "SETTING_UP"),
        (3, "SESSION_STATUS", "READY"),
        (4, "SCREEN", None),
    ]
    screen = session.screens.get()
    assert session.screen_url == f"/api/sessions/{session.pk}/screens/{screen.screen_hash}.png"
    assert screen.picture.read().startswith(b"\x89PNG") and "com.android.launcher3" in screen.ui_xml


def test_setup_opens_the_sessions_app(user, device):
    session = services.session_open(owner=user, device_serial=device.serial, app_package="com.cognisim.demo")
    lane.session_setup(session_id=session.pk)
    session.refresh_from_db()
    assert session.current_state["device"]["foreground"] == "com.cognisim.demo"


def test_setup_of_an_unknown_app_fails_the_session_and_frees_the_device(user, device):
    session = services.session_open(owner=user, device_serial=device.serial, app_package="com.not.installed")
    lane.session_setup(session_id=session.pk)
    session.refresh_from_db()
    assert session.status == "FAILED" and session.error["code"] == "app_not_installed"
    assert Device.objects.get(pk=device.pk).status == "available"


def test_the_cap_counts_active_sessions_and_honours_a_per_user_override(user, device, second_device):
    services.session_open(owner=user)
    services.session_open(owner=user)
    with pytest.raises(SessionLimit) as caught:
        services.session_open(owner=user)
    assert caught.value.details == {"active": 2, "limit": 2}
    UserQuota.objects.create(user=user, max_active_sessions=1)
    with pytest.raises(SessionLimit):
        services.session_open(owner=user)


def test_a_device_that_does_not_exist_is_not_found_even_at_the_cap(user, device):
    UserQuota.objects.create(user=user, max_active_sessions=1)
    services.session_open(owner=user)
    for queue in (False, True):  # a queued request would otherwise wait for it for ever
        with pytest.raises(NotFound):
            services.session_open(owner=user, device_serial="no-such-phone", queue=queue)
    assert not TestSession.objects.filter(requested_device="no-such-phone").exists()


def test_a_freed_device_goes_to_the_user_holding_fewest_sessions_not_to_one_users_burst(
    user, other_user, device, second_device
):
    first = services.session_open(owner=user)
    services.session_open(owner=user)  # the user holds both devices, at the cap of 2
    burst = [services.session_open(owner=user, queue=True) for _ in range(3)]
    theirs = services.session_open(owner=other_user, queue=True)  # queued after the whole burst
    services.session_stop(session_id=first.pk, owner=user)
    assert services.sessions_admit() == 1
    assert TestSession.objects.get(pk=theirs.pk).device_id is not None
    assert [TestSession.objects.get(pk=s.pk).device_id for s in burst] == [None] * 3
    services.session_stop(session_id=theirs.pk, owner=other_user)
    assert services.sessions_admit() == 1  # then the burst, oldest first
    assert [TestSession.objects.get(pk=s.pk).device_id is not None for s in burst] == [True, False, False]


def test_a_session_without_a_device_named_gets_one_a_worker_serves(user, device, second_device):
    """unit-1 comes first by name, but no worker beats on its queue (a host lists it, its worker is gone)."""
    worker_beat(node="w@unit", queues=[second_device.queue])
    try:
        assert services.session_open(owner=user).device_id == second_device.pk
        assert services.session_open(owner=user).device_id == device.pk  # when no served one is left
    finally:
        worker_gone(node="w@unit", queues=[second_device.queue])


def test_device_choice_errors(user, other_user, device):
    services.session_open(owner=user, device_serial=device.serial)
    with pytest.raises(DeviceBusy):
        services.session_open(owner=other_user, device_serial=device.serial)
    with pytest.raises(NoDeviceAvailable):
        services.session_open(owner=other_user)
    Device.objects.filter(pk=device.pk).update(status="maintenance")
    with pytest.raises(DeviceUnavailable):
        services.session_open(owner=other_user, device_serial=device.serial)


def test_steps_run_in_index_order_even_when_triggered_by_the_last(user, device):
    session = open_ready(user, device)
    steps = [
        services.step_submit(session_id=session.pk, owner=user, data=data)
        for data in (
            {"action": "launch_app", "package": "com.android.settings"},
            {"action": "tap", "text": "Wi-Fi"},
            {"action": "assert_visible", "text": "Wi-Fi"},
        )
    ]
    assert [s.index for s in steps] == [0, 1, 2]
    lane.session_drain(session_id=session.pk)
    rows = list(Step.objects.filter(session=session).order_by("index"))
    assert [r.status for r in rows] == ["COMPLETED"] * 3
    assert rows[0].finished_at <= rows[1].started_at and rows[1].finished_at <= rows[2].started_at
    lane.session_drain(session_id=session.pk)  # a second ring changes nothing
    assert Step.objects.filter(session=session, attempt=1).count() == 3

    events = list(SessionEvent.objects.filter(session=session).order_by("seq"))
    assert [e.seq for e in events] == list(range(1, len(events) + 1))
    session.refresh_from_db()
    assert session.last_seq == len(events) and session.status == "RUNNING"
    assert services.state_rebuild(session=session) == session.current_state


def test_a_stale_lease_holder_cannot_overwrite_the_result(user, device):
    session = open_ready(user, device)
    step = services.step_submit(session_id=session.pk, owner=user, data={"action": "press_key", "key": "home"})
    drain = lane._lane(session.pk)
    stale = drain.lease
    lane._running(drain)
    claimed = lane._pending(drain)[0][0]
    assert run.step_claim(drain, claimed) and claimed.lease_token == stale.token
    current = lane_lease(serial=device.serial, seize=True)  # a newer grant: a new worker took over
    assert current.token > stale.token and not lease_holds(lease=stale)
    late = {"code": "x", "message": "late", "retryable": False}
    assert not run._finish(drain, claimed, outcome=None, error=late, device_ms=1)
    assert Step.objects.get(pk=step.pk).status == "RUNNING"


def test_a_lease_has_one_holder_at_a_time():
    serial = f"lease-{uuid.uuid4().hex}"
    first = lease_acquire(serial=serial, holder="a")
    assert lease_acquire(serial=serial, holder="b") is None
    lease_release(lease=first)
    second = lease_acquire(serial=serial, holder="b")
    assert second.token > first.token
    lease_release(lease=second)


def test_a_runs_steps_go_in_a_few_statements_numbered_like_any_others(user, device, django_assert_max_num_queries):
    session = services.session_open(owner=user, device_serial=device.serial, queue=True, app_package=DEMO)
    specs = [step_parse({"action": "press_key", "key": "volume_up"}) for _ in range(300)]
    specs.append(step_parse({"action": "type", "text": "hunter2", "secret": True, "into": {"id": "email"}}))
    with django_assert_max_num_queries(20), transaction.atomic():  # batches, not a statement per row
        steps = services.steps_append(session_id=session.pk, specs=specs)
    assert [s.index for s in steps] == list(range(301)) and all(s.pk for s in steps)
    events = list(SessionEvent.objects.filter(session=session).order_by("seq"))
    assert [e.seq for e in events] == list(range(1, 303))
    assert [e.payload["step_id"] for e in events[1:]] == [s.pk for s in steps]
    assert {e.payload["status"] for e in events[1:]} == {"QUEUED"}
    session.refresh_from_db()
    assert (session.last_seq, session.next_index) == (302, 301)
    assert Step.objects.get(session=session, index=300).params["text"] == "${_TYPED_300}"
    assert session.secrets == {"_TYPED_300": "hunter2"}
    assert Decision.objects.filter(session=session, kind="INVOKE").count() == 301
    lane.session_setup(session_id=session.pk)
    lane.session_drain(session_id=session.pk)
    assert set(Step.objects.filter(session=session).values_list("status", flat=True)) == {"COMPLETED"}


def test_stop_cancels_what_never_ran_and_frees_the_device(user, device):
    session = open_ready(user, device)
    services.step_submit(session_id=session.pk, owner=user, data={"action": "press_key", "key": "home"})
    stopped = services.session_stop(session_id=session.pk, owner=user)
    assert stopped.status == "CANCELLED"
    assert list(Step.objects.filter(session=session).values_list("status", flat=True)) == ["CANCELLED"]
    assert Device.objects.get(pk=device.pk).status == "available"
    assert services.session_stop(session_id=session.pk, owner=user).status == "CANCELLED"
    with pytest.raises(SessionClosed):
        services.step_submit(session_id=session.pk, owner=user, data={"action": "screenshot"})


def test_a_stop_ends_the_step_the_device_is_running_before_the_session(user, device):
    session = open_ready(user, device)
    for key in ("home", "back"):
        services.step_submit(session_id=session.pk, owner=user, data={"action": "press_key", "key": key})
    drain = lane._lane(session.pk)
    lane._running(drain)
    running = lane._pending(drain)[0][0]
    assert run.step_claim(drain, running)
    before = TestSession.objects.get(pk=session.pk).last_seq
    assert services.session_stop(session_id=session.pk, owner=user).status == "CANCELLED"
    assert list(Step.objects.filter(session=session).values_list("status", flat=True)) == ["CANCELLED"] * 2
    run.step_run(drain, running)  # the device finishes the step: its result finds it over, and is dropped
    events = SessionEvent.objects.filter(session=session, seq__gt=before).order_by("seq")
    assert list(events.values_list("type", "payload__step_index", "payload__status", "payload__reason")) == [
        ("STEP_STATUS", 0, "CANCELLED", "session_stopped"),
        ("STEP_STATUS", 1, "CANCELLED", "session_stopped"),
        ("SESSION_STATUS", None, "CANCELLED", None),
    ]
    assert list(Step.objects.filter(session=session).values_list("status", flat=True)) == ["CANCELLED"] * 2
    skipped = Decision.objects.filter(session=session, kind="SKIP").values_list("step__index", flat=True)
    assert list(skipped) == [1]  # the running step keeps its INVOKE


def test_a_question_the_device_reaches_after_a_stop_leaves_the_session_ended(user, device):
    session = open_ready(user, device)
    services.step_submit(session_id=session.pk, owner=user, data={"action": "ask_user", "prompt": "Which?"})
    drain = lane._lane(session.pk)
    lane._running(drain)
    asking = lane._pending(drain)[0][0]
    assert run.step_claim(drain, asking)
    assert services.session_stop(session_id=session.pk, owner=user).status == "CANCELLED"
    before = TestSession.objects.get(pk=session.pk).last_seq
    run.step_run(drain, asking)  # the worker reaches the question late: it must not reopen the session
    assert TestSession.objects.get(pk=session.pk).status == "CANCELLED"
    assert not SessionEvent.objects.filter(session=session, seq__gt=before).exists()
    with pytest.raises(SessionClosed):
        services.session_input(session_id=session.pk, owner=user, input_id=asking.pk, value="x")


def test_stop_with_nothing_pending_completes(user, device):
    session = open_ready(user, device)
    assert services.session_stop(session_id=session.pk, owner=user).status == "COMPLETED"


@pytest.mark.parametrize("pending", [True, False], ids=["cancelled", "completed"])
def test_input_for_an_ended_session_is_session_closed(user, device, pending):
    session = open_ready(user, device)
    if pending:
        services.step_submit(session_id=session.pk, owner=user, data={"action": "ask_user", "prompt": "Which?"})
    stopped = services.session_stop(session_id=session.pk, owner=user)
    assert stopped.status == ("CANCELLED" if pending else "COMPLETED")
    for answer in ({"value": "x"}, {"cancel": True}):
        with pytest.raises(SessionClosed, match=stopped.status):
            services.session_input(session_id=session.pk, owner=user, input_id=1, **answer)


@pytest.mark.parametrize(
    ("strategy", "delays"),
    [("exponential", [500, 1000, 2000, 4000]), ("linear", [500, 1000, 1500, 2000]), ("constant", [500] * 4)],
)
def test_backoff_delays(strategy, delays):
    backoff = {"strategy": strategy, "base_ms": 500, "max_ms": 3000}
    assert [run.backoff_delay_ms(backoff=backoff, attempt=n) for n in range(1, 5)] == [min(d, 3000) for d in delays]


def test_a_replayed_event_is_the_same_json_as_a_live_one(user, device):
    session = open_ready(user, device)
    services.step_submit(session_id=session.pk, owner=user, data={"action": "type", "text": 'é \\" ✓ {}'})
    lane.session_drain(session_id=session.pk)
    SessionEvent.objects.create(session=session, seq=session.last_seq + 100, type="SCREEN", payload={})
    events = list(SessionEvent.objects.filter(session=session).order_by("seq"))
    texts = selectors.event_texts(session_id=session.pk, after=0, limit=1000)
    assert [seq for seq, _ in texts] == [e.seq for e in events]
    assert [json.loads(text) for _, text in texts] == [event_message(e) for e in events]
    assert selectors.event_texts(session_id=session.pk, after=events[-2].seq, limit=1) == texts[-1:]


@pytest.mark.parametrize("session_id", ["0", "not-a-uuid", str(uuid.uuid4())])
def test_a_step_for_no_session_is_not_found(user, session_id):
    """Found by schemathesis: `POST /api/sessions/0/steps/` was a 500 (the fast path read "0" as a UUID)."""
    with pytest.raises(NotFound):
        services.step_submit(session_id=session_id, owner=user, data={"action": "press_key", "key": "home"})


def test_postgresql_commits_do_not_wait_for_the_disk(db):
    from django.db import connection

    if connection.vendor != "postgresql":
        pytest.skip("PostgreSQL only (the second pass of .ci/run); SQLite's WAL has synchronous=NORMAL")
    with connection.cursor() as cursor:
        cursor.execute("SHOW synchronous_commit")
        assert cursor.fetchone()[0] == "off"


class Killed(BaseException):
    """The worker dies: nothing after this point runs."""


REPEAT = {"action": "repeat", "times": 4, "steps": [{"action": "type", "text": "a", "into": {"id": "email"}}]}


def typed(device):
    return [e["args"]["text"] for e in _drivers[device.serial].action_log() if e["op"] == "input_text"]


def claimed_block(user, device):
    """A session on the demo app's sign-in screen with a `repeat` step claimed by this worker."""
    session = open_ready(user, device)
    services.step_submit(session_id=session.pk, owner=user, data={"action": "launch_app", "package": DEMO})
    lane.session_drain(session_id=session.pk, linger=False)
    step = services.step_submit(session_id=session.pk, owner=user, data=REPEAT)
    drain = lane._lane(session.pk)
    claimed = lane._pending(drain)[0][0]
    assert run.step_claim(drain, claimed) and claimed.pk == step.pk
    return session, drain, claimed


def test_a_block_whose_worker_died_goes_on_after_its_last_saved_inner_step(user, device, monkeypatch):
    session, drain, step = claimed_block(user, device)
    save = run._JournalSave.__call__

    def save_then_die(self, entries):
        save(self, entries)
        if len(entries) == 2:
            raise Killed

    monkeypatch.setattr(run._JournalSave, "__call__", save_then_die)
    with pytest.raises(Killed):
        run.step_run(drain, step)
    monkeypatch.setattr(run._JournalSave, "__call__", save)
    assert typed(device) == ["a", "a"] and JournalEntry.objects.filter(step=step).count() == 2
    with transaction.atomic():  # what the next worker does when it starts (`lane_recover`)
        lost = Step.objects.select_related("session").select_for_update().get(pk=step.pk)
        lane.steps_requeue_lost(lost)
    lane.session_drain(session_id=session.pk, linger=False)
    done = Step.objects.get(pk=step.pk)
    assert done.status == "COMPLETED" and done.attempt == 2
    assert typed(device) == ["a"] * 4  # each round typed once, over both attempts
    assert [(r["round"], r["status"]) for r in done.result["steps"]] == [(n, "passed") for n in range(1, 5)]


def test_a_block_fenced_out_stops_driving_the_device(user, device):
    session, drain, step = claimed_block(user, device)
    Step.objects.filter(pk=step.pk).update(status="QUEUED")  # the sweeper gave it back meanwhile
    run.step_run(drain, step)
    assert typed(device) == ["a"]  # the first inner step's journal was refused: no second round
    assert Step.objects.get(pk=step.pk).status == "QUEUED" and step.status == "RUNNING"


def test_a_block_retried_on_the_same_worker_starts_over(user, device):
    session, drain, step = claimed_block(user, device)
    JournalEntry.objects.create(step=step, position=0, entry={"seen": True})  # the attempt before this retry's
    error = {"code": "device_unreachable", "message": "gone", "retryable": True}
    assert run._retrying(drain, step, error, 0)
    assert not JournalEntry.objects.filter(step=step).exists()


@pytest.mark.parametrize("quota", [None, 0, 2])
def test_without_a_site_limit_the_append_asks_the_owners_quota_in_its_own_statement(user, device, settings, quota):
    settings.RATE_LIMIT_STEPS = 0
    if quota is not None:
        UserQuota.objects.create(user=user, steps_per_window=quota)
    session = open_ready(user, device)
    home = {"action": "press_key", "key": "home"}
    submit = lambda: services.step_submit(session_id=session.pk, owner=user, data=home)  # noqa: E731
    if quota:
        steps = [submit(), submit(), submit()]
        statuses = [Step.objects.get(pk=step.pk).status for step in steps]
        assert statuses == ["QUEUED", "QUEUED", "DEFERRED"]  # the quota's limit holds
        assert list(steps[2].decisions.values_list("kind", flat=True)) == ["DEFER"]
        return
    with CaptureQueriesContext(connection) as ctx:
        step = submit()
    assert Step.objects.get(pk=step.pk).status == "QUEUED"
    quota_table = UserQuota._meta.db_table
    asked = [q["sql"] for q in ctx.captured_queries if quota_table in q["sql"]]
    assert len(asked) == 1 and asked[0].startswith(("UPDATE", "WITH"))  # no SELECT of its own


def test_a_steps_queued_event_and_its_ring_reach_redis_together_the_event_first(
    user, device, settings, monkeypatch, django_capture_on_commit_callbacks
):
    from redis.connection import AbstractConnection

    from sessions.dispatch import _bell_key, _redis, lane_listen, lane_unlisten

    settings.RATE_LIMIT_STEPS = 0
    session = open_ready(user, device)
    lane_listen(session_id=session.pk)  # a drain listens: the ring sends no task
    packets: list[bytes] = []
    send = AbstractConnection.send_packed_command

    def record(self, command, check_health=True):
        packets.append(b"".join(command) if isinstance(command, list) else command)
        return send(self, command, check_health)

    monkeypatch.setattr(AbstractConnection, "send_packed_command", record)
    try:
        with django_capture_on_commit_callbacks(execute=True):
            step = services.step_submit(session_id=session.pk, owner=user, data={"action": "press_key", "key": "home"})
    finally:
        monkeypatch.undo()
        lane_unlisten(session_id=session.pk)
    [packet] = [p for p in packets if b"PUBLISH" in p or b"RPUSH" in p]  # one round trip
    assert packet.index(b"PUBLISH") < packet.index(b"RPUSH") and str(step.pk).encode() in packet
    assert _redis(settings.REDIS_URL).lpop(_bell_key(session.pk)) == b"ring"


def test_a_failing_recovery_receiver_does_not_stop_the_lanes_recovery(user, device):
    from sessions.signals import lane_recovered

    session = open_ready(user, device)
    step = services.step_submit(session_id=session.pk, owner=user, data={"action": "press_key", "key": "home"})
    Step.objects.filter(pk=step.pk).update(status="RUNNING")  # claimed by a worker that then died

    def broken(**_):
        raise RuntimeError("a receiver's bug")

    lane_recovered.connect(broken, dispatch_uid="test.broken")
    try:
        assert lane.lane_recover(serial=device.serial) == 1
    finally:
        lane_recovered.disconnect(dispatch_uid="test.broken")
    assert Step.objects.get(pk=step.pk).status == "QUEUED"
