"""A brain behind any OpenAI-compatible chat-completions endpoint.

The model gets the step vocabulary (generated from the step schema), the screen (compacted
to one line per element that matters) and the instruction, and must answer with a JSON
plan under the same contract as the offline planner: refusals with a code, a question with
its choices instead of a guess, schema-valid steps only. Every step is validated with
`core.steps.step_parse`, and taps are checked against the screen; an answer that breaks the
contract is sent back once with the reason, and a second one is a `BrainError`
(`brain_failed`). The API key travels only in the Authorization header and appears in no log
line, message or repr.
"""

from __future__ import annotations

import json
import logging
import os
import re
import urllib.error
import urllib.request
from collections.abc import Mapping
from functools import cache
from typing import Any
from urllib.parse import urlsplit

from core.steps import StepInvalid, action_lines, step_parse
from devices.drivers.base import TransportError
from devices.uitree import Node, find_nodes
from devices.uitree import parse as parse_ui

from .base import QUESTIONS, REFUSALS, BrainError, Plan

logger = logging.getLogger(__name__)

MAX_SCREEN_LINES = 150
_GROUNDED = {"tap", "long_press"}
"""Actions that act on an element: its selector must be on the screen the plan was made against."""
_CHANGES_SCREEN = {"launch_app", "stop_app", "tap", "long_press", "swipe", "scroll_until_visible", "press_key"}
PROMPT = """\
You plan tests on an Android phone. Turn the user's instruction into steps, using the screen shown.

Answer with ONE JSON object and nothing else:
{"steps": [...], "question": null, "choices": [], "why": null, "refusal": null, "remaining": null,
 "summary": "One sentence saying what the steps do."}

A step is an object with "action" and that action's fields, and no other fields. The actions:
ACTIONS
A selector is exactly one of "text" (the element's text), "id" (its resource-id) or "desc" (its content
description), plus an optional 0-based "index" when several elements match. Use the exact texts and ids of
the screen below; select text fields by "id"; set "secret": true when typing a password.

Never guess:
- When the instruction is ambiguous (two elements fit equally, "it" with nothing it could mean, a name that
  only roughly fits), or a value is missing (a password, the text to type): plan only what comes before
  the doubt, set "question" to your question, "choices" to the answers that pick each candidate (empty
  for a value to type), "why" to "ambiguous" or "needs_value", and end "steps" with
  {"action": "ask_user", "prompt": <the question>, "choices": <the choices, when any>}.
- When the instruction cannot be done, plan no steps and set "refusal" to {"code": CODE, "message": "…"}
  with CODE one of: not_understood (no reading of the words is a thing these steps can do), not_on_screen
  (what it names is not on the screen), unsupported (no step can do it, like installing an app or telling
  which state a switch is in; checking that it is on or off is an assert with "checked"), needs_value (a
  value is missing and cannot be asked for).
- A check keeps its negation: "make sure no error is shown" is assert_not_visible of the error.
- When part of the instruction needs the screen the steps lead to ("open Settings, then turn on Wi-Fi"),
  plan the steps up to there and put the rest of the instruction in "remaining": it is planned again on
  the new screen.
An instruction ending with "[answer: …]" carries the user's answer to your question. An answer written as
${NAME} is a secret the user gave (a password): type it exactly as written, with "secret": true.
"""


@cache
def system_prompt() -> str:
    """The system prompt, its action list generated from the step schema."""
    return PROMPT.replace("ACTIONS", "\n".join(f"- {line}" for line in action_lines()))


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
            raise BrainError(
                "The LLM brain is not configured: set COGNISIM_LLM_BASE_URL and COGNISIM_LLM_MODEL.", "brain_failed"
            )
        return cls(base_url, env.get("COGNISIM_LLM_API_KEY", "").strip(), model)

    def __repr__(self) -> str:
        return f"LLMBrain(base_url={self.base_url!r}, model={self.model!r})"

    def plan(self, *, text: str, ui_xml: str | None) -> Plan:
        if not text.strip():
            raise BrainError('Tell me what to do, for example "open Settings and turn on Wi-Fi".', "not_understood")
        messages = [
            {"role": "system", "content": system_prompt()},
            {"role": "user", "content": f"Screen:\n{compact_screen(ui_xml)}\n\nInstruction: {text.strip()}"},
        ]
        answer = self._ask(messages, attempt=1)
        try:
            return parse_answer(answer, ui_xml)
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
            return parse_answer(answer, ui_xml)
        except InvalidAnswer as second:
            raise BrainError(
                f"The language model did not return a valid plan, twice: {second.reason}", "brain_failed"
            ) from second

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
            raise BrainError(
                f"The language model at {where} answered HTTP {exc.code}{detail}.", "brain_failed"
            ) from None
        except urllib.error.URLError as exc:
            if isinstance(exc.reason, TimeoutError):
                raise BrainError(
                    f"The language model at {where} did not answer within {self.timeout_s:g} s.", "brain_failed"
                ) from None
            reason = self._redact(str(exc.reason))
            raise BrainError(
                f"The language model at {where} could not be reached ({reason}).", "brain_failed"
            ) from None
        except TimeoutError:
            raise BrainError(
                f"The language model at {where} did not answer within {self.timeout_s:g} s.", "brain_failed"
            ) from None
        except (OSError, ValueError) as exc:
            reason = self._redact(str(exc) or type(exc).__name__)
            raise BrainError(
                f"The language model at {where} sent an unreadable answer ({reason}).", "brain_failed"
            ) from None
        try:
            content = payload["choices"][0]["message"]["content"]
        except (KeyError, IndexError, TypeError):
            raise BrainError(
                f"The language model at {where} sent an answer without a message.", "brain_failed"
            ) from None
        if not isinstance(content, str):
            raise BrainError(f"The language model at {where} sent an answer without text.", "brain_failed")
        return content

    def _redact(self, text: str) -> str:
        return text.replace(self._api_key, "[key]") if self._api_key else text


class InvalidAnswer(Exception):
    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


_FENCE = re.compile(r"```(?:json)?\s*(.*?)```", re.S | re.I)


def parse_answer(answer: str, ui_xml: str | None = None) -> Plan:
    """A plan from the model's reply (a JSON object, possibly in a ```json fence), held to the brains' contract.

    Every step must pass the step schema; a refusal must carry one of the refusal codes (it is raised as a
    BrainError with that code); a question ends the steps with its ask_user step and its choices; a tap or
    long-press planned against the screen given (before any step changes it) must name an element that is
    on it, or the model was guessing.
    """
    fence = _FENCE.search(answer)
    text = fence[1] if fence else answer[answer.find("{") : answer.rfind("}") + 1]
    try:
        data = json.loads(text)
    except ValueError as exc:
        raise InvalidAnswer(f"it is not a JSON object ({exc}).") from exc
    if not isinstance(data, dict) or not isinstance(data.get("steps"), list):
        raise InvalidAnswer('it must be a JSON object with a "steps" list.')
    refusal = data.get("refusal")
    if refusal:
        code = refusal.get("code") if isinstance(refusal, dict) else None
        message = refusal.get("message") if isinstance(refusal, dict) else None
        if code not in REFUSALS or not isinstance(message, str) or not message.strip():
            raise InvalidAnswer(f'"refusal" must be {{"code": one of {", ".join(REFUSALS)}, "message": "…"}}.')
        raise BrainError(message.strip(), code)
    question, summary = data.get("question"), data.get("summary") or ""
    choices, why, remaining = data.get("choices") or [], data.get("why"), data.get("remaining")
    if question is not None and (not isinstance(question, str) or not question.strip()):
        raise InvalidAnswer('"question" must be null or a non-empty string.')
    if not isinstance(choices, list) or not all(isinstance(c, str) and c.strip() for c in choices):
        raise InvalidAnswer('"choices" must be a list of strings.')
    if question and why not in QUESTIONS:
        why = "ambiguous" if choices else "needs_value"
    if remaining is not None and (not isinstance(remaining, str) or not remaining.strip()):
        raise InvalidAnswer('"remaining" must be null or the rest of the instruction.')
    if not isinstance(summary, str):
        raise InvalidAnswer('"summary" must be a string.')
    steps: list[dict[str, Any]] = data["steps"]
    for number, step in enumerate(steps, 1):
        try:
            step_parse(step)
        except StepInvalid as exc:
            action = step.get("action") if isinstance(step, dict) else None
            raise InvalidAnswer(f"step {number} ({action or 'no action'}), field '{exc.field}': {exc.message}") from exc
    _grounded(steps, ui_xml)
    if question:
        ask: dict[str, Any] = {"action": "ask_user", "prompt": question, **({"choices": choices} if choices else {})}
        steps = [step for step in steps if step.get("action") != "ask_user" or step.get("prompt") != question]
        steps = [*steps, ask]
    elif remaining and not steps:
        raise InvalidAnswer('with "remaining", plan at least the steps that lead to the next screen.')
    return Plan(
        steps=steps,
        summary=summary.strip(),
        question=question,
        remaining=remaining.strip() if isinstance(remaining, str) else None,
        choices=list(choices) if question else [],
        code=why if question else None,
    )


def _grounded(steps: list[dict[str, Any]], ui_xml: str | None) -> None:
    """Taps and long-presses planned against the given screen must name something on it."""
    if not ui_xml:
        return
    try:
        nodes = parse_ui(ui_xml)
    except TransportError:
        return
    for number, step in enumerate(steps, 1):
        action = step.get("action")
        if action in _GROUNDED and any(key in step for key in ("text", "id", "desc")):
            selector: dict[str, Any] = {key: step[key] for key in ("text", "id", "desc", "index") if key in step}
            if not find_nodes(nodes, selector):
                named = ", ".join(f"{key} {step[key]!r}" for key in ("text", "id", "desc") if key in step)
                raise InvalidAnswer(
                    f"step {number} ({action}) names {named}, which is not on the screen. Use an element of the "
                    "screen, or ask (question and choices), or refuse with not_on_screen."
                )
        if action in _CHANGES_SCREEN:
            return


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
