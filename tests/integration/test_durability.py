"""SPEC §5 under faults injected by the test, against real processes: nothing lost, nothing done twice."""

from __future__ import annotations

import signal
import subprocess
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime

import pytest
from django.conf import settings
from websockets.exceptions import WebSocketException

from cognisim_site.redis_server import free_port, redis_answers, redis_argv
from devices.drivers.sim import SimDriver, set_sim_faults
from sessions.models import Decision, SessionEvent, Step, TestSession
from tests.live import (
    TERMINAL_STEP,
    Rest,
    Socket,
    Stack,
    run_until_done,
    session_status,
    stack_env,
    step_done,
    wait_ready,
)

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]


def open_ready(stack, token, serial):
    reply = Rest(stack.base_url, token).post("/api/sessions/", {"device": serial})
    assert reply.status == 201, reply.body
    sock = Socket(stack.ws_url(reply.body["id"], "last_seq=0"), token=token)
    wait_ready(sock)
    return reply.body, sock


def execute(sock, step):
    sock.send({"type": "EXECUTE_SINGLE", "step": step})
    return sock.wait_for(lambda m: m.get("type") == "ACK")


def started(step_id, attempt):
    return lambda m: m.get("step_id") == step_id and m.get("status") == "STARTED" and m["attempt"] >= attempt


def test_a_worker_killed_mid_step_ten_times_loses_nothing_and_repeats_nothing(stack, devices, alice):
    serial = devices[0].serial
    session, sock = open_ready(stack, alice, serial)
    set_sim_faults(serial, settings.SIM_DEVICE_DIR, delay_ms=1500)  # every device action takes 1.5 s
    for n in range(10):
        ack = execute(sock, {"action": "tap", "x": 500 + n, "y": 30})
        sock.wait_for(started(ack["step_id"], 1), timeout=60)
        stack.kill(serial)  # mid-step: the tap is still on its way to the device
        sock.wait_for(started(ack["step_id"], 2), timeout=90)  # a worker starting on a busy machine is slow
        assert sock.wait_for(step_done(ack["step_id"]), timeout=60)["status"] == "COMPLETED"

    taps = [e["args"]["x"] for e in SimDriver(serial, settings.SIM_DEVICE_DIR).action_log() if e["op"] == "tap"]
    assert taps == [500 + n for n in range(10)]  # each step took effect exactly once, in order
    steps = list(Step.objects.filter(session_id=session["id"]).order_by("index"))
    assert [s.status for s in steps] == ["COMPLETED"] * 10 and all(s.attempt >= 2 for s in steps)
    retried = [m for m in sock.events() if m.get("status") == "RETRYING"]
    assert len(retried) >= 10 and all(m["error"]["code"] == "worker_lost" for m in retried)
    sock.send({"type": "STOP"})
    assert sock.wait_for(session_status("COMPLETED"))


def follow(stack, token, session_id, done_step_id, box):
    """A client that keeps reconnecting with its last seq until it has seen the step finish."""
    received, last_seq = box, 0
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            sock = Socket(stack.ws_url(session_id, f"last_seq={last_seq}"), token=token)
        except (OSError, WebSocketException):
            time.sleep(0.1)  # the server is restarting: try again
            continue
        try:
            while True:
                message = sock.recv(timeout=30)
                if "seq" in message:
                    received.append(message)
                    last_seq = message["seq"]
                if step_done(done_step_id)(message):
                    sock.close()
                    return
        except (OSError, WebSocketException):  # includes ConnectionClosed: reconnect from the last seq
            continue


def test_a_restarted_web_server_leaves_every_client_with_every_event_once(stack, devices, alice):
    serial = devices[1].serial
    session, sock = open_ready(stack, alice, serial)
    set_sim_faults(serial, settings.SIM_DEVICE_DIR, delay_ms=100)
    acks = [execute(sock, {"action": "tap", "x": 10 + n, "y": 30}) for n in range(30)]
    boxes = [[] for _ in range(3)]
    clients = [
        threading.Thread(target=follow, args=(stack, alice, session["id"], acks[-1]["step_id"], box)) for box in boxes
    ]
    for client in clients:
        client.start()
    sock.first(step_done(acks[5]["step_id"]), timeout=30)
    stack.kill("web")
    for client in clients:
        client.join(timeout=90)
    total = TestSession.objects.get(pk=session["id"]).last_seq
    for box in boxes:
        assert [e["seq"] for e in box] == list(range(1, total + 1))
    assert set(Step.objects.filter(session_id=session["id"]).values_list("status", flat=True)) == {"COMPLETED"}


@pytest.fixture
def make_stack(django_db_setup):
    """Stacks of a test's own, with their own settings; stopped after the test."""
    from tests.conftest import _database_url

    stacks = []

    def make(serials, **env):
        live = Stack(env=dict(stack_env(_database_url()), **env), serials=serials)
        live.start()
        stacks.append(live)
        return live

    yield make
    for live in stacks:
        live.stop()


@pytest.fixture
def private_redis_stack(make_stack, tmp_path):
    """A stack on a Redis of its own, so that the test may kill and restart it."""
    port = free_port()
    redis_proc = subprocess.Popen(redis_argv(port, tmp_path), stdout=subprocess.DEVNULL)
    yield make_stack(["r-1"], REDIS_URL=f"redis://127.0.0.1:{port}/0"), redis_proc, port, tmp_path
    redis_proc.kill()


def test_a_restarted_redis_loses_nothing_queued(private_redis_stack, alice):
    from devices.services import device_register_sim

    stack, redis_proc, port, data_dir = private_redis_stack
    device_register_sim(serial="r-1")
    set_sim_faults("r-1", settings.SIM_DEVICE_DIR, delay_ms=150)
    session, sock = open_ready(stack, alice, "r-1")
    acks = [execute(sock, {"action": "tap", "x": 10 + n, "y": 30}) for n in range(20)]
    sock.first(step_done(acks[3]["step_id"]), timeout=30)
    redis_proc.send_signal(signal.SIGKILL)
    redis_proc.wait()
    restarted = subprocess.Popen(redis_argv(port, data_dir), stdout=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 10
        while not redis_answers(f"redis://127.0.0.1:{port}/0") and time.monotonic() < deadline:
            time.sleep(0.05)
        box: list[dict] = []
        follow(stack, alice, session["id"], acks[-1]["step_id"], box)
        steps = list(Step.objects.filter(session_id=session["id"]).order_by("index"))
        assert len(steps) == 20 and all(s.status == "COMPLETED" for s in steps)
        assert [e["seq"] for e in box] == list(range(1, box[-1]["seq"] + 1))
    finally:
        restarted.kill()


def _redis_killed(redis_proc, port):
    """A session's socket opened and closed first: the web process keeps its pub/sub connection, subscribed to
    nothing, which the kill breaks. SIGKILL, as an OOM kill or `kill -9`."""
    time.sleep(0.5)  # the closed socket's group_discard
    redis_proc.send_signal(signal.SIGKILL)
    redis_proc.wait()


def test_the_first_socket_after_a_redis_restart_joins_its_session(private_redis_stack, alice):
    """Its group_add met the dead connection ('Connection closed by server') and crashed the consumer: the
    socket was closed; it is tried again once, on the connection the layer makes anew."""
    from devices.services import device_register_sim

    stack, redis_proc, port, data_dir = private_redis_stack
    device_register_sim(serial="r-1")
    session, sock = open_ready(stack, alice, "r-1")
    sock.close()
    _redis_killed(redis_proc, port)
    restarted = subprocess.Popen(redis_argv(port, data_dir), stdout=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 10
        while not redis_answers(f"redis://127.0.0.1:{port}/0") and time.monotonic() < deadline:
            time.sleep(0.05)
        again = Socket(stack.ws_url(session["id"], "last_seq=0"), token=alice)
        wait_ready(again)
        ack = execute(again, {"action": "tap", "x": 10, "y": 30})
        assert again.first(step_done(ack["step_id"]), timeout=60)["status"] == "COMPLETED"
    finally:
        restarted.kill()


def test_a_socket_while_redis_is_down_is_closed_with_4503(private_redis_stack, alice):
    from devices.services import device_register_sim

    stack, redis_proc, port, _ = private_redis_stack
    device_register_sim(serial="r-1")
    session, sock = open_ready(stack, alice, "r-1")
    sock.close()
    _redis_killed(redis_proc, port)
    again = Socket(stack.ws_url(session["id"], "last_seq=0"), token=alice)
    assert again.close_code(timeout=30) == 4503


def test_fifty_concurrent_opens_admit_exactly_the_cap(stack, devices, alice):
    rest = Rest(stack.base_url, alice)
    with ThreadPoolExecutor(16) as pool:
        replies = list(pool.map(lambda _: rest.post("/api/sessions/", {}), range(50)))
    assert sorted(r.status for r in replies) == [201, 201] + [429] * 48
    assert {r.body["code"] for r in replies if r.status == 429} == {"session_limit"}
    assert TestSession.objects.count() == 2


def test_queued_opens_wait_and_are_admitted_in_order(stack, devices, alice):
    rest = Rest(stack.base_url, alice)
    active = [rest.post("/api/sessions/", {"queue": True}).body["id"] for _ in range(2)]
    with ThreadPoolExecutor(8) as pool:
        waiting = list(pool.map(lambda n: rest.post("/api/sessions/", {"queue": True}), range(6)))
    assert all(r.status == 201 and r.body["status"] == "PENDING" and r.body["device"] is None for r in waiting)
    order = [
        str(pk)
        for pk in TestSession.objects.filter(device__isnull=True).order_by("created_at").values_list("pk", flat=True)
    ]
    for n, next_in_line in enumerate(order):
        rest.post(f"/api/sessions/{active.pop(0)}/stop/")
        sock = Socket(stack.ws_url(next_in_line, "last_seq=0"), token=alice)
        sock.wait_for(session_status("READY"), timeout=30)  # the oldest waiting one takes the freed slot
        sock.close()
        still_waiting = set(map(str, TestSession.objects.filter(device__isnull=True).values_list("pk", flat=True)))
        assert still_waiting == set(order[n + 1 :])
        active.append(next_in_line)
    assert TestSession.objects.filter(status="READY").count() == 2


def test_transient_failures_are_retried_with_the_configured_delays(stack, devices, alice):
    serial = devices[0].serial
    session, sock = open_ready(stack, alice, serial)
    set_sim_faults(serial, settings.SIM_DEVICE_DIR, fail_next=2)
    backoff = {"strategy": "linear", "base_ms": 300, "max_ms": 5000}
    ack = execute(sock, {"action": "tap", "x": 5, "y": 5, "max_retries": 3, "backoff": backoff})
    done = sock.wait_for(step_done(ack["step_id"]), timeout=30)
    assert done["status"] == "COMPLETED" and done["attempt"] == 3
    retries = [m for m in sock.events() if m.get("step_id") == ack["step_id"] and m["status"] == "RETRYING"]
    assert [(m["attempt"], m["delay_ms"], m["error"]["code"]) for m in retries] == [
        (2, 300, "device_unreachable"),
        (3, 600, "device_unreachable"),
    ]
    moments = [datetime.fromisoformat(m["ts"]) for m in (*retries, done)]
    assert (moments[1] - moments[0]).total_seconds() >= 0.3 and (moments[2] - moments[1]).total_seconds() >= 0.6

    ack = execute(sock, {"action": "assert_visible", "text": "Not on this screen", "max_retries": 3})
    failed = sock.wait_for(step_done(ack["step_id"]))
    assert failed["status"] == "ERROR" and failed["attempt"] == 1 and failed["error"]["code"] == "assertion_failed"
    assert not [m for m in sock.events() if m.get("step_id") == ack["step_id"] and m["status"] == "RETRYING"]

    # A device that does not answer through every retry is a fault of the device, not a failed step: the
    # step goes back to the queue and the session pauses, then resumes on its own once the device answers.
    set_sim_faults(serial, settings.SIM_DEVICE_DIR, fail_next=2)
    ack = execute(sock, {"action": "tap", "x": 6, "y": 6, "max_retries": 1, "backoff": "constant"})
    paused = sock.wait_for(session_status("IDLE"), timeout=30)
    assert paused["error"]["code"] == "device_offline" and "Simulated transport fault" in paused["error"]["message"]
    requeued = [m for m in sock.events() if m.get("step_id") == ack["step_id"] and m["status"] == "QUEUED"]
    assert requeued[-1]["error"]["code"] == "device_unreachable" and requeued[-1]["attempt"] == 0
    resumed = sock.wait_for(step_done(ack["step_id"]), timeout=60)
    assert resumed["status"] == "COMPLETED" and resumed["attempt"] == 1


def test_a_rate_limited_step_is_deferred_not_dropped(stack, devices, alice):
    from django.contrib.auth import get_user_model

    from sessions.models import UserQuota

    UserQuota.objects.create(user=get_user_model().objects.get(username="alice"), steps_per_window=2)
    session, sock = open_ready(stack, alice, devices[1].serial)
    acks = [execute(sock, {"action": "press_key", "key": "home"}) for _ in range(3)]
    deferred = sock.wait_for(lambda m: m.get("step_id") == acks[2]["step_id"] and m.get("status") == "DEFERRED")
    assert deferred["reason"] == "rate_limit" and deferred["schedule_at"]
    kinds = list(Decision.objects.filter(step_id=acks[2]["step_id"]).values_list("kind", flat=True))
    assert kinds == ["DEFER"]
    Step.objects.filter(pk=acks[2]["step_id"]).update(scheduled_at=TestSession.objects.get(pk=session["id"]).created_at)
    assert sock.wait_for(step_done(acks[2]["step_id"]), timeout=30)["status"] == "COMPLETED"
    assert list(Decision.objects.filter(step_id=acks[2]["step_id"]).values_list("kind", flat=True)) == [
        "DEFER",
        "INVOKE",
    ]


def test_input_survives_a_restart_of_the_worker_and_the_web_server(stack, devices, alice):
    serial = devices[0].serial
    session, sock = open_ready(stack, alice, serial)
    ask = execute(sock, {"action": "ask_user", "prompt": "Code?"})
    after = execute(sock, {"action": "press_key", "key": "home"})
    asked = sock.wait_for(lambda m: m.get("type") == "USER_INPUT_REQUIRED")
    sock.close()
    worker, web = stack.kill(serial), stack.kill("web")
    stack.wait_back(serial, worker)
    stack.wait_back("web", web)
    reply = Rest(stack.base_url, alice).post(
        f"/api/sessions/{session['id']}/input/", {"input_id": asked["input_id"], "value": "1234"}
    )
    assert reply.status == 200, reply.body
    box: list[dict] = []
    follow(stack, alice, session["id"], after["step_id"], box)
    assert Step.objects.get(pk=ask["step_id"]).result == {"value": "1234"}
    assert Step.objects.get(pk=after["step_id"]).status == "COMPLETED"


def test_an_idle_session_frees_its_device_and_resumes_with_its_state(make_stack, alice, bob):
    from devices.services import device_register_sim

    stack = make_stack(["i-1"], SESSION_IDLE_SECONDS="2")
    device_register_sim(serial="i-1")
    session, sock = open_ready(stack, alice, "i-1")
    ask = execute(sock, {"action": "ask_user", "prompt": "Which user?"})
    asked = sock.wait_for(lambda m: m.get("type") == "USER_INPUT_REQUIRED")
    sock.send({"type": "USER_INPUT_RESPONSE", "input_id": asked["input_id"], "value": "demo"})
    sock.wait_for(step_done(ask["step_id"]))
    first = execute(sock, {"action": "launch_app", "package": "com.android.settings"})
    sock.wait_for(step_done(first["step_id"]))
    sock.wait_for(session_status("IDLE"), timeout=30)
    assert Rest(stack.base_url, alice).get("/api/devices/").body[0]["status"] == "available"

    other, other_sock = open_ready(stack, bob, "i-1")  # the freed device serves someone else meanwhile
    Rest(stack.base_url, bob).post(f"/api/sessions/{other['id']}/stop/")

    # Bob's session started clean: the Settings screen Alice left open was cleared before his setup.
    resumed = execute(sock, {"action": "assert_not_visible", "text": "Wi-Fi"})
    assert sock.wait_for(step_done(resumed["step_id"]), timeout=30)["status"] == "COMPLETED"
    statuses = [m["status"] for m in sock.events() if m["type"] == "SESSION_STATUS"]
    assert statuses[-4:] == ["IDLE", "PENDING", "SETTING_UP", "RUNNING"]
    row = TestSession.objects.get(pk=session["id"])
    assert row.current_state["inputs"] == {"0": "demo"}
    from sessions.services import state_rebuild

    assert state_rebuild(session=row)["inputs"] == row.current_state["inputs"]


def test_stop_cancels_queued_steps_and_stops_a_running_one_at_a_safe_point(stack, devices, alice):
    serial = devices[0].serial
    session, sock = open_ready(stack, alice, serial)
    set_sim_faults(serial, settings.SIM_DEVICE_DIR, fail_next=50)
    backoff = {"strategy": "constant", "base_ms": 60_000}
    running = execute(sock, {"action": "tap", "x": 5, "y": 5, "max_retries": 5, "backoff": backoff})
    queued = [execute(sock, {"action": "press_key", "key": "home"}) for _ in range(2)]
    sock.wait_for(lambda m: m.get("step_id") == running["step_id"] and m.get("status") == "RETRYING")
    stopped_at = time.monotonic()
    sock.send({"type": "STOP"})
    assert sock.wait_for(lambda m: m.get("type") == "ACK")["status"] == "CANCELLED"
    assert sock.first(step_done(running["step_id"]), timeout=30)["status"] == "CANCELLED"
    assert time.monotonic() - stopped_at < 30  # not after the 60 s backoff
    sock.first(session_status("CANCELLED"), timeout=30)  # after every step's end
    cancelled = {m["step_id"] for m in sock.events() if m["type"] == "STEP_STATUS" and m["status"] == "CANCELLED"}
    assert cancelled == {running["step_id"], *(a["step_id"] for a in queued)}
    assert set(Decision.objects.filter(session_id=session["id"], kind="SKIP").values_list("step_id", flat=True)) == {
        a["step_id"] for a in queued
    }
    assert Rest(stack.base_url, alice).get("/api/devices/").body[0]["status"] == "available"


@pytest.mark.parametrize("stop_by", ["socket", "rest"])
def test_a_stop_ends_the_running_step_before_the_session(stack, devices, alice, stop_by):
    """A client that follows a session until its terminal SESSION_STATUS has seen every step end by then, the
    one the stop caught running on the device included, and nothing of the session comes after it."""
    serial = devices[0].serial
    rest = Rest(stack.base_url, alice)
    session, sock = open_ready(stack, alice, serial)
    running = execute(sock, {"action": "sleep", "ms": 5000})
    queued = execute(sock, {"action": "press_key", "key": "home"})
    sock.first(started(running["step_id"], 1))
    if stop_by == "socket":
        sock.send({"type": "STOP"})
    else:
        assert rest.post(f"/api/sessions/{session['id']}/stop/").status == 200
    end = sock.wait_for(lambda m: m.get("type") == "SESSION_STATUS" and m["status"] in TestSession.TERMINAL)
    assert end["status"] == "CANCELLED"
    ended = {m["step_id"]: m for m in sock.events() if m["type"] == "STEP_STATUS" and m["status"] in TERMINAL_STEP}
    assert ended.keys() == {running["step_id"], queued["step_id"]}, sock.events()
    assert ended[running["step_id"]]["status"] == "CANCELLED"
    assert ended[running["step_id"]]["reason"] == "session_stopped"
    steps = rest.get(f"/api/sessions/{session['id']}/steps/").body
    assert [s["status"] for s in steps] == ["CANCELLED", "CANCELLED"], steps

    # The device's worker is done with the sleep once a next session's setup, queued behind it, has run.
    open_ready(stack, alice, serial)
    events = rest.get(f"/api/sessions/{session['id']}/events/?after={end['seq'] - 1}").body["results"]
    assert [e["seq"] for e in events] == [end["seq"]], events
    assert list(Step.objects.filter(session_id=session["id"]).values_list("status", flat=True)) == ["CANCELLED"] * 2


# Each round focuses the field and types one letter: a round done twice would show in the field and in the log.
REPEAT_SIX = """\
name: Six rounds through a worker kill
steps:
  - launch_app: {package: com.cognisim.demo, clear_state: true}
  - repeat:
      times: 6
      timeout_ms: 90000
      steps:
        - tap: {id: email}
        - type: {text: "a"}
        - sleep: {ms: 300}
  - assert_visible: {text: "aaaaaa"}
"""


def test_a_worker_killed_during_a_repeat_goes_on_from_its_last_finished_inner_step(stack, devices, alice):
    serial = devices[0].serial
    phone = SimDriver(serial, settings.SIM_DEVICE_DIR)
    set_sim_faults(serial, settings.SIM_DEVICE_DIR, delay_ms=1500)  # every device action takes 1.5 s
    rest = Rest(stack.base_url, alice)
    run = rest.post("/api/runs/", {"flow": REPEAT_SIX, "device": serial})
    assert run.status == 201, run.body
    deadline = time.monotonic() + 90
    while sum(e["op"] == "tap" for e in phone.action_log()) < 4:  # rounds 1-3 done, round 4's tap just landed
        assert time.monotonic() < deadline, phone.action_log()
        time.sleep(0.02)
    stack.kill(serial)  # round 4's letter is still on its way to the device

    report = run_until_done(rest, run.body["id"], timeout=180)
    assert report["status"] == "passed", report
    log = phone.action_log()
    assert [e["args"]["text"] for e in log if e["op"] == "input_text"] == ["a"] * 6  # each letter typed once
    # Each tap landed once, but the one in flight at the kill may have landed again: a plain step's does.
    assert sum(e["op"] == "tap" for e in log) in (6, 7)
    block = Step.objects.get(session_id=run.body["session_id"], index=1)
    assert block.status == "COMPLETED" and block.attempt >= 2
    rows = block.result["steps"]
    assert [(r["round"], r["index"]) for r in rows] == [(n, i) for n in range(1, 7) for i in range(3)]
    assert all(r["status"] == "passed" for r in rows)
    retried = [
        e.payload
        for e in SessionEvent.objects.filter(session_id=run.body["session_id"], type="STEP_STATUS")
        if e.payload.get("step_id") == block.pk and e.payload["status"] == "RETRYING"
    ]
    assert retried and all(p["error"]["code"] == "worker_lost" for p in retried)
