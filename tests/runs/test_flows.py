"""Flow files: the header, short and long step forms, env variables, sub-flows, and line-numbered errors."""

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
    assert flow.steps[0].label == "1 launch_app package=com.cognisim.demo"


def test_env_from_the_caller_overrides_the_flow():
    flow = flow_parse(GOOD, env={"EMAIL": "other@example.com", "PASSWORD": "x"})
    assert flow.steps[1].data["text"] == "other@example.com"


def test_an_unknown_variable_is_an_error_on_its_line():
    assert errors(GOOD) == [
        "login.yaml:9: flows.sign_in step 2 (type): unknown variable '${PASSWORD}'; define it under 'env:'."
    ]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("name: x\nsteps:\n  - tap: {text: [OK\n", "login.yaml:4: not valid YAML"),
        (
            "name: x\nsteps:\n  - press_key: {key: home}\n  - tapp: {text: OK}\n",
            "login.yaml:4: step 2 (tapp): Unknown action 'tapp'",
        ),
        ("name: x\nsteps:\n  - type:\n      into: {id: email}\n", "login.yaml:3: step 1 (type): 'text' is required."),
        ("name: x\nsteps:\n  - sleep: {ms: soon}\n", "login.yaml:3: step 1 (sleep): 'ms' must be an integer."),
        (
            "name: x\nsteps:\n  - screenshot\n  - tap:\n      text: OK\n      colour: red\n",
            "login.yaml:6: step 2 (tap): Unknown field 'colour' for action 'tap'.",
        ),
        ("name: x\nsteps:\n  - {action: tap, into: {id: 3}}\n", "login.yaml:3: step 1 (tap): Unknown field 'into'"),
        ("name: x\nsteps:\n  - run_flow: nowhere\n", "login.yaml:3: step 1 (run_flow): no sub-flow 'nowhere'"),
        (
            "name: x\nflows:\n  a:\n    - run_flow: a\nsteps:\n  - run_flow: a\n",
            "login.yaml:4: flows.a step 1 (run_flow): 'a' runs itself",
        ),
        ("name: x\ncolour: red\nsteps: [screenshot]\n", "login.yaml:2: Unknown field 'colour'"),
        ("name: x\napp: not a package\nsteps: [screenshot]\n", "login.yaml:2: 'app' is not a valid Android package"),
        ("name: x\nsteps: []\n", "login.yaml:2: 'steps' must be a non-empty list"),
        ("- tap\n", "login.yaml:1: a flow is a mapping"),
        (
            "name: x\nsteps:\n  - ask_user: {prompt: Which one}\n",
            "login.yaml:3: step 1 (ask_user): ask_user needs a person",
        ),
    ],
)
def test_invalid_flows_give_line_numbered_errors(text, expected):
    found = errors(text)
    assert found and found[0].startswith(expected), found


def test_every_error_is_reported_not_just_the_first():
    found = errors("name: x\nsteps:\n  - tapp: {}\n  - screenshot\n  - sleep: {ms: -1}\n")
    assert [f.split(":")[1] for f in found] == ["3", "5"]
