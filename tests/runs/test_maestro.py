"""Maestro flow files run unchanged: each command translated to the step vocabulary on its own line."""

from __future__ import annotations

import pytest
import yaml

from devices.uitree import find_nodes, parse
from runs.flows import FlowInvalid, flow_parse
from runs.maestro import COMMANDS, REFUSED, MaestroProblem, maestro_convert, maestro_export

FLOW = """\
appId: com.cognisim.demo
name: Maestro sign in
tags: [smoke, maestro]
env:
  EMAIL: demo@example.com
onFlowStart:
  - launchApp:
      clearState: true
---
- tapOn:
    id: email
- inputText: ${EMAIL}
- tapOn: {id: password}
- inputText: secret123
- doubleTapOn: "Sign in"
- longPressOn: {text: Item 2}
- eraseText: 2
- eraseText
- assertVisible: "Welcome, Demo!"
- assertNotVisible: {text: Sign in, index: 0}
- extendedWaitUntil:
    visible: Sign out
    timeout: 5000
- extendedWaitUntil: {notVisible: Sign in, timeout: 2000}
- scrollUntilVisible: {element: {text: Item 30}, direction: DOWN, timeout: 20000}
- swipe: {direction: UP, duration: 200}
- swipe: {start: "100, 900", end: "100, 300"}
- scroll
- back
- pressKey: Enter
- pressKey: Volume Up
- hideKeyboard
- waitForAnimationToEnd
- takeScreenshot: after-login
- stopApp
- killApp: com.android.settings
- clearState
- runFlow:
    when: {visible: Allow}
    commands:
      - tapOn: Allow
- repeat: {times: 2, commands: [scroll]}
- repeat:
    while: {notVisible: Item 40}
    commands: [scroll]
- retry: {maxRetries: 2, commands: [{assertVisible: Item 1}]}
- tapOn: {point: "540, 1200", label: Middle, optional: true}
"""


def test_every_listed_command_translates_and_keeps_its_line():
    flow = flow_parse(FLOW, filename="m.yaml")
    assert flow.syntax == "maestro" and flow.app == "com.cognisim.demo" and flow.tags == ["smoke", "maestro"]
    got = [
        (s.line, s.data["action"], {k: v for k, v in s.data.items() if k not in ("action", "steps")})
        for s in flow.steps
    ]
    assert got == [
        (7, "stop_app", {"package": "com.cognisim.demo"}),
        (7, "launch_app", {"package": "com.cognisim.demo", "clear_state": True}),
        (10, "tap", {"id": "email"}),
        (12, "type", {"text": "demo@example.com"}),
        (13, "tap", {"id": "password"}),
        (14, "type", {"text": "secret123"}),
        (15, "tap", {"text": "Sign in", "text_match": "maestro"}),
        (15, "tap", {"text": "Sign in", "text_match": "maestro"}),
        (16, "long_press", {"text": "Item 2", "text_match": "maestro"}),
        (17, "repeat", {"times": 2}),
        (18, "clear_text", {}),
        (19, "assert_visible", {"text": "Welcome, Demo!", "text_match": "maestro"}),
        (20, "assert_not_visible", {"text": "Sign in", "text_match": "maestro", "index": 0}),
        (21, "wait_for", {"text": "Sign out", "text_match": "maestro", "timeout_ms": 5000}),
        (24, "assert_not_visible", {"text": "Sign in", "text_match": "maestro", "timeout_ms": 2000}),
        (
            25,
            "scroll_until_visible",
            {"text": "Item 30", "text_match": "maestro", "direction": "down", "timeout_ms": 20000},
        ),
        (26, "swipe", {"direction": "up", "duration_ms": 200}),
        (27, "swipe", {"from": {"x": 100, "y": 900}, "to": {"x": 100, "y": 300}}),
        (28, "swipe", {"direction": "up"}),
        (29, "press_key", {"key": "back"}),
        (30, "press_key", {"key": "enter"}),
        (31, "press_key", {"key": "volume_up"}),
        (34, "screenshot", {}),
        (35, "stop_app", {"package": "com.cognisim.demo"}),
        (36, "stop_app", {"package": "com.android.settings"}),
        (37, "launch_app", {"package": "com.cognisim.demo", "clear_state": True}),
        (37, "stop_app", {"package": "com.cognisim.demo"}),
        (38, "run_flow", {"when": {"visible": {"text": "Allow", "text_match": "maestro"}}}),
        (42, "repeat", {"times": 2}),
        (43, "repeat", {"while": {"not_visible": {"text": "Item 40", "text_match": "maestro"}}}),
        (46, "retry", {"max_attempts": 3}),
        (47, "tap", {"x": 540, "y": 1200, "optional": True}),
    ]
    assert flow.steps[9].data["steps"] == [{"action": "press_key", "key": "del"}]
    assert flow.steps[-1].label == "Middle" and flow.steps[22].label == "takeScreenshot after-login"


@pytest.mark.parametrize("command", sorted(REFUSED))
def test_commands_it_cannot_honour_are_refused_by_name_and_line(command):
    text = f"appId: com.cognisim.demo\n---\n- launchApp\n- {command}: x\n- tapOn: OK\n"
    with pytest.raises(FlowInvalid) as caught:
        flow_parse(text, filename="m.yaml")
    assert str(caught.value).startswith(f"m.yaml:4:3: the Maestro command '{command}' cannot run on CogniSim: ")


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ("- tapOnn: OK", "m.yaml:3:3: unknown Maestro command 'tapOnn'."),
        (
            "- tapOn: {text: OK, containsChild: {text: Email}}",
            "m.yaml:3:21: tapOn: the selector field 'containsChild' is not supported",
        ),
        (
            "- tapOn: {text: OK, below: {text: Email, childOf: {id: form}}}",
            "m.yaml:3:42: tapOn below: the selector in 'below' cannot have 'childOf' itself.",
        ),
        ("- assertVisible: {id: wifi_switch, checked: maybe}", "m.yaml:3:36: assertVisible: 'checked' must be true"),
        ("- tapOn: {text: OK, above: [Email]}", "m.yaml:3:28: tapOn above: expected a text or a selector mapping"),
        ("- pressKey: Lock", "m.yaml:3:3: pressKey: unknown key 'Lock'"),
        ("- scrollUntilVisible: {element: OK, direction: LEFT}", "m.yaml:3:3: scrollUntilVisible: direction LEFT"),
        ("- swipe: {start: '50%, 90%', end: '50%, 10%'}", "m.yaml:3:3: swipe: '50%, 10%' must be absolute pixels"),
        ("- inputText: ${output.user}", "m.yaml:3:3: '${output.user}' is a JavaScript expression"),
        ("- runFlow: {when: {true: '${x}'}, commands: [back]}", "m.yaml:3:20: runFlow: 'true:' conditions"),
        ("- launchApp: {arguments: {a: 1}}", "m.yaml:3:15: launchApp: 'arguments' is not supported."),
    ],
)
def test_maestro_errors_name_the_place(line, expected):
    with pytest.raises(FlowInvalid) as caught:
        flow_parse(f"appId: com.cognisim.demo\n---\n{line}\n", filename="m.yaml")
    assert str(caught.value).startswith(expected), str(caught.value)


NUMBER_FIELDS = [
    ("extendedWaitUntil", "{visible: OK, timeout: %s}", "timeout"),
    ("extendedWaitUntil", "{notVisible: OK, timeout: %s}", "timeout"),
    ("scrollUntilVisible", "{element: OK, timeout: %s}", "timeout"),
    ("swipe", "{start: '1, 2', end: '3, 4', duration: %s}", "duration"),
    ("swipe", "{direction: UP, duration: %s}", "duration"),
    ("tapOn", "{text: OK, repeat: %s}", "repeat"),
    ("tapOn", "{text: OK, index: %s}", "index"),
    ("eraseText", "{charactersToErase: %s}", "charactersToErase"),
    ("repeat", "{times: %s, commands: [back]}", "times"),
    ("retry", "{maxRetries: %s, commands: [back]}", "maxRetries"),
]


@pytest.mark.parametrize(("command", "body", "field"), NUMBER_FIELDS)
@pytest.mark.parametrize("bad", ["abc", "1.5", "'12 ms'", "[1]", "{a: 1}", "true", ".inf"])
def test_a_number_field_that_is_not_a_whole_number_is_refused_by_name(command, body, field, bad):
    """They were read with int(): a ValueError, a 500 from the API and a traceback from `cognisim convert`."""
    with pytest.raises(FlowInvalid) as caught:
        flow_parse(f"appId: com.cognisim.demo\n---\n- {command}: {body % bad}\n", filename="m.yaml")
    assert f"'{field}' must be a whole number" in str(caught.value), str(caught.value)


def test_erase_text_takes_its_count_bare_or_as_a_field():
    with pytest.raises(FlowInvalid, match="'charactersToErase' must be a whole number"):
        flow_parse("appId: com.cognisim.demo\n---\n- eraseText: abc\n", filename="m.yaml")
    with pytest.raises(FlowInvalid, match="eraseText: .*'count'"):
        flow_parse("appId: com.cognisim.demo\n---\n- eraseText: {count: 3}\n", filename="m.yaml")


@pytest.mark.parametrize(("command", "body", "field"), NUMBER_FIELDS)
def test_a_number_field_may_be_written_as_text_or_as_a_whole_float(command, body, field):
    for good in ("2", "'2'", "2.0"):
        assert flow_parse(f"appId: com.cognisim.demo\n---\n- {command}: {body % good}\n", filename="m.yaml")


def test_a_flow_for_ios_only_is_skipped_and_a_header_without_commands_is_refused():
    flow = flow_parse(
        "appId: com.cognisim.demo\n---\n- runFlow: {when: {platform: iOS}, commands: [back]}\n- back\n",
        filename="m.yaml",
    )
    assert [s.data for s in flow.steps] == [{"action": "press_key", "key": "back"}]
    with pytest.raises(FlowInvalid) as caught:
        flow_parse("appId: com.cognisim.demo\nname: x\n", filename="m.yaml")
    assert "a header (appId: …), a line '---', then the list of commands" in str(caught.value)


def test_convert_prints_the_native_form_which_parses_to_the_same_steps():
    native = maestro_convert(FLOW)
    document = yaml.safe_load(native)
    assert document["app"] == "com.cognisim.demo" and document["env"] == {"EMAIL": "demo@example.com"}
    assert document["steps"][2] == {"tap": {"id": "email"}} and document["steps"][3] == {"type": {"text": "${EMAIL}"}}
    assert [s.data for s in flow_parse(native, filename="n.yaml").steps] == [
        s.data for s in flow_parse(FLOW, filename="m.yaml").steps
    ]
    with pytest.raises(MaestroProblem):
        maestro_convert("name: x\nsteps: [screenshot]\n")


def test_the_command_list_of_the_issue_is_covered():
    wanted = [
        "launchApp",
        "tapOn",
        "doubleTapOn",
        "longPressOn",
        "inputText",
        "eraseText",
        "assertVisible",
        "assertNotVisible",
        "extendedWaitUntil",
        "scrollUntilVisible",
        "swipe",
        "scroll",
        "back",
        "pressKey",
        "hideKeyboard",
        "waitForAnimationToEnd",
        "takeScreenshot",
        "stopApp",
        "killApp",
        "clearState",
        "runFlow",
        "repeat",
        "retry",
    ]
    assert set(wanted) <= set(COMMANDS)


def test_native_steps_export_to_a_maestro_file_that_translates_back_to_the_same_steps():
    native = flow_parse(
        "name: Round trip\napp: com.cognisim.demo\nsteps:\n"
        "  - launch_app: {package: com.cognisim.demo, clear_state: true}\n"
        "  - type: {text: demo@example.com, into: {id: email}}\n"
        "  - tap: {text: Sign in, index: 1}\n"
        "  - press_key: {key: enter}\n"
        "  - repeat: {times: 2, steps: [{swipe: {direction: up}}]}\n"
        "  - run_flow:\n"
        "      when: {not_visible: {text: Item 30}}\n"
        "      steps: [{scroll_until_visible: {text: Item 30, direction: down}}]\n"
        "  - retry: {max_attempts: 3, steps: [{assert_visible: {text: Item 30}}]}\n"
        "  - tap: {x: 10, y: 20}\n"
        "    optional: true\n",
        filename="n.yaml",
    )
    exported = maestro_export(name="Round trip", app="com.cognisim.demo", steps=[s.data for s in native.steps])
    back = flow_parse(exported, filename="m.yaml")
    assert back.syntax == "maestro" and back.name == "Round trip"
    focus_email = {"action": "tap", "id": "email"}
    # Maestro's text is Maestro's (a regex, or the text itself, on text or content-desc): `text_match: maestro`
    maestro = {"text_match": "maestro"}
    assert [s.data for s in back.steps] == [
        native.steps[0].data,
        focus_email,
        {"action": "type", "text": "demo@example.com"},
        {"action": "tap", "text": "Sign in", **maestro, "index": 1},
        *[s.data for s in native.steps[3:5]],
        {
            "action": "run_flow",
            "when": {"not_visible": {"text": "Item 30", **maestro}},
            "steps": [{"action": "scroll_until_visible", "text": "Item 30", **maestro, "direction": "down"}],
        },
        {"action": "retry", "max_attempts": 3, "steps": [{"action": "assert_visible", "text": "Item 30", **maestro}]},
        native.steps[7].data,
    ]
    assert maestro_export(name="Round trip", app="com.cognisim.demo", steps=[s.data for s in back.steps]) == exported
    with pytest.raises(ValueError, match="step 1 \\(sleep\\) has no Maestro command"):
        maestro_export(name="", app="com.cognisim.demo", steps=[{"action": "sleep", "ms": 10}])


SELECTORS = """\
appId: com.android.settings
---
- assertVisible: {id: wifi_switch, checked: true, enabled: true}
- tapOn:
    id: "android:id/title"
    below: Bluetooth
- longPressOn: {id: "android:id/title", above: {text: Airplane mode, index: 0}, index: 1}
- tapOn: {text: Wi-Fi, childOf: {id: recycler_view}}
- assertNotVisible: {id: bluetooth_switch, enabled: "false", selected: true, focused: false}
- assertVisible: {id: wifi_switch, rightOf: Wi-Fi, leftOf: {id: recycler_view}}
- scrollUntilVisible: {element: {text: About phone, below: {text: Location}}}
- runFlow:
    when: {notVisible: {id: airplane_switch, checked: true}}
    commands: [{tapOn: {text: Airplane mode, childOf: recycler_view}}]
"""


def test_maestro_states_and_relations_become_native_selector_fields():
    flow = flow_parse(SELECTORS, filename="m.yaml")
    assert [(s.line, s.data) for s in flow.steps] == [
        (3, {"action": "assert_visible", "id": "wifi_switch", "checked": True, "enabled": True}),
        (4, {"action": "tap", "id": "android:id/title", "below": {"text": "Bluetooth", "text_match": "maestro"}}),
        (
            7,
            {
                "action": "long_press",
                "id": "android:id/title",
                "above": {"text": "Airplane mode", "text_match": "maestro", "index": 0},
                "index": 1,
            },
        ),
        (8, {"action": "tap", "text": "Wi-Fi", "text_match": "maestro", "child_of": {"id": "recycler_view"}}),
        (
            9,
            {
                "action": "assert_not_visible",
                "id": "bluetooth_switch",
                "enabled": False,
                "selected": True,
                "focused": False,
            },
        ),
        (
            10,
            {
                "action": "assert_visible",
                "id": "wifi_switch",
                "right_of": {"text": "Wi-Fi", "text_match": "maestro"},
                "left_of": {"id": "recycler_view"},
            },
        ),
        (
            11,
            {
                "action": "scroll_until_visible",
                "text": "About phone",
                "text_match": "maestro",
                "below": {"text": "Location", "text_match": "maestro"},
                "direction": "down",
            },
        ),
        (
            12,
            {
                "action": "run_flow",
                "when": {"not_visible": {"id": "airplane_switch", "checked": True}},
                "steps": [
                    {
                        "action": "tap",
                        "text": "Airplane mode",
                        "text_match": "maestro",
                        "child_of": {"text": "recycler_view", "text_match": "maestro"},
                    }
                ],
            },
        ),
    ]
    assert flow.steps[1].label == "tap id=android:id/title below(text=Bluetooth text_match=maestro)"
    # Exported back to Maestro, they translate to the same steps.
    exported = maestro_export(name="", app="com.android.settings", steps=[s.data for s in flow.steps])
    assert [s.data for s in flow_parse(exported, filename="e.yaml").steps] == [s.data for s in flow.steps]


TEXT_AS_WRITTEN = """\
appId: com.cognisim.demo
env: {PIN: 0123, FLAG: yes}
---
- inputText: 0123
- inputText: 12:30
- inputText: true
- inputText: 1.50
- inputText: ${PIN}-${FLAG}
- tapOn: {text: false, index: 01}
- assertVisible: 2024
"""


def test_text_is_what_was_written_as_maestro_reads_yaml():
    flow = flow_parse(TEXT_AS_WRITTEN, filename="m.yaml")
    assert [s.data for s in flow.steps] == [
        {"action": "type", "text": "0123"},
        {"action": "type", "text": "12:30"},
        {"action": "type", "text": "true"},
        {"action": "type", "text": "1.50"},
        {"action": "type", "text": "0123-yes"},
        {"action": "tap", "text": "false", "text_match": "maestro", "index": 1},
        {"action": "assert_visible", "text": "2024", "text_match": "maestro"},
    ]
    converted = yaml.safe_load(maestro_convert(TEXT_AS_WRITTEN))
    assert converted["env"] == {"PIN": "0123", "FLAG": "yes"}
    assert [s["type"]["text"] for s in converted["steps"][:4]] == ["0123", "12:30", "true", "1.50"]


def test_run_flow_commands_run_with_their_own_env_with_or_without_when():
    flow = flow_parse(
        """\
appId: com.cognisim.demo
env: {WORD: outer}
---
- runFlow:
    when: {visible: Sign in}
    env: {WORD: inner, ONLY: here}
    commands:
      - inputText: ${WORD}-${ONLY}
- runFlow:
    env: {WORD: plain}
    commands:
      - inputText: ${WORD}
- runFlow:
    when: {platform: Android}
    commands:
      - inputText: ${WORD}
- runFlow: {commands: [{inputText: x}]}
""",
        filename="m.yaml",
    )
    assert flow.steps[0].data["steps"] == [{"action": "type", "text": "inner-here"}]
    assert [s.data["text"] for s in flow.steps[1:]] == ["plain", "outer", "x"]


def test_a_flow_whose_commands_do_nothing_on_android_has_no_steps():
    nothing = "appId: com.cognisim.demo\n---\n- runFlow:\n    when: {platform: iOS}\n    commands: [{tapOn: A}]\n"
    assert flow_parse(nothing, filename="m.yaml").steps == []
    flow = flow_parse(
        "appId: com.cognisim.demo\n---\n- hideKeyboard\n- waitForAnimationToEnd\n"
        "- runFlow: {when: {visible: A}, commands: [hideKeyboard]}\n- runFlow: sub.yaml\n",
        filename="m.yaml",
        files={"sub.yaml": "appId: com.cognisim.demo\n---\n- hideKeyboard\n"},
    )
    assert flow.steps == [] and flow.files == ["sub.yaml"]
    with pytest.raises(FlowInvalid, match="'steps' must be a non-empty list"):
        flow_parse("name: x\nsteps: []\n", filename="n.yaml")  # a native flow says what it runs


def test_a_label_with_a_control_character_is_refused_as_a_label():
    with pytest.raises(FlowInvalid) as caught:
        flow_parse('appId: com.cognisim.demo\n---\n- tapOn: {id: a, label: "go\\x1b[31m"}\n', filename="m.yaml")
    assert [e.format("m.yaml") for e in caught.value.errors] == [
        "m.yaml:3:18: tapOn: 'label' must not contain control characters (found U+001B)."
    ]


def test_limits_are_named_by_the_maestro_field_and_every_stage_reports():
    with pytest.raises(FlowInvalid) as caught:
        flow_parse(
            "appId: com.cognisim.demo\n---\n"
            "- retry: {maxRetries: 20, commands: [back]}\n"
            "- extendedWaitUntil: {visible: A, timeout: 100000000}\n"
            "- tapOnn: x\n"
            '- inputText: "bad\\x01"\n'
            "- repeat: {times: 5000, commands: [back]}\n"
            "- tapOn: {id: a, index: 5000}\n",  # found when the translated steps are checked
            filename="m.yaml",
        )
    assert [e.format("m.yaml") for e in caught.value.errors] == [
        "m.yaml:3:11: retry: 'maxRetries' must be a whole number from 0 to 9, not 20.",
        "m.yaml:4:35: extendedWaitUntil: 'timeout' must be a whole number from 1 to 600000, not 100000000.",
        "m.yaml:5:3: unknown Maestro command 'tapOnn'.",
        "m.yaml:6:3: inputText: 'inputText' must not contain control characters (found U+0001).",
        "m.yaml:7:12: repeat: 'times' must be a whole number from 1 to 1000, not 5000.",
        "m.yaml:8:3: step 1 (tap): 'index' must be at most 999.",
    ]


def test_maestro_text_is_matched_as_maestro_does_and_fields_combine():
    flow = flow_parse(
        "appId: com.android.settings\n---\n"
        '- assertNotVisible: ".*Invalid.*"\n'
        "- tapOn: {text: Sign in, id: sign_in}\n"
        "- tapOn: {rightOf: Wi-Fi}\n"
        "- assertVisible: {checked: true, below: {id: title}}\n"
        "- tapOn: {id: title, below: {text: 'Blue.*'}}\n",
        filename="m.yaml",
    )
    maestro = {"text_match": "maestro"}
    assert [s.data for s in flow.steps] == [
        {"action": "assert_not_visible", "text": ".*Invalid.*", **maestro},
        {"action": "tap", "text": "Sign in", **maestro, "id": "sign_in"},
        {"action": "tap", "text": ".*", **maestro, "right_of": {"text": "Wi-Fi", **maestro}},
        {"action": "assert_visible", "text": ".*", **maestro, "checked": True, "below": {"id": "title"}},
        {"action": "tap", "id": "title", "below": {"text": "Blue.*", **maestro}},
    ]
    assert flow.steps[1].label == "tap text=Sign in id=sign_in"


def test_a_maestro_id_with_a_pattern_matches_as_maestros_regex():
    flow = flow_parse(
        "appId: com.android.settings\n---\n- tapOn: {id: '(wifi|nfc)_switch'}\n- tapOn: {id: wifi_switch}\n",
        filename="m.yaml",
    )
    pattern, plain = (s.data for s in flow.steps)
    assert pattern == {"action": "tap", "id": "(wifi|nfc)_switch", "text_match": "maestro"}
    assert plain == {"action": "tap", "id": "wifi_switch"}  # a plain id matches as itself, as before
    nodes = parse(
        '<hierarchy><node text="" resource-id="com.android.settings:id/wifi_switch" bounds="[0,0][10,10]"/>'
        '<node text="" resource-id="com.android.settings:id/wifi_switcher" bounds="[0,20][10,30]"/></hierarchy>'
    )
    assert [n.resource_id for n in find_nodes(nodes, pattern)] == ["com.android.settings:id/wifi_switch"]
    assert find_nodes(nodes, {"id": "com.android.settings:id/WIFI_.*", "text_match": "maestro"})


@pytest.mark.parametrize(
    ("command", "message"),
    [
        ("- tapOn: {index: 1}", "m.yaml:3:10: tapOn: the selector needs text, id, a state or a relation."),
    ],
)
def test_selectors_and_conditions_it_cannot_honour_are_refused(command, message):
    with pytest.raises(FlowInvalid) as caught:
        flow_parse(f"appId: com.android.settings\n---\n{command}\n", filename="m.yaml")
    assert message in str(caught.value), str(caught.value)


def test_a_native_selector_with_text_and_desc_has_no_maestro_form():
    with pytest.raises(ValueError, match="both text and desc"):
        maestro_export(name="", app="a.b", steps=[{"action": "tap", "text": "A", "desc": "B"}])


def test_onflowcomplete_steps_run_always_and_export_back_to_it():
    """The hook's commands are marked `always` (they run after a failure, docs/ci.md); exported, steps marked so
    at the end become the hook again, and one before the end cannot be said in Maestro."""
    text = "appId: com.cognisim.demo\nonFlowComplete:\n  - back\n---\n- tapOn: OK\n"
    flow = flow_parse(text, filename="m.yaml")
    assert [(s.data["action"], s.always, s.data.get("always")) for s in flow.steps] == [
        ("tap", False, None),
        ("press_key", True, True),
    ]
    exported = maestro_export(name="", app="com.cognisim.demo", steps=[s.data for s in flow.steps])
    assert yaml.safe_load(exported.split("---\n")[0])["onFlowComplete"] == ["back"]
    assert [s.data for s in flow_parse(exported, filename="m.yaml").steps] == [s.data for s in flow.steps]
    with pytest.raises(ValueError, match="step 1 is marked always"):
        maestro_export(name="", app="com.cognisim.demo", steps=[s.data for s in reversed(flow.steps)])


def test_a_condition_with_visible_and_notvisible_needs_both():
    text = "appId: a.b\n---\n- runFlow: {when: {visible: A, notVisible: B}, commands: [back]}\n"
    (step,) = flow_parse(text, filename="m.yaml").steps
    maestro = {"text_match": "maestro"}
    assert step.data["when"] == {"visible": {"text": "A", **maestro}, "not_visible": {"text": "B", **maestro}}
    exported = maestro_export(name="", app="a.b", steps=[step.data])
    assert yaml.safe_load(exported.split("---\n")[1])[0]["runFlow"]["when"] == {"visible": "A", "notVisible": "B"}
