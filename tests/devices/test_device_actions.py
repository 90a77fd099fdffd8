import hashlib
import io
import time
from itertools import pairwise

import pytest
from PIL import Image

from devices import actions
from devices.actions import device_state, observe, observed, perform
from devices.drivers.base import (
    ActionOutcome,
    ActionTimeout,
    AppNotInstalled,
    AssertionFailed,
    ElementNotFound,
    PatternTooSlow,
    PointOffScreen,
    ScreenBusy,
    ScreenNotSettled,
    StepStopped,
)
from devices.drivers.sim import DEMO, LAUNCHER, SETTINGS, SimDriver
from devices.uitree import find_nodes, parse, ui_hash


def run(driver, action, timeout=5.0, **params):
    return perform(driver, action=action, params=params, deadline=time.monotonic() + timeout)


def on_screen(driver, **selector):
    return bool(find_nodes(parse(driver.dump_ui()), selector))


def login(driver, password="secret123"):
    run(driver, "launch_app", package=DEMO, clear_state=True)
    run(driver, "type", text="demo@example.com", into={"id": "email"})
    run(driver, "type", text=password, into={"id": "password"})
    return run(driver, "tap", text="Sign in")


@pytest.fixture
def phone(tmp_path):
    return SimDriver("sim-1", tmp_path)


def test_full_login_flow(phone):
    launched = run(phone, "launch_app", package=DEMO)
    assert launched.state == {"foreground": DEMO, "screen": ui_hash(phone.dump_ui())}
    typed = run(phone, "type", text="demo@example.com", into={"id": "email"})
    assert typed.result["into"]["id"] == "com.cognisim.demo:id/email"
    run(phone, "type", text="secret123", into={"id": "password"})
    tapped = run(phone, "tap", text="Sign in")
    assert tapped.result["element"]["id"] == "com.cognisim.demo:id/sign_in"
    assert tapped.effect["element"]["class"] == "android.widget.Button"
    assert tapped.effect["foreground"] == DEMO and tapped.effect["screen"] == tapped.state["screen"]
    seen = run(phone, "assert_visible", text="Welcome, Demo!")
    assert seen.result["element"]["id"] == "com.cognisim.demo:id/greeting"
    assert seen.state == device_state(phone)
    assert [entry["op"] for entry in phone.action_log()] == [
        "launch_app",
        "tap",
        "input_text",
        "tap",
        "input_text",
        "tap",
    ]


def test_wrong_password_shows_the_error(phone):
    login(phone, password="hunter2")
    run(phone, "assert_visible", id="error")
    assert run(phone, "assert_visible", text="Invalid email or password").result["element"]["text"]
    run(phone, "assert_not_visible", text="Welcome, Demo!")


def test_pressing_enter_in_the_password_field_signs_in(phone):
    run(phone, "launch_app", package=DEMO)
    run(phone, "type", text="demo@example.com", into={"text": "Email"})
    run(phone, "type", text="secret123", into={"text": "Password"})
    run(phone, "press_key", key="enter")
    run(phone, "assert_visible", text="welcome, demo!")


def test_clear_text_empties_the_field(phone):
    run(phone, "launch_app", package=DEMO)
    run(phone, "type", text="someone@example.com", into={"id": "email"})
    cleared = run(phone, "clear_text", into={"id": "email"})
    assert cleared.result["deleted"] == len("someone@example.com")
    assert find_nodes(parse(phone.dump_ui()), {"id": "email"})[0].text == "Email"
    run(phone, "type", text="abc")
    assert run(phone, "clear_text").result["deleted"] == 3


@pytest.mark.parametrize(("action", "params"), [("clear_text", {}), ("type", {"text": "hello"})])
def test_typing_or_clearing_without_a_focused_field_says_so(phone, action, params):
    run(phone, "launch_app", package=SETTINGS)
    with pytest.raises(ElementNotFound, match="No focused text field"):
        run(phone, action, **params)
    assert [entry["op"] for entry in phone.action_log()] == ["launch_app"]


def test_settings_toggle_through_perform(phone):
    run(phone, "tap", desc="Settings")
    before = find_nodes(parse(phone.dump_ui()), {"id": "airplane_switch"})[0].checked
    run(phone, "tap", text="Airplane mode")
    after = find_nodes(parse(phone.dump_ui()), {"id": "airplane_switch"})[0]
    assert after.checked is not before
    run(phone, "tap", text="About phone")
    run(phone, "assert_visible", text="CogniSim Virtual Phone")
    run(phone, "tap", desc="Navigate up")
    run(phone, "press_key", key="back")
    assert device_state(phone)["foreground"] == LAUNCHER


def test_scroll_until_visible_reveals_a_later_item(phone):
    login(phone)
    assert not on_screen(phone, text="Item 30")
    found = run(phone, "scroll_until_visible", text="Item 30")
    assert found.result["element"]["text"] == "Item 30"
    assert found.result["swipes"] >= 1
    assert on_screen(phone, text="Item 30")
    assert found.state == device_state(phone)
    back_up = run(phone, "scroll_until_visible", text="Item 1", direction="up")
    assert back_up.result["swipes"] >= 1


def test_scroll_until_visible_stops_at_the_end(phone):
    login(phone)
    with pytest.raises(ElementNotFound, match="after scrolling to the end"):
        run(phone, "scroll_until_visible", text="Item 41")
    with pytest.raises(ElementNotFound, match="after 1 swipes"):
        run(phone, "scroll_until_visible", text="Item 41", direction="up", max_swipes=1)


def test_swipe_directions_and_points(phone):
    login(phone)
    swiped = run(phone, "swipe", direction="up")
    assert swiped.result == {"from": [540, 1800], "to": [540, 600]}
    assert not on_screen(phone, text="Item 1")
    run(phone, "swipe", **{"from": {"x": 540, "y": 700}, "to": {"x": 540, "y": 1900}})
    assert on_screen(phone, text="Item 1")
    end = None
    for _ in range(6):
        end = run(phone, "swipe", direction="up")
    assert run(phone, "swipe", direction="up").state == end.state


def test_tap_by_point_and_long_press(phone):
    tapped = run(phone, "tap", x=180, y=400)
    assert tapped.result == {"point": [180, 400]}
    assert tapped.state["foreground"] == SETTINGS
    run(phone, "press_key", key="home")
    pressed = run(phone, "long_press", desc="Login Demo")
    assert pressed.effect["duration_ms"] == 800
    assert pressed.state["foreground"] == DEMO


def test_missing_element_is_element_not_found_with_a_helpful_message(phone):
    run(phone, "launch_app", package=DEMO)
    with pytest.raises(ElementNotFound) as info:
        run(phone, "tap", text="Log in", timeout_ms=200)
    error = info.value
    assert not error.retryable and error.code == "element_not_found"
    assert error.message == (
        'No element with text "Log in" on com.cognisim.demo within 200 ms. Visible: "Sign in", "Email", "Password"'
    )
    with pytest.raises(ElementNotFound, match=r"Only 2 element\(s\) with text \"Sign in\""):
        run(phone, "tap", text="Sign in", index=2, timeout_ms=200)
    assert phone.action_log()[-1]["op"] == "launch_app"


def test_assertions_fail_with_assertion_failed(phone):
    run(phone, "launch_app", package=DEMO)
    with pytest.raises(AssertionFailed) as info:
        run(phone, "assert_not_visible", id="sign_in")
    assert "not to be visible" in info.value.message and not info.value.retryable
    with pytest.raises(AssertionFailed, match='Expected text "Welcome, Demo!" to be visible on com.cognisim.demo'):
        run(phone, "assert_visible", text="Welcome, Demo!")
    assert run(phone, "assert_not_visible", text="Welcome, Demo!").effect["found"] is None


def test_wait_for_finds_a_present_element_at_once(phone):
    started = time.monotonic()
    found = run(phone, "wait_for", text="Settings", timeout_ms=30_000)
    assert found.result["element"]["desc"] == "Settings"
    assert time.monotonic() - started < 8, "not after its 30 s timeout"


def test_wait_for_a_missing_element_fails_after_its_timeout(phone):
    started = time.monotonic()
    with pytest.raises(ElementNotFound, match="within 300 ms") as info:
        run(phone, "wait_for", text="Never", timeout_ms=300)
    elapsed = time.monotonic() - started
    assert 0.3 <= elapsed < 4, "not the 5 s default wait or the step's 10 s deadline"
    assert "Visible:" in info.value.message


def test_wait_for_never_passes_the_deadline(phone):
    started = time.monotonic()
    with pytest.raises(ActionTimeout):
        run(phone, "wait_for", timeout=0.25, text="Never", timeout_ms=30_000)
    elapsed = time.monotonic() - started
    assert 0.25 <= elapsed < 8, "not after its 30 s timeout"


@pytest.mark.parametrize(
    ("action", "params"),
    [
        ("wait_for", {"text": "Never", "timeout_ms": 300_000}),
        ("assert_not_visible", {"text": "Settings", "timeout_ms": 300_000}),
        ("sleep", {"ms": 60_000}),
    ],
)
def test_a_wait_gives_up_once_its_session_is_stopped(phone, action, params):
    """A stop is asked for while the step waits: the wait ends with `StepStopped` (not after its 60-300 s)."""
    run(phone, "press_key", key="home")
    asked = []

    def stopped():
        asked.append(time.monotonic())
        return len(asked) >= 3

    with actions.stoppable(stopped), pytest.raises(StepStopped):
        run(phone, action, timeout=400, **params)
    assert len(asked) == 3
    assert all(b - a >= actions.STOP_CHECK_S for a, b in pairwise(asked)), "asked at most every 0.25 s"


@pytest.mark.parametrize(
    ("action", "params"),
    [("tap", {"text": "Settings"}), ("launch_app", {"package": DEMO}), ("press_key", {"key": "home"})],
)
def test_a_passed_deadline_raises_action_timeout_before_touching_the_device(phone, action, params):
    with pytest.raises(ActionTimeout) as info:
        perform(phone, action=action, params=params, deadline=time.monotonic() - 0.001)
    assert info.value.retryable
    assert phone.action_log() == []


def test_sleep_respects_the_deadline(phone):
    started = time.monotonic()
    assert run(phone, "sleep", ms=20).effect["ms"] == 20
    assert time.monotonic() - started >= 0.02
    started = time.monotonic()
    with pytest.raises(ActionTimeout):
        run(phone, "sleep", timeout=0.5, ms=30_000)
    assert time.monotonic() - started < 8, "not after the 30 s sleep"


class Clock:
    def __init__(self):
        self.now = 1000.0

    def monotonic(self):
        return self.now

    def sleep(self, seconds):
        self.now += seconds


def test_a_tap_that_lands_after_the_deadline_is_not_reported_as_a_timeout(tmp_path, monkeypatch):
    """Raising a retryable timeout after the tap would make the retry tap twice."""
    clock = Clock()
    monkeypatch.setattr(actions, "time", clock)

    class SlowPhone(SimDriver):
        def tap(self, x, y):
            super().tap(x, y)
            clock.now += 60

    slow = SlowPhone("sim-1", tmp_path)
    outcome = perform(slow, action="tap", params={"text": "Settings"}, deadline=clock.now + 5)
    assert outcome.state["foreground"] == SETTINGS
    assert [entry["op"] for entry in slow.action_log()] == ["tap"]


def test_unknown_package_is_app_not_installed(phone):
    with pytest.raises(AppNotInstalled) as info:
        run(phone, "launch_app", package="com.example.missing")
    assert info.value.code == "app_not_installed" and not info.value.retryable


def test_unknown_action_is_a_value_error(phone):
    with pytest.raises(ValueError):
        run(phone, "ask_user", prompt="?")


def test_screenshot_outcome(phone):
    shot = run(phone, "screenshot")
    png = shot.screenshot
    assert png is not None and Image.open(io.BytesIO(png)).size == (1080, 2400)
    assert shot.effect["sha256"] == hashlib.sha256(png).hexdigest()
    assert (shot.effect["size"], shot.effect["width"], shot.effect["height"]) == (len(png), 1080, 2400)
    assert phone.action_log() == []


def test_effects_are_deterministic_across_devices(tmp_path):
    steps = [
        ("launch_app", {"package": DEMO}),
        ("type", {"text": "demo@example.com", "into": {"id": "email"}}),
        ("type", {"text": "secret123", "into": {"id": "password"}}),
        ("tap", {"text": "Sign in"}),
        ("scroll_until_visible", {"text": "Item 25"}),
        ("tap", {"text": "Item 25"}),
        ("press_key", {"key": "back"}),
        ("screenshot", {}),
    ]
    effects = []
    for serial in ("sim-a", "sim-b"):
        phone = SimDriver(serial, tmp_path)
        effects.append([run(phone, action, **params).effect for action, params in steps])
    assert effects[0] == effects[1]
    assert effects[0][-2]["foreground"] == LAUNCHER
    assert len({effect["screen"] for effect in effects[0]}) >= 5


class Counting(SimDriver):
    """A SimDriver that counts its reads and inputs."""

    def __init__(self, *args, busy_until=0.0, **kwargs):
        super().__init__(*args, **kwargs)
        self.calls = []
        self.busy_until = busy_until

    def dump_ui(self, *, deadline=None, max_age=0.0):
        self.calls.append("dump")
        if time.monotonic() < self.busy_until:
            raise ScreenBusy("`uiautomator dump`: could not get idle state (something on screen keeps changing).")
        return super().dump_ui()

    def tap(self, x, y):
        self.calls.append("tap")
        super().tap(x, y)

    def screenshot(self):
        self.calls.append("screenshot")
        return super().screenshot()


def test_a_tap_by_text_reads_once_then_taps_and_observes_once(tmp_path):
    phone = Counting("sim-1", tmp_path)
    run(phone, "tap", text="Settings")
    assert phone.calls == ["dump", "tap", "dump"]
    phone.calls.clear()
    quick = perform(phone, action="tap", params={"text": "Wi-Fi"}, deadline=time.monotonic() + 5, observe=False)
    assert phone.calls == ["dump", "tap"]
    assert quick.state is None and "screen" not in quick.effect and quick.result["element"]["text"] == "Wi-Fi"


def test_observe_false_then_observe_gives_what_observe_true_gives(tmp_path):
    steps = [
        ("launch_app", {"package": DEMO}),
        ("type", {"text": "demo@example.com", "into": {"id": "email"}}),
        ("type", {"text": "secret123", "into": {"id": "password"}}),
        ("tap", {"text": "Sign in"}),
        ("assert_visible", {"text": "Welcome, Demo!"}),
        ("scroll_until_visible", {"text": "Item 25"}),
        ("screenshot", {}),
        ("press_key", {"key": "back"}),
    ]
    eager, lazy = SimDriver("sim-a", tmp_path), SimDriver("sim-b", tmp_path)
    for action, params in steps:
        expected = perform(eager, action=action, params=params, deadline=time.monotonic() + 5)
        quick = perform(lazy, action=action, params=params, deadline=time.monotonic() + 5, observe=False)
        seen = observe(lazy, deadline=time.monotonic() + 5)
        assert seen.state == device_state(lazy) and seen.ui_xml == lazy.dump_ui()
        assert seen.png == lazy.screenshot()
        joined = observed(quick, seen)
        assert isinstance(joined, ActionOutcome)
        assert (joined.result, joined.effect, joined.state) == (expected.result, expected.effect, expected.state)
        if action in ("assert_visible", "scroll_until_visible"):
            assert quick.state == expected.state  # the step read the screen itself: no observation needed


def test_an_element_that_appears_after_500_ms_is_tapped(tmp_path):
    phone = SimDriver("sim-1", tmp_path)
    phone.start_activity(DEMO, ".SyncActivity", {"duration_ms": 500})
    started = time.monotonic()
    tapped = run(phone, "tap", text="Continue")
    assert time.monotonic() - started >= 0.45
    assert tapped.result["element"]["id"] == "com.cognisim.demo:id/sync_continue"
    assert on_screen(phone, text="Sign in")


def test_assert_not_visible_passes_when_the_element_goes_in_time(tmp_path):
    phone = SimDriver("sim-1", tmp_path)
    phone.start_activity(DEMO, ".SyncActivity", {"duration_ms": 400})
    assert on_screen(phone, text="Syncing…")
    started = time.monotonic()
    gone = run(phone, "assert_not_visible", text="Syncing…")
    assert 0.35 <= time.monotonic() - started < 4, "not after the 5 s default wait"
    assert gone.result == {"visible": False} and gone.effect["found"] is None


def test_assert_not_visible_fails_with_a_clear_message_after_its_timeout(tmp_path):
    phone = SimDriver("sim-1", tmp_path)
    phone.start_activity(DEMO, ".SyncActivity", {"duration_ms": -1})
    started = time.monotonic()
    with pytest.raises(AssertionFailed) as info:
        run(phone, "assert_not_visible", text="Syncing…", timeout_ms=400)
    assert 0.4 <= time.monotonic() - started < 4, "not after the 5 s default wait"
    assert info.value.message.startswith('Expected text "Syncing…" not to be visible on com.cognisim.demo, but it is')
    assert info.value.message.endswith("after 400 ms.")


def test_assert_visible_waits_up_to_its_timeout_then_fails(tmp_path):
    phone = SimDriver("sim-1", tmp_path)
    phone.start_activity(DEMO, ".SyncActivity", {"duration_ms": 300})
    assert run(phone, "assert_visible", text="Up to date", timeout_ms=3000).result["element"]["text"] == "Up to date"
    started = time.monotonic()
    with pytest.raises(AssertionFailed, match=r'Expected text "Nope" to be visible on com.cognisim.demo within 300 ms'):
        run(phone, "assert_visible", text="Nope", timeout_ms=300)
    assert 0.3 <= time.monotonic() - started < 4, "not after the 5 s default wait"


def test_without_timeout_ms_an_element_is_waited_for_the_default_time(phone, monkeypatch):
    monkeypatch.setattr(actions, "ELEMENT_WAIT_MS", 300)
    started = time.monotonic()
    with pytest.raises(ElementNotFound, match="within 300 ms"):
        run(phone, "tap", text="Typo")
    assert 0.3 <= time.monotonic() - started < 4, "the patched 300 ms, not the 5 s default"


def test_the_step_deadline_cuts_the_default_wait_with_the_same_error(phone):
    started = time.monotonic()
    with pytest.raises(ElementNotFound, match=r"within (3[5-9]\d|400) ms"):
        run(phone, "tap", timeout=0.4, text="Typo")
    assert time.monotonic() - started < 4, "not after the 5 s default wait"
    with pytest.raises(AssertionFailed, match=r"to be visible on com.android.launcher3 within (3[5-9]\d|400) ms"):
        run(phone, "assert_visible", timeout=0.4, text="Typo")


def test_a_screen_that_settles_is_read_once_it_does(tmp_path):
    phone = Counting("sim-1", tmp_path, busy_until=time.monotonic() + 0.4)
    started = time.monotonic()
    run(phone, "tap", text="Settings")
    assert time.monotonic() - started >= 0.4
    assert phone.calls.count("tap") == 1 and phone.calls[-1] == "dump"
    assert 2 <= phone.calls.count("dump") <= 8  # backoff, not a busy loop


def test_a_screen_that_never_settles_fails_the_step_by_its_deadline_saying_so(tmp_path):
    phone = Counting("sim-1", tmp_path, busy_until=float("inf"))
    started = time.monotonic()
    with pytest.raises(ScreenNotSettled) as info:
        run(phone, "tap", timeout=1.0, text="Settings")
    assert time.monotonic() - started < 6, "by the step's 1 s deadline, not the 5 s default wait"
    assert not info.value.retryable and info.value.code == "screen_not_settled"
    assert "never settled" in info.value.message and "could not get idle state" in info.value.message
    assert "tap" not in phone.calls
    with pytest.raises(ScreenNotSettled, match="never settled"):
        observe(phone, deadline=time.monotonic() + 0.3)


def test_a_touch_off_the_screen_fails_and_names_the_screen_size(phone):
    run(phone, "launch_app", package=DEMO)
    width, height = phone.facts().screen_width, phone.facts().screen_height
    with pytest.raises(PointOffScreen) as off:
        run(phone, "tap", x=5000, y=9000)
    assert off.value.code == "point_off_screen" and off.value.details == {
        "point": [5000, 9000],
        "screen": [width, height],
    }
    with pytest.raises(PointOffScreen):
        run(phone, "long_press", x=height, y=10)
    with pytest.raises(PointOffScreen):
        run(phone, "swipe", **{"from": {"x": 10, "y": 10}, "to": {"x": 10, "y": height + width}})
    assert run(phone, "tap", x=width - 1, y=height - 1).result == {"point": [width - 1, height - 1]}
    assert run(phone, "tap", x=height - 1, y=10).result == {"point": [height - 1, 10]}  # in landscape


def test_a_pattern_that_backtracks_without_end_fails_the_step_at_once(phone):
    """A Maestro text is a regular expression; one that would backtrack for minutes on a text of the screen
    (plain `re` cannot be interrupted, and the worker's lease would lapse meanwhile) fails the step with its own
    code within a fraction of a second, never hanging the device's worker, nor passing a check it did not read."""
    run(phone, "launch_app", package=DEMO, clear_state=True)
    run(phone, "type", text="a" * 40, into={"id": "email"})
    started = time.monotonic()
    for action in ("assert_visible", "assert_not_visible"):
        with pytest.raises(PatternTooSlow) as caught:
            run(phone, action, timeout=30, text="(a|aa)+c", text_match="maestro")
        assert caught.value.code == "pattern_too_slow" and "(a|aa)+c" in caught.value.message
    assert time.monotonic() - started < 20  # the step's own 30 s did not run out either
    assert run(phone, "assert_visible", text="(a|aa)+", text_match="maestro").result["element"]["text"] == "a" * 40
