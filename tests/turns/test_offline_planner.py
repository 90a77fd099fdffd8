"""The offline planner over the corpus (`corpus.yaml`), and its plans run on the simulated phone."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import pytest

from core.steps import ACTIONS, step_parse
from devices.actions import perform
from devices.drivers.sim import SimDriver
from tests.turns.corpus import Case, load, run
from turns.brains import BrainError, OfflineBrain, Plan, answered

CORPUS = load()
PLANNED = [case for case in CORPUS.cases if case.error is None]
# Plans that fail on the phone because of what the corpus deliberately asks for.
FAILS_ON_THE_PHONE = {"open com.example.notes"}  # not installed
NOT_RUN = {"wait for Welcome, Demo! for up to 5 seconds"}  # the login screen never greets: 5 s to time out


def plan(text: str, screen: str) -> Plan:
    return OfflineBrain().plan(text=text, ui_xml=CORPUS.dumps[screen])


def execute(driver: SimDriver, steps: list[dict[str, Any]]) -> None:
    """Run steps as a worker would: validated by `step_parse`, then `perform`; sleeps are skipped."""
    for step in steps:
        spec = step_parse(step)
        if spec.action in ("sleep", "ask_user"):
            continue
        perform(driver, action=spec.action, params=spec.params, deadline=time.monotonic() + 10)


def system(driver: SimDriver) -> dict[str, bool]:
    """The phone's system settings, from its state file (which `wake` writes when the phone is fresh)."""
    driver.wake()
    return json.loads(Path(driver.path).read_text())["system"]


def test_the_corpus_is_large_and_covers_the_whole_vocabulary() -> None:
    assert len(CORPUS.cases) >= 80
    planned = {step["action"] for case in CORPUS.cases for step in case.expected or []}
    asked = any(case.question for case in CORPUS.cases)
    assert set(ACTIONS) <= planned | ({"ask_user"} if asked else set())
    assert {case.screen for case in CORPUS.cases} >= {"launcher", "settings", "login", "home", "none", "dialogs"}


@pytest.mark.parametrize("case", CORPUS.cases, ids=lambda case: case.id)
def test_corpus(case: Case) -> None:
    assert run(OfflineBrain(), case, CORPUS.dumps[case.screen]) == []


@pytest.mark.parametrize("case", PLANNED, ids=lambda case: case.id)
def test_every_step_is_valid_and_the_summary_is_one_sentence(case: Case) -> None:
    result = plan(case.text, case.screen)
    for step in result.steps:
        step_parse(step)
    assert result.summary.endswith(".") and result.summary.count(". ") == 0, result.summary


@pytest.mark.parametrize(
    "case",
    [case for case in PLANNED if isinstance(CORPUS.specs[case.screen], list) and case.text not in NOT_RUN],
    ids=lambda case: case.id,
)
def test_plans_run_on_the_simulated_phone(case: Case, tmp_path: Path) -> None:
    driver = CORPUS.phone(case.screen, tmp_path)
    assert driver is not None
    steps = plan(case.text, case.screen).steps
    if case.text in FAILS_ON_THE_PHONE:
        with pytest.raises(Exception):  # noqa: B017 - whichever step error the phone raises
            execute(driver, steps)
    else:
        execute(driver, steps)


def run_turn(driver: SimDriver, text: str) -> list[Plan]:
    """Plan, run, and plan what remains against the new screen, as the turn pipeline does."""
    plans = [OfflineBrain().plan(text=text, ui_xml=driver.dump_ui())]
    execute(driver, plans[-1].steps)
    while plans[-1].remaining and len(plans) < 5:
        plans.append(OfflineBrain().plan(text=plans[-1].remaining, ui_xml=driver.dump_ui()))
        execute(driver, plans[-1].steps)
    return plans


def test_what_remains_is_planned_against_the_next_screen(tmp_path: Path) -> None:
    driver = CORPUS.phone("launcher", tmp_path)
    assert driver is not None and system(driver)["wifi"] is True
    plans = run_turn(driver, "open Settings, then turn off Wi-Fi and go back")
    assert [p.steps for p in plans] == [
        [{"action": "launch_app", "package": "com.android.settings"}],
        [{"action": "tap", "id": "com.android.settings:id/wifi_switch"}, {"action": "press_key", "key": "back"}],
    ]
    assert plans[0].remaining == "turn off Wi-Fi, then go back" and plans[1].remaining is None
    assert system(driver)["wifi"] is False
    assert driver.foreground_package() == "com.android.launcher3"

    again = run_turn(driver, "open Settings and turn off Wi-Fi")
    assert again[-1].steps == [] and "already off" in again[-1].summary
    assert system(driver)["wifi"] is False


def test_login_instruction_signs_in_on_the_phone(tmp_path: Path) -> None:
    driver = CORPUS.phone("launcher", tmp_path)
    assert driver is not None
    text = (
        "open the login demo, log in as demo@example.com with password secret123 "
        "and check that the home screen greets me"
    )
    [result] = run_turn(driver, text)
    assert [step["action"] for step in result.steps] == ["launch_app", "type", "type", "tap", "assert_visible"]
    assert "secret123" not in result.summary


def test_a_question_ends_the_plan_with_its_ask_user_step() -> None:
    result = plan("tap Cancel, then take a screenshot, then tap OK and go back", "dialogs")
    assert result.steps[0] == {"action": "tap", "text": "Cancel"}
    assert result.question is None  # after the tap, the screen is not known: "OK" is planned from the words
    result = plan("take a screenshot, then tap OK and go back", "dialogs")
    assert result.question and '"OK" button (1st from the top)' in result.question and "2nd" in result.question
    assert result.steps == [{"action": "screenshot"}, {"action": "ask_user", "prompt": result.question}]
    assert result.remaining == "tap OK, then go back"


OK_2 = {"action": "tap", "text": "OK", "index": 1}
BACK = {"action": "press_key", "key": "back"}
INTO = "com.cognisim.demo:id/"
LOGIN = [
    {"action": "type", "text": "demo@example.com", "into": {"id": INTO + "email"}},
    {"action": "type", "text": "secret123", "into": {"id": INTO + "password"}},
    {"action": "tap", "text": "Sign in"},
]


@pytest.mark.parametrize(
    ("screen", "text", "answer", "expected"),
    [
        ("dialogs", "tap OK, then go back", "the second one", [OK_2, BACK]),
        ("dialogs", "tap OK, then go back", "Bottom.", [OK_2, BACK]),
        ("dialogs", "tap OK, then go back", "2", [OK_2, BACK]),
        ("dialogs", "tap OK, then go back", "the first", [{"action": "tap", "text": "OK"}, BACK]),
        ("dialogs", "tap OK, then go back", "tap Cancel instead", [{"action": "tap", "text": "Cancel"}, BACK]),
        ("login", "type hello", "password", [{"action": "type", "text": "hello", "into": {"id": INTO + "password"}}]),
        (
            "login",
            "type hello",
            "the first field",
            [{"action": "type", "text": "hello", "into": {"id": INTO + "email"}}],
        ),
        (
            "settings",
            "turn on the switch",
            "bluetooth",
            [{"action": "tap", "id": "com.android.settings:id/bluetooth_switch"}],
        ),
        (
            "login",
            "log in with my credentials",
            "log in as demo@example.com with password secret123",
            LOGIN,
        ),
    ],
)
def test_the_users_answer_resolves_the_question(
    screen: str, text: str, answer: str, expected: list[dict[str, Any]]
) -> None:
    asked = plan(text, screen)
    assert asked.question and asked.remaining == text
    resolved = plan(answered(asked.remaining, answer), screen)
    assert resolved.question is None and resolved.remaining is None
    assert resolved.steps == expected


def test_an_answer_that_picks_nothing_asks_again() -> None:
    asked = plan("tap OK", "dialogs")
    again = plan(answered("tap OK", "whatever"), "dialogs")
    assert again.question == asked.question and again.remaining == "tap OK"


def test_switch_state_follows_the_plan() -> None:
    result = plan("turn off wifi, then turn wifi back on", "settings")
    assert result.steps == [{"action": "tap", "id": "com.android.settings:id/wifi_switch"}] * 2


def test_an_on_screen_typo_uses_the_real_text() -> None:
    assert plan("tap abut phone", "settings").steps == [{"action": "tap", "text": "About phone"}]
    assert plan("tap LOGIN DEMO", "launcher").steps == [{"action": "tap", "text": "Login Demo"}]


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("", "Tell me what to do"),
        ("   ", "Tell me what to do"),
        ("fly to the moon", "I can open, restart or close an app"),
        ("tap Bluetooth and then dance", 'I don\'t understand "dance"'),
        ("tap Foo Bar", 'I can\'t find "Foo Bar" on the screen. The screen shows: "Settings", "Wi-Fi"'),
    ],
)
def test_what_cannot_be_planned_is_explained(text: str, words: str) -> None:
    with pytest.raises(BrainError) as error:
        plan(text, "settings")
    assert words in error.value.message


def test_an_unreadable_screen_is_a_brain_error() -> None:
    with pytest.raises(BrainError, match="could not read the screen"):
        OfflineBrain().plan(text="tap OK", ui_xml="<hierarchy><node")
