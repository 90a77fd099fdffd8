"""The live device view over real sockets: daphne, Redis, the device's own Celery worker casting its screen."""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable
from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.test import Client
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import connect

from devices.screencast import frame_decode, is_casting
from sessions.models import Step, TestSession
from tests.live import Socket, step_done, wait_ready

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]
PNG = b"\x89PNG\r\n\x1a\n"


class LiveSocket:
    """The frame socket: text messages (LIVE, ENDED) and binary frames, each kept in order."""

    def __init__(
        self, url: str, token: str | None, headers: dict[str, str] | None = None, *, acknowledge: bool = True
    ) -> None:
        headers = {**(headers or {}), **({"Authorization": f"Token {token}"} if token else {})}
        self.conn = connect(url, additional_headers=headers, max_size=None, open_timeout=10, legacy=True)
        self.frames: list[tuple[int, float, bytes]] = []
        self.texts: list[dict[str, Any]] = []
        self.acknowledge = acknowledge

    def recv(self, timeout: float) -> None:
        message = self.conn.recv(timeout=timeout)
        if isinstance(message, bytes):
            self.frames.append(frame_decode(message))
            if self.acknowledge:
                self.conn.send(json.dumps({"type": "SEEN"}))
        else:
            self.texts.append(json.loads(message))

    def wait(self, check: Callable[[], bool], timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while not check():
            left = deadline - time.monotonic()
            assert left > 0, f"not within {timeout} s: {self.texts[-3:]}, {len(self.frames)} frames"
            self.recv(left)

    def close_code(self, timeout: float = 30) -> int | None:
        try:
            while True:
                self.recv(timeout)
        except ConnectionClosed as exc:
            return exc.rcvd.code if exc.rcvd else None


def live_ws(stack: Any, serial: str) -> str:
    return f"ws://{stack.host}:{stack.port}/ws/devices/{serial}/live/"


def open_ready(stack: Any, rest: Any, alice: str, serial: str) -> tuple[dict[str, Any], Socket]:
    reply = rest.post("/api/sessions/", {"device": serial, "name": "live"})
    assert reply.status == 201, reply.body
    sock = Socket(stack.ws_url(reply.body["id"], "last_seq=0"), token=alice)
    wait_ready(sock)
    return reply.body, sock


def test_frames_arrive_and_change_after_a_tap(stack, devices, rest, alice):
    serial = devices[0].serial
    session, sock = open_ready(stack, rest, alice, serial)
    assert session["live_url"] == f"{stack.base_url}/devices/{serial}/live/"

    live = LiveSocket(live_ws(stack, serial), alice)
    live.wait(lambda: bool(live.frames))
    assert live.texts[0] == {"type": "LIVE", "serial": serial, "session_id": session["id"], "status": "READY"}
    number, captured_at, first = live.frames[0]
    assert first.startswith(PNG) and abs(time.time() - captured_at) < 60

    sock.send({"type": "EXECUTE_SINGLE", "request_id": "tap", "step": {"action": "tap", "text": "Settings"}})
    ack = sock.wait_for(lambda m: m.get("type") == "ACK")
    assert sock.wait_for(step_done(ack["step_id"]))["status"] == "COMPLETED"
    live.wait(lambda: live.frames[-1][2] != first)
    numbers = [n for n, _, _ in live.frames]
    assert numbers == sorted(numbers) and len(set(numbers)) == len(numbers)
    # The new frame is the screen the step's SCREEN event shows.
    screen = sock.wait_for(lambda m: m.get("type") == "SCREEN" and m.get("step_id") == ack["step_id"])
    picture = rest.get(screen["url"].removeprefix(stack.base_url))
    assert picture.status == 200 and picture.body == live.frames[-1][2]
    live.conn.close()
    sock.close()


def test_only_the_sessions_owner_opens_the_page_and_the_socket(stack, devices, rest, alice, bob):
    serial = devices[0].serial
    _, sock = open_ready(stack, rest, alice, serial)
    assert LiveSocket(live_ws(stack, serial), bob).close_code() == 4403
    assert LiveSocket(live_ws(stack, serial), None).close_code() == 4401
    assert LiveSocket(live_ws(stack, serial), None, {"Origin": "http://evil.example"}).close_code() == 4403
    assert LiveSocket(live_ws(stack, "no-such-phone"), alice).close_code() == 4404
    assert LiveSocket(live_ws(stack, devices[1].serial), alice).close_code() == 4403  # no session of hers there

    # Bad frames are ignored and the socket stays open.
    live = LiveSocket(live_ws(stack, serial), alice)
    for bad in ("[" * 50_000, "not json", '{"type": "SEEN"', "\u0000", json.dumps({"type": "SEEN", "n": [[[]]]})):
        live.conn.send(bad)
    live.conn.send(b"\x00binary")
    live.conn.send(json.dumps({"type": "PING"}))
    live.wait(lambda: {"type": "PONG"} in live.texts)
    live.conn.close()

    users = get_user_model().objects
    page = Client()
    page.force_login(users.get(username="alice"))
    reply = page.get(f"/devices/{serial}/live/")
    assert reply.status_code == 200
    assert reply["X-Frame-Options"] == "SAMEORIGIN"
    assert reply["Content-Security-Policy"] == "frame-ancestors 'self'"
    assert b"ide/live.js" in reply.content
    assert page.get(f"/devices/{devices[1].serial}/live/").status_code == 404
    other = Client()
    other.force_login(users.get(username="bob"))
    assert other.get(f"/devices/{serial}/live/").status_code == 404
    assert Client().get(f"/devices/{serial}/live/").status_code == 302  # to the sign-in page
    sock.close()


def test_the_stream_stops_when_the_session_ends(stack, devices, rest, alice):
    serial = devices[0].serial
    session, sock = open_ready(stack, rest, alice, serial)
    live = LiveSocket(live_ws(stack, serial), alice)
    live.wait(lambda: bool(live.frames))
    deadline = time.monotonic() + 30
    while not is_casting(serial=serial):
        assert time.monotonic() < deadline, "the device's worker never started casting"
        time.sleep(0.02)

    assert rest.post(f"/api/sessions/{session['id']}/stop/").status == 200
    assert live.close_code() == 1000
    assert live.texts[-1] == {"type": "ENDED", "status": "COMPLETED"}
    deadline = time.monotonic() + 30
    while is_casting(serial=serial):
        assert time.monotonic() < deadline, "the device's worker still casts"
        time.sleep(0.02)
    assert rest.get(f"/api/sessions/{session['id']}/").body["live_url"] is None
    # The socket of an ended session opens no more.
    assert LiveSocket(live_ws(stack, serial), alice).close_code() == 4403
    sock.close()


def test_the_page_in_an_iframe_streams_and_its_gestures_are_steps(page, devices):
    """In a real browser: the IDE's own page frames the live view (same origin); a click on the live picture
    taps the point and typing types, both as steps of the session (its step list shows them)."""
    from playwright.sync_api import expect

    from tests.ide.conftest import snap
    from tests.ide.pages import centre, finished, new_row, open_session, tree_node

    open_session(page, devices[0].serial, "Live")
    expect(page.locator("#live-link")).to_have_attribute("href", f"/devices/{devices[0].serial}/live/")
    email = tree_node(page, id="email")
    page.evaluate(
        """serial => {
          const frame = document.createElement("iframe");
          Object.assign(frame, {id: "live", src: `/devices/${serial}/live/`, width: 360, height: 820});
          document.body.prepend(frame);
        }""",
        devices[0].serial,
    )
    live = page.frame_locator("#live")
    expect(live.locator("#live-state")).to_have_attribute("data-state", "live")
    picture = live.locator("#screen")
    expect(picture).to_have_attribute("data-frame", re.compile(r"^\d+$"))
    expect(live.locator("#live-fps")).to_have_text(re.compile(r"^(\d+ fps|still)$"))
    first = picture.get_attribute("data-frame")

    expect(picture).to_have_attribute("data-current", "true")  # the picture is the screen whose tree it holds

    box = picture.bounding_box()
    assert box is not None

    def click(x: int, y: int) -> None:
        page.mouse.click(box["x"] + x * box["width"] / 1080, box["y"] + y * box["height"] / 2400)

    # A click on the e-mail field taps it by selector, as the session page does; typing types into it.
    click(*centre(email["bounds"]))
    assert Step.objects.get(pk=finished(new_row(page, 0))).params == {"id": "email"}
    expect(live.locator("#screen-stage")).to_be_focused()
    page.keyboard.type("live@example.com")
    typed = finished(new_row(page, 1))
    assert Step.objects.get(pk=typed).params == {"text": "live@example.com"}
    expect(picture).not_to_have_attribute("data-frame", first or "")
    # Tab moves to the password field: what is typed there is a secret, kept out of the step's params.
    page.keyboard.press("Tab")
    assert Step.objects.get(pk=finished(new_row(page, 2))).params == {"key": "tab"}
    page.keyboard.type("secret123")
    secret = Step.objects.get(pk=finished(new_row(page, 3)))
    assert secret.params == {"text": "${_TYPED_3}"}
    assert TestSession.objects.get(pk=secret.session_id).secrets == {"_TYPED_3": "secret123"}
    # Where no element is, a click taps the point.
    click(540, 2300)
    assert Step.objects.get(pk=finished(new_row(page, 4))).params == {"x": 540, "y": 2300}

    # The page alone, as an iframe of 360 × 820 shows it.
    page.set_viewport_size({"width": 360, "height": 820})
    page.goto(f"/devices/{devices[0].serial}/live/")
    expect(page.locator("#live-state")).to_have_attribute("data-state", "live")
    expect(page.locator("#screen")).to_have_attribute("data-current", "true")
    snap(page, "live-view")


def test_an_idle_session_pauses_the_view_and_a_step_brings_it_back(stack, devices, rest, alice):
    """IDLE lets the device go (another session may take it): the frame socket ends; once a step sets the
    device up again, the socket opens again and streams."""
    from django.test import override_settings

    from sessions.services.lifecycle import session_hibernate

    serial = devices[0].serial
    session, sock = open_ready(stack, rest, alice, serial)
    live = LiveSocket(live_ws(stack, serial), alice)
    live.wait(lambda: bool(live.frames))
    with override_settings(SESSION_IDLE_SECONDS=0):
        assert session_hibernate(session_id=session["id"])
    assert live.close_code() == 1000
    assert live.texts[-1] == {"type": "ENDED", "status": "IDLE"}
    paused = LiveSocket(live_ws(stack, serial), alice)
    assert paused.close_code() == 1000 and paused.texts == [
        {"type": "LIVE", "serial": serial, "session_id": session["id"], "status": "IDLE"},
        {"type": "ENDED", "status": "IDLE"},
    ]

    sock.send({"type": "EXECUTE_SINGLE", "step": {"action": "press_key", "key": "home"}})
    ack = sock.wait_for(lambda m: m.get("type") == "ACK")
    assert sock.wait_for(step_done(ack["step_id"]))["status"] == "COMPLETED"
    back = LiveSocket(live_ws(stack, serial), alice)
    back.wait(lambda: bool(back.frames))
    assert back.frames[0][2].startswith(PNG)
    back.conn.close()
    sock.close()


def test_a_client_that_does_not_acknowledge_gets_a_few_frames_then_only_the_newest(stack, devices, rest, alice):
    serial = devices[0].serial
    session, sock = open_ready(stack, rest, alice, serial)
    slow = LiveSocket(live_ws(stack, serial), alice, acknowledge=False)
    slow.wait(lambda: bool(slow.frames))
    steps = [
        {"action": "launch_app", "package": "com.cognisim.demo"},
        {"action": "tap", "id": "email"},
        *({"action": "type", "text": char} for char in "abcdef"),
    ]
    for step in steps:  # eight different screens: the app, the field focused, then a character typed each time
        sock.send({"type": "EXECUTE_SINGLE", "step": step})
        ack = sock.wait_for(lambda m: m.get("type") == "ACK")
        assert sock.wait_for(step_done(ack["step_id"]))["status"] == "COMPLETED"
    last = sock.wait_for(lambda m: m.get("type") == "SCREEN" and m.get("step_id") == ack["step_id"])
    final = rest.get(last["url"].removeprefix(stack.base_url)).body

    slow.wait(lambda: len(slow.frames) == 4)  # FRAMES_IN_FLIGHT, and then nothing until it acknowledges one
    seen = 0
    while slow.frames[-1][2] != final:
        slow.conn.send(json.dumps({"type": "SEEN"}))
        seen += 1
        slow.wait(lambda s=seen: len(slow.frames) >= 4 + s)  # type: ignore[misc]
        assert len(slow.frames) == 4 + seen, "a frame came without an acknowledgement"
    assert seen <= 2  # the held frame is the newest: at most one older one was still on its way
    slow.conn.close()
    sock.close()
