"""The device lane on real workers: one owner per device queue, verdicts that can be trusted, chat turns as
Celery chains on their own queues."""

from __future__ import annotations

import json
import socket
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from celery import current_app
from django.conf import settings

from devices.drivers.sim import DEMO, SimDriver, reset_sim_device
from devices.services import device_register_sim
from sessions.accounts import api_user_create
from sessions.models import Step
from tests.conftest import SERIALS, _database_url
from tests.live import Rest, Socket, Stack, run_until_done, stack_env, step_done, wait_ready

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]

# Step 3 fails; steps 4-6 tap points no other step taps, so the phones' action logs show whether they ran.
FAILS_AT_THREE = """\
name: Fails at step three
steps:
  - tap: {{x: {x}, y: 10}}
  - tap: {{x: {x}, y: 20}}
  - assert_visible: {{text: Nothing like this is on screen, timeout_ms: 300}}
  - tap: {{x: {x}, y: 40}}
  - tap: {{x: {x}, y: 50}}
  - tap: {{x: {x}, y: 60}}
"""


def test_five_failing_runs_at_once_never_run_a_step_after_the_failure(stack, devices, alice, bob):
    """Alice may hold 2 sessions; 3 devices; Bob's runs compete for the devices: runs wait for a slot and for a
    device, and still none runs a step after its failed check, and every verdict is `failed`."""
    alice_rest, bob_rest = Rest(stack.base_url, alice), Rest(stack.base_url, bob)
    posts = [(alice_rest, 100 + n) for n in range(5)] + [(bob_rest, 200 + n) for n in range(2)]

    def post(item: tuple[Rest, int]) -> tuple[Rest, int, str]:
        rest, x = item
        reply = rest.post("/api/runs/", {"flow": FAILS_AT_THREE.format(x=x), "filename": f"run{x}.yaml"})
        assert reply.status == 201, reply.body
        return rest, x, reply.body["id"]

    with ThreadPoolExecutor(len(posts)) as pool:
        started = list(pool.map(post, posts))
    for rest, _, run_id in started:
        report = run_until_done(rest, run_id)
        assert report["status"] == "failed", report
        steps = list(Step.objects.filter(session__run__id=run_id).order_by("index"))
        assert [s.status for s in steps] == ["COMPLETED", "COMPLETED", "FAILED", "CANCELLED", "CANCELLED", "CANCELLED"]
        assert all(s.started_at is None and s.attempt == 0 for s in steps[3:])  # cancelled before they started

    taps = [
        (event["args"]["x"], event["args"]["y"])
        for serial in SERIALS
        for event in SimDriver(serial, settings.SIM_DEVICE_DIR).action_log()
        if event["op"] == "tap"
    ]
    for _, x, _ in started:
        assert sorted(y for tx, y in taps if tx == x) == [10, 20], f"run at x={x} tapped {taps}"


def test_a_stopped_run_ends_with_its_reason_and_frees_the_device(stack, devices, alice):
    rest = Rest(stack.base_url, alice)
    slow = "name: Slow\nsteps:\n" + "  - sleep: {ms: 400}\n" * 20
    run = rest.post("/api/runs/", {"flow": slow, "device": devices[0].serial}).body
    sock = Socket(stack.ws_url(run["session_id"], "last_seq=0"), token=alice)
    sock.wait_for(lambda m: m.get("type") == "STEP_STATUS" and m["status"] == "STARTED", timeout=60)
    assert rest.post(f"/api/runs/{run['id']}/stop/").status == 200
    report = run_until_done(rest, run["id"])
    assert report["status"] != "running" and report["session_status"] == "CANCELLED"
    ran = Step.objects.filter(session_id=run["session_id"]).exclude(status="CANCELLED").count()
    assert ran < 20  # the rest never started
    devices[0].refresh_from_db()
    assert devices[0].status == "available"


def test_a_runs_session_takes_no_step_or_chat_from_outside_and_its_verdict_stays_its_flows(stack, devices, alice):
    """Someone watching a CI run sends a step or a chat message to its session (REST or the socket): refused with
    a code, so the run's verdict and counts stay its flow's (QA: an extra step made a passing run `error`)."""
    rest = Rest(stack.base_url, alice)
    slow = "name: Slow\nsteps:\n  - sleep: {ms: 2500}\n  - press_key: {key: home}\n"
    run = rest.post("/api/runs/", {"flow": slow, "device": devices[0].serial}).body
    sock = Socket(stack.ws_url(run["session_id"], "last_seq=0"), token=alice)
    sock.wait_for(lambda m: m.get("type") == "STEP_STATUS" and m["status"] == "STARTED", timeout=60)
    base = f"/api/sessions/{run['session_id']}"
    for path, body in ((f"{base}/steps/", {"action": "screenshot"}), (f"{base}/turns/", {"text": "take a screenshot"})):
        reply = rest.post(path, body)
        assert (reply.status, reply.body["code"]) == (409, "session_runs_a_flow"), reply.body
    for request in ({"type": "EXECUTE_SINGLE", "step": {"action": "screenshot"}}, {"type": "CHAT", "text": "hi"}):
        sock.send({**request, "request_id": request["type"]})
        error = sock.wait_for(lambda m: m.get("type") in ("ERROR", "ACK"))
        assert (error["type"], error["code"], error["request_id"]) == ("ERROR", "session_runs_a_flow", request["type"])
    report = run_until_done(rest, run["id"])
    assert (report["status"], report["steps_total"], report["steps_done"]) == ("passed", 2, 2), report
    assert Step.objects.filter(session_id=run["session_id"]).count() == 2


def test_a_run_stopped_mid_step_shows_none_of_its_steps_running(stack, devices, alice):
    """The stop's answer and every read after it show the run over and none of its steps running or queued:
    the step the stop caught on the device is skipped, as the cancelled steps after it are."""
    rest = Rest(stack.base_url, alice)
    slow = "name: Slow\nsteps:\n" + "  - sleep: {ms: 5000}\n" * 3
    run = rest.post("/api/runs/", {"flow": slow, "device": devices[0].serial}).body
    sock = Socket(stack.ws_url(run["session_id"], "last_seq=0"), token=alice)
    sock.wait_for(lambda m: m.get("type") == "STEP_STATUS" and m["status"] == "STARTED", timeout=60)
    stopped = rest.post(f"/api/runs/{run['id']}/stop/", {"reason": "the CI job was cancelled"})
    assert stopped.status == 200, stopped.body
    for report in (stopped.body, rest.get(f"/api/runs/{run['id']}/").body):
        assert report["status"] == "cancelled" and report["session_status"] == "CANCELLED", report
        assert [s["status"] for s in report["steps"]] == ["skipped"] * 3, report["steps"]
        assert report["current_step"] is None and report["steps_done"] == 3
    steps = rest.get(f"/api/sessions/{run['session_id']}/steps/").body
    assert [s["status"] for s in steps] == ["CANCELLED"] * 3, steps


def test_a_stopped_session_frees_its_device_at_once_even_mid_wait(stack, devices, alice, bob):
    """The step the stop catches waits 5 minutes for a text that never comes: it gives up at the stop, so the
    next session on the device is ready long before that (the worker was held for the whole wait)."""
    alice_rest, bob_rest, serial = Rest(stack.base_url, alice), Rest(stack.base_url, bob), devices[0].serial
    session = alice_rest.post("/api/sessions/", {"device": serial}).body
    sock = Socket(stack.ws_url(session["id"], "last_seq=0"), token=alice)
    wait_ready(sock)
    waiting = {"action": "wait_for", "text": "Never on screen", "timeout_ms": 300_000}
    alice_rest.post(f"/api/sessions/{session['id']}/steps/", waiting)
    sock.wait_for(lambda m: m.get("type") == "STEP_STATUS" and m["status"] == "STARTED")
    assert alice_rest.post(f"/api/sessions/{session['id']}/stop/").status == 200

    theirs = bob_rest.post("/api/sessions/", {"device": serial}).body
    wait_ready(Socket(stack.ws_url(theirs["id"], "last_seq=0"), token=bob), timeout=150)


def test_steps_sent_back_to_back_run_on_the_listening_drain_with_their_secrets(stack, devices, alice):
    """A script's steps, each sent when the one before it completes, are run by the drain still listening on the
    session's bell; a password typed among them is typed as itself (a secret the drain had not read when it
    began), and what the session records shows only its reference."""
    serial = devices[0].serial
    session = Rest(stack.base_url, alice).post("/api/sessions/", {"device": serial}).body
    sock = Socket(stack.ws_url(session["id"], "last_seq=0"), token=alice)
    wait_ready(sock)
    steps = [
        {"action": "launch_app", "package": DEMO},
        {"action": "tap", "id": "password"},
        {"action": "type", "text": "hunter22", "secret": True},
        {"action": "press_key", "key": "back"},
    ]
    for step in steps:
        sock.send({"type": "EXECUTE_SINGLE", "step": step})
        ack = sock.wait_for(lambda m: m.get("type") == "ACK")
        done = sock.wait_for(step_done(ack["step_id"]))
        assert done["status"] == "COMPLETED", done
    typed = [e["args"] for e in SimDriver(serial, settings.SIM_DEVICE_DIR).action_log() if e["op"] == "input_text"]
    assert typed and "hunter22" in json.dumps(typed[-1]) and "${" not in json.dumps(typed[-1]), typed
    recorded = Step.objects.get(session_id=session["id"], index=2)
    assert "hunter22" not in json.dumps([recorded.params, recorded.result, recorded.effect])


def test_what_a_session_typed_as_a_secret_is_not_on_the_next_sessions_screen(stack, devices, alice, bob):
    """Alice types a secret into the demo app's email field (not a password field: the phone shows it) and
    ends her session; Bob's session on the same phone never sees it, on its first screen or in the app."""
    serial = devices[0].serial
    alice_rest, bob_rest = Rest(stack.base_url, alice), Rest(stack.base_url, bob)
    session = alice_rest.post("/api/sessions/", {"device": serial}).body
    sock = Socket(stack.ws_url(session["id"], "last_seq=0"), token=alice)
    wait_ready(sock)
    for step in (
        {"action": "launch_app", "package": DEMO},
        {"action": "type", "text": "alice-only@example.com", "into": {"id": "email"}, "secret": True},
    ):
        sock.send({"type": "EXECUTE_SINGLE", "step": step})
        ack = sock.wait_for(lambda m: m.get("type") == "ACK")
        assert sock.wait_for(step_done(ack["step_id"]))["status"] == "COMPLETED"
    assert alice_rest.post(f"/api/sessions/{session['id']}/stop/").status == 200

    theirs = bob_rest.post("/api/sessions/", {"device": serial}).body
    sock = Socket(stack.ws_url(theirs["id"], "last_seq=0"), token=bob)
    wait_ready(sock)
    first = bob_rest.get(f"/api/sessions/{theirs['id']}/ui/").body
    assert "alice-only" not in json.dumps(first)
    for step in (
        {"action": "launch_app", "package": DEMO},
        {"action": "assert_visible", "id": "email"},
        {"action": "assert_not_visible", "text": "alice-only@example.com"},
    ):
        sock.send({"type": "EXECUTE_SINGLE", "step": step})
        ack = sock.wait_for(lambda m: m.get("type") == "ACK")
        assert sock.wait_for(step_done(ack["step_id"]))["status"] == "COMPLETED", step


def _run_steps(sock, steps):
    for step in steps:
        sock.send({"type": "EXECUTE_SINGLE", "step": step})
        ack = sock.wait_for(lambda m: m.get("type") == "ACK")
        assert sock.wait_for(step_done(ack["step_id"]))["status"] == "COMPLETED", step


SIGN_IN = [
    {"action": "type", "text": "demo@example.com", "into": {"id": "email"}},
    {"action": "type", "text": "secret123", "into": {"id": "password"}},
    {"action": "tap", "id": "sign_in"},
    {"action": "assert_visible", "text": "Welcome, Demo!"},
]


def test_a_new_session_finds_the_apps_the_last_one_used_cleared(stack, devices, alice, bob):
    """Alice signs in to the demo app (her session's app) and stops; Bob, opening the app himself, is not signed
    in as her. Then Bob signs in after starting the app with a step, and Alice's next session starts it afresh."""
    serial = devices[0].serial
    alice_rest, bob_rest = Rest(stack.base_url, alice), Rest(stack.base_url, bob)
    session = alice_rest.post("/api/sessions/", {"device": serial, "app": {"package": DEMO}}).body
    sock = Socket(stack.ws_url(session["id"], "last_seq=0"), token=alice)
    wait_ready(sock)
    _run_steps(sock, SIGN_IN)
    assert alice_rest.post(f"/api/sessions/{session['id']}/stop/").status == 200

    theirs = bob_rest.post("/api/sessions/", {"device": serial}).body
    sock = Socket(stack.ws_url(theirs["id"], "last_seq=0"), token=bob)
    wait_ready(sock)
    _run_steps(sock, [{"action": "launch_app", "package": DEMO}, {"action": "assert_visible", "id": "email"}])
    _run_steps(sock, SIGN_IN)
    assert bob_rest.post(f"/api/sessions/{theirs['id']}/stop/").status == 200

    again = alice_rest.post("/api/sessions/", {"device": serial, "app": {"package": DEMO}}).body
    sock = Socket(stack.ws_url(again["id"], "last_seq=0"), token=alice)
    wait_ready(sock)
    first = alice_rest.get(f"/api/sessions/{again['id']}/ui/").body
    assert "Welcome" not in json.dumps(first) and "sign_in" in json.dumps(first)


class _Events:
    """Celery's task events (workers run with -E), received from the broker in a thread."""

    def __init__(self) -> None:
        self.seen: list[dict[str, Any]] = []
        self.connection = current_app.connection_for_read()
        self.receiver = current_app.events.Receiver(self.connection, handlers={"task-received": self.seen.append})
        self.thread = threading.Thread(target=self.receiver.capture, kwargs={"limit": None}, daemon=True)
        self.thread.start()
        # Events are broadcast: only those sent after the receiver subscribed arrive. Send probes until one does.
        with current_app.events.default_dispatcher() as dispatcher:
            deadline = time.monotonic() + 30
            while not any(e.get("name") == "probe" for e in list(self.seen)):
                assert time.monotonic() < deadline, "the event receiver never subscribed"
                dispatcher.send("task-received", name="probe", uuid="probe")
                time.sleep(0.1)

    def names_by_worker(self) -> list[tuple[str, str]]:
        """(task, worker) in the order the workers received them: workers flush their events in batches, so
        the order in which events arrive here is not that order; their timestamps are (one host, one clock)."""
        ordered = sorted(list(self.seen), key=lambda e: e["timestamp"])
        return [(e["name"], e["hostname"].split("@")[0]) for e in ordered]

    def stop(self) -> None:
        self.receiver.should_stop = True
        self.thread.join(timeout=10)
        self.connection.release()


def _in_order(seen: list[tuple[str, str]], wanted: list[tuple[str, str]]) -> list[int] | None:
    """Where each wanted (task, worker) was received, each after the one before it; None until all were."""
    positions, start = [], 0
    for want in wanted:
        if want not in seen[start:]:
            return None
        start = seen.index(want, start) + 1
        positions.append(start - 1)
    return positions


def test_a_chat_turn_is_a_chain_on_the_control_agents_and_device_queues(stack, devices, alice):
    prefix = settings.QUEUE_PREFIX
    workers = [f"{name}@{socket.gethostname()}" for name in (f"{prefix}control", f"{prefix}agents")]
    workers.append(f"device-{devices[1].serial}@{socket.gethostname()}")
    deadline = time.monotonic() + 60
    while True:  # what Flower does while it watches; a worker still starting answers a moment later
        replies = current_app.control.enable_events(destination=workers, reply=True, timeout=1)
        if {name for reply in replies for name in reply} >= set(workers):
            break
        assert time.monotonic() < deadline, f"task events not enabled on {workers}: {replies}"
    events = _Events()
    try:
        session = Rest(stack.base_url, alice).post("/api/sessions/", {"device": devices[1].serial}).body
        sock = Socket(stack.ws_url(session["id"], "last_seq=0"), token=alice)
        wait_ready(sock)
        sock.send({"type": "CHAT", "text": "open settings"})
        reply = sock.wait_for(lambda m: m.get("type") == "AGENT_MESSAGE", timeout=60)
        assert reply["status"] == "COMPLETED", reply
        wanted = [
            ("turns.accumulate", f"{prefix}control"),
            ("turns.plan", f"{prefix}agents"),
            ("sessions.drain", f"device-{devices[1].serial}"),
            ("turns.respond", f"{prefix}control"),
        ]
        ours = {worker for _, worker in wanted}  # the broker's events are everyone's: keep this stack's
        deadline = time.monotonic() + 60
        while _in_order(seen := [e for e in events.names_by_worker() if e[1] in ours], wanted) is None:
            assert time.monotonic() < deadline, " → ".join(f"{name} on {worker}" for name, worker in seen)
            time.sleep(0.1)
    finally:
        events.stop()
        current_app.control.disable_events(destination=workers)


class _SlowLLM(BaseHTTPRequestHandler):
    """An OpenAI-compatible endpoint that thinks until the test lets it answer, then plans one key press."""

    asked = threading.Event()
    release = threading.Event()

    def do_POST(self) -> None:  # noqa: N802
        self.rfile.read(int(self.headers.get("Content-Length", 0)))
        _SlowLLM.asked.set()
        _SlowLLM.release.wait(60)
        plan = {"steps": [{"action": "press_key", "key": "home"}], "summary": "I'll press home."}
        body = json.dumps({"choices": [{"message": {"role": "assistant", "content": json.dumps(plan)}}]}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *_: Any) -> None:
        pass


@pytest.fixture
def llm_stack(django_db_setup: Any, transactional_db: Any):
    server = ThreadingHTTPServer(("127.0.0.1", 0), _SlowLLM)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    env = stack_env(_database_url())
    env.update(COGNISIM_LLM_BASE_URL=f"http://127.0.0.1:{server.server_port}/v1", COGNISIM_LLM_MODEL="slow")
    env["COGNISIM_QUEUE_PREFIX"] += "llm-"  # its own control and agents queues, apart from the main test stack
    serials = [f"llm{serial}" for serial in SERIALS[:2]]
    for serial in serials:
        reset_sim_device(serial, settings.SIM_DEVICE_DIR)
        device_register_sim(serial=serial)
    live = Stack(env=env, serials=serials)
    live.start()
    yield live, serials
    _SlowLLM.release.set()
    live.stop()
    server.shutdown()


def test_a_slow_llm_holds_no_device_worker(llm_stack):
    """While the agent waits on its LLM, steps run on the chatting session's own device and on another one."""
    stack, serials = llm_stack
    token = api_user_create(username="erin")
    rest = Rest(stack.base_url, token)
    socks = []
    for serial in serials:
        session = rest.post("/api/sessions/", {"device": serial}).body
        socks.append(Socket(stack.ws_url(session["id"], "last_seq=0"), token=token))
        wait_ready(socks[-1])
    chatting, working = socks
    chatting.send({"type": "CHAT", "text": "go home"})
    chatting.wait_for(lambda m: m.get("type") == "ACK" and "turn_id" in m)
    assert _SlowLLM.asked.wait(60)  # the turn is planning now, and stays there until released
    for sock in (working, chatting, working):
        sock.send({"type": "EXECUTE_SINGLE", "step": {"action": "tap", "x": 10, "y": 10}})
        step_id = sock.wait_for(lambda m: m.get("type") == "ACK" and "step_id" in m)["step_id"]
        assert sock.wait_for(step_done(step_id), timeout=30)["status"] == "COMPLETED"
    assert not [m for m in chatting.received if m.get("type") == "AGENT_MESSAGE"]  # still planning
    _SlowLLM.release.set()
    reply = chatting.wait_for(lambda m: m.get("type") == "AGENT_MESSAGE", timeout=60)
    assert reply["status"] == "COMPLETED", reply
