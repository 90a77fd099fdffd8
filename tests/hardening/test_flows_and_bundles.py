"""Flows and bundles cannot be made to explode or to reach a 500 (issue 17, findings 1, 2 and 7)."""

from __future__ import annotations

import copy
import json
import time

import pytest

from runs.models import Run
from sessions.models import TestSession
from tests.fuzz.strategies import VALID_BUNDLE

pytestmark = pytest.mark.django_db

BOMB = """\
a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]
b: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]
c: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]
d: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c]
e: &e [*d,*d,*d,*d,*d,*d,*d,*d,*d]
f: &f [*e,*e,*e,*e,*e,*e,*e,*e,*e]
g: &g [*f,*f,*f,*f,*f,*f,*f,*f,*f]
h: &h [*g,*g,*g,*g,*g,*g,*g,*g,*g]
i: &i [*h,*h,*h,*h,*h,*h,*h,*h,*h]
steps: [{type: {text: *i}}]
"""


def post(client, path, token, body):
    auth = {"HTTP_AUTHORIZATION": f"Token {token}"}
    return client.post(path, data=json.dumps(body), content_type="application/json", **auth)


@pytest.mark.parametrize("dry_run", [True, False])
def test_a_yaml_alias_bomb_is_refused_small_and_fast(client, alice, dry_run):
    started = time.monotonic()
    reply = post(client, "/api/runs/", alice, {"flow": BOMB, "dry_run": dry_run})
    assert (reply.status_code, reply.json()["code"]) == (400, "invalid_flow")
    assert "anchors and aliases" in reply.json()["message"] and reply.json()["errors"][0]["line"] == 1
    assert len(reply.content) < 5_000 and time.monotonic() - started < 20  # expanded, it would take minutes
    assert not Run.objects.exists()


@pytest.mark.parametrize(
    ("flow", "says"),
    [
        ("steps:\n  - " + "[" * 5000 + "]" * 5000, "nested more than 64 levels"),
        ("steps: [{action: [tap]}]", "'action' is required and must be a string"),
        ("steps: [{type: {text: \"a\\0b\"}}]", "control characters"),
        ("name: \x01\nsteps: [screenshot]", "not valid YAML"),
        ("steps: [{sleep: {ms: !!float nope}}]", "not valid YAML"),
        ("steps:\n" + "  - dance\n" * 500, "unknown action"),
    ],
)
def test_malformed_flows_are_a_400_with_located_errors(client, alice, flow, says):
    reply = post(client, "/api/runs/", alice, {"flow": flow, "dry_run": True})
    assert (reply.status_code, reply.json()["code"]) == (400, "invalid_flow"), reply.json()
    assert says in reply.json()["message"]
    assert len(reply.json()["errors"]) <= 100


def bundle(**changes):
    data = copy.deepcopy(VALID_BUNDLE)
    for path, value in changes.items():
        target = data
        *parents, last = path.split("__")
        for part in parents:
            target = target[int(part)] if part.isdigit() else target[part]
        target[last] = value
    return data


@pytest.mark.parametrize(
    ("body", "says"),
    [
        (bundle(steps__0__status=["COMPLETED"]), "steps[0].status"),
        (bundle(steps__0__action=["tap"]), "steps[0].action"),
        (bundle(session__app="not a package"), "session.app"),
        (bundle(session__name="x" * 100_000), "session.name"),
        (bundle(version=True), "Unknown bundle version"),
        (bundle(events=[{"seq": 1, "type": "X", "deep": [[[[1]]]] * 2}] * 2, steps__0__effect_hash="0" * 64),
         "effect_hash"),
    ],
)
def test_bundles_are_validated_like_the_api(client, alice, body, says):
    reply = post(client, "/api/replays/", alice, {"bundle": body})
    assert (reply.status_code, reply.json()["code"]) == (400, "invalid_bundle"), reply.json()
    assert says in reply.json()["message"]
    assert not TestSession.objects.exists()


def test_a_valid_bundle_starts_a_replay(client, alice):
    reply = post(client, "/api/replays/", alice, {"bundle": bundle()})
    assert reply.status_code == 201, reply.json()
    assert Run.objects.get().kind == "replay" and Run.objects.get().name == "replay of tour"
