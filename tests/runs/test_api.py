"""The runs API's refusals of bad input: a 400 that names the field, down to the key of a map."""

from __future__ import annotations

import pytest

from runs.models import Run, SavedFlow
from sessions.models import TestSession
from tests.runs.test_cli_runs import LOGIN
from tests.runs.test_saved_flows import call

pytestmark = pytest.mark.django_db(transaction=True)
NAMES = "letters, digits and _, not starting with a digit."


@pytest.mark.parametrize(
    ("path", "body", "field", "message"),
    [
        ("/api/runs/", {"env": {"A": 5}}, "env.A", "Must be a string."),
        ("/api/runs/", {"env": {"A": "ok", "B": [1]}}, "env.B", "Must be a string."),
        ("/api/runs/", {"meta": {"k": {"x": 1}}}, "meta.k", "Must be a string."),
        ("/api/runs/", {"secrets": {"S": True}}, "secrets.S", "Must be a string."),
        ("/api/runs/", {"files": {"a.yaml": 1}}, "files.a.yaml", "Must be a string."),
        ("/api/runs/", {"env": 5}, "env", "Must be an object."),
        ("/api/flows/", {"env": {"A": 5}}, "env.A", "Must be a string."),
        ("/api/runs/", {"env": {"bad key": "x"}}, "env", f"'bad key' is not a variable name: {NAMES}"),
        (
            "/api/runs/",
            {"secrets": {"1PIN": "x"}, "dry_run": True},
            "secrets",
            f"'1PIN' is not a variable name: {NAMES}",
        ),
        ("/api/flows/", {"env": {"A-B": "x"}}, "env", f"'A-B' is not a variable name: {NAMES}"),
    ],
)
def test_a_map_entry_of_the_wrong_type_is_named_by_its_key(client, alice, path, body, field, message):
    reply = call(client, "post", path, alice, {"flow": LOGIN, **body})
    assert reply.status_code == 400, reply.json()
    assert reply.json() == {"code": "invalid", "message": f"{field}: {message}", "field": field}
    assert not Run.objects.exists() and not SavedFlow.objects.exists()


@pytest.mark.parametrize(
    ("path", "extra"), [("/api/runs/", {"dry_run": True}), ("/api/runs/", {}), ("/api/flows/", {})]
)
def test_an_empty_flow_is_an_invalid_flow_as_a_blank_one_is(client, alice, path, extra):
    answers = [
        call(client, "post", path, alice, {"flow": text, "filename": "empty.yaml", **extra}) for text in ("", "  \n")
    ]
    assert [a.status_code for a in answers] == [400, 400], [a.json() for a in answers]
    empty, blank = (a.json() for a in answers)
    assert empty["code"] == "invalid_flow", empty
    assert empty == blank
    assert empty["errors"][0]["file"] == "empty.yaml" and empty["errors"][0]["line"] == 1, empty
    assert empty["errors"][0]["text"].startswith("empty.yaml:1:1: "), empty
    assert not Run.objects.exists() and not SavedFlow.objects.exists()


@pytest.mark.parametrize("dry_run", [True, False])
def test_a_run_on_an_unknown_device_is_refused_before_it_starts(client, alice, dry_run):
    reply = call(client, "post", "/api/runs/", alice, {"flow": LOGIN, "device": "nope", "dry_run": dry_run})
    assert reply.status_code == 400, reply.json()
    assert reply.json() == {
        "code": "invalid",
        "message": "device: There is no device 'nope'. GET /api/devices/ lists them.",
        "field": "device",
    }
    assert not Run.objects.exists() and not TestSession.objects.exists()
