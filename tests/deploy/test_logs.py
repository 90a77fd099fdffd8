"""Log lines carry the ids bound where they were logged: text by default, JSON with LOG_FORMAT=json."""

from __future__ import annotations

import asyncio
import io
import json
import logging
import logging.config
from types import SimpleNamespace
from typing import Any

import pytest

from cognisim_site import worker_hooks
from cognisim_site.logs import LogContextMiddleware
from core.logs import log_context, log_ids, logging_config


@pytest.fixture
def lines():
    """Configure logging as a process would (LOG_FORMAT given), capture what the handler writes."""
    captured: list[io.StringIO] = []
    saved = logging.getLogger().handlers[:], logging.getLogger().level

    def configure(fmt: str) -> io.StringIO:
        logging.config.dictConfig(logging_config(fmt=fmt, level="INFO"))
        stream = io.StringIO()
        logging.getLogger().handlers[0].setStream(stream)
        captured.append(stream)
        return stream

    yield configure
    root = logging.getLogger()
    root.handlers, root.level = saved


def test_json_lines_carry_the_bound_ids_and_the_extras(lines):
    out = lines("json")
    log = logging.getLogger("cognisim.test")
    with log_context(session_id="s-1", request_id="r-1"):
        with log_context(step_id=7):
            log.info("step %s done", 7, extra={"duration_ms": 12})
        log.warning("after the step")
    log.info("outside")
    first, second, third = (json.loads(line) for line in out.getvalue().splitlines())
    assert first["message"] == "step 7 done" and first["level"] == "INFO" and first["logger"] == "cognisim.test"
    assert (first["session_id"], first["step_id"], first["request_id"], first["duration_ms"]) == ("s-1", "7", "r-1", 12)
    assert first["ts"].endswith("+00:00")
    assert second["session_id"] == "s-1" and "step_id" not in second
    assert not {"session_id", "request_id", "step_id"} & third.keys()


def test_an_id_given_with_extra_wins_over_the_bound_one(lines):
    out = lines("json")
    with log_context(session_id="bound"):
        logging.getLogger("x").info("m", extra={"session_id": "explicit"})
    assert json.loads(out.getvalue())["session_id"] == "explicit"


def test_text_lines_append_the_ids_and_keep_tracebacks_below(lines):
    out = lines("text")
    with log_context(turn_id=3, run_id="run-9"):
        try:
            raise ValueError("boom")
        except ValueError:
            logging.getLogger("cognisim.test").exception("it failed")
    first, *rest = out.getvalue().splitlines()
    assert first.endswith("ERROR cognisim.test it failed turn_id=3 run_id=run-9")
    assert rest[0] == "Traceback (most recent call last):" and rest[-1] == "ValueError: boom"


def test_an_unknown_log_format_is_refused():
    with pytest.raises(ValueError, match="LOG_FORMAT"):
        logging_config(fmt="xml", level="INFO")


def _call(app: Any, scope: dict[str, Any]) -> list[dict[str, Any]]:
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return {"type": "http.request"}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    asyncio.run(app(scope, receive, send))
    return sent


def test_a_request_binds_its_ids_and_answers_with_its_request_id():
    seen: dict[str, Any] = {}

    async def inner(scope: dict[str, Any], receive: Any, send: Any) -> None:
        seen.update(log_ids())
        await send({"type": "http.response.start", "status": 201, "headers": []})
        await send({"type": "http.response.body", "body": b""})

    headers = [
        (b"x-request-id", b"req-42"),
        (b"traceparent", b"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"),
    ]
    scope = {"type": "http", "method": "POST", "path": "/api/sessions/abc-123/steps/", "headers": headers}
    sent = _call(LogContextMiddleware(inner), scope)
    assert seen == {"request_id": "req-42", "trace_id": "4bf92f3577b34da6a3ce929d0e0e4736", "session_id": "abc-123"}
    assert (b"x-request-id", b"req-42") in sent[0]["headers"]
    assert log_ids() == {}  # nothing leaks out of the request


def test_a_request_without_a_usable_id_gets_a_new_one_and_runs_bind_their_id():
    seen: dict[str, Any] = {}

    async def inner(scope: dict[str, Any], receive: Any, send: Any) -> None:
        seen.update(log_ids())
        await send({"type": "http.response.start", "status": 200, "headers": []})

    scope = {
        "type": "http",
        "method": "GET",
        "path": "/api/runs/r-7/junit.xml",
        "headers": [(b"x-request-id", b"a b\n")],
    }
    sent = _call(LogContextMiddleware(inner), scope)
    assert seen["run_id"] == "r-7" and len(seen["request_id"]) == 32 and seen["request_id"] != "a b\n"
    assert (b"x-request-id", seen["request_id"].encode()) in sent[0]["headers"]


def test_a_socket_binds_its_session_for_its_whole_life():
    seen: dict[str, Any] = {}

    async def inner(scope: dict[str, Any], receive: Any, send: Any) -> None:
        await asyncio.sleep(0)
        seen.update(await asyncio.create_task(_ids()))  # a task started inside inherits the ids

    async def _ids() -> dict[str, str]:
        return log_ids()

    _call(LogContextMiddleware(inner), {"type": "websocket", "path": "/ws/sessions/s-5/", "headers": []})
    assert seen["session_id"] == "s-5"


def test_tasks_carry_the_senders_ids_and_bind_their_own_keyword_ids():
    headers: dict[str, Any] = {}
    with log_context(request_id="req-1", trace_id="t-1"):
        worker_hooks._ids_into_headers(headers=headers)
    assert headers[worker_hooks.HEADER] == {"request_id": "req-1", "trace_id": "t-1"}

    task = SimpleNamespace(request=SimpleNamespace(**{worker_hooks.HEADER: headers[worker_hooks.HEADER]}))
    worker_hooks._bind_task_ids(task_id="task-1", task=task, kwargs={"session_id": "s-1", "step_id": 4, "other": 1})
    try:
        assert log_ids() == {"request_id": "req-1", "trace_id": "t-1", "session_id": "s-1", "step_id": "4"}
    finally:
        worker_hooks._unbind_task_ids(task_id="task-1")
    assert log_ids() == {}
