"""The LLM brain against a local HTTP server standing in for an OpenAI-compatible endpoint."""

from __future__ import annotations

import json
import logging
import socket
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from core.steps import step_parse
from devices.actions import perform
from devices.drivers.sim import SimDriver
from turns.brains import BrainError, LLMBrain, OfflineBrain, brain_from_env
from turns.brains.base import REFUSALS
from turns.brains.llm import compact_screen

KEY = "sk-test-5ecret-key"
SIGN_IN = {"action": "tap", "text": "Sign in"}


def reply(content: str) -> tuple[int, dict[str, Any]]:
    return 200, {"choices": [{"index": 0, "message": {"role": "assistant", "content": content}}]}


def plan_json(steps: list[dict[str, Any]], question: str | None = None, summary: str = "I'll tap Sign in.") -> str:
    return json.dumps({"steps": steps, "question": question, "summary": summary})


class Endpoint:
    """Answers each POST with the next queued (status, JSON body) and records what it was sent."""

    def __init__(self) -> None:
        self.answers: list[tuple[int, dict[str, Any]]] = []
        self.requests: list[dict[str, Any]] = []
        endpoint = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - the http.server API
                raw = self.rfile.read(int(self.headers["Content-Length"]))
                endpoint.requests.append({"path": self.path, "headers": dict(self.headers), "raw": raw})
                status, body = endpoint.answers.pop(0)
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/v1"
        self.thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)

    def body(self, n: int) -> dict[str, Any]:
        return json.loads(self.requests[n]["raw"])


@pytest.fixture
def endpoint() -> Iterator[Endpoint]:
    server = Endpoint()
    server.thread.start()
    yield server
    server.server.shutdown()
    server.server.server_close()


@pytest.fixture
def login_xml(tmp_path: Path) -> str:
    driver = SimDriver("llm", tmp_path)
    perform(driver, action="launch_app", params={"package": "com.cognisim.demo"}, deadline=time.monotonic() + 10)
    return driver.dump_ui()


def brain(url: str, **options: Any) -> LLMBrain:
    return LLMBrain(url, KEY, "test-model", **options)


def test_a_valid_answer_becomes_the_plan(endpoint: Endpoint, login_xml: str) -> None:
    endpoint.answers = [reply(plan_json([SIGN_IN]))]
    plan = brain(endpoint.url).plan(text="tap sign in", ui_xml=login_xml)
    assert plan.steps == [SIGN_IN] and plan.summary == "I'll tap Sign in." and plan.question is None

    [request] = endpoint.requests
    assert request["path"] == "/v1/chat/completions"
    sent = endpoint.body(0)
    assert sent["model"] == "test-model"
    system, user = sent["messages"]
    assert (
        system["role"] == "system" and "scroll_until_visible" in system["content"] and "volume_up" in system["content"]
    )
    assert user["content"].endswith("Instruction: tap sign in")
    assert 'text="Email" id=com.cognisim.demo:id/email EditText clickable' in user["content"]
    assert "app in front: com.cognisim.demo" in user["content"]


def test_an_answer_in_a_json_fence_is_read(endpoint: Endpoint) -> None:
    endpoint.answers = [reply(f"Here you go:\n```json\n{plan_json([SIGN_IN])}\n```\n")]
    assert brain(endpoint.url).plan(text="tap sign in", ui_xml=None).steps == [SIGN_IN]
    assert "Screen:\n(not known)" in endpoint.body(0)["messages"][1]["content"]


def test_an_invalid_answer_is_asked_again_with_the_error(endpoint: Endpoint, login_xml: str) -> None:
    wrong = plan_json(
        [{"action": "type", "text": "demo@example.com", "into": {"id": "email"}}, {"action": "tap", "txt": "Sign in"}]
    )
    endpoint.answers = [reply(wrong), reply(plan_json([SIGN_IN]))]
    plan = brain(endpoint.url).plan(text="tap sign in", ui_xml=login_xml)
    assert plan.steps == [SIGN_IN]

    assert len(endpoint.requests) == 2
    first, second = endpoint.body(0)["messages"], endpoint.body(1)["messages"]
    assert second[: len(first)] == first
    assert second[len(first)] == {"role": "assistant", "content": wrong}
    correction = second[len(first) + 1]
    assert correction["role"] == "user"
    assert "step 2 (tap), field 'txt': Unknown field 'txt' for action 'tap'" in correction["content"]


def test_an_answer_that_is_not_json_is_asked_again(endpoint: Endpoint) -> None:
    endpoint.answers = [reply("Sure! I will tap the button."), reply(plan_json([SIGN_IN]))]
    assert brain(endpoint.url).plan(text="tap sign in", ui_xml=None).steps == [SIGN_IN]
    assert "not a JSON object" in endpoint.body(1)["messages"][-1]["content"]


def test_invalid_twice_is_a_brain_error_after_exactly_two_asks(endpoint: Endpoint) -> None:
    bad = plan_json([{"action": "launch_app", "package": "not a package"}])
    endpoint.answers = [reply(bad), reply(bad), reply(plan_json([SIGN_IN]))]
    with pytest.raises(BrainError) as error:
        brain(endpoint.url).plan(text="open it", ui_xml=None)
    assert "did not return a valid plan, twice" in error.value.message
    assert "field 'package'" in error.value.message
    assert len(endpoint.requests) == 2


def test_a_question_ends_with_its_ask_user_step(endpoint: Endpoint) -> None:
    question = "Which OK button: the top one or the bottom one?"
    endpoint.answers = [
        reply(plan_json([{"action": "screenshot"}], question=question)),
        reply(plan_json([{"action": "ask_user", "prompt": question}], question=question)),
    ]
    llm = brain(endpoint.url)
    first = llm.plan(text="screenshot, then tap OK", ui_xml=None)
    assert first.question == question
    assert first.steps == [{"action": "screenshot"}, {"action": "ask_user", "prompt": question}]
    assert llm.plan(text="tap OK", ui_xml=None).steps == [{"action": "ask_user", "prompt": question}]


def test_an_endpoint_that_is_down_is_a_clear_brain_error() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with pytest.raises(BrainError) as error:
        brain(f"http://127.0.0.1:{port}/v1").plan(text="tap sign in", ui_xml=None)
    assert error.value.message.startswith(f"The language model at 127.0.0.1:{port} could not be reached (")
    assert KEY not in error.value.message


def test_an_endpoint_that_never_answers_times_out() -> None:
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen(1)
        port = silent.getsockname()[1]
        with pytest.raises(BrainError) as error:
            brain(f"http://127.0.0.1:{port}", timeout_s=0.3).plan(text="tap sign in", ui_xml=None)
    assert error.value.message == f"The language model at 127.0.0.1:{port} did not answer within 0.3 s."


def test_an_http_error_is_reported_without_the_key(endpoint: Endpoint) -> None:
    endpoint.answers = [(401, {"error": {"message": f"Incorrect API key provided: {KEY}", "type": "auth"}})]
    with pytest.raises(BrainError) as error:
        brain(endpoint.url).plan(text="tap sign in", ui_xml=None)
    assert error.value.message.startswith("The language model at 127.0.0.1:")
    assert "answered HTTP 401: Incorrect API key provided: [key]." in error.value.message
    assert KEY not in error.value.message


def test_an_answer_without_a_message_is_a_brain_error(endpoint: Endpoint) -> None:
    endpoint.answers = [(200, {"choices": []})]
    with pytest.raises(BrainError, match="without a message"):
        brain(endpoint.url).plan(text="tap sign in", ui_xml=None)


def test_the_key_travels_only_in_the_authorization_header(
    endpoint: Endpoint, login_xml: str, caplog: pytest.LogCaptureFixture
) -> None:
    endpoint.answers = [reply("nonsense"), reply(plan_json([SIGN_IN]))]
    caplog.set_level(logging.DEBUG)
    llm = brain(endpoint.url)
    llm.plan(text="tap sign in", ui_xml=login_xml)
    for request in endpoint.requests:
        assert request["headers"]["Authorization"] == f"Bearer {KEY}"
        others = {name: value for name, value in request["headers"].items() if name != "Authorization"}
        assert KEY not in json.dumps(others) and KEY not in request["path"]
        assert KEY.encode() not in request["raw"]
    records = [record.__dict__ for record in caplog.records if record.name.startswith("turns.brains")]
    assert records and all(KEY not in json.dumps(record, default=str) for record in records)
    assert KEY not in repr(llm)


def test_no_key_means_no_authorization_header(endpoint: Endpoint) -> None:
    endpoint.answers = [reply(plan_json([SIGN_IN]))]
    LLMBrain(endpoint.url, "", "local-model").plan(text="tap sign in", ui_xml=None)
    assert "Authorization" not in endpoint.requests[0]["headers"]


def test_configuration_comes_from_the_environment() -> None:
    env = {"COGNISIM_LLM_BASE_URL": "http://llm.local/v1/", "COGNISIM_LLM_API_KEY": KEY, "COGNISIM_LLM_MODEL": "m"}
    llm = LLMBrain.from_env(env)
    assert (llm.base_url, llm.model, llm.timeout_s) == ("http://llm.local/v1", "m", 30)
    assert isinstance(brain_from_env(env), LLMBrain)
    assert isinstance(brain_from_env({}), OfflineBrain)
    with pytest.raises(BrainError, match="COGNISIM_LLM_MODEL"):
        LLMBrain.from_env({"COGNISIM_LLM_BASE_URL": "http://llm.local/v1"})


def test_the_compact_screen_names_switch_states(tmp_path: Path) -> None:
    driver = SimDriver("compact", tmp_path)
    perform(driver, action="launch_app", params={"package": "com.android.settings"}, deadline=time.monotonic() + 10)
    screen = compact_screen(driver.dump_ui())
    assert "- id=com.android.settings:id/wifi_switch Switch clickable checked [880,439][1032,519]" in screen
    assert "id=com.android.settings:id/bluetooth_switch Switch clickable unchecked" in screen
    assert compact_screen("<broken") == "(unreadable)"


# The same contract as the offline planner -----------------------------------------------------------


def answer(**fields: Any) -> tuple[int, dict[str, Any]]:
    body = {"steps": [], "question": None, "choices": [], "why": None, "refusal": None, "remaining": None}
    return reply(json.dumps({**body, "summary": "I'll do it.", **fields}))


def test_the_prompt_says_the_schemas_actions_and_the_contract(endpoint: Endpoint) -> None:
    from core.steps import action_lines

    endpoint.answers = [reply(plan_json([SIGN_IN]))]
    brain(endpoint.url).plan(text="tap sign in", ui_xml=None)
    system = endpoint.body(0)["messages"][0]["content"]
    assert all(f"- {line}" in system for line in action_lines())
    assert all(code in system for code in REFUSALS) and '"choices"' in system and "assert_not_visible" in system


@pytest.mark.parametrize("code", REFUSALS)
def test_a_refusal_keeps_its_code(endpoint: Endpoint, code: str) -> None:
    endpoint.answers = [answer(refusal={"code": code, "message": "I can't do that here."})]
    with pytest.raises(BrainError) as error:
        brain(endpoint.url).plan(text="install WhatsApp", ui_xml=None)
    assert (error.value.code, error.value.message) == (code, "I can't do that here.")
    assert len(endpoint.requests) == 1


def test_a_refusal_without_a_known_code_is_asked_again(endpoint: Endpoint) -> None:
    endpoint.answers = [
        answer(refusal={"code": "nope", "message": "No."}),
        answer(refusal={"code": "unsupported", "message": "No step installs apps."}),
    ]
    with pytest.raises(BrainError) as error:
        brain(endpoint.url).plan(text="install WhatsApp", ui_xml=None)
    assert error.value.code == "unsupported"
    assert '"refusal" must be {"code": one of not_understood' in endpoint.body(1)["messages"][-1]["content"]


def test_a_question_carries_its_choices_into_the_ask_user_step(endpoint: Endpoint, login_xml: str) -> None:
    question = "Which field: Email or Password?"
    endpoint.answers = [answer(question=question, choices=["Email", "Password"], why="ambiguous")]
    plan = brain(endpoint.url).plan(text="type hello", ui_xml=login_xml)
    assert (plan.question, plan.choices, plan.code) == (question, ["Email", "Password"], "ambiguous")
    assert plan.steps == [{"action": "ask_user", "prompt": question, "choices": ["Email", "Password"]}]
    step_parse(plan.steps[-1])


def test_a_missing_value_is_a_question_without_choices(endpoint: Endpoint, login_xml: str) -> None:
    endpoint.answers = [answer(question="What password should I use?")]
    plan = brain(endpoint.url).plan(text="sign in as demo@example.com", ui_xml=login_xml)
    assert plan.code == "needs_value" and plan.choices == []
    assert plan.steps == [{"action": "ask_user", "prompt": "What password should I use?"}]


def test_a_tap_on_something_not_on_the_screen_is_sent_back(endpoint: Endpoint, login_xml: str) -> None:
    guess = {"action": "tap", "text": "Forgot password"}
    endpoint.answers = [
        answer(steps=[guess]),
        answer(refusal={"code": "not_on_screen", "message": 'There is no "Forgot password" on the screen.'}),
    ]
    with pytest.raises(BrainError) as error:
        brain(endpoint.url).plan(text="tap Forgot password", ui_xml=login_xml)
    assert error.value.code == "not_on_screen"
    sent_back = endpoint.body(1)["messages"][-1]["content"]
    assert "step 1 (tap) names text 'Forgot password', which is not on the screen" in sent_back


def test_steps_after_the_screen_changes_are_not_checked_against_the_old_screen(
    endpoint: Endpoint, login_xml: str
) -> None:
    steps = [SIGN_IN, {"action": "tap", "text": "Item 3"}]
    endpoint.answers = [answer(steps=steps, remaining="then check the greeting")]
    plan = brain(endpoint.url).plan(text="sign in, tap item 3, then check the greeting", ui_xml=login_xml)
    assert plan.steps == steps and plan.remaining == "then check the greeting" and plan.question is None


def test_guessing_twice_is_a_brain_failure(endpoint: Endpoint, login_xml: str) -> None:
    guess = answer(steps=[{"action": "tap", "text": "Register"}])
    endpoint.answers = [guess, guess]
    with pytest.raises(BrainError) as error:
        brain(endpoint.url).plan(text="tap register", ui_xml=login_xml)
    assert error.value.code == "brain_failed" and "not on the screen" in error.value.message


def test_an_endpoint_failure_is_a_brain_failure_not_a_refusal() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with pytest.raises(BrainError) as error:
        brain(f"http://127.0.0.1:{port}/v1").plan(text="tap sign in", ui_xml=None)
    assert error.value.code == "brain_failed" and error.value.code not in REFUSALS


def test_the_llm_brain_plays_a_turn_on_the_phone_like_the_offline_planner(endpoint: Endpoint) -> None:
    """Judged by the same judge as the offline planner: a negative check that must fail, fails."""
    from tests.turns.corpus import Case, judge, load

    corpus = load()
    endpoint.answers = [answer(steps=[{"action": "assert_not_visible", "id": "com.cognisim.demo:id/error"}])]
    case = Case(0, "login_error", "make sure no error is shown", "negative", "check_fails", {})
    verdict = judge(brain(endpoint.url), corpus, case)
    assert verdict.passed and verdict.outcome.kind == "check_fails"
