"""Artifacts (issue 15) through the real stack: files in the artifact storage, not the database; they
survive a restart of the web server and the worker, and retention deletes them."""

from __future__ import annotations

import time
from datetime import timedelta

import pytest
from django.conf import settings
from django.utils import timezone

from sessions.models import Screen, Step, TestSession
from sessions.services.artifacts import artifacts_expire
from tests.live import Rest, Socket, step_done, wait_ready

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]


def test_screens_and_screenshots_are_files_that_survive_a_restart_and_retention_deletes(stack, devices, alice):
    rest = Rest(stack.base_url, alice)
    serial = devices[0].serial
    session = rest.post("/api/sessions/", {"device": serial, "app": {"package": "com.cognisim.demo"}}).body
    sock = Socket(stack.ws_url(session["id"], "last_seq=0"), token=alice)
    wait_ready(sock)
    sock.send({"type": "EXECUTE_SINGLE", "step": {"action": "tap", "id": "sign_in"}})
    tap = sock.wait_for(lambda m: m.get("type") == "ACK")["step_id"]
    sock.wait_for(lambda m: m.get("type") == "SCREEN" and m.get("step_id") == tap)
    sock.send({"type": "EXECUTE_SINGLE", "step": {"action": "screenshot"}})
    shot = sock.wait_for(lambda m: m.get("type") == "ACK")["step_id"]
    sock.wait_for(step_done(shot))
    sock.close()

    screen = Screen.objects.get(session_id=session["id"], screen_hash=Step.objects.get(pk=tap).screen_hash)
    on_disk = settings.ARTIFACTS_DIR / screen.picture.name
    assert on_disk.read_bytes().startswith(b"\x89PNG") and screen.size == on_disk.stat().st_size
    screen_url = f"/api/sessions/{session['id']}/screens/{screen.screen_hash}.png"
    shot_url = f"/api/sessions/{session['id']}/steps/{shot}/screenshot.png"
    deadline = time.monotonic() + 60
    while not Step.objects.get(pk=shot).screenshot:  # written just after COMPLETED, off its critical path
        assert time.monotonic() < deadline, "the screenshot was never stored"
        time.sleep(0.05)
    before = {url: rest.call("GET", url) for url in (screen_url, shot_url)}
    assert all(r.status == 200 and r.body.startswith(b"\x89PNG") for r in before.values())
    assert before[screen_url].body == on_disk.read_bytes()

    worker, web = stack.kill(serial), stack.kill("web")
    stack.wait_back(serial, worker)
    stack.wait_back("web", web)
    for url, reply in before.items():
        again = rest.call("GET", url)
        assert (again.status, again.body) == (200, reply.body), url

    assert rest.post(f"/api/sessions/{session['id']}/stop/").status == 200
    TestSession.objects.filter(pk=session["id"]).update(ended_at=timezone.now() - timedelta(days=31))
    assert artifacts_expire() >= 2
    assert not on_disk.exists()
    for url in before:
        gone = rest.call("GET", url)
        assert gone.status == 404 and gone.body["code"] == "not_found", url
    assert Screen.objects.get(pk=screen.pk).ui_xml  # the tree and the history stay; the files went
