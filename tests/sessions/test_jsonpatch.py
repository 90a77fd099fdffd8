import pytest

from sessions.jsonpatch import json_apply, json_diff


@pytest.mark.parametrize(
    ("before", "after"),
    [
        ({}, {"a": 1}),
        ({"a": 1}, {}),
        ({"a": 1, "b": {"c": 2, "d": 3}}, {"a": 1, "b": {"c": 4}, "e/f~": [1]}),
        ({"device": {"foreground": "x"}}, {"device": {"foreground": "y"}, "inputs": {"0": "v"}}),
    ],
)
def test_diff_then_apply_round_trips(before, after):
    patch = json_diff(before, after)
    assert json_apply(before, patch) == after
    assert json_diff(after, after) == []


def test_apply_does_not_touch_its_input_and_refuses_bad_ops():
    doc = {"a": {"b": 1}}
    assert json_apply(doc, [{"op": "replace", "path": "/a/b", "value": 2}]) == {"a": {"b": 2}}
    assert doc == {"a": {"b": 1}}
    with pytest.raises(ValueError):
        json_apply(doc, [{"op": "replace", "path": "/zz", "value": 2}])
    with pytest.raises(ValueError):
        json_apply(doc, [{"op": "move", "path": "/a", "from": "/b"}])
