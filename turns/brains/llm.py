"""A brain behind any OpenAI-compatible chat-completions endpoint.

The model gets the step vocabulary, the screen (compacted to one line per element that
matters) and the instruction, and must answer with a JSON plan. Every step is validated
with `core.steps.step_parse`; an invalid answer is sent back once with the validation
error, and a second invalid answer is a `BrainError`. The API key travels only in the
Authorization header and appears in no log line, message or repr.
"""

from __future__ import annotations

import json
import logging
import os
import re
import urllib.error
import urllib.request
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

from core.steps import KEYS
from devices.drivers.base import TransportError
from devices.uitree import Node
from devices.uitree import parse as parse_ui

from .base import BrainError, Plan

logger = logging.getLogger(__name__)

MAX_SCREEN_LINES = 150
SYSTEM_PROMPT = """\
You plan tests on an Android phone. Turn the user's instruction into steps, using the screen shown.

Answer with ONE JSON object and nothing else:
{"steps": [ ...step objects... ], "question": null, "summary": "One sentence saying what the steps do."}

A step is an object with "action" and that action's fields, and no other fields:
- {"action": "launch_app", "package": "com.example.app", "clear_state": false}   (clear_state optional)
- {"action": "stop_app", "package": "com.example.app"}
- {"action": "tap", SELECTOR} or {"action": "tap", "x": 100, "y": 200}
- {"action": "long_press", SELECTOR, "duration_ms": 800}   (duration_ms optional; x and y allowed too)
- {"action": "type", "text": "hello", "into": SELECTOR}   (into optional: without it, the focused field)
- {"action": "clear_text", "into": SELECTOR}   (into optional)
- {"action": "swipe", "direction": "up"}   (up, down, left, right: where the finger moves)
  or {"action": "swipe", "from": {"x": 1, "y": 2}, "to": {"x": 3, "y": 4}}
- {"action": "scroll_until_visible", SELECTOR, "direction": "down"}   (direction optional: down or up)
- {"action": "press_key", "key": "back"}   (keys: KEYS)
- {"action": "assert_visible", SELECTOR}
- {"action": "assert_not_visible", SELECTOR}
- {"action": "wait_for", SELECTOR, "timeout_ms": 10000}   (timeout_ms optional)
- {"action": "screenshot"}
- {"action": "sleep", "ms": 1000}   (at most 60000)
- {"action": "ask_user", "prompt": "a question for the user"}

SELECTOR is exactly one of "text" (the element's text), "id" (its resource-id) or "desc" (its content
description), plus an optional 0-based "index" when several elements match.
Use the exact texts and ids of the screen below. Text fields: select them by "id".
When the instruction is ambiguous (two elements fit equally), do not guess: set "question" to your
question and end "steps" with {"action": "ask_user", "prompt": <the same question>}.
An instruction ending with "[answer: …]" carries the user's answer to such a question.
"""


class LLMBrain:
    def __init__(self, base_url: str, api_key: str, model: str, timeout_s: float = 30) -> None:
        self.base_url = base_url.rstrip("/")
        self._api_key = api_key
        self.model = model
        self.timeout_s = timeout_s

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> LLMBrain:
        """From COGNISIM_LLM_BASE_URL, COGNISIM_LLM_API_KEY (optional for local servers), COGNISIM_LLM_MODEL."""
        env = os.environ if environ is None else environ
        base_url, model = env.get("COGNISIM_LLM_BASE_URL", "").strip(), env.get("COGNISIM_LLM_MODEL", "").strip()
        if not base_url or not model:
            raise BrainError("The LLM brain is not configured: set COGNISIM_LLM_BASE_URL and COGNISIM_LLM_MODEL.")
        return cls(base_url, env.get("COGNISIM_LLM_API_KEY", "").strip(), model)

    def __repr__(self) -> str:
        return f"LLMBrain(base_url={self.base_url!r}, model={self.model!r})"

    def plan(self, *, text: str, ui_xml: str | None) -> Plan:
        if not text.strip():
            raise BrainError('Tell me what to do, for example "open Settings and turn on Wi-Fi".')
        messages = [
            {"role": "system", "content": SYSTEM_PROMPT.replace("KEYS", ", ".join(KEYS))},
            {"role": "user", "content": f"Screen:\n{compact_screen(ui_xml)}\n\nInstruction: {text.strip()}"},
        ]
        answer = self._ask(messages, attempt=1)
        try:
            return parse_answer(answer)
        except InvalidAnswer as first:
            logger.info("llm_answer_invalid", extra={"model": self.model, "error": first.reason})
            messages += [
                {"role": "assistant", "content": answer},
                {
                    "role": "user",
                    "content": f"That answer is invalid: {first.reason} Answer again with the corrected JSON only.",
                },
            ]
        answer = self._ask(messages, attempt=2)
        try:
            return parse_answer(answer)
        except InvalidAnswer as second:
            raise BrainError(f"The language model did not return a valid plan, twice: {second.reason}") from second

    def _ask(self, messages: list[dict[str, str]], *, attempt: int) -> str:
        """The content of the model's reply; every failure becomes a BrainError that names no secret."""
        where = urlsplit(self.base_url).netloc or self.base_url
        body = json.dumps({"model": self.model, "messages": messages, "temperature": 0}).encode()
        headers = {"Content-Type": "application/json", "Accept": "application/json"}
        if self._api_key:
            headers["Authorization"] = f"Bearer {self._api_key}"
        request = urllib.request.Request(f"{self.base_url}/chat/completions", data=body, headers=headers, method="POST")
        logger.info("llm_request", extra={"model": self.model, "endpoint": where, "attempt": attempt})
        try:
            with urllib.request.urlopen(request, timeout=self.timeout_s) as response:
                payload = json.loads(response.read())
        except urllib.error.HTTPError as exc:
            detail = self._redact(_error_detail(exc))
            raise BrainError(f"The language model at {where} answered HTTP {exc.code}{detail}.") from None
        except urllib.error.URLError as exc:
            if isinstance(exc.reason, TimeoutError):
                raise BrainError(f"The language model at {where} did not answer within {self.timeout_s:g} s.") from None
            reason = self._redact(str(exc.reason))
            raise BrainError(f"The language model at {where} could not be reached ({reason}).") from None
        except TimeoutError:
            raise BrainError(f"The language model at {where} did not answer within {self.timeout_s:g} s.") from None
        except (OSError, ValueError) as exc:
            reason = self._redact(str(exc) or type(exc).__name__)
            raise BrainError(f"The language model at {where} sent an unreadable answer ({reason}).") from None
        try:
            content = payload["choices"][0]["message"]["content"]
        except (KeyError, IndexError, TypeError):
            raise BrainError(f"The language model at {where} sent an answer without a message.") from None
        if not isinstance(content, str):
            raise BrainError(f"The language model at {where} sent an answer without text.")
        return content

    def _redact(self, text: str) -> str:
        return text.replace(self._api_key, "[key]") if self._api_key else text


class InvalidAnswer(Exception):
    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


_FENCE = re.compile(r"```(?:json)?\s*(.*?)```", re.S | re.I)


def parse_answer(answer: str) -> Plan:
    """A plan from the model's reply (a JSON object, possibly in a ```json fence), every step validated."""
    from core.steps import StepInvalid, step_parse

    fence = _FENCE.search(answer)
    text = fence[1] if fence else answer[answer.find("{") : answer.rfind("}") + 1]
    try:
        data = json.loads(text)
    except ValueError as exc:
        raise InvalidAnswer(f"it is not a JSON object ({exc}).") from exc
    if not isinstance(data, dict) or not isinstance(data.get("steps"), list):
        raise InvalidAnswer('it must be a JSON object with a "steps" list.')
    question, summary = data.get("question"), data.get("summary") or ""
    if question is not None and (not isinstance(question, str) or not question.strip()):
        raise InvalidAnswer('"question" must be null or a non-empty string.')
    if not isinstance(summary, str):
        raise InvalidAnswer('"summary" must be a string.')
    steps: list[dict[str, Any]] = data["steps"]
    for number, step in enumerate(steps, 1):
        try:
            step_parse(step)
        except StepInvalid as exc:
            action = step.get("action") if isinstance(step, dict) else None
            raise InvalidAnswer(f"step {number} ({action or 'no action'}), field '{exc.field}': {exc.message}") from exc
    if question and steps[-1:] != [{"action": "ask_user", "prompt": question}]:
        steps = [*steps, {"action": "ask_user", "prompt": question}]
    return Plan(steps=steps, summary=summary.strip(), question=question)


def compact_screen(ui_xml: str | None) -> str:
    """One line per element worth naming: text, desc, id, kind, state and bounds."""
    if not ui_xml:
        return "(not known)"
    try:
        nodes = parse_ui(ui_xml)
    except TransportError:
        return "(unreadable)"
    lines = [_line(node) for node in nodes if _worth_naming(node)]
    package = nodes[0].package if nodes else ""
    head = f"app in front: {package}" if package else "app in front: unknown"
    if len(lines) > MAX_SCREEN_LINES:
        lines = [*lines[:MAX_SCREEN_LINES], f"… and {len(lines) - MAX_SCREEN_LINES} more elements"]
    return "\n".join([head, *lines]) if lines else f"{head}\n(no elements)"


def _worth_naming(node: Node) -> bool:
    named = node.text or node.content_desc or (node.resource_id and not node.resource_id.startswith("android:"))
    return not node.is_empty and bool(named or node.clickable or node.checkable)


def _line(node: Node) -> str:
    parts = []
    if node.text:
        parts.append(f"text={json.dumps(node.text, ensure_ascii=False)}")
    if node.content_desc:
        parts.append(f"desc={json.dumps(node.content_desc, ensure_ascii=False)}")
    if node.resource_id:
        parts.append(f"id={node.resource_id}")
    parts.append(node.class_name.rsplit(".", 1)[-1])
    flags = [
        name
        for name, on in (
            ("clickable", node.clickable),
            ("focused", node.focused),
            ("password", node.password),
            ("scrollable", node.scrollable),
            ("disabled", not node.enabled),
        )
        if on
    ]
    if node.checkable:
        flags.append("checked" if node.checked else "unchecked")
    x1, y1, x2, y2 = node.bounds
    return "- " + " ".join([*parts, *flags, f"[{x1},{y1}][{x2},{y2}]"])


def _error_detail(exc: urllib.error.HTTPError) -> str:
    """The endpoint's own error message, when it sent one, short."""
    try:
        body = json.loads(exc.read() or b"{}")
    except (OSError, ValueError):
        return f" {exc.reason}" if exc.reason else ""
    error = body.get("error") if isinstance(body, dict) else None
    message = error.get("message") if isinstance(error, dict) else error
    return f": {str(message)[:200]}" if message else (f" {exc.reason}" if exc.reason else "")
