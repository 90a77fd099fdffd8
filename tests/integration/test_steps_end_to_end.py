"""A session driven over real sockets: REST → daphne → Redis → Celery worker → simulated device → every socket."""

from __future__ import annotations

import time

import pytest

from sessions.accounts import api_user_create
from sessions.models import SessionEvent, Step, TestSession
from tests.live import TERMINAL_STEP, Rest, Socket, session_status, step_done, wait_ready

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]

LOGIN_STEPS = [
    {"action": "launch_app", "package": "com.cognisim.demo", "clear_state": True},
    {"action": "assert_visible", "text": "Sign in", "index": 0},
    {"action": "type", "text": "demo@example.com", "into": {"id": "email"}},
    {"action": "type", "text": "secret123", "into": {"id": "password"}},
    {"action": "tap", "id": "sign_in"},
    {"action": "assert_visible", "text": "Welcome, Demo!"},
    {"action": "assert_visible", "text": "Nothing like this"},  # fails: a semantic error
    {"action": "scroll_until_visible", "text": "Item 30"},
    {"action": "tap", "text": "Item 30"},
    {"action": "screenshot"},
]


def open_session(rest, serial):
    reply = rest.post("/api/sessions/", {"device": serial, "name": "e2e"})
    assert reply.status == 201, reply.body
    return reply.body


def test_ten_steps_stream_in_order_and_match_the_database(stack, devices, rest, alice):
    session = open_session(rest, devices[0].serial)
    assert session["status"] == "PENDING" and session["ws_url"].endswith(f"/ws/sessions/{session['id']}/")
    sock = Socket(stack.ws_url(session["id"], "last_seq=0"), token=alice)
    sock.wait_for(session_status("READY"))

    acks = []
    for n, step in enumerate(LOGIN_STEPS):
        sock.send({"type": "EXECUTE_SINGLE", "request_id": f"r{n}", "step": step})
        acks.append(sock.wait_for(lambda m: m.get("type") == "ACK"))
    assert [a["request_id"] for a in acks] == [f"r{n}" for n in range(10)]
    assert [a["step_index"] for a in acks] == list(range(10))
    sock.wait_for(step_done(acks[-1]["step_id"]), timeout=30)

    events = sock.events()
    assert [e["seq"] for e in events] == list(range(1, len(events) + 1))
    step_events = [e for e in events if e["type"] == "STEP_STATUS"]
    started = [e["step_index"] for e in step_events if e["status"] == "STARTED"]
    finished = [(e["step_index"], e["status"]) for e in step_events if e["status"] in TERMINAL_STEP]
    assert started == list(range(10))
    assert [i for i, _ in finished] == list(range(10))
    assert dict(finished)[6] == "ERROR" and all(s == "COMPLETED" for i, s in finished if i != 6)
    # One step at a time: each step starts only after the one before it finished.
    order = [(e["step_index"], e["status"]) for e in step_events if e["status"] != "QUEUED"]
    assert order == [pair for i, status in finished for pair in ((i, "STARTED"), (i, status))]
    failed = next(e for e in step_events if e["step_index"] == 6 and e["status"] == "ERROR")
    assert failed["error"]["code"] == "assertion_failed" and failed["error"]["retryable"] is False
    assert "Nothing like this" in failed["error"]["message"]

    row = TestSession.objects.get(pk=session["id"])
    assert row.last_seq == len(events)
    stored = list(SessionEvent.objects.filter(session=row).order_by("seq").values_list("seq", "type", "payload"))
    assert [(e["seq"], e["type"]) for e in events] == [(seq, type) for seq, type, _ in stored]
    assert all(stored[i][2]["status"] == events[i]["status"] for i in range(len(events)) if "status" in events[i])
    steps = list(Step.objects.filter(session=row).order_by("index"))
    assert [s.status for s in steps] == ["COMPLETED"] * 6 + ["FAILED"] + ["COMPLETED"] * 3
    assert all(s.effect_hash and len(s.effect_hash) == 64 for s in steps if s.status == "COMPLETED")
    deadline = time.monotonic() + 60
    while not steps[9].screenshot:  # written just after its COMPLETED, off the step's critical path
        assert time.monotonic() < deadline, "the screenshot was never stored"
        time.sleep(0.05)
        steps[9].refresh_from_db()
    assert steps[9].screenshot.read().startswith(b"\x89PNG")
    assert any(e["type"] == "SCREEN" for e in events)
    sock.close()


def test_every_socket_gets_every_event_and_a_late_one_resumes_exactly(stack, devices, rest, alice):
    session = open_session(rest, devices[0].serial)
    first = Socket(stack.ws_url(session["id"], "last_seq=0"), token=alice)
    second = Socket(stack.ws_url(session["id"], "last_seq=0"), token=alice)
    for sock in (first, second):
        sock.wait_for(session_status("READY"))

    first.send({"type": "EXECUTE_SINGLE", "step": {"action": "launch_app", "package": "com.android.settings"}})
    ack = first.wait_for(lambda m: m.get("type") == "ACK")
    for sock in (first, second):
        sock.wait_for(step_done(ack["step_id"]))

    late = Socket(stack.ws_url(session["id"], "last_seq=3"), token=alice)
    second.send({"type": "EXECUTE_SINGLE", "step": {"action": "tap", "text": "Wi-Fi"}})
    ack = second.wait_for(lambda m: m.get("type") == "ACK")
    for sock in (first, second, late):
        sock.wait_for(step_done(ack["step_id"]))

    everything = [e["seq"] for e in first.events()]
    assert everything == list(range(1, everything[-1] + 1))
    assert [e["seq"] for e in second.events()] == everything
    assert [e["seq"] for e in late.events()] == everything[3:]
    assert first.events() == second.events()


def test_a_socket_given_no_last_seq_gets_live_events_only(stack, devices, rest, alice):
    session = open_session(rest, devices[1].serial)
    watcher = Socket(stack.ws_url(session["id"], "last_seq=0"), token=alice)
    wait_ready(watcher)
    live = Socket(stack.ws_url(session["id"]), token=alice)
    live.send({"type": "PING", "request_id": 7})
    assert live.wait_for(lambda m: m.get("type") == "PONG") == {"type": "PONG", "request_id": 7}
    live.send({"type": "EXECUTE_SINGLE", "step": {"action": "press_key", "key": "home"}})
    ack = live.wait_for(lambda m: m.get("type") == "ACK")
    live.wait_for(step_done(ack["step_id"]))
    ready_seq = watcher.events()[-1]["seq"]
    assert [e["seq"] for e in live.events()][0] == ready_seq + 1


def test_resume_replays_only_what_the_socket_has_not_delivered(stack, devices, rest, alice):
    """RESUME twice, or below what the socket already replayed, never delivers an event twice (QA)."""
    session = open_session(rest, devices[1].serial)
    watcher = Socket(stack.ws_url(session["id"], "last_seq=0"), token=alice)
    wait_ready(watcher)
    joined = watcher.events()[-1]["seq"]
    late = Socket(stack.ws_url(session["id"]), token=alice)  # live from here: 1..joined not delivered
    for resume_from in (2, 2, 0, joined):
        late.send({"type": "RESUME", "last_seq": resume_from})
    late.send({"type": "PING", "request_id": 1})
    late.wait_for(lambda m: m.get("type") == "PONG")  # the socket's messages are handled in order
    late.send({"type": "EXECUTE_SINGLE", "step": {"action": "press_key", "key": "home"}})
    ack = late.wait_for(lambda m: m.get("type") == "ACK")
    late.wait_for(step_done(ack["step_id"]))
    seqs = [e["seq"] for e in late.events()]
    assert sorted(seqs) == list(range(1, seqs[-1] + 1)), seqs  # each once, none missing
    assert seqs.index(3) < seqs.index(1)  # RESUME 2 came first; RESUME 0 then added only 1 and 2


def test_an_idle_socket_stays_open_past_ten_seconds(stack, devices, rest, alice):
    """redis-py 8 sets a 5 s socket timeout that kills idle consumers unless the channel layer disables it."""
    session = open_session(rest, devices[1].serial)
    sock = Socket(stack.ws_url(session["id"], "last_seq=0"), token=alice)
    wait_ready(sock)
    deadline = time.monotonic() + 11  # no step for 11 s: this wait is the condition under test
    while (left := deadline - time.monotonic()) > 0:
        try:
            message = sock.recv(timeout=left)
        except TimeoutError:
            break
        assert message.get("type") in ("SCREEN", "DEVICE_LOG"), message  # only what the phone does by itself
    sock.send({"type": "EXECUTE_SINGLE", "step": {"action": "press_key", "key": "home"}})
    ack = sock.wait_for(lambda m: m.get("type") == "ACK")
    assert sock.wait_for(step_done(ack["step_id"]))["status"] == "COMPLETED"


def test_user_input_answers_an_ask_user_step(stack, devices, rest, alice):
    session = open_session(rest, devices[0].serial)
    sock = Socket(stack.ws_url(session["id"], "last_seq=0"), token=alice)
    sock.wait_for(session_status("READY"))
    sock.send({"type": "EXECUTE_SINGLE", "step": {"action": "ask_user", "prompt": "Which account?"}})
    sock.send({"type": "EXECUTE_SINGLE", "step": {"action": "press_key", "key": "home"}})
    asked = sock.wait_for(lambda m: m.get("type") == "USER_INPUT_REQUIRED")
    assert asked["prompt"] == "Which account?"
    assert any(session_status("WAITING_INPUT")(m) for m in sock.events())
    # The second step is stored when its ACK comes, which may be after the question was asked.
    if not any(m.get("type") == "ACK" and m.get("step_index") == 1 for m in sock.received):
        sock.wait_for(lambda m: m.get("type") == "ACK" and m.get("step_index") == 1)
    assert Step.objects.get(session_id=session["id"], index=1).status == "QUEUED"
    sock.send({"type": "USER_INPUT_RESPONSE", "input_id": asked["input_id"], "value": "demo"})
    done = sock.wait_for(
        lambda m: m.get("type") == "STEP_STATUS" and m["step_index"] == 1 and m["status"] == "COMPLETED"
    )
    assert done["step_index"] == 1
    answered = Step.objects.get(session_id=session["id"], index=0)
    assert answered.result == {"value": "demo"}
    assert TestSession.objects.get(pk=session["id"]).current_state["inputs"] == {"0": "demo"}


def test_every_step_leaves_its_screen_and_the_ui_suggests_selectors(stack, devices, rest, alice):
    session = open_session(rest, devices[1].serial)
    sock = Socket(stack.ws_url(session["id"], "last_seq=0"), token=alice)
    wait_ready(sock)
    acks = []
    for step in ({"action": "launch_app", "package": "com.cognisim.demo"}, {"action": "press_key", "key": "home"}):
        sock.send({"type": "EXECUTE_SINGLE", "step": step})
        acks.append(sock.wait_for(lambda m: m.get("type") == "ACK"))
        sock.wait_for(step_done(acks[-1]["step_id"]))
        # The screen the step led to follows its COMPLETED (off the step's critical path).
        sock.wait_for(lambda m, i=acks[-1]["step_id"]: m.get("type") == "SCREEN" and m.get("step_id") == i)
    steps = rest.get(f"/api/sessions/{session['id']}/steps/").body
    images = [rest.call("GET", f"/api/sessions/{session['id']}/screens/{s['effect']['screen']}.png") for s in steps]
    assert all(image.status == 200 and image.body.startswith(b"\x89PNG") for image in images)
    assert images[0].body != images[1].body  # the login app, then the launcher
    elements = rest.get(f"/api/sessions/{session['id']}/ui/").body  # the screen now: the launcher
    assert {"text": "Login Demo"} in [sel for e in elements for sel in e["selectors"]]
    other = Rest(stack.base_url, api_user_create(username="mallory"))
    assert other.get(f"/api/sessions/{session['id']}/ui/").status == 404
