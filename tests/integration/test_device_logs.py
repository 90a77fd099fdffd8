"""A session's device log through the real stack: read on the device's worker, streamed live to the session's
sockets, stored in the artifact storage, filtered and downloaded through the API (owner only), kept as a failed
step's evidence and in the capture bundle."""

from __future__ import annotations

import time

import pytest
from django.conf import settings

from devices.drivers.sim import DEMO, SimDriver
from devices.drivers.sim.device import logcat_path
from devices.drivers.sim.logcat import log_lines
from tests.integration.test_durability import make_stack  # noqa: F401, F811 (a fixture)
from tests.live import Rest, Socket, step_done, wait_ready

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]


def logged(tag: str, text: str = ""):
    return lambda m: (
        m.get("type") == "DEVICE_LOG" and any(line["tag"] == tag and text in line["message"] for line in m["lines"])
    )


def stored(rest: Rest, path: str, match, timeout: float = 60):
    """GET `path` until `match(body)`: the reader stores a chunk every few seconds, and a failed step's evidence
    is kept once its outcome is out (a 404 until then)."""
    deadline = time.monotonic() + timeout
    while True:
        reply = rest.get(path)
        assert reply.status in (200, 404), reply.body
        if reply.status == 200 and match(reply.body):
            return reply.body
        assert time.monotonic() < deadline, f"{path}: never matched, last {reply.body!r:.2000}"
        time.sleep(0.2)


def test_a_sessions_device_log_is_streamed_stored_filtered_and_kept_as_evidence(make_stack, alice, bob):  # noqa: F811
    from devices.services import device_register_sim

    # A stack and a phone of the test's own: its log reader never saw a session that the test database's
    # flush between tests deleted under it (seen to leave the shared stack's reader without a holder).
    serial = "log-1"
    stack = make_stack([serial])
    device_register_sim(serial=serial)
    # Bob's session on the phone first: his lines are his, never in Alice's evidence.
    as_bob = Rest(stack.base_url, bob)
    earlier = as_bob.post("/api/sessions/", {"device": serial, "app": {"package": DEMO}}).body
    bob_sock = Socket(stack.ws_url(earlier["id"], "last_seq=0"), token=bob)
    wait_ready(bob_sock)
    log_lines(logcat_path(serial, settings.SIM_DEVICE_DIR), [("I", "BobsApp", "bob's private line", 4242)])
    bob_sock.wait_for(logged("BobsApp", "bob's private line"))
    assert as_bob.post(f"/api/sessions/{earlier['id']}/stop/").status == 200
    bob_sock.close()
    rest = Rest(stack.base_url, alice)
    session = rest.post("/api/sessions/", {"device": serial, "app": {"package": DEMO}}).body
    sid = session["id"]
    sock = Socket(stack.ws_url(sid, "last_seq=0"), token=alice)
    wait_ready(sock)

    sock.send({"type": "EXECUTE_SINGLE", "step": {"action": "tap", "id": "sign_in"}})  # nothing typed
    live = sock.wait_for(logged("LoginDemo", "Sign-in failed"))
    fields = {"ts", "pid", "tid", "level", "tag", "message"}
    assert "seq" not in live and all(fields <= set(line) for line in live["lines"])
    SimDriver(serial, settings.SIM_DEVICE_DIR).start_activity(DEMO, ".CrashActivity")  # the app crashes
    sock.wait_for(logged("AndroidRuntime", "FATAL EXCEPTION"))
    sock.send({"type": "EXECUTE_SINGLE", "step": {"action": "assert_visible", "text": "Welcome, Demo!"}})
    failed = sock.wait_for(lambda m: m.get("type") == "ACK")["step_id"]
    sock.wait_for(step_done(failed))

    # Stored in order, in chunks: once the crash's last line is in, every line before it is too.
    stored(rest, f"/api/sessions/{sid}/logs/?q=has%20died", lambda b: b["results"])
    errors = rest.get(f"/api/sessions/{sid}/logs/?level=E").body
    assert {line["level"] for line in errors["results"]} <= {"E", "F", "A"}
    assert errors["results"][0]["message"] == "FATAL EXCEPTION: main" and errors["last"] >= errors["results"][-1]["n"]
    tagged = rest.get(f"/api/sessions/{sid}/logs/?tag=LoginDemo").body["results"]
    assert [line["message"] for line in tagged] == ["Sign-in failed: invalid email or password"]
    searched = rest.get(f"/api/sessions/{sid}/logs/?q=has%20died").body["results"]
    assert [line["tag"] for line in searched] == ["ActivityManager"]
    first = rest.get(f"/api/sessions/{sid}/logs/?after=0&limit=2").body
    assert [line["n"] for line in first["results"]] == [1, 2] and first["next_after"] == 2

    text = rest.get(f"/api/sessions/{sid}/logs.txt?level=W").body.decode()
    assert "W LoginDemo: Sign-in failed" in text and " I " not in text
    assert rest.get(f"/api/sessions/{sid}/logs/?level=X").body["code"] == "invalid"
    other = Rest(stack.base_url, bob)
    for path in ("logs/", "logs.txt", f"steps/{failed}/log.txt"):
        assert other.get(f"/api/sessions/{sid}/{path}").status == 404, path

    evidence = stored(rest, f"/api/sessions/{sid}/steps/{failed}/log.txt", lambda b: isinstance(b, bytes)).decode()
    assert 0 < len(evidence.splitlines()) <= 200 and "E AndroidRuntime: FATAL EXCEPTION: main" in evidence
    assert "BobsApp" not in evidence
    bundle = rest.get(f"/api/sessions/{sid}/capture/").body
    step = bundle["steps"][-1]
    assert step["evidence"]["log"] == f"/api/sessions/{sid}/steps/{failed}/log.txt"
    assert any("FATAL EXCEPTION" in line for line in bundle["device_log"])
    sock.close()
