"""The offline planner: the training corpus judged by outcome on the simulated phone, and its contract."""

from __future__ import annotations

from typing import Any

import pytest

from core.steps import ACTIONS, step_parse
from tests.turns.corpus import CODES, EXPECTS, HELDOUT, Case, Outcome, judge, load, play
from turns.brains import BrainError, OfflineBrain, Plan, answered
from turns.brains.abilities import PHRASES, can_do
from turns.brains.base import QUESTIONS, REFUSALS
from turns.brains.offline.grammar import check

TRAINING = load()


def plan(text: str, screen: str) -> Plan:
    return OfflineBrain().plan(text=text, ui_xml=TRAINING.dumps[screen])


def refusal(text: str, screen: str) -> BrainError:
    with pytest.raises(BrainError) as error:
        plan(text, screen)
    return error.value


def test_the_training_corpus_covers_every_outcome_style_and_action() -> None:
    cases = TRAINING.cases
    assert len(cases) >= 400
    assert {case.expect for case in cases} == set(EXPECTS)
    assert {case.style for case in cases} >= {
        "terse",
        "polite",
        "typo",
        "synonym",
        "multi",
        "ambiguous",
        "impossible",
        "negative",
    }
    assert {case.code for case in cases if case.code} >= set(CODES) - {"needs_value"}
    planned = {step["action"] for case in cases for step in case.steps or []}
    assert set(ACTIONS) <= planned | {"ask_user"}


@pytest.mark.parametrize("case", TRAINING.cases, ids=lambda case: case.id)
def test_training_case(case: Case) -> None:
    verdict = judge(OfflineBrain(), TRAINING, case)
    assert verdict.problems == [], verdict.outcome.plans
    if case.steps is not None:
        first = verdict.outcome.plans[0] if verdict.outcome.plans else Plan()
        steps = first.steps[:-1] if first.question else first.steps
        assert steps == case.steps
    if case.says:
        said = verdict.outcome.message if case.expect == "refuse" else verdict.outcome.plans[0].summary
        assert case.says.lower() in said.lower()


def test_every_plan_of_the_corpus_is_schema_valid_and_says_one_sentence() -> None:
    for case in TRAINING.cases:
        try:
            result = plan(case.text, case.screen)
        except BrainError as exc:
            assert exc.code in REFUSALS, (case.text, exc.code)
            assert exc.message.endswith(".")
            continue
        for step in result.steps:
            step_parse(step)
        assert result.summary.endswith(".") and result.summary.count(". ") == 0, result.summary


# The judge itself ------------------------------------------------------------------------------


class Canned:
    """A brain that always answers the same plan (or refusal): for judging the judge."""

    def __init__(self, answer: Plan | BrainError) -> None:
        self.answer = answer

    def plan(self, *, text: str, ui_xml: str | None) -> Plan:
        if isinstance(self.answer, BrainError):
            raise self.answer
        return self.answer


def case(screen: str, expect: str, then: dict[str, Any] | None = None, code: str | None = None) -> Case:
    return Case(number=1, screen=screen, text="…", style="test", expect=expect, then=then or {}, code=code)


NO_ERROR = {"action": "assert_not_visible", "id": "com.cognisim.demo:id/error"}
ERROR_SHOWN = {"action": "assert_visible", "id": "com.cognisim.demo:id/error"}


def test_the_judge_counts_a_check_that_passes_where_it_must_fail_as_silently_wrong() -> None:
    inverted = judge(Canned(Plan(steps=[ERROR_SHOWN])), TRAINING, case("login_error", "check_fails"))
    assert not inverted.passed and inverted.silently_wrong and inverted.outcome.kind == "act"
    right = judge(Canned(Plan(steps=[NO_ERROR])), TRAINING, case("login_error", "check_fails"))
    assert right.passed and right.outcome.kind == "check_fails" and right.outcome.failed == {"n": 0, **NO_ERROR}


def test_the_judge_counts_acting_instead_of_asking_or_refusing_as_silently_wrong() -> None:
    tap = Plan(steps=[{"action": "tap", "text": "Sign in"}])
    for expect in ("ask", "refuse"):
        verdict = judge(Canned(tap), TRAINING, case("login", expect))
        assert verdict.silently_wrong and verdict.problems == [f"expected {expect}, got act"]
    refused = judge(Canned(BrainError("no", "unsupported")), TRAINING, case("login", "ask"))
    assert not refused.passed and not refused.silently_wrong


def test_the_judge_compares_the_phone_afterwards() -> None:
    typed = Plan(steps=[{"action": "type", "text": "x@y.z", "into": {"id": "com.cognisim.demo:id/email"}}])
    then = {"foreground": "com.cognisim.demo", "fields": {"com.cognisim.demo:id/email": "x@y.z", "password": ""}}
    assert judge(Canned(typed), TRAINING, case("login", "act", then)).passed
    wrong = judge(Canned(typed), TRAINING, case("login", "act", {"fields": {"password": "x@y.z"}}))
    assert wrong.silently_wrong and wrong.problems == ["field password holds ['', 'Password'], not 'x@y.z'"]
    switched = Plan(steps=[{"action": "tap", "id": "com.android.settings:id/wifi_switch"}])
    verdict = judge(
        Canned(switched),
        TRAINING,
        case("settings", "act", {"checked": {"wifi_switch": True}, "visible": ["Wi-Fi"], "not_visible": ["NFC"]}),
    )
    assert verdict.problems == ["wifi_switch is off"]


def test_the_judge_plans_what_remains_on_the_next_screen_and_compares_the_refusal_code() -> None:
    verdict = judge(OfflineBrain(), TRAINING, case("launcher", "act", {"checked": {"wifi_switch": False}}))
    assert verdict.outcome.kind == "refuse"  # "…" is not an instruction
    outcome = play_text("launcher", "open settings and turn off wifi")
    assert outcome.kind == "act" and len(outcome.plans) == 2
    assert outcome.plans[0].remaining == "[done: open Settings] turn off wifi"
    coded = judge(Canned(BrainError("no", "not_on_screen")), TRAINING, case("login", "refuse", code="unsupported"))
    assert coded.problems == ["refused with code not_on_screen, not unsupported (no)"] and not coded.silently_wrong


def play_text(screen: str, text: str) -> Outcome:
    with TRAINING.phone(screen) as driver:
        return play(OfflineBrain(), TRAINING, Case(0, screen, text, "", "act", {}), driver)


def test_the_heldout_set_is_in_the_judges_format() -> None:
    if not HELDOUT.exists():
        pytest.skip("the held-out set has not landed")
    heldout = load(HELDOUT)
    assert len(heldout.cases) >= 150 and all(heldout.on_phone(c.screen) for c in heldout.cases)


# Questions -------------------------------------------------------------------------------------

OK_2 = {"action": "tap", "text": "OK", "index": 1}
BACK = {"action": "press_key", "key": "back"}
INTO = "com.cognisim.demo:id/"
LOGIN = [
    {"action": "type", "text": "demo@example.com", "into": {"id": INTO + "email"}},
    {"action": "type", "text": "secret123", "into": {"id": INTO + "password"}, "secret": True},
    {"action": "tap", "text": "Sign in"},
]


def test_a_question_ends_the_plan_with_its_ask_user_step_and_choices() -> None:
    result = plan("tap Cancel, then take a screenshot, then tap OK and go back", "dialogs")
    assert result.steps[0] == {"action": "tap", "text": "Cancel"}
    assert result.question is None  # after the tap, the screen is not known: "OK" is planned from the words
    result = plan("take a screenshot, then tap OK and go back", "dialogs")
    assert result.question and result.code == "ambiguous"
    assert result.choices == ["OK (1st from the top)", "OK (2nd from the top)"]
    ask = {"action": "ask_user", "prompt": result.question, "choices": result.choices}
    assert result.steps == [{"action": "screenshot"}, ask]
    step_parse(ask)
    assert result.remaining == "tap OK, then go back"


@pytest.mark.parametrize(
    ("screen", "text", "code", "choices"),
    [
        ("settings", "turn it on", "ambiguous", ["Bluetooth", "Airplane mode", "Dark theme"]),
        ("settings", "switch off", "ambiguous", ["Wi-Fi", "Location"]),
        ("home", "tap it", "ambiguous", None),
        ("login", "log in", "needs_value", []),
        ("login", "sign in as demo@example.com", "needs_value", []),
        ("login", "type hunter2", "ambiguous", ["Email", "Password"]),
        ("login", "type into the email field", "needs_value", []),
        ("launcher", "open the app", "ambiguous", ["Settings", "Login Demo"]),
        ("login", "tap Emaik", "ambiguous", ["Email"]),
    ],
)
def test_doubt_is_a_question_never_a_guess(screen: str, text: str, code: str, choices: list[str] | None) -> None:
    result = plan(text, screen)
    assert result.question and result.code == code and result.code in QUESTIONS
    if choices is not None:
        assert result.choices == choices
    assert result.steps[-1]["action"] == "ask_user" and result.remaining == text


@pytest.mark.parametrize(
    ("screen", "text", "answer", "expected"),
    [
        ("dialogs", "tap OK, then go back", "the second one", [OK_2, BACK]),
        ("dialogs", "tap OK, then go back", "Bottom.", [OK_2, BACK]),
        ("dialogs", "tap OK, then go back", "2", [OK_2, BACK]),
        ("dialogs", "tap OK, then go back", "OK (2nd from the top)", [OK_2, BACK]),
        ("dialogs", "tap OK, then go back", "the first", [{"action": "tap", "text": "OK"}, BACK]),
        ("dialogs", "tap OK, then go back", "tap Cancel instead", [{"action": "tap", "text": "Cancel"}, BACK]),
        (
            "login",
            "type hello",
            "password",
            [{"action": "type", "text": "hello", "into": {"id": INTO + "password"}, "secret": True}],
        ),
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
            "settings",
            "turn it on",
            "Dark theme",
            [{"action": "tap", "id": "com.android.settings:id/dark_theme_switch"}],
        ),
        ("login", "log in with my credentials", "log in as demo@example.com with password secret123", LOGIN),
        ("login", "log in", "demo@example.com / secret123", LOGIN),  # and signs in (it only filled the form in)
        ("login", "sign in as demo@example.com", "secret123", LOGIN),
        ("login", "sign in as demo@example.com", "it's 'secret123'", LOGIN),
        (
            "login",
            "type into the password field",
            "hunter2",
            [{"action": "type", "text": "hunter2", "into": {"id": INTO + "password"}, "secret": True}],
        ),
        (  # a value said where the words were not one: the answer is typed (the question came back before)
            "login",
            "type my password into the password field",
            "secret123",
            [{"action": "type", "text": "secret123", "into": {"id": INTO + "password"}, "secret": True}],
        ),
        (
            "login",
            "type secret123 or hunter2 in password",
            "hunter2",
            [{"action": "type", "text": "hunter2", "into": {"id": INTO + "password"}, "secret": True}],
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


# Checks: negation is parsed, never dropped --------------------------------------------------------


@pytest.mark.parametrize(
    ("screen", "text"),
    [
        ("settings_wifi_off", "wifi is on?"),
        ("settings_wifi_off", "wifi on?"),
        ("settings", "bluetooth is enabled, yes?"),
        ("settings", "Wi-Fi and Bluetooth on?"),
        ("settings", "Hi there, dark theme on, right?"),
        ("login", "Sign in button visible?"),
    ],
)
def test_a_question_without_a_verb_is_a_check_and_never_sets_a_switch(screen: str, text: str) -> None:
    steps = plan(text, screen).steps
    assert steps and {step["action"] for step in steps} == {"assert_visible"}, steps


@pytest.mark.parametrize(
    ("clause", "kind", "target"),
    [
        ("make sure no error is shown", "assert_not", "error"),
        ("verify there is no error message", "assert_not", "error message"),
        ("check there's no Sign out button", "assert_not", "Sign out button"),
        ("there must not be any error", "assert_not", "error"),
        ("I shouldn't see any error", "assert_not", "error"),
        ("no error", "assert_not", "error"),
        ("confirm that nothing says Invalid email", "assert_not", "Invalid email"),
        ("ensure the error isn't displayed", "assert_not", "the error"),
        ("the error should be gone", "assert_not", "the error"),
        ("check that there is a Sign in button", "assert", "Sign in button"),
        ("check that the model is CogniSim Virtual Phone", "assert", "CogniSim Virtual Phone"),
        ("verify the Android version is not 13", "assert_not", "13"),
        ("see if the welcome text is displayed", "assert", "the welcome text"),
        ("is the error shown", "assert", "the error"),
    ],
)
def test_a_check_keeps_its_negation(clause: str, kind: str, target: str) -> None:
    intent = check(clause)
    assert intent is not None and (intent.kind, intent.target) == (kind, target)


def test_a_negative_check_fails_on_the_phone_when_the_thing_is_there() -> None:
    shown = {"action": "assert_not_visible", "text": "Invalid email or password"}
    assert plan("make sure no error is shown", "login_error").steps == [shown]
    assert plan("make sure no error is shown", "login").steps == [NO_ERROR]  # not on screen: the known element
    assert play_text("login_error", "make sure no error is shown").kind == "check_fails"


# Refusals ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("screen", "text", "code", "words"),
    [
        ("settings", "", "not_understood", "Tell me what to do"),
        ("settings", "fly to the moon", "not_understood", "I can open or restart an app"),
        ("settings", "tap Bluetooth and then dance", "not_understood", 'I don\'t understand "dance"'),
        ("settings", "turn on wifi and do a barrel roll", "not_understood", "barrel roll"),
        (
            "settings",
            "tap Foo Bar",
            "not_on_screen",
            'I can\'t find "Foo Bar" on the screen. The screen shows: "Settings"',
        ),
        ("login", "tap Forgot password", "not_on_screen", "Forgot password"),
        ("launcher", "open Spotify", "not_on_screen", 'I don\'t know an app called "Spotify"'),
        ("home", "install WhatsApp", "unsupported", "install, update or uninstall apps"),
        ("settings", "is wifi on or off?", "unsupported", 'only check it: say "check that wifi is on"'),
        ("dialogs", "tap Cancel on the update dialog", "not_on_screen", 'find "Cancel on the update dialog"'),
        ("home", "sleep 2 minutes", "unsupported", "at most 60 seconds"),
        ("none", "turn on wifi", "not_on_screen", "need to see the screen"),
    ],
)
def test_a_refusal_has_a_code_and_says_why(screen: str, text: str, code: str, words: str) -> None:
    error = refusal(text, screen)
    assert error.code == code and words in error.message


def test_nothing_of_a_refused_instruction_runs() -> None:
    outcome = play_text("settings", "turn off wifi and do a barrel roll")
    assert outcome.kind == "refuse" and outcome.plans == []


def test_what_the_planner_can_do_is_said_from_the_step_schema() -> None:
    assert set(PHRASES) == set(ACTIONS)
    said = can_do()
    assert said.startswith("I can ") and said.endswith(".")
    assert all(PHRASES[action].split(" (")[0] in said for action in ACTIONS)
    assert "volume up" in said and "restart an app" in said
    assert can_do() in refusal("make me a sandwich", "launcher").message


def test_an_unreadable_screen_is_a_brain_failure() -> None:
    with pytest.raises(BrainError) as error:
        OfflineBrain().plan(text="tap OK", ui_xml="<hierarchy><node")
    assert error.value.code == "brain_failed" and "could not read the screen" in error.value.message


# Screen-knowing details ----------------------------------------------------------------------------


def test_switch_state_follows_the_plan() -> None:
    result = plan("turn off wifi, then turn wifi back on", "settings")
    assert result.steps == [{"action": "tap", "id": "com.android.settings:id/wifi_switch"}] * 2


def test_an_on_screen_typo_uses_the_real_text() -> None:
    assert plan("tap abut phone", "settings").steps == [{"action": "tap", "text": "About phone"}]
    assert plan("tap LOGIN DEMO", "launcher").steps == [{"action": "tap", "text": "Login Demo"}]


def test_clauses_are_cut_where_the_screen_says() -> None:
    steps = plan("fill email with a@b.co, password with pw1, and hit enter", "login").steps
    assert steps == [
        {"action": "type", "text": "a@b.co", "into": {"id": INTO + "email"}},
        {"action": "type", "text": "pw1", "into": {"id": INTO + "password"}, "secret": True},
        {"action": "press_key", "key": "enter"},
    ]
    launched = plan("open settings > about phone and check the model is CogniSim Virtual Phone", "launcher")
    assert launched.steps == [
        {"action": "launch_app", "package": "com.android.settings"},
        {"action": "tap", "text": "About phone"},
        {"action": "assert_visible", "text": "CogniSim Virtual Phone"},
    ]


def test_the_last_rounds_summary_says_what_the_rounds_before_it_did() -> None:
    """The turn's reply is the last plan's summary: it names the first round's tap too."""
    outcome = play_text("home", "tap the second item and then the fourth")
    assert [step["text"] for plan in outcome.plans for step in plan.steps] == ["Item 2", "Item 4"]
    assert outcome.message == 'I\'ll tap "Item 2" and tap "Item 4".'


def test_a_switch_already_so_is_checked_so_that_the_flow_keeps_the_precondition() -> None:
    assert plan("turn on wifi", "settings").steps == [
        {"action": "assert_visible", "id": "com.android.settings:id/wifi_switch", "checked": True}
    ]
    assert plan("toggle wifi", "settings").steps == [{"action": "tap", "id": "com.android.settings:id/wifi_switch"}]


def test_a_part_of_a_label_is_never_checked_absent_as_exact_text() -> None:
    whole = {"action": "assert_not_visible", "text": "Invalid email or password"}
    for text in ('assertNotVisible "Invalid"', 'check that the text "email or password" does not appear'):
        assert plan(text, "login_error").steps == [whole]
    after_tap = plan('tap Sign in and make sure "Invalid" is not shown', "login").steps
    assert after_tap[-1] == {"action": "assert_not_visible", "text": "Invalid email or password"}
    assert plan('assertNotVisible "Invalid"', "login").steps == [{"action": "assert_not_visible", "text": "Invalid"}]


@pytest.mark.parametrize(
    ("screen", "text", "checked"),
    [
        ("login_error", "there's no message about invalid credentials", {"id": "com.cognisim.demo:id/error"}),
        ("home", "there's no message about invalid credentials", {"id": "com.cognisim.demo:id/error"}),
        ("about", "the phone isn't running Android 14", {"text": "14"}),
        ("about", "make sure the version is not fourteen", {"text": "14"}),
        ("about", "the phone isn't running Android 13", {"text": "13"}),
        ("about", "the model isn't a CogniSim phone", {"text": "CogniSim Virtual Phone"}),
        ("home", "the welcome message is not for demo", {"text": "Welcome, Demo!"}),
        ("launcher", "the launcher doesn't show the settings shortcut", {"text": "Settings"}),
        ("settings", "there should be no NFC option", {"text": "NFC"}),  # a name no label explains: it could appear
    ],
)
def test_a_not_shown_check_of_a_description_checks_a_text_that_can_be_there(
    screen: str, text: str, checked: dict[str, str]
) -> None:
    assert plan(text, screen).steps == [{"action": "assert_not_visible", **checked}]


def test_a_not_shown_check_that_cannot_be_grounded_asks_or_waits_for_the_screen() -> None:
    assert plan("I should not be signed in as admin@example.com", "home").code == "needs_value"
    after_sign_out = plan("sign out and make sure the list is no longer displayed", "home")
    assert after_sign_out.steps == [{"action": "tap", "text": "Sign out"}]
    assert after_sign_out.remaining and after_sign_out.remaining.endswith("make sure the list is no longer displayed")
    assert plan("make sure the list is no longer displayed", "login").code == "needs_value"
