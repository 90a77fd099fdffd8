import pytest

from core.steps import (
    ACTIONS,
    BLOCK_ACTIONS,
    KEYS,
    StepInvalid,
    action_lines,
    step_catalog,
    step_json_schema,
    step_parse,
)


@pytest.mark.parametrize(
    ("data", "params"),
    [
        ({"action": "tap", "text": "Login"}, {"text": "Login"}),
        ({"action": "tap", "x": 10, "y": 20}, {"x": 10, "y": 20}),
        ({"action": "tap", "id": "email", "index": 1}, {"id": "email", "index": 1}),
        (
            {"action": "type", "text": "hi", "into": {"desc": "Email"}},
            {"text": "hi", "into": {"desc": "Email"}},
        ),
        (
            {"action": "launch_app", "package": "com.example.app"},
            {"package": "com.example.app", "clear_state": False},
        ),
        ({"action": "swipe", "direction": "up"}, {"direction": "up"}),
        (
            {"action": "swipe", "from": {"x": 1, "y": 2}, "to": {"x": 3, "y": 4}},
            {"from": {"x": 1, "y": 2}, "to": {"x": 3, "y": 4}},
        ),
        ({"action": "scroll_until_visible", "text": "Item 9"}, {"text": "Item 9", "direction": "down"}),
        ({"action": "press_key", "key": "back"}, {"key": "back"}),
        ({"action": "wait_for", "text": "Done", "timeout_ms": 2000}, {"text": "Done", "timeout_ms": 2000}),
        ({"action": "screenshot"}, {}),
        ({"action": "sleep", "ms": 5}, {"ms": 5}),
        ({"action": "ask_user", "prompt": "Which?"}, {"prompt": "Which?"}),
        ({"action": "clear_text"}, {}),
    ],
)
def test_valid_steps_parse_into_driver_params(data, params):
    assert step_parse(data).params == params


def test_common_fields_become_the_policy():
    spec = step_parse({"action": "tap", "x": 1, "y": 2, "timeout_ms": 500, "max_retries": 1, "backoff": "linear"})
    assert (spec.timeout_ms, spec.max_retries) == (500, 1)
    assert spec.backoff == {"strategy": "linear", "base_ms": 500, "max_ms": 10_000}
    assert step_parse({"action": "tap", "text": "OK"}).timeout_ms == 30_000


@pytest.mark.parametrize(
    ("data", "wait_ms", "limit_ms"),
    [
        ({"action": "tap", "text": "OK", "timeout_ms": 20_000}, 20_000, 25_000),
        ({"action": "long_press", "id": "a", "timeout_ms": 500}, 500, 5_500),
        ({"action": "assert_visible", "text": "OK", "timeout_ms": 8_000}, 8_000, 13_000),
        ({"action": "assert_not_visible", "text": "OK", "timeout_ms": 8_000}, 8_000, 13_000),
        ({"action": "type", "text": "x", "into": {"id": "e"}, "timeout_ms": 9_000}, 9_000, 14_000),
        ({"action": "clear_text", "into": {"id": "e"}, "timeout_ms": 9_000}, 9_000, 14_000),
        ({"action": "wait_for", "text": "OK", "timeout_ms": 9_000}, 9_000, 14_000),
        ({"action": "tap", "x": 1, "y": 2, "timeout_ms": 9_000}, None, 9_000),
        ({"action": "type", "text": "x", "timeout_ms": 9_000}, None, 9_000),
        ({"action": "scroll_until_visible", "text": "OK", "timeout_ms": 9_000}, None, 9_000),
        ({"action": "tap", "text": "OK"}, None, 30_000),
        ({"action": "sleep", "ms": 3_000}, None, 30_000),
        ({"action": "sleep", "ms": 40_000}, None, 45_000),
        ({"action": "sleep", "ms": 3_000, "timeout_ms": 3_500}, None, 3_500),
    ],
)
def test_a_given_timeout_is_the_wait_for_the_element(data, wait_ms, limit_ms):
    """Auto-wait: a step that waits for an element waits up to the timeout_ms it gives (then has 5 s to act)."""
    spec = step_parse(data)
    assert (spec.params.get("timeout_ms"), spec.timeout_ms) == (wait_ms, limit_ms)
    if wait_ms is not None:  # the stored params (a capture bundle's, say) give the same step again
        assert step_parse({"action": spec.action, **spec.params}) == spec


@pytest.mark.parametrize(
    ("data", "field"),
    [
        (None, "step"),
        ({}, "action"),
        ({"action": "fly"}, "action"),
        ({"action": "tap"}, "text"),
        ({"action": "tap", "desc": "b", "text_match": "maestro"}, "text_match"),
        ({"action": "tap", "text": "a", "text_match": "regex"}, "text_match"),
        ({"action": "tap", "x": 1}, "x"),
        ({"action": "tap", "text": ""}, "text"),
        ({"action": "tap", "text": 5}, "text"),
        ({"action": "tap", "text": "a", "bogus": 1}, "bogus"),
        ({"action": "assert_visible", "x": 1, "y": 2}, "x"),
        ({"action": "launch_app", "package": "bad name"}, "package"),
        ({"action": "launch_app", "package": "nodots"}, "package"),
        ({"action": "launch_app", "package": "com.a", "clear_state": "yes"}, "clear_state"),
        ({"action": "type", "text": "é" * 4097}, "text"),
        ({"action": "type", "text": "a", "into": "Email"}, "into"),
        ({"action": "type", "text": "a", "into": {"label": "x"}}, "into.label"),
        ({"action": "press_key", "key": "warp"}, "key"),
        ({"action": "swipe"}, "direction"),
        ({"action": "swipe", "direction": "diagonal"}, "direction"),
        ({"action": "swipe", "from": {"x": 1}, "to": {"x": 1, "y": 1}}, "from.y"),
        ({"action": "sleep", "ms": 60_001}, "ms"),
        ({"action": "sleep", "ms": True}, "ms"),
        ({"action": "sleep", "ms": 3_000, "timeout_ms": 1_000}, "timeout_ms"),
        ({"action": "tap", "text": "a", "timeout_ms": 0}, "timeout_ms"),
        ({"action": "tap", "text": "a", "max_retries": 11}, "max_retries"),
        ({"action": "tap", "text": "a", "backoff": "random"}, "backoff"),
        ({"action": "tap", "text": "a", "backoff": {"strategy": "random"}}, "backoff.strategy"),
        ({"action": "screenshot", "text": "x"}, "text"),
    ],
)
def test_invalid_steps_name_the_field(data, field):
    with pytest.raises(StepInvalid) as caught:
        step_parse(data)
    assert caught.value.field == field
    assert caught.value.message


def test_optional_secret_and_choices_are_part_of_the_vocabulary():
    spec = step_parse({"action": "type", "text": "pw", "into": {"id": "password"}, "secret": True, "optional": True})
    assert (spec.secret, spec.optional) == (True, True)
    assert spec.params == {"text": "pw", "into": {"id": "password"}}
    assert step_parse({"action": "ask_user", "prompt": "Which?", "choices": ["Wi-Fi", "Bluetooth"]}).params == {
        "prompt": "Which?",
        "choices": ["Wi-Fi", "Bluetooth"],
    }


@pytest.mark.parametrize(
    ("data", "field"),
    [
        ({"action": "tap", "text": "a\x00b"}, "text"),
        ({"action": "tap", "text": "\ud800"}, "text"),
        ({"action": "type", "text": "ok", "into": {"id": "a\x07"}}, "into.id"),
        ({"action": "tap", "text": None}, "text"),
        ({"action": "tap", "text": "a", "timeout_ms": None}, "timeout_ms"),
        ({"action": ["tap"]}, "action"),
        ({"action": "ask_user", "prompt": "q", "choices": []}, "choices"),
        ({"action": "ask_user", "prompt": "q", "choices": ["a"] * 21}, "choices"),
        ({"action": "type", "text": "x" * 4097}, "text"),
    ],
)
def test_control_characters_nulls_and_odd_shapes_are_refused(data, field):
    with pytest.raises(StepInvalid) as caught:
        step_parse(data)
    assert caught.value.field == field


def test_the_catalog_and_the_schema_come_from_the_same_models():
    catalog = {entry["action"]: entry for entry in step_catalog()}
    assert tuple(catalog) == ACTIONS
    assert catalog["tap"]["target"] == "selector_or_point"
    assert catalog["assert_visible"]["target"] == "selector"
    assert [f["name"] for f in catalog["type"]["fields"]] == ["text", "into", "secret"]
    key = next(f for f in catalog["press_key"]["fields"] if f["name"] == "key")
    assert set(key["choices"]) == set(KEYS)
    schema = step_json_schema()
    assert set(schema["discriminator"]["mapping"]) == {*ACTIONS, *BLOCK_ACTIONS}  # control flow: API, not composer
    assert len(action_lines()) == len(ACTIONS)
