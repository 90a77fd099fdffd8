"""Bad input over real sockets: each gets its documented answer, the connection survives, nothing is stored."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import pytest

from sessions.models import Step, TestSession
from tests.live import Rest, Socket, session_status

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def ready(stack, devices, rest, alice):
    session = rest.post("/api/sessions/", {"device": devices[0].serial}).body
    sock = Socket(stack.ws_url(session["id"], "last_seq=0"), token=alice)
    sock.wait_for(session_status("READY"))
    return session, sock


def error_reply(sock):
    return sock.wait_for(lambda m: m.get("type") == "ERROR")


@pytest.mark.parametrize(
    ("frame", "code", "field"),
    [
        ("{not json", "malformed_json", None),
        ('["a list"]', "invalid_message", None),
        ('{"type": "DANCE", "request_id": "x"}', "unknown_type", None),
        ('{"type": "EXECUTE_SINGLE", "step": {"action": "teleport"}}', "invalid_step", "action"),
        ('{"type": "EXECUTE_SINGLE", "step": {"action": "launch_app"}}', "invalid_step", "package"),
        (
            '{"type": "EXECUTE_SINGLE", "step": {"action": "launch_app", "package": "not a package"}}',
            "invalid_step",
            "package",
        ),
        (
            '{"type": "EXECUTE_SINGLE", "step": {"action": "tap", "text": "OK", "colour": "red"}}',
            "invalid_step",
            "colour",
        ),
        (
            '{"type": "EXECUTE_SINGLE", "step": {"action": "press_key", "key": "teleport"}}',
            "invalid_step",
            "key",
        ),
        ('{"type": "EXECUTE_SINGLE", "step": {"action": "sleep", "ms": "10"}}', "invalid_step", "ms"),
        ('{"type": "EXECUTE_SINGLE"}', "invalid_step", "step"),
        ('{"type": "RESUME", "last_seq": -1}', "invalid_message", None),
        ('{"type": "USER_INPUT_RESPONSE", "input_id": 99999, "value": "x"}', "input_not_expected", None),
        ('{"request_id": "x"}', "invalid_message", None),
        ('{"type": 5, "request_id": "x"}', "invalid_message", None),
        ('["a list", {"request_id": "x"}]', "invalid_message", None),
        ('{"type": "CHAT", "request_id": "x"}', "invalid", "text"),
        ('{"type": "CHAT", "text": "  "}', "invalid", "text"),
        ('{"type": "CHAT", "text": 5}', "invalid", "text"),
        ('{"type": "USER_INPUT_RESPONSE", "request_id": "x"}', "invalid", "input_id"),
        ('{"type": "USER_INPUT_RESPONSE", "value": "x"}', "invalid", "input_id"),
        ('{"type": "USER_INPUT_RESPONSE", "input_id": 99999}', "invalid", "value"),
        ('{"type": "EXECUTE_SINGLE", "step": {"action": "screenshot"}, "foo": 1}', "invalid_message", "foo"),
        ('{"type": "PING", "request_id": "x", "delay": 5}', "invalid_message", "delay"),
        ('{"type": "CHAT", "text": "hi", "turn": 2}', "invalid_message", "turn"),
        ('{"type": "RESUME", "last_seq": 0, "from": 0}', "invalid_message", "from"),
        ('{"type": "USER_INPUT_RESPONSE", "input_id": 1, "value": "x", "values": []}', "invalid_message", "values"),
        (
            '{"type": "EXECUTE_SINGLE", "step": {"action": "tap", "text": "a", "text": "b"}}',
            "duplicate_key",
            "step.text",
        ),
    ],
)
def test_bad_messages_get_an_error_and_the_socket_stays_open(ready, frame, code, field):
    session, sock = ready
    sock.send(frame)
    reply = error_reply(sock)
    assert reply["code"] == code and reply["message"]
    assert reply.get("field") == field
    if frame.startswith("{") and '"request_id"' in frame:
        assert reply["request_id"] == "x"
    if field:
        assert field in reply["message"]
    sock.send({"type": "PING"})
    assert sock.wait_for(lambda m: m.get("type") == "PONG")
    assert not Step.objects.filter(session_id=session["id"]).exists()


@pytest.mark.parametrize(
    ("frame", "code", "request_id"),
    [
        ('{"request_id": "x", "type": "PING", "n": NaN}', "invalid_number", "x"),
        ('{"request_id": "x", "type": "PING", "n": 1e999}', "invalid_number", "x"),
        ('{"request_id": "x", "type": "PING", "n": ' + "[" * 70 + "]" * 70 + "}", "too_deep", "x"),
        ('{"request_id": "x", "type": "PING", "n": "a\\u0000"}', "invalid_characters", "x"),
        ('{"request_id": "a\\u0000", "type": "PING"}', "invalid_characters", None),
    ],
)
def test_json_refused_after_decoding_still_echoes_the_request_id(ready, frame, code, request_id):
    """Valid JSON that cannot be taken: the reply names the field, and echoes the request_id when it can be sent."""
    session, sock = ready
    sock.send(frame)
    reply = error_reply(sock)
    assert (reply["code"], reply.get("request_id")) == (code, request_id)
    assert reply["field"].split(".")[0] == ("n" if request_id else "request_id")
    sock.send({"type": "PING"})
    assert sock.wait_for(lambda m: m.get("type") == "PONG")


def test_a_key_given_twice_is_refused_not_read_as_its_last_value(ready):
    """`{"type": "PING", "type": "STOP"}` once stopped the session: a checker may read the first, Python the last."""
    session, sock = ready
    sock.send('{"type": "PING", "request_id": "r14", "type": "STOP"}')
    reply = error_reply(sock)
    assert (reply["code"], reply["field"], reply["request_id"]) == ("duplicate_key", "type", "r14")
    assert "'type' is given twice" in reply["message"]
    sock.send({"type": "PING"})
    assert sock.wait_for(lambda m: m.get("type") == "PONG")
    assert TestSession.objects.get(pk=session["id"]).status == "READY"


def test_a_missing_input_id_is_the_same_error_over_rest_and_the_socket(ready, rest):
    session, sock = ready
    reply = rest.post(f"/api/sessions/{session['id']}/input/", {"value": "x"})
    assert (reply.status, reply.body["code"], reply.body["field"]) == (400, "invalid", "input_id")
    sock.send({"type": "USER_INPUT_RESPONSE", "value": "x"})
    error = error_reply(sock)
    assert (error["code"], error["field"]) == ("invalid", "input_id")


@pytest.mark.parametrize("last_seq", ["abc", "-1", "%C2%B2", "1.5"])
def test_a_bad_last_seq_on_the_url_gets_an_error_then_live_events(ready, stack, rest, alice, last_seq):
    session, _ = ready
    sock = Socket(stack.ws_url(session["id"], f"last_seq={last_seq}"), token=alice)
    reply = sock.recv()  # first, before any replayed event
    assert (reply["type"], reply["code"]) == ("ERROR", "invalid_message")
    assert "last_seq" in reply["message"] and "non-negative integer" in reply["message"]
    step = rest.post(f"/api/sessions/{session['id']}/steps/", {"action": "press_key", "key": "home"}).body
    event = sock.wait_for(lambda m: m.get("type") == "STEP_STATUS")
    assert event["step_id"] == step["id"] and event["seq"] > 1
    sock.close()


def test_text_over_4_kib_is_refused(ready):
    session, sock = ready
    sock.send({"type": "EXECUTE_SINGLE", "step": {"action": "type", "text": "x" * 4097}})
    assert error_reply(sock)["field"] == "text"
    assert not Step.objects.filter(session_id=session["id"]).exists()


def test_an_oversize_frame_closes_the_socket_with_1009(ready):
    session, sock = ready
    sock.send({"type": "EXECUTE_SINGLE", "step": {"action": "type", "text": "x" * (70 * 1024)}})
    assert sock.close_code() == 1009
    assert not Step.objects.filter(session_id=session["id"]).exists()


def test_a_step_for_a_stopped_session_is_refused(ready, rest):
    session, sock = ready
    sock.send({"type": "STOP", "request_id": 1})
    assert sock.wait_for(lambda m: m.get("type") == "ACK")["status"] == "COMPLETED"
    sock.send({"type": "EXECUTE_SINGLE", "step": {"action": "press_key", "key": "home"}})
    assert error_reply(sock)["code"] == "session_closed"
    reply = rest.post(f"/api/sessions/{session['id']}/steps/", {"action": "press_key", "key": "home"})
    assert (reply.status, reply.body["code"]) == (409, "session_closed")
    assert not Step.objects.filter(session_id=session["id"]).exists()
    assert rest.get("/api/devices/").body[0]["status"] == "available"


def test_input_for_an_ended_session_is_session_closed(stack, devices, rest, alice):
    cancelled = rest.post("/api/sessions/", {"device": devices[0].serial}).body
    rest.post(f"/api/sessions/{cancelled['id']}/steps/", {"action": "ask_user", "prompt": "Which?"})
    assert rest.post(f"/api/sessions/{cancelled['id']}/stop/").body["status"] == "CANCELLED"
    reply = rest.post(f"/api/sessions/{cancelled['id']}/input/", {"input_id": 1, "value": "x"})
    assert (reply.status, reply.body["code"]) == (409, "session_closed")
    assert "CANCELLED" in reply.body["message"]

    completed = rest.post("/api/sessions/", {"device": devices[1].serial}).body
    sock = Socket(stack.ws_url(completed["id"], "last_seq=0"), token=alice)
    sock.wait_for(session_status("READY"))
    sock.send({"type": "STOP", "request_id": "s"})
    assert sock.wait_for(lambda m: m.get("type") == "ACK")["status"] == "COMPLETED"
    sock.send({"type": "USER_INPUT_RESPONSE", "input_id": 1, "value": "x", "request_id": "u"})
    reply = error_reply(sock)
    assert (reply["code"], reply["request_id"]) == ("session_closed", "u")
    sock.close()


def test_no_credentials_closes_with_4401(stack, devices, rest):
    session = rest.post("/api/sessions/", {"device": devices[0].serial}).body
    assert Socket(stack.ws_url(session["id"])).close_code() == 4401
    assert Socket(stack.ws_url(session["id"]), token="not-a-token").close_code() == 4401


def test_a_cookie_socket_from_a_foreign_origin_is_refused(stack, devices, rest):
    session = rest.post("/api/sessions/", {"device": devices[0].serial}).body
    sock = Socket(stack.ws_url(session["id"]), headers={"Origin": "http://evil.example"})
    assert sock.close_code() == 4403


def test_someone_elses_session_is_closed_with_4403_and_404_over_rest(stack, devices, rest, bob):
    session = rest.post("/api/sessions/", {"device": devices[0].serial}).body
    assert Socket(stack.ws_url(session["id"]), token=bob).close_code() == 4403
    as_bob = Rest(stack.base_url, bob)
    for path in ("", "steps/", "events/"):
        reply = as_bob.get(f"/api/sessions/{session['id']}/{path}")
        assert (reply.status, reply.body["code"]) == (404, "not_found")
    assert as_bob.post(f"/api/sessions/{session['id']}/steps/", {"action": "screenshot"}).status == 404
    assert as_bob.post(f"/api/sessions/{session['id']}/stop/").status == 404
    assert as_bob.get("/api/sessions/").body == []
    assert TestSession.objects.get(pk=session["id"]).status != "COMPLETED"


def test_rest_bad_input_answers_4xx_with_a_code(stack, devices, rest):
    assert Rest(stack.base_url, None).get("/api/sessions/").status == 401
    reply = rest.call("POST", "/api/sessions/", raw=b"{oops")
    assert reply.status == 400 and reply.body["code"] == "parse_error"
    reply = rest.post("/api/sessions/", {"device": devices[0].serial, "colour": "red"})
    assert (reply.status, reply.body["code"], reply.body["field"]) == (400, "invalid", "colour")
    reply = rest.post("/api/sessions/", {"app": {"package": "nope"}})
    assert (reply.status, reply.body["field"]) == (400, "app.package")
    reply = rest.post("/api/sessions/", {"device": "no-such-device"})
    assert (reply.status, reply.body["code"]) == (404, "not_found")
    assert rest.get("/api/sessions/not-a-uuid/").status == 404
    assert rest.get("/api/sessions/00000000-0000-0000-0000-000000000000/events/?after=x").status == 404
    assert not TestSession.objects.exists()


def test_the_per_user_cap_holds_under_concurrent_requests(stack, devices, alice):
    rests = [Rest(stack.base_url, alice) for _ in range(8)]
    with ThreadPoolExecutor(8) as pool:
        replies = list(pool.map(lambda r: r.post("/api/sessions/", {}), rests))
    statuses = sorted(r.status for r in replies)
    assert statuses == [201, 201] + [429] * 6
    refused = next(r for r in replies if r.status == 429)
    assert refused.body["code"] == "session_limit" and refused.body["limit"] == 2
    assert TestSession.objects.count() == 2
