"""Bad input over real sockets never reaches a 500 or a dead socket (issue 17, findings 2 and 3)."""

from __future__ import annotations

import http.client
import json
import os
import subprocess
import sys
from urllib.parse import quote

import pytest
from django.contrib.auth import get_user_model
from django.test import Client

from sessions.accounts import api_user_create
from sessions.models import Step, TestSession
from tests.live import Rest, Socket, session_status

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]


def raw_request(stack, method: str, path: str, body: bytes, headers: dict[str, str]) -> tuple[int, str, bytes]:
    conn = http.client.HTTPConnection(stack.host, stack.port, timeout=60)
    try:
        conn.request(method, path, body=body, headers=headers)
        reply = conn.getresponse()
        return reply.status, reply.getheader("Content-Type") or "", reply.read()
    finally:
        conn.close()


@pytest.fixture
def ready(stack, devices, rest, alice):
    session = rest.post("/api/sessions/", {"device": devices[0].serial}).body
    sock = Socket(stack.ws_url(session["id"], "last_seq=0"), token=alice)
    sock.wait_for(session_status("READY"))
    yield session, sock
    sock.close()


def test_bodies_over_the_limit_are_a_json_413_with_or_without_content_length(stack, devices, alice, settings):
    limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
    big = json.dumps({"name": "x" * (limit + 10)}).encode()
    auth = {"Authorization": f"Token {alice}", "Content-Type": "application/json"}
    for path in ("/api/sessions/", "/api/runs/", "/api/replays/"):
        status, kind, payload = raw_request(stack, "POST", path, big, auth)
        assert (status, kind) == (413, "application/json"), payload[:200]
        assert json.loads(payload)["code"] == "request_too_large"
    status, kind, payload = raw_request(
        stack,
        "POST",
        "/api/flows/00000000-0000-0000-0000-000000000000/trigger/",
        big,
        {"Content-Type": "application/json"},
    )
    assert (status, kind) == (413, "application/json")
    assert not TestSession.objects.exists()


@pytest.mark.parametrize(
    ("body", "code"),
    [
        (b"[" * 50_000 + b"]" * 50_000, "too_deep"),
        (b'{"name": "' + b"[" * 10 + b'", "app": ' + b'{"a": ' * 100 + b"1" + b"}" * 100 + b"}", "too_deep"),
        (b'{"name": "\\ud800"}', "invalid_characters"),
        (b'{"name": "a\\u0000b"}', "invalid_characters"),
        (b'{"name": "\xff"}', "parse_error"),
        (b'{"name": NaN', "parse_error"),
        (b'{"name": "x", "app": {"package": "com.example.app", "n": NaN}}', "invalid_number"),
        (b'{"name": "x", "app": {"package": "com.example.app", "n": -Infinity}}', "invalid_number"),
        (b'{"name": "x", "app": {"package": "com.example.app", "n": 1e999}}', "invalid_number"),
    ],
)
def test_bodies_that_json_cannot_carry_safely_are_a_json_400(stack, devices, rest, body, code):
    reply = rest.call("POST", "/api/sessions/", raw=body)
    assert (reply.status, reply.body["code"]) == (400, code), reply.body
    assert reply.body["message"]
    assert not TestSession.objects.exists()


@pytest.mark.parametrize(
    ("path", "body", "field"),
    [
        ("/api/sessions/", {"device": ["x"]}, "device"),
        ("/api/sessions/", {"app": ["com.example.app"]}, "app"),
        ("/api/sessions/", {"name": {"a": 1}}, "name"),
        ("/api/runs/", {"flow": ["steps: []"]}, "flow"),
        ("/api/runs/", {"flow": "steps: [tap]", "files": ["a.yaml"]}, "files"),
        ("/api/replays/", {"bundle": {"steps": "x"}}, None),
    ],
)
def test_wrong_shapes_are_a_400_naming_the_field(stack, devices, rest, path, body, field):
    reply = rest.post(path, body)
    assert reply.status == 400 and reply.body["code"] in ("invalid", "invalid_bundle"), reply.body
    if field:
        assert reply.body["field"] == field


def test_unicode_digits_in_query_strings_and_input_ids_are_refused_not_crashed(ready, stack, rest, alice):
    session, sock = ready
    for query in ("after=²", "after=١", "limit=²", "after=-1", "after=99999999999999999999"):
        reply = rest.get(f"/api/sessions/{session['id']}/events/?{quote(query, safe='=')}")
        assert (reply.status, reply.body["code"]) == (400, "invalid"), query
    reply = rest.post(f"/api/sessions/{session['id']}/input/", {"input_id": "²", "value": "x"})
    assert reply.status == 400
    sock.send({"type": "USER_INPUT_RESPONSE", "input_id": "²", "value": "x", "request_id": 1})
    assert sock.wait_for(lambda m: m.get("type") == "ERROR")["code"] == "invalid"
    resumed = Socket(stack.ws_url(session["id"], "last_seq=%C2%B2"), token=alice)
    resumed.send({"type": "PING"})
    assert resumed.wait_for(lambda m: m.get("type") == "PONG")
    resumed.close()


@pytest.mark.parametrize(
    ("kind", "body"),
    [("text/plain", b'{"action": "screenshot"}'), ("application/x-www-form-urlencoded", b"action=tap")],
)
def test_a_body_that_is_not_json_is_the_documented_415(ready, stack, rest, alice, kind, body):
    session, _ = ready
    auth = {"Authorization": f"Token {alice}", "Content-Type": kind}
    status, content_type, payload = raw_request(stack, "POST", f"/api/sessions/{session['id']}/steps/", body, auth)
    assert (status, content_type) == (415, "application/json")
    reply = json.loads(payload)
    assert reply["code"] == "unsupported_media_type" and "application/json" in reply["message"]
    assert not Step.objects.filter(session_id=session["id"]).exists()
    paths = rest.get("/api/schema/?format=json").body["paths"]
    operations = [op for item in paths.values() for op in item.values() if isinstance(op, dict) and "responses" in op]
    with_body = [op for op in operations if "requestBody" in op]
    assert with_body and all("415" in op["responses"] for op in with_body)
    assert all("415" not in op["responses"] for op in operations if "requestBody" not in op)


def test_stop_reads_its_body_like_every_other_endpoint(ready, stack, rest, alice, settings):
    session, _ = ready
    stop = f"/api/sessions/{session['id']}/stop/"
    json_auth = {"Authorization": f"Token {alice}", "Content-Type": "application/json"}
    big = b'{"pad": "' + b"x" * settings.DATA_UPLOAD_MAX_MEMORY_SIZE + b'"}'
    for body, answer in ((b"{oops", (400, "parse_error")), (big, (413, "request_too_large"))):
        status, _, payload = raw_request(stack, "POST", stop, body, json_auth)
        assert (status, json.loads(payload)["code"]) == answer
    for body in ({"colour": "red"}, [], None):
        reply = rest.call("POST", stop, raw=json.dumps(body).encode())
        assert (reply.status, reply.body["code"]) == (400, "invalid"), body
    status, _, payload = raw_request(stack, "POST", stop, b"{}", {**json_auth, "Content-Type": "text/plain"})
    assert (status, json.loads(payload)["code"]) == (415, "unsupported_media_type")
    assert TestSession.objects.get(pk=session["id"]).status == "READY"
    status, _, payload = raw_request(stack, "POST", stop, b"", {"Authorization": f"Token {alice}"})
    assert (status, json.loads(payload)["status"]) == (200, "COMPLETED")
    assert rest.post(stop, {}).status == 200


@pytest.mark.parametrize("limit", ["0", "5001"])
def test_events_and_logs_page_limits_are_1_to_5000_alike(ready, rest, limit):
    session, _ = ready
    for page in ("events", "logs"):
        reply = rest.get(f"/api/sessions/{session['id']}/{page}/?limit={limit}")
        assert (reply.status, reply.body["code"], reply.body["field"]) == (400, "invalid", "limit"), page
    reply = rest.get(f"/api/sessions/{session['id']}/events/?limit={limit}")
    assert "1 to 5000" in reply.body["message"]


def test_an_events_page_of_one_holds_one_event(ready, rest):
    session, _ = ready
    page = rest.get(f"/api/sessions/{session['id']}/events/?limit=1").body
    assert len(page["results"]) == 1 and page["has_more"] and page["next_after"] == page["results"][0]["seq"]


@pytest.mark.parametrize(
    "frame",
    [
        '{"type": "EXECUTE_SINGLE", "step": {"action": ["tap"]}}',
        '{"type": "EXECUTE_SINGLE", "step": {"action": "type", "text": "\\ud800"}}',
        '{"type": "EXECUTE_SINGLE", "step": {"action": "type", "text": "a\\u0000b"}}',
        '{"type": "EXECUTE_SINGLE", "step": ' + "[" * 30_000 + "]" * 30_000 + "}",
        '{"type": "\\ud800"}',
        '{"type": "CHAT", "text": "\\u0000"}',
        '{"type": "RESUME", "last_seq": 1e400}',
    ],
)
def test_frames_that_once_crashed_the_socket_get_an_error_and_it_stays_open(ready, frame):
    session, sock = ready
    sock.send(frame)
    reply = sock.wait_for(lambda m: m.get("type") == "ERROR")
    assert reply["code"] and reply["message"]
    sock.send({"type": "PING"})
    assert sock.wait_for(lambda m: m.get("type") == "PONG")
    assert not Step.objects.filter(session_id=session["id"]).exists()


def test_a_key_given_twice_is_refused_at_any_depth_naming_it(ready, rest):
    session, _ = ready
    steps = f"/api/sessions/{session['id']}/steps/"
    for path, body, field in [
        (steps, b'{"action": "tap", "text": "a", "text": "b"}', "text"),
        (steps, b'{"action": "tap", "text": "a", "below": {"id": "x", "id": "y"}}', "below.id"),
        ("/api/sessions/", b'{"queue": true, "app": {"package": "com.a.b", "package": "com.c.d"}}', "app.package"),
    ]:
        reply = rest.call("POST", path, raw=body)
        assert (reply.status, reply.body["code"], reply.body.get("field")) == (400, "duplicate_key", field), reply.body
        assert f"'{field}' is given twice" in reply.body["message"]
    assert not Step.objects.filter(session_id=session["id"]).exists()
    assert TestSession.objects.count() == 1


def test_a_session_name_with_control_characters_is_refused_as_a_flow_name_is(stack, devices, rest):
    reply = rest.post("/api/sessions/", {"queue": True, "name": "a\u001bb"})
    assert (reply.status, reply.body["code"], reply.body["field"]) == (400, "invalid", "name"), reply.body
    assert "must not contain control characters (found U+001B)" in reply.body["message"]
    assert not TestSession.objects.exists()
    assert rest.post("/api/sessions/", {"queue": True, "name": "Sign in\tflow"}).status == 201


def test_nul_in_step_text_is_refused_over_rest(ready, rest):
    session, _ = ready
    reply = rest.post(f"/api/sessions/{session['id']}/steps/", {"action": "type", "text": "a\x00b"})
    assert reply.status == 400 and reply.body["code"] == "invalid_characters"
    assert not Step.objects.filter(session_id=session["id"]).exists()


def test_an_unknown_socket_path_is_closed_cleanly(stack, alice):
    for path in ("/ws/nothing/", "/ws/sessions/", "/ws/sessions/a/b/c/"):
        sock = Socket(f"ws://{stack.host}:{stack.port}{path}", token=alice)
        assert sock.close_code() == 4404


def test_odd_paths_are_not_server_errors(stack, alice):
    for path in (
        "/static/%2e%2e/%2e%2e/etc/passwd",
        "/static/..%2f..%2fmanage.py",
        "/api/%00",
        "/api/sessions/%ff/",
        "/api/sessions/%C2%B2/events/",
        "/api/sessions/%00/steps/",
    ):
        status, _, _ = raw_request(stack, "GET", path, b"", {"Authorization": f"Token {alice}"})
        assert 400 <= status < 500, path
    assert Rest(stack.base_url, alice).get("/healthz").status == 200


@pytest.mark.parametrize("session_id", ["0", "not-a-uuid", "12345678-1234-1234-1234-1234567890123"])
def test_a_step_for_a_session_id_that_is_not_one_is_a_404(stack, rest, session_id):
    reply = rest.post(f"/api/sessions/{session_id}/steps/", {"action": "press_key", "key": "home"})
    assert (reply.status, reply.body["code"]) == (404, "not_found"), reply.body


def test_a_cookie_socket_from_another_port_of_an_allowed_host_is_refused(stack, devices, rest):
    session = rest.post("/api/sessions/", {"device": devices[0].serial}).body
    for origin in (
        f"http://{stack.host}:{stack.port + 1}",
        f"https://{stack.host}:{stack.port}",
        "http://localhost:9999",
    ):
        assert Socket(stack.ws_url(session["id"]), headers={"Origin": origin}).close_code() == 4403, origin
    # the socket's own origin passes the check (and then needs a signed-in cookie)
    assert Socket(stack.ws_url(session["id"]), headers={"Origin": stack.base_url}).close_code() == 4401


def test_a_token_socket_is_not_checked_for_its_origin(stack, devices, rest, alice):
    """A browser cannot put a token on a socket: the Origin check (docs/api.md) is for the cookie's."""
    session = rest.post("/api/sessions/", {"device": devices[0].serial}).body
    sock = Socket(stack.ws_url(session["id"]), token=alice, headers={"Origin": "https://elsewhere.example"})
    sock.send({"type": "PING", "request_id": "p"})
    assert sock.wait_for(lambda m: m.get("type") == "PONG")["request_id"] == "p"
    sock.close()


def test_create_api_user_before_the_database_exists_says_what_to_do(tmp_path):
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "DJANGO_SETTINGS_MODULE")}
    env["COGNISIM_HOME"] = str(tmp_path)  # a home where `cognisim up` never ran: no database yet
    done = subprocess.run(
        [sys.executable, "manage.py", "create_api_user", "erin"], env=env, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 1 and "Traceback" not in done.stderr
    assert "The database is not ready" in done.stderr and "./dev up" in done.stderr


def chunked_request(stack, method: str, path: str, body: bytes, headers: dict[str, str]) -> tuple[int, dict]:
    """A body sent with `Transfer-Encoding: chunked` and no `Content-Length`, in 64 KiB chunks."""
    conn = http.client.HTTPConnection(stack.host, stack.port, timeout=60)
    try:
        chunks = (body[n : n + 65536] for n in range(0, len(body), 65536))
        conn.request(method, path, body=chunks, headers=headers, encode_chunked=True)
        reply = conn.getresponse()
        return reply.status, json.loads(reply.read())
    finally:
        conn.close()


def test_a_chunked_body_is_read_in_full_and_held_to_the_limit(stack, devices, alice, settings):
    auth = {"Authorization": f"Token {alice}", "Content-Type": "application/json", "Transfer-Encoding": "chunked"}
    body = json.dumps({"device": devices[0].serial, "name": "sent in chunks"}).encode()
    status, session = chunked_request(stack, "POST", "/api/sessions/", body, auth)
    assert (status, session["name"], session["device"]) == (201, "sent in chunks", devices[0].serial), session
    status, reply = chunked_request(stack, "POST", "/api/runs/", b'{"flow": "steps: [tap]", "files": ["a"]}', auth)
    assert (status, reply.get("field")) == (400, "files"), reply
    big = json.dumps({"name": "x" * (settings.DATA_UPLOAD_MAX_MEMORY_SIZE + 10)}).encode()
    for path in ("/api/sessions/", "/api/runs/", f"/api/sessions/{session['id']}/stop/"):
        status, reply = chunked_request(stack, "POST", path, big, auth)
        assert (status, reply["code"]) == (413, "request_too_large"), path
    assert TestSession.objects.count() == 1


def test_ids_past_the_database_range_and_paths_holding_nul_are_a_404(ready, stack, alice):
    session, _ = ready
    base = f"/api/sessions/{session['id']}"
    auth = {"Authorization": f"Token {alice}"}
    for path in (
        f"{base}/steps/99999999999999999999999/log.txt",
        f"{base}/steps/9223372036854775808/log.txt",
        f"{base}/steps/9223372036854775807/log.txt",
        f"{base}/steps/18446744073709551616/screenshot.png",
        f"{base}/steps/0/screenshot.png",
        f"{base}/screens/a%00b.png",
        f"{base}/screens/a%00b.xml",
    ):
        status, kind, payload = raw_request(stack, "GET", path, b"", auth)
        assert (status, kind, json.loads(payload)["code"]) == (404, "application/json", "not_found"), path
    agent = api_user_create(username="agent-a", host_agent=True, host="a")
    agent_auth = {"Authorization": f"Token {agent}", "Content-Type": "application/json"}
    status, _, payload = raw_request(stack, "POST", "/api/devices/a%00b/offline/", b"{}", agent_auth)
    assert (status, json.loads(payload)["code"]) == (404, "not_found")
    browser = Client()
    browser.force_login(get_user_model().objects.get(username="alice"))
    cookie = {"Cookie": f"sessionid={browser.cookies['sessionid'].value}"}
    for path in (f"/sessions/{session['id']}/screens/a%00b/tree.json", "/devices/a%00b/live/", "/static/a%00b.css"):
        status, _, _ = raw_request(stack, "GET", path, b"", cookie)
        assert status == 404, path
    for path in ("/ws/devices/a%00b/live/", "/ws/sessions/a%00b/"):
        assert Socket(f"ws://{stack.host}:{stack.port}{path}", token=alice).close_code() == 4404, path


def test_a_resume_point_past_the_sessions_last_event_is_refused_and_live_events_still_come(ready, stack, rest, alice):
    session, sock = ready
    sock.wait_for(lambda m: m.get("type") == "SCREEN")  # the end of setup: no event comes unasked after it
    events = f"/api/sessions/{session['id']}/events/"
    reply = rest.get(f"{events}?after=1000")
    assert (reply.status, reply.body["code"], reply.body["field"]) == (409, "past_last_seq", "after"), reply.body
    last = rest.get(f"/api/sessions/{session['id']}/").body["last_seq"]
    assert reply.body["last_seq"] == last and f"at most {last}" in reply.body["message"]
    assert rest.get(f"{events}?after={last}").body == {"results": [], "next_after": last, "has_more": False}
    sock.send({"type": "RESUME", "last_seq": 10**30, "request_id": 7})
    error = sock.wait_for(lambda m: m.get("type") == "ERROR")
    assert (error["code"], error["request_id"], error["last_seq"]) == ("invalid_message", 7, last), error
    assert f"seq {last}" in error["message"]
    late = Socket(stack.ws_url(session["id"], "last_seq=1000"), token=alice)
    error = late.recv()
    assert (error["type"], error["code"], error["field"], error["last_seq"]) == (
        "ERROR",
        "invalid_message",
        "last_seq",
        last,
    )
    step = rest.post(f"/api/sessions/{session['id']}/steps/", {"action": "press_key", "key": "home"}).body
    for socket in (sock, late):
        event = socket.wait_for(lambda m: m.get("type") == "STEP_STATUS")
        assert event["step_id"] == step["id"] and event["seq"] > last
    late.close()


def test_input_ids_are_refused_alike_over_rest_and_the_socket(ready, rest):
    session, sock = ready
    answer = f"/api/sessions/{session['id']}/input/"
    refused = {"2147483648": "not a string", "²": "not a string", 1.5: "not 1.5", True: "not true"}
    for n, input_id in enumerate(("2147483648", "²", 9223372036854775808, 10**30, 0, -1, 1.5, True)):
        reply = rest.post(answer, {"input_id": input_id, "value": "x"})
        assert (reply.status, reply.body["code"], reply.body["field"]) == (400, "invalid", "input_id"), input_id
        why = refused.get(input_id, "and this one is out of range")
        assert (
            reply.body["message"]
            == f"input_id: Must be an integer from 1 to 9223372036854775807 (a JSON number), {why}."
        )
        sock.send({"type": "USER_INPUT_RESPONSE", "input_id": input_id, "value": "x", "request_id": n})
        error = sock.wait_for(lambda m: m.get("type") == "ERROR")
        assert (error["code"], error["field"], error["message"]) == ("invalid", "input_id", reply.body["message"])
    assert "a string" in rest.post(answer, {"input_id": "2147483648", "value": "x"}).body["message"]
    for input_id in (9223372036854775807, 2147483648):
        reply = rest.post(answer, {"input_id": input_id, "value": "x"})
        assert (reply.status, reply.body["code"]) == (409, "input_not_expected"), input_id
    reply = rest.get(f"/api/sessions/{session['id']}/events/?after=2147483648")
    assert (reply.status, reply.body["code"], reply.body["field"]) == (409, "past_last_seq", "after")
