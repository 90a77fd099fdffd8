"""Flow files: the header, step forms, variables, secrets, control flow, other files, and located errors."""

from __future__ import annotations

import pytest

from runs.flows import FlowInvalid, flow_parse

GOOD = """\
name: Sign in
app: com.cognisim.demo
tags: [smoke, login]
env:
  EMAIL: demo@example.com
flows:
  sign_in:
    - type: {text: "${EMAIL}", into: {id: email}}
    - {action: type, text: "${PASSWORD}", into: {id: password}}
steps:
  - launch_app: {package: com.cognisim.demo, clear_state: true}
  - run_flow: sign_in
  - {action: tap, id: sign_in, name: Press sign in}
  - screenshot
  - assert_visible:
      text: Welcome, Demo!
"""


def errors(text: str, **kwargs):
    with pytest.raises(FlowInvalid) as caught:
        flow_parse(text, filename="login.yaml", **kwargs)
    return [e.format("login.yaml") for e in caught.value.errors]


def test_a_flow_expands_sub_flows_and_substitutes_variables():
    flow = flow_parse(GOOD, filename="login.yaml", env={"PASSWORD": "secret123"})
    assert (flow.name, flow.app, flow.tags) == ("Sign in", "com.cognisim.demo", ["smoke", "login"])
    assert [s.data for s in flow.steps] == [
        {"action": "launch_app", "package": "com.cognisim.demo", "clear_state": True},
        {"action": "type", "text": "demo@example.com", "into": {"id": "email"}},
        {"action": "type", "text": "secret123", "into": {"id": "password"}},
        {"action": "tap", "id": "sign_in"},
        {"action": "screenshot"},
        {"action": "assert_visible", "text": "Welcome, Demo!"},
    ]
    assert [s.line for s in flow.steps] == [11, 8, 9, 13, 14, 15]
    assert flow.steps[3].label == "Press sign in"
    assert flow.steps[0].label == "launch_app package=com.cognisim.demo clear_state=true"  # no number: stable names


def test_a_label_says_when_launch_app_clears_the_state():
    def label(step: str) -> str:
        return flow_parse(f"name: n\nsteps:\n  - {step}\n", filename="f.yaml").steps[0].label

    assert label("launch_app: {package: com.example.app, clear_state: true}") == (
        "launch_app package=com.example.app clear_state=true"
    )
    assert label("launch_app: {package: com.example.app, clear_state: false}") == "launch_app package=com.example.app"
    assert label("launch_app: {package: com.example.app}") == "launch_app package=com.example.app"


def test_env_from_the_caller_overrides_the_flow():
    flow = flow_parse(GOOD, env={"EMAIL": "other@example.com", "PASSWORD": "x"})
    assert flow.steps[1].data["text"] == "other@example.com"


def test_an_unknown_variable_is_an_error_on_its_line():
    assert errors(GOOD) == [
        "login.yaml:9:7: flows.sign_in step 2 (type): unknown variable '${PASSWORD}'; "
        "define it under 'env:' or pass -e."
    ]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("name: x\nsteps:\n  - tap: {text: [OK\n", "login.yaml:4:1: not valid YAML"),
        (
            "name: x\nsteps:\n  - press_key: {key: home}\n  - tapp: {text: OK}\n",
            "login.yaml:4:5: step 2: unknown action 'tapp'",
        ),
        ("name: x\nsteps:\n  - type:\n      into: {id: email}\n", "login.yaml:3:5: step 1 (type): 'text' is required."),
        ("name: x\nsteps:\n  - sleep: {ms: soon}\n", "login.yaml:3:13: step 1 (sleep): 'ms' must be an integer."),
        (
            "name: x\nsteps:\n  - screenshot\n  - tap:\n      text: OK\n      colour: red\n",
            "login.yaml:6:7: step 2 (tap): Unknown field 'colour' for action 'tap'.",
        ),
        ("name: x\nsteps:\n  - {action: tap, into: {id: 3}}\n", "login.yaml:3:19: step 1 (tap): Unknown field 'into'"),
        ("name: x\nsteps:\n  - run_flow: nowhere\n", "login.yaml:3:5: step 1 (run_flow): no sub-flow 'nowhere'"),
        (
            "name: x\nflows:\n  a:\n    - run_flow: a\nsteps:\n  - run_flow: a\n",
            "login.yaml:4:7: flows.a step 1 (run_flow): 'a' runs itself",
        ),
        ("name: x\ncolour: red\nsteps: [screenshot]\n", "login.yaml:2:1: Unknown field 'colour'"),
        ("name: x\napp: not a package\nsteps: [screenshot]\n", "login.yaml:2:1: 'app' is not a valid Android package"),
        ("name: x\nsteps: []\n", "login.yaml:2:1: 'steps' must be a non-empty list"),
        ("- tap\n", "login.yaml:1:1: a flow is a mapping"),
        (
            "name: x\nsteps:\n  - ask_user: {prompt: Which one}\n",
            "login.yaml:3:5: step 1 (ask_user): ask_user needs a person",
        ),
        # Stricter YAML: duplicate keys, at any depth, with line and column.
        ("name: x\nname: y\nsteps: [screenshot]\n", "login.yaml:2:1: duplicate key 'name' (first defined on line 1)"),
        (
            "name: x\nsteps:\n  - tap:\n      text: OK\n      text: Cancel\n",
            "login.yaml:5:7: duplicate key 'text' (first defined on line 4)",
        ),
        # An unknown action is named as such, whatever shape its fields have.
        ('name: x\nsteps:\n  - tapOn: "Sign in"\n', "login.yaml:3:5: step 1: unknown action 'tapOn'"),
        ("name: x\nsteps:\n  - tapp\n", "login.yaml:3:5: step 1: unknown action 'tapp'"),
    ],
)
def test_invalid_flows_give_line_numbered_errors(text, expected):
    found = errors(text)
    assert found and found[0].startswith(expected), found


def test_every_error_is_reported_not_just_the_first():
    found = errors("name: x\nsteps:\n  - tapp: {}\n  - screenshot\n  - sleep: {ms: -1}\n")
    assert [f.split(":")[1] for f in found] == ["3", "5"]


CONTROL = """\
name: Control
app: com.cognisim.demo
steps:
  - repeat:
      times: 3
      steps:
        - swipe: {direction: up}
  - repeat:
      while: {not_visible: {text: Item 30}}
      steps: [{swipe: {direction: up}}]
  - retry:
      max_attempts: 2
      steps:
        - tap: {text: Item 30}
        - assert_visible: {text: Item 30}
  - run_flow:
      when: {visible: {text: Sign out}}
      steps:
        - tap: {text: Sign out}
  - tap: {id: nothing_here}
    optional: true
"""


def test_control_flow_becomes_compound_steps_with_their_inner_steps():
    flow = flow_parse(CONTROL, filename="c.yaml")
    assert [s.data["action"] for s in flow.steps] == ["repeat", "repeat", "retry", "run_flow", "tap"]
    repeat, loop, retry, when, optional = flow.steps
    assert repeat.data == {"action": "repeat", "times": 3, "steps": [{"action": "swipe", "direction": "up"}]}
    assert loop.data["while"] == {"not_visible": {"text": "Item 30"}} and "times" not in loop.data
    assert retry.data["max_attempts"] == 2 and [c.line for c in retry.children] == [14, 15]
    assert when.data == {
        "action": "run_flow",
        "when": {"visible": {"text": "Sign out"}},
        "steps": [{"action": "tap", "text": "Sign out"}],
    }
    assert optional.optional and optional.data == {"action": "tap", "id": "nothing_here", "optional": True}
    assert [s.label for s in flow.steps] == [
        "repeat 3 times",
        "repeat while not_visible text=Item 30",
        "retry up to 2 attempts",
        "run_flow 1 step when visible text=Sign out",
        "tap id=nothing_here",
    ]
    assert retry.plan() == {
        "label": "retry up to 2 attempts",
        "line": 11,
        "children": [{"label": "tap text=Item 30", "line": 14}, {"label": "assert_visible text=Item 30", "line": 15}],
    }


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("name: x\nsteps:\n  - repeat: {steps: [screenshot]}\n", "c.yaml:3:5: step 1 (repeat): give 'times', 'while'"),
        ("name: x\nsteps:\n  - repeat: {times: 0, steps: [screenshot]}\n", "c.yaml:3:14: step 1 (repeat): 'times'"),
        ("name: x\nsteps:\n  - retry: {max_attempts: 2}\n", "c.yaml:3:5: step 1 (retry): 'steps'"),
        (
            "name: x\nsteps:\n  - repeat: {times: 2, while: {shown: {text: A}}, steps: [screenshot]}\n",
            "c.yaml:3:24: step 1 (repeat): a condition is {visible: SELECTOR}, {not_visible: SELECTOR} or both",
        ),
        (
            "name: x\nsteps:\n  - retry: {max_attempts: 2, steps: [{tap: {colour: red}}]}\n",
            "c.yaml:3:45: step 1 (retry) step 1 (tap): Unknown field 'colour'",
        ),
        (
            "name: x\nsteps:\n  - repeat: {times: 1000, steps: [{repeat: {times: 1000, steps: [screenshot]}}]}\n",
            "c.yaml:3:5: step 1 (repeat): The block runs more than 10000 steps",
        ),
        ("name: x\nsteps:\n  - tap: {text: OK}\n    optional: maybe\n", "c.yaml:4:5: step 1 (tap): 'optional' must be"),
        (
            "name: x\nsteps:\n  - screenshot\n  - sleep: {ms: 1}\n    always: 1\n",
            "c.yaml:5:5: step 2 (sleep): 'always' must be true or false.",
        ),
        (
            "name: x\nsteps:\n  - retry: {max_attempts: 2, steps: [{screenshot: {}, always: true}]}\n",
            "c.yaml:3:5: step 1 (retry): steps[0]: 'always' is for a step of the session",
        ),
    ],
)
def test_control_flow_errors_are_located(text, expected):
    with pytest.raises(FlowInvalid) as caught:
        flow_parse(text, filename="c.yaml")
    found = [e.format("c.yaml") for e in caught.value.errors]
    assert found and found[0].startswith(expected), found


def test_secrets_stay_placeholders_and_their_values_are_kept_apart():
    text = "name: x\nsecrets: [PASSWORD]\nsteps:\n  - type: {text: '${PASSWORD}', into: {id: password}}\n"
    flow = flow_parse(text, env={"PASSWORD": "hunter2"})
    assert flow.steps[0].data["text"] == "${PASSWORD}" and "hunter2" not in repr(flow.steps)
    assert flow.steps[0].data["secret"] is True  # a typed secret is also a secret step
    assert flow.secrets == ["PASSWORD"] and "PASSWORD" not in flow.env
    cli_secret = flow_parse(text.replace("secrets: [PASSWORD]\n", ""), secrets={"PASSWORD": "hunter2"})
    assert cli_secret.steps[0].data["text"] == "${PASSWORD}" and cli_secret.secrets == ["PASSWORD"]
    with pytest.raises(FlowInvalid) as caught:
        flow_parse(text)
    assert "the secret '${PASSWORD}' has no value" in str(caught.value)
    with pytest.raises(FlowInvalid) as caught:
        flow_parse(text, secrets={"PASSWORD": ""})  # a CI secret that is not set arrives empty
    assert "the secret '${PASSWORD}' is empty" in str(caught.value)


MAIN = """\
name: Main
env: {WHO: demo}
steps:
  - run_flow: common/sign_in.yaml
  - run_flow: {file: common/check.yaml, env: {TEXT: "Welcome, ${WHO}"}}
  - run_flow:
      file: common/check.yaml
      when: {visible: {text: Sign out}}
"""
SIGN_IN = """\
appId: com.cognisim.demo
---
- tapOn: {id: email}
- inputText: ${WHO}@example.com
"""
CHECK = "name: check\nenv: {TEXT: nothing}\nsteps:\n  - assert_visible: {text: '${TEXT}'}\n"


def test_flows_from_other_files_are_inlined_with_their_own_lines_and_variables():
    files = {"flows/common/sign_in.yaml": SIGN_IN, "flows/common/check.yaml": CHECK}
    flow = flow_parse(MAIN, filename="flows/main.yaml", files=files)
    assert [(s.file, s.line, s.label) for s in flow.steps] == [
        ("flows/common/sign_in.yaml", 3, "tap id=email"),
        ("flows/common/sign_in.yaml", 4, "type text=demo@example.com"),
        ("flows/common/check.yaml", 4, "assert_visible text=Welcome, demo"),
        ("", 6, "run_flow common/check.yaml when visible text=Sign out"),
    ]
    assert flow.steps[3].data["steps"] == [{"action": "assert_visible", "text": "nothing"}]
    assert flow.files == ["flows/common/sign_in.yaml", "flows/common/check.yaml"]


def test_other_files_must_be_sent_exist_and_not_include_themselves():
    with pytest.raises(FlowInvalid) as caught:
        flow_parse(MAIN, filename="flows/main.yaml", files={"flows/common/check.yaml": CHECK})
    assert (
        "flows/main.yaml:4:5: step 1 (run_flow): the file 'common/sign_in.yaml' (flows/common/sign_in.yaml) was "
        "not sent" in str(caught.value)
    )
    loop = {"a.yaml": "name: a\nsteps:\n  - run_flow: b.yaml\n", "b.yaml": "name: b\nsteps:\n  - run_flow: a.yaml\n"}
    with pytest.raises(FlowInvalid) as caught:
        flow_parse(loop["a.yaml"], filename="a.yaml", files=loop)
    assert "b.yaml:3:5: step 1 (run_flow): 'a.yaml' runs itself (b.yaml → a.yaml)" in str(caught.value)
    broken = {"flows/common/sign_in.yaml": SIGN_IN + "- evalScript: x\n", "flows/common/check.yaml": CHECK}
    with pytest.raises(FlowInvalid) as caught:
        flow_parse(MAIN, filename="flows/main.yaml", files=broken)
    assert (
        caught.value.errors[0]
        .format("flows/main.yaml")
        .startswith("flows/common/sign_in.yaml:5:3: the Maestro command 'evalScript' cannot run on CogniSim")
    )


def test_plain_scalars_are_read_as_yaml_1_2_and_text_fields_keep_what_was_written():
    flow = flow_parse(
        """\
name: Text
env: {PIN: 0123, FLAG: yes, ON: on, T: 12:30, B: true}
steps:
  - type: {text: 0123, into: {id: 007}}
  - type: {text: "${PIN} ${FLAG} ${ON} ${T} ${B}"}
  - type: {text: 1.50}
  - tap: {text: true, index: 0x2}
  - run_flow: {file: other.yaml, env: {N: 0123, F: false}}
""",
        filename="login.yaml",
        files={"other.yaml": "name: o\nsteps:\n  - type: {text: '${N}-${F}'}\n"},
    )
    assert [s.data.get("text") for s in flow.steps] == ["0123", "0123 yes on 12:30 true", "1.50", "true", "0123-false"]
    assert flow.steps[0].data["into"] == {"id": "007"} and flow.steps[3].data["index"] == 2
    assert type(flow.steps[3].data["index"]) is int  # a number field gets a plain number
    assert flow.env == {"PIN": "0123", "FLAG": "yes", "ON": "on", "T": "12:30", "B": "true"}
    assert errors("name: x\nsteps:\n  - launch_app: {package: com.a.b, clear_state: yes}\n") == [
        "login.yaml:3:36: step 1 (launch_app): 'clear_state' must be true or false."  # `yes` is text in YAML 1.2
    ]


def test_env_of_a_run_flow_with_steps_applies_to_its_steps_with_or_without_when():
    flow = flow_parse(
        """\
name: Env
env: {WORD: outer}
steps:
  - run_flow: {when: {visible: {text: A}}, env: {WORD: inner, ONLY: here}, steps: [{type: {text: "${WORD}-${ONLY}"}}]}
  - run_flow: {env: {WORD: plain}, steps: [{type: {text: "${WORD}"}}]}
  - run_flow: {steps: [{type: {text: "${WORD}"}}]}
  - type: {text: "${WORD}"}
""",
        filename="login.yaml",
    )
    assert flow.steps[0].data["steps"] == [{"action": "type", "text": "inner-here"}]
    assert [s.data for s in flow.steps[1:]] == [{"action": "type", "text": t} for t in ("plain", "outer", "outer")]


def test_control_characters_in_names_are_refused_where_they_stand():
    assert errors('name: "Sign\\x1b in"\nsteps:\n  - {tap: {id: a}, name: "go\\x01"}\n') == [
        "login.yaml:1:1: 'name' must not contain control characters (found U+001B).",
        "login.yaml:3:20: step 1 (tap): 'name' must not contain control characters (found U+0001).",
    ]


def test_variables_in_a_file_path_take_their_values_and_an_unknown_one_is_an_error():
    files = {"sub/other.yaml": "name: o\nsteps:\n  - screenshot\n"}
    text = (
        "name: x\nenv: {DIR: sub}\nsteps:\n"
        "  - run_flow: ${DIR}/other.yaml\n  - run_flow: {file: '${WHERE}/other.yaml'}\n"
    )
    assert errors(text, files=files) == [
        "login.yaml:5:16: step 2 (run_flow): unknown variable '${WHERE}'; define it under 'env:' or pass -e."
    ]
    flow = flow_parse(text, filename="login.yaml", files=files, env={"WHERE": "sub"})
    assert [s.data for s in flow.steps] == [{"action": "screenshot"}] * 2 and flow.files == ["sub/other.yaml"]


def test_labels_tell_steps_apart_by_index_and_count_in_the_singular():
    flow = flow_parse(
        """\
name: Labels
steps:
  - tap: {id: item, index: 0}
  - tap: {id: item, index: 2}
  - tap: {id: item}
  - type: {text: x, into: {id: field, index: 1}}
  - retry: {max_attempts: 1, steps: [screenshot]}
  - run_flow: {when: {visible: {text: A, index: 3}}, steps: [screenshot]}
  - run_flow: {when: {visible: {text: A}}, steps: [screenshot, screenshot]}
""",
        filename="login.yaml",
    )
    assert [s.label for s in flow.steps] == [
        "tap id=item index=0",
        "tap id=item index=2",
        "tap id=item",
        "type text=x into.id=field into.index=1",
        "retry up to 1 attempt",
        "run_flow 1 step when visible text=A index=3",
        "run_flow 2 steps when visible text=A",
    ]


def test_a_run_flow_in_place_passes_its_marks_to_the_steps_it_stands_for():
    """`optional` and `always` on a `run_flow` without `when` (whose steps take its place) mark each of them."""
    text = (
        "name: x\nflows:\n  out: [screenshot, {tap: {text: Sign out}}]\n"
        "steps:\n  - tap: {text: OK}\n  - run_flow: out\n    always: true\n    optional: true\n"
    )
    steps = flow_parse(text, filename="c.yaml").steps
    assert [(s.data, s.always, s.optional) for s in steps] == [
        ({"action": "tap", "text": "OK"}, False, False),
        ({"action": "screenshot", "optional": True, "always": True}, True, True),
        ({"action": "tap", "text": "Sign out", "optional": True, "always": True}, True, True),
    ]
    assert steps[1].plan() == {"label": "screenshot", "line": 3, "optional": True, "always": True}
