"""The chat pipeline on a real worker: bursts become turns, turns become steps, the agent answers."""

from __future__ import annotations

import json
import time

import pytest
from django.conf import settings

from devices.drivers.sim import set_sim_faults
from sessions.models import SessionEvent, Step, TestSession
from tests.live import Rest, Socket, step_done, wait_ready
from turns.models import Turn
from turns.services import MAX_ROUNDS

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]


def open_chat(stack, token, serial, app=None):
    body = {"device": serial, **({"app": {"package": app}} if app else {})}
    session = Rest(stack.base_url, token).post("/api/sessions/", body).body
    sock = Socket(stack.ws_url(session["id"], "last_seq=0"), token=token)
    wait_ready(sock)
    return session, sock


def agent_replies(sock, count, timeout=60):
    """The first `count` AGENT_MESSAGE events this socket received (waiting for them as needed)."""
    deadline = time.monotonic() + timeout
    while len(replies := [m for m in sock.received if m.get("type") == "AGENT_MESSAGE"]) < count:
        sock.recv(timeout=max(0.1, deadline - time.monotonic()))
    return replies[:count]


def agent_reply(sock, timeout=60):
    return agent_replies(sock, 1, timeout)[0]


def chat(sock, text):
    sock.send({"type": "CHAT", "text": text})
    return sock.wait_for(lambda m: m.get("type") == "ACK")["turn_id"]


def test_a_chat_instruction_logs_in_and_the_agent_says_so(stack, devices, alice):
    session, sock = open_chat(stack, alice, devices[0].serial, app="com.cognisim.demo")
    chat(sock, "log in as demo@example.com with password secret123 and check that the home screen greets me")
    reply = agent_reply(sock)
    assert reply["status"] == "COMPLETED" and "done, 4 steps passed" in reply["text"]
    steps = list(Step.objects.filter(session_id=session["id"]).order_by("index"))
    assert [s.action for s in steps] == ["type", "type", "tap", "assert_visible"]
    assert all(s.status == "COMPLETED" for s in steps)


def test_a_check_that_fails_is_named_by_its_step_number_counted_from_one(stack, devices, alice):
    session, sock = open_chat(stack, alice, devices[0].serial, app="com.cognisim.demo")
    chat(sock, "check that the home screen greets me")  # the login screen is showing
    reply = agent_reply(sock)
    step = Step.objects.get(session_id=session["id"])
    assert reply["status"] == "FAILED" and step.status == "FAILED"
    assert reply["text"].startswith(f"Step {step.index + 1} (assert_visible) did not pass")


def test_three_messages_100_ms_apart_are_one_turn_and_5_s_apart_are_two(stack, devices, alice):
    session, sock = open_chat(stack, alice, devices[1].serial)
    ids = []
    for text in ("open settings", "then turn off wifi", "and go back"):
        ids.append(chat(sock, text))
        time.sleep(0.1)  # the spacing under test
    assert len(set(ids)) == 1
    assert agent_reply(sock)["status"] == "COMPLETED"
    turn = Turn.objects.get(pk=ids[0])
    assert [m["text"] for m in turn.messages] == ["open settings", "then turn off wifi", "and go back"]

    first = chat(sock, "open settings")
    time.sleep(5)  # the spacing under test
    second = chat(sock, "go home")
    assert first != second
    replies = agent_replies(sock, 3)[1:]
    assert [r["turn_id"] for r in replies] == [first, second]


def test_a_burst_during_a_running_turn_waits_and_runs_next_in_order(stack, devices, alice):
    serial = devices[0].serial
    session, sock = open_chat(stack, alice, serial)
    set_sim_faults(serial, settings.SIM_DEVICE_DIR, delay_ms=400)  # keep the first turn busy on the device
    first = chat(sock, "open settings, then go back and open settings")
    sock.wait_for(lambda m: m.get("type") == "STEP_STATUS" and m["status"] == "STARTED", timeout=30)
    second = chat(sock, "go home")
    assert second != first
    replies = agent_replies(sock, 2)
    assert [r["turn_id"] for r in replies] == [first, second]
    turns = {t.pk: t for t in Turn.objects.filter(session_id=session["id"])}
    assert max(turns[first].step_ids) < min(turns[second].step_ids)  # no interleaving
    assert Step.objects.get(pk=turns[second].step_ids[0]).params == {"key": "home"}


def test_an_ambiguous_instruction_asks_and_the_answer_resolves_it(stack, devices, alice):
    session, sock = open_chat(stack, alice, devices[1].serial, app="com.cognisim.demo")
    turn_id = chat(sock, "fill in the field with hello")
    asked = sock.wait_for(lambda m: m.get("type") == "USER_INPUT_REQUIRED", timeout=30)
    assert "Email" in asked["prompt"] and "Password" in asked["prompt"]
    sock.send({"type": "USER_INPUT_RESPONSE", "input_id": asked["input_id"], "value": "the email one"})
    reply = agent_reply(sock)
    assert reply["turn_id"] == turn_id and reply["status"] == "COMPLETED", reply
    typed = Step.objects.filter(session_id=session["id"], action="type").get()
    assert typed.params == {"text": "hello", "into": typed.params["into"]} and "email" in str(typed.params["into"])
    assert typed.status == "COMPLETED"


def test_answers_that_never_settle_a_question_end_the_turn_after_its_rounds(stack, devices, alice):
    """Answering "which field?" with a word that is none of them: the question may come again, but not for ever
    (QA saw 300 questions in one turn); the turn ends FAILED after the pipeline's rounds."""
    session, sock = open_chat(stack, alice, devices[1].serial, app="com.cognisim.demo")
    turn_id = chat(sock, "tap the field")
    for _ in range(MAX_ROUNDS + 1):
        asked = sock.wait_for(lambda m: m.get("type") in ("USER_INPUT_REQUIRED", "AGENT_MESSAGE"), timeout=30)
        if asked["type"] == "AGENT_MESSAGE":
            break
        sock.send({"type": "USER_INPUT_RESPONSE", "input_id": asked["input_id"], "value": "banana"})
    reply = agent_reply(sock)
    assert reply["turn_id"] == turn_id and reply["status"] == "FAILED", reply
    assert Step.objects.filter(session_id=session["id"], action="ask_user").count() <= MAX_ROUNDS


def test_chat_over_rest_and_a_plan_that_cannot_be_made_is_answered_not_crashed(stack, devices, alice):
    session, sock = open_chat(stack, alice, devices[0].serial)
    rest = Rest(stack.base_url, alice)
    reply = rest.post(f"/api/sessions/{session['id']}/turns/", {"text": "bake me a cake"})
    assert reply.status == 202
    answer = agent_reply(sock)
    assert answer["status"] == "FAILED" and answer["text"]
    assert rest.post(f"/api/sessions/{session['id']}/turns/", {"text": ""}).status == 400
    turns = rest.get(f"/api/sessions/{session['id']}/turns/").body
    assert [t["status"] for t in turns] == ["FAILED"] and turns[0]["reply"] == answer["text"]


def run_step(sock, step):
    """Run one step over the socket and return its last STEP_STATUS."""
    sock.send({"type": "EXECUTE_SINGLE", "step": step, "request_id": step["action"]})
    ack = sock.wait_for(lambda m: m.get("type") == "ACK" and m.get("request_id") == step["action"])
    return sock.wait_for(step_done(ack["step_id"]), timeout=60)


def sign_in(sock):
    """From the demo's login screen to its welcome screen, step by step."""
    for step in (
        {"action": "type", "text": "demo@example.com", "into": {"id": "email"}},
        {"action": "type", "text": "secret123", "into": {"id": "password"}, "secret": True},
        {"action": "tap", "id": "sign_in"},
        {"action": "assert_visible", "text": "Welcome, Demo!"},
    ):
        assert run_step(sock, step)["status"] == "COMPLETED", step


def everything_about(rest, session_id, sock):
    """Every place a session's data is served or kept, as text: REST answers, the socket's messages, the rows."""
    texts = {
        "steps": rest.get(f"/api/sessions/{session_id}/steps/").body,
        "events": rest.get(f"/api/sessions/{session_id}/events/?after=0&limit=5000").body,
        "capture bundle": rest.get(f"/api/sessions/{session_id}/capture/").body,
        "turns": rest.get(f"/api/sessions/{session_id}/turns/").body,
        "session": rest.get(f"/api/sessions/{session_id}/").body,
        "socket": sock.received,
        "step rows": list(Step.objects.filter(session_id=session_id).values()),
        "event rows": list(SessionEvent.objects.filter(session_id=session_id).values("payload")),
        "turn rows": list(Turn.objects.filter(session_id=session_id).values()),
        "state": list(TestSession.objects.filter(pk=session_id).values("initial_state", "current_state", "error")),
    }
    return {where: json.dumps(text, default=str) for where, text in texts.items()}


def test_a_password_the_agent_asks_for_is_a_secret_everywhere_and_signs_in(stack, devices, alice):
    session, sock = open_chat(stack, alice, devices[0].serial, app="com.cognisim.demo")
    turn_id = chat(sock, "sign in as demo@example.com")
    asked = sock.wait_for(lambda m: m.get("type") == "USER_INPUT_REQUIRED", timeout=60)
    assert "password" in asked["prompt"].lower() and asked.get("secret") is True, asked
    sock.send({"type": "USER_INPUT_RESPONSE", "input_id": asked["input_id"], "value": "secret123"})
    reply = agent_reply(sock)
    assert reply["turn_id"] == turn_id and reply["status"] == "COMPLETED", reply
    assert run_step(sock, {"action": "assert_visible", "text": "Welcome, Demo!"})["status"] == "COMPLETED"

    question = Step.objects.get(pk=asked["step_id"])
    assert question.params.get("secret") is True and question.result["value"].startswith("${")
    typed = Step.objects.get(session_id=session["id"], action="type", params__into__id="com.cognisim.demo:id/password")
    assert typed.params["text"].startswith("${")  # typed as a secret
    leaks = [
        where
        for where, text in everything_about(Rest(stack.base_url, alice), session["id"], sock).items()
        if "secret123" in text
    ]
    assert leaks == []


def test_the_steps_of_a_turn_after_its_failed_step_do_not_run_and_the_reply_says_so(stack, devices, alice):
    session, sock = open_chat(stack, alice, devices[0].serial, app="com.cognisim.demo")
    sign_in(sock)
    chat(sock, "check that the greeting says Hello, then sign out")
    reply = agent_reply(sock)
    check, sign_out = Step.objects.filter(session_id=session["id"]).order_by("-index")[:2][::-1]
    assert (check.action, check.status) == ("assert_visible", "FAILED")
    assert (sign_out.action, sign_out.params, sign_out.status) == ("tap", {"text": "Sign out"}, "CANCELLED")
    cancelled = sock.first(lambda m: m.get("step_id") == sign_out.pk and m.get("status") == "CANCELLED")
    assert cancelled["reason"] == "earlier_step_failed"
    assert reply["status"] == "FAILED" and f"step {sign_out.index + 1} (tap)" in reply["text"], reply
    assert "did not run" in reply["text"], reply

    chat(sock, "tap Item 45")  # the list does not reach it in 10 swipes
    reply = agent_replies(sock, 2)[1]
    scroll, tap = Step.objects.filter(session_id=session["id"]).order_by("-index")[:2][::-1]
    assert (scroll.action, scroll.status, tap.action, tap.status) == (
        "scroll_until_visible",
        "FAILED",
        "tap",
        "CANCELLED",
    )
    assert reply["status"] == "FAILED" and f"step {tap.index + 1} (tap)" in reply["text"], reply


def test_a_chat_sent_while_a_question_waits_is_told_so_and_runs_after_the_answer(stack, devices, alice):
    session, sock = open_chat(stack, alice, devices[1].serial, app="com.cognisim.demo")
    chat(sock, "sign in as demo@example.com")
    asked = sock.wait_for(lambda m: m.get("type") == "USER_INPUT_REQUIRED", timeout=60)

    sock.send({"type": "CHAT", "text": "take a screenshot", "request_id": "later"})
    ack = sock.wait_for(lambda m: m.get("type") == "ACK" and m.get("request_id") == "later")
    assert ack["waits_for_input"] == {"input_id": asked["input_id"], "prompt": asked["prompt"]}, ack
    answer = Rest(stack.base_url, alice).post(f"/api/sessions/{session['id']}/turns/", {"text": "take a screenshot"})
    assert answer.status == 202 and answer.body["id"] == ack["turn_id"]
    assert answer.body["waits_for_input"] == ack["waits_for_input"]

    sock.send({"type": "USER_INPUT_RESPONSE", "input_id": asked["input_id"], "cancel": True})
    replies = agent_replies(sock, 2)
    assert replies[1]["turn_id"] == ack["turn_id"] and replies[1]["status"] == "COMPLETED", replies
    turns = Rest(stack.base_url, alice).get(f"/api/sessions/{session['id']}/turns/").body
    assert "waits_for_input" not in turns[0]


@pytest.mark.timeout(300)
def test_a_turn_whose_device_worker_is_killed_mid_step_is_answered_and_the_next_one_runs(stack, devices, alice):
    """The turn's drain dies with its worker, and with it the rest of the turn's chain (its answer): the new
    worker's recovery drives the turn again (before, nothing did until the session's 10-minute mutex lapsed, and
    every later message of the session waited behind it)."""
    serial = devices[0].serial
    session, sock = open_chat(stack, alice, serial, app="com.cognisim.demo")
    set_sim_faults(serial, settings.SIM_DEVICE_DIR, delay_ms=1500)  # every device action takes 1.5 s
    chat(sock, "type demo@example.com into the email field")
    typing = sock.wait_for(lambda m: m.get("status") == "STARTED" and m.get("type") == "STEP_STATUS", timeout=60)
    stack.kill(serial)  # mid-step: the worker dies with the turn's drain
    set_sim_faults(serial, settings.SIM_DEVICE_DIR)
    reply = agent_reply(sock, timeout=150)  # a worker starting on a busy machine is slow; 10 minutes before
    assert reply["status"] == "COMPLETED", reply
    assert Step.objects.get(pk=typing["step_id"]).status == "COMPLETED"
    chat(sock, "tap Sign in")  # the session's chat goes on
    assert agent_replies(sock, 2, timeout=60)[1]["status"] == "COMPLETED"
