"""The step vocabulary of SPEC §3, typed once.

Every step is data: one pydantic model per action, joined into the union `StepRequest` by its
`action`. Everything that speaks steps is derived from these models, so it cannot drift:

- validation (`step_parse`), strict: unknown fields, wrong types and malformed values are
  refused with a `StepInvalid` that names the field;
- the OpenAPI request body of `POST /api/sessions/{id}/steps/` (drf-spectacular reads
  `StepRequest`, including the selector rules as `oneOf`);
- the action list of the LLM prompt and the IDE composer's fields (`step_catalog`).

Pydantic rather than DRF serializers: a discriminated union with one model per action gives a
precise JSON Schema (which DRF cannot express for polymorphic bodies), it validates without a
request or Django settings (the planner and the flow parser use it in tight loops), and its
strict mode refuses `true` for an integer and `1` for a string.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field
from typing import Annotated, Any, ClassVar, Literal, Union

from django.conf import settings
from pydantic import BaseModel, ConfigDict, Field, RootModel, ValidationError, model_validator
from pydantic.json_schema import SkipJsonSchema, models_json_schema

# Android key names and their key codes: the `press_key` vocabulary.
KEYS: dict[str, int] = {
    "back": 4,
    "home": 3,
    "enter": 66,
    "del": 67,
    "move_end": 123,
    "tab": 61,
    "app_switch": 187,
    "menu": 82,
    "search": 84,
    "space": 62,
    "volume_up": 24,
    "volume_down": 25,
    "power": 26,
    "dpad_up": 19,
    "dpad_down": 20,
    "dpad_left": 21,
    "dpad_right": 22,
}

PACKAGE_RE = re.compile(r"^[A-Za-z][A-Za-z0-9_]*(\.[A-Za-z][A-Za-z0-9_]*)+$")
MAX_TEXT_CHARS = 4096
MAX_SHORT_CHARS = 1024
MAX_SLEEP_MS = 60_000
MAX_TIMEOUT_MS = 600_000
MAX_RETRIES = 10
MAX_CHOICES = 20
WAIT_FOR_DEFAULT_MS = 10_000
BACKOFF_STRATEGIES = ("exponential", "linear", "constant")
DIRECTIONS = ("up", "down", "left", "right")
SELECTOR_KEYS = ("text", "id", "desc")
SELECTOR_STATES = ("enabled", "checked", "selected", "focused")  # filters on the element's state in the UI tree
SELECTOR_RELATIONS = ("below", "above", "left_of", "right_of", "child_of")  # where it is, relative to an anchor
SELECTOR_EXTRAS = ("index", "text_match", *SELECTOR_STATES, *SELECTOR_RELATIONS)
SELECTOR_FIELDS = (*SELECTOR_KEYS, *SELECTOR_EXTRAS)
ANCHOR_FIELDS = (*SELECTOR_KEYS, "index", "text_match", *SELECTOR_STATES)  # an anchor has no relations of its own
CONDITION_KINDS = ("visible", "not_visible")  # a block's condition: either, or both
COMMON_FIELDS = ("timeout_ms", "max_retries", "backoff", "optional", "always")
# Characters no step text may hold: C0 controls other than tab, newline and carriage return
# (NUL cannot be stored by PostgreSQL), DEL, and lone surrogates (not encodable as UTF-8).
_FORBIDDEN = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\ud800-\udfff]")
TEXT_PATTERN = r"^[^\x00-\x08\x0b\x0c\x0e-\x1f\x7f]*$"


class StepInvalid(Exception):
    code = "invalid_step"

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field
        self.message = message


@dataclass(frozen=True)
class StepSpec:
    action: str
    params: dict[str, Any]
    timeout_ms: int
    max_retries: int
    backoff: dict[str, Any] = field(default_factory=dict)
    optional: bool = False
    """A failed optional step does not stop a run or fail its verdict."""
    always: bool = False
    """The step runs even after an earlier step failed (a run's teardown, Maestro's `onFlowComplete`); a
    stop still cancels it."""
    secret: bool = False
    """The step's text is a secret: kept out of every event, listing and export."""
    expanded: int = 1
    """How many steps it runs at most (a block: its inner steps times its rounds)."""


Short = Annotated[str, Field(min_length=1, max_length=MAX_SHORT_CHARS, pattern=TEXT_PATTERN)]
Long = Annotated[str, Field(min_length=1, max_length=MAX_TEXT_CHARS, pattern=TEXT_PATTERN)]
Coordinate = Annotated[int, Field(ge=0, le=10_000)]
Index = Annotated[int, Field(ge=0, le=999)]
Package = Annotated[str, Field(max_length=255, pattern=PACKAGE_RE.pattern, examples=["com.example.app"])]
DurationMs = Annotated[int, Field(ge=1, le=10_000)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)


MATCHED = ("text", "id")
"""The selector fields `text_match` says how to match."""


def _selector_schema(*, point: bool) -> dict[str, Any]:
    """JSON Schema for "one or more of text, id, desc (with optional text_match, index, states and relations;
    text_match only with text or id), or x and y"."""
    coords = {"anyOf": [{"required": ["x"]}, {"required": ["y"]}]}
    named = {
        "anyOf": [{"required": [key]} for key in SELECTOR_KEYS],
        "not": {
            "anyOf": [coords, {"required": ["text_match"], "not": {"anyOf": [{"required": [k]} for k in MATCHED]}}]
        },
    }
    if not point:
        return named
    place = {"required": ["x", "y"], "not": {"anyOf": [{"required": [k]} for k in (*SELECTOR_KEYS, *SELECTOR_EXTRAS)]}}
    return {"oneOf": [named, place]}


def _check_selector(data: Any, *, prefix: str = "", point: bool = False) -> None:
    """One or more of text / id / desc, all of which the element must match (plus optional text_match, index,
    states and relations), or x and y where a point is allowed; each relation's anchor is itself a selector
    without relations."""
    if not isinstance(data, dict):
        return  # the model's own type check names it
    named = [k for k in SELECTOR_KEYS if k in data]
    coords = [k for k in ("x", "y") if k in data]
    if coords and point:
        extra = [k for k in SELECTOR_EXTRAS if k in data]
        if named or len(coords) != 2:
            raise StepInvalid(prefix + coords[0], "Give either 'x' and 'y' together, or one of text, id, desc.")
        if extra:
            raise StepInvalid(prefix + extra[0], f"'{extra[0]}' narrows a selector (text, id or desc), not a point.")
        return
    if coords:
        raise StepInvalid(prefix + coords[0], "This action takes a selector (text, id or desc), not coordinates.")
    if not named:
        wanted = "text, id, desc (one or more)" + (" or x and y" if point else "")
        raise StepInvalid(prefix + "text", f"Give a selector: {wanted}.")
    if "text_match" in data and not any(key in data for key in MATCHED):
        raise StepInvalid(prefix + "text_match", f"'{prefix}text_match' says how 'text' and 'id' match; give one.")
    for relation in SELECTOR_RELATIONS:
        if relation in data:
            _check_anchor(data[relation], f"{prefix}{relation}")


def _check_anchor(data: Any, name: str) -> None:
    """The element a relation (`below`, `above`, `child_of`) is relative to: text, id or desc, optional index and
    states; errors name `below.text` …"""
    if not isinstance(data, dict):
        raise StepInvalid(name, f'\'{name}\' must be a selector object, like {{"text": "Email"}}.')
    if unknown := sorted(str(k) for k in set(data) - set(ANCHOR_FIELDS)):
        if unknown[0] in SELECTOR_RELATIONS:
            raise StepInvalid(f"{name}.{unknown[0]}", f"'{name}' is an anchor: it cannot have '{unknown[0]}' itself.")
        raise StepInvalid(f"{name}.{unknown[0][:64]}", f"Unknown field '{name}.{unknown[0][:64]}'.")
    _no_nulls(data, f"{name}.")
    _check_selector(data, prefix=f"{name}.")


def _no_nulls(data: Any, prefix: str = "") -> None:
    """An optional field is left out, never null (so the schema and the validator agree)."""
    if isinstance(data, dict):
        for key, value in data.items():
            if value is None:
                raise StepInvalid(prefix + str(key), f"'{prefix}{key}' must not be null; leave it out instead.")


class Anchor(_Strict):
    """The element a relation is relative to: by its text, resource-id and/or content-desc (each one given must
    match); `index` and the states (`enabled`, `checked`, `selected`, `focused`) narrow it as in any selector."""

    model_config = ConfigDict(json_schema_extra=_selector_schema(point=False))

    text: Short | SkipJsonSchema[None] = None
    id: Short | SkipJsonSchema[None] = None
    desc: Short | SkipJsonSchema[None] = None
    text_match: Literal["maestro"] | SkipJsonSchema[None] = Field(
        default=None,
        description="How `text` and `id` are matched. `maestro`, as Maestro's selectors do: the element's text or "
        "content-desc (for `id`: its resource-id, or the part after `/`) equals it or fully matches it as a regular "
        "expression, ignoring case (one that does not compile is plain text). Without it: the text exactly, then "
        "ignoring case and surrounding spaces; the id exactly.",
    )
    index: Index | SkipJsonSchema[None] = None
    enabled: bool | SkipJsonSchema[None] = Field(default=None, description="Only elements that are (not) enabled.")
    checked: bool | SkipJsonSchema[None] = Field(default=None, description="Only elements that are (not) checked.")
    selected: bool | SkipJsonSchema[None] = Field(default=None, description="Only elements that are (not) selected.")
    focused: bool | SkipJsonSchema[None] = Field(default=None, description="Only elements that are (not) focused.")


class _Relations(_Strict):
    """Selector fields that place the element relative to another one (an anchor)."""

    below: Anchor | SkipJsonSchema[None] = Field(
        default=None, description="Only elements whose top edge is below the anchor's; the nearest first."
    )
    above: Anchor | SkipJsonSchema[None] = Field(
        default=None, description="Only elements whose top edge is above the anchor's; the nearest first."
    )
    left_of: Anchor | SkipJsonSchema[None] = Field(
        default=None, description="Only elements whose left edge is left of the anchor's; the nearest first."
    )
    right_of: Anchor | SkipJsonSchema[None] = Field(
        default=None, description="Only elements whose left edge is right of the anchor's; the nearest first."
    )
    child_of: Anchor | SkipJsonSchema[None] = Field(default=None, description="Only elements inside the anchor.")


class Selector(_Relations, Anchor):
    """An element on screen: by its text, resource-id and/or content-desc (each one given must match); `index`
    picks among several matches;
    the states (`enabled`, `checked`, `selected`, `focused`) and relations (`below`, `above`, `left_of`,
    `right_of`, `child_of`) narrow the matches."""

    model_config = ConfigDict(json_schema_extra=_selector_schema(point=False))

    @model_validator(mode="before")
    @classmethod
    def _one(cls, data: Any) -> Any:
        if isinstance(data, dict) and (unknown := sorted(str(k) for k in set(data) - set(SELECTOR_FIELDS))):
            raise StepInvalid(f"into.{unknown[0][:64]}", f"Unknown field 'into.{unknown[0][:64]}'.")
        _no_nulls(data, "into.")
        _check_selector(data, prefix="into.")
        return data


class Point(_Strict):
    x: Coordinate
    y: Coordinate


class Backoff(_Strict):
    strategy: Literal["exponential", "linear", "constant"] = "exponential"
    base_ms: Annotated[int, Field(ge=0, le=60_000)] = 500
    max_ms: Annotated[int, Field(ge=0, le=600_000)] = 10_000


class _Step(_Strict):
    """The fields every step accepts besides its own."""

    timeout_ms: Annotated[int, Field(ge=1, le=MAX_TIMEOUT_MS)] | SkipJsonSchema[None] = None
    max_retries: Annotated[int, Field(ge=0, le=MAX_RETRIES)] = 3
    backoff: Literal["exponential", "linear", "constant"] | Backoff | SkipJsonSchema[None] = None
    optional: bool = False
    always: bool = False

    target: ClassVar[str] = "none"
    """What the action acts on: "none", "selector" (text, id or desc) or "selector_or_point"."""

    @model_validator(mode="before")
    @classmethod
    def _selectors(cls, data: Any) -> Any:
        if isinstance(data, dict):
            known = {f.alias or name for name, f in cls.model_fields.items()}
            if unknown := sorted(str(k) for k in set(data) - known):
                action = data.get("action")
                raise StepInvalid(unknown[0], f"Unknown field '{unknown[0][:64]}' for action '{action}'.")
        _no_nulls(data)
        if cls.target != "none":
            _check_selector(data, point=cls.target == "selector_or_point")
        return data


class _Target(_Step, _Relations, Anchor):
    target: ClassVar[str] = "selector"

    model_config = ConfigDict(json_schema_extra=_selector_schema(point=False))


class _TargetOrPoint(_Target):
    x: Coordinate | SkipJsonSchema[None] = None
    y: Coordinate | SkipJsonSchema[None] = None
    target: ClassVar[str] = "selector_or_point"

    model_config = ConfigDict(json_schema_extra=_selector_schema(point=True))


class LaunchApp(_Step):
    """Start an app (optionally with its data cleared first)."""

    action: Literal["launch_app"]
    package: Package
    clear_state: bool = False


class StopApp(_Step):
    """Force-stop an app."""

    action: Literal["stop_app"]
    package: Package


class Tap(_TargetOrPoint):
    """Tap an element (waiting for it), or a point."""

    action: Literal["tap"]


class LongPress(_TargetOrPoint):
    """Press and hold an element, or a point."""

    action: Literal["long_press"]
    duration_ms: DurationMs | SkipJsonSchema[None] = None


class Type(_Step):
    """Type text into a field (`into`), or into the focused one."""

    action: Literal["type"]
    text: Long
    into: Selector | SkipJsonSchema[None] = None
    secret: bool = False


class ClearText(_Step):
    """Delete the text of a field (`into`), or of the focused one."""

    action: Literal["clear_text"]
    into: Selector | SkipJsonSchema[None] = None


class Swipe(_Step):
    """Swipe the screen in a direction, or from one point to another."""

    model_config = ConfigDict(
        json_schema_extra={
            "oneOf": [
                {"required": ["direction"], "not": {"anyOf": [{"required": ["from"]}, {"required": ["to"]}]}},
                {"required": ["from", "to"], "not": {"required": ["direction"]}},
            ]
        }
    )

    action: Literal["swipe"]
    direction: Literal["up", "down", "left", "right"] | SkipJsonSchema[None] = None
    from_: Point | SkipJsonSchema[None] = Field(default=None, alias="from")
    to: Point | SkipJsonSchema[None] = None
    duration_ms: DurationMs | SkipJsonSchema[None] = None

    @model_validator(mode="before")
    @classmethod
    def _path(cls, data: Any) -> Any:
        if isinstance(data, dict):
            if "direction" in data and ("from" in data or "to" in data):
                raise StepInvalid("direction", "Give either 'direction' or 'from' and 'to', not both.")
            if "direction" not in data and not ("from" in data and "to" in data):
                raise StepInvalid("direction", "Give 'direction' (up, down, left, right) or both 'from' and 'to'.")
        return data


class ScrollUntilVisible(_Target):
    """Scroll the biggest list on screen until the element shows."""

    action: Literal["scroll_until_visible"]
    direction: Literal["down", "up"] = "down"
    max_swipes: Annotated[int, Field(ge=1, le=50)] | SkipJsonSchema[None] = None


class PressKey(_Step):
    """Press a key: back, home, enter, del …"""

    action: Literal["press_key"]
    key: Literal[tuple(sorted(KEYS))]  # type: ignore[valid-type]


class AssertVisible(_Target):
    """Check that an element is on screen (waiting for it up to the step's timeout)."""

    action: Literal["assert_visible"]


class AssertNotVisible(_Target):
    """Check that an element is not on screen (waiting for it to go)."""

    action: Literal["assert_not_visible"]


class WaitFor(_Target):
    """Wait until an element shows, up to `timeout_ms` (default 10 s)."""

    action: Literal["wait_for"]


class Screenshot(_Step):
    """Take a screenshot."""

    action: Literal["screenshot"]


class AskUser(_Step):
    """Ask the person at the IDE a question and wait for the answer (optionally one of `choices`)."""

    action: Literal["ask_user"]
    prompt: Long
    choices: Annotated[list[Short], Field(min_length=1, max_length=MAX_CHOICES)] | SkipJsonSchema[None] = None
    secret: bool = False
    """The answer is a secret (a password, a PIN): kept as the session's secrets keep a typed one."""


class Sleep(_Step):
    """Wait a fixed time (at most 60 s)."""

    action: Literal["sleep"]
    ms: Annotated[int, Field(ge=0, le=MAX_SLEEP_MS)]


class Condition(_Strict):
    """What a block looks for on the settled screen: `{visible: SELECTOR}`, `{not_visible: SELECTOR}`, or both
    (both must hold)."""

    visible: Selector | SkipJsonSchema[None] = None
    not_visible: Selector | SkipJsonSchema[None] = None


def _check_condition(data: Any, name: str) -> None:
    """visible, not_visible or both, each holding one selector; errors name `name.visible.text` …"""
    if not isinstance(data, dict) or not data or not set(data) <= set(CONDITION_KINDS):
        raise StepInvalid(name, f"'{name}' is {{visible: SELECTOR}}, {{not_visible: SELECTOR}} or both.")
    for kind, selector in data.items():
        prefix = f"{name}.{kind}."
        if not isinstance(selector, dict):
            raise StepInvalid(f"{name}.{kind}", f'\'{name}.{kind}\' must be a selector object, like {{"text": "OK"}}.')
        if unknown := sorted(str(k) for k in set(selector) - set(SELECTOR_FIELDS)):
            raise StepInvalid(prefix + unknown[0][:64], f"Unknown field '{prefix}{unknown[0][:64]}'.")
        _no_nulls(selector, prefix)
        _check_selector(selector, prefix=prefix)


MAX_BLOCK_DEPTH = 10
MAX_BLOCK_STEPS = 10_000  # inner steps one block may run, counted with every round
MAX_WHILE_ROUNDS = 100  # `repeat while …` without `times`
MAX_TIMES = 1000
MAX_ATTEMPTS = 10


class _Block(_Step):
    """Control flow: inner steps (each a step request) run on the device's worker as this one step."""

    steps: Annotated[list[dict[str, Any]], Field(min_length=1, max_length=1000)]

    def rounds(self) -> int:
        return 1


class Repeat(_Block):
    """Run the steps `times` times, and/or while a condition holds (at most 100 rounds without `times`)."""

    action: Literal["repeat"]
    times: Annotated[int, Field(ge=1, le=MAX_TIMES)] | SkipJsonSchema[None] = None
    while_: Condition | SkipJsonSchema[None] = Field(default=None, alias="while")

    @model_validator(mode="before")
    @classmethod
    def _bound(cls, data: Any) -> Any:
        if isinstance(data, dict):
            if "times" not in data and "while" not in data:
                raise StepInvalid("times", "Give 'times', 'while', or both.")
            if "while" in data:
                _check_condition(data["while"], "while")
        return data

    def rounds(self) -> int:
        return self.times or MAX_WHILE_ROUNDS


class Retry(_Block):
    """Run the steps again, up to `max_attempts` times in all, until they all pass."""

    action: Literal["retry"]
    max_attempts: Annotated[int, Field(ge=1, le=MAX_ATTEMPTS)]

    def rounds(self) -> int:
        return self.max_attempts


class RunFlow(_Block):
    """Run the steps once if a condition holds on the screen (`when`), else skip them."""

    action: Literal["run_flow"]
    when: Condition

    @model_validator(mode="before")
    @classmethod
    def _condition(cls, data: Any) -> Any:
        if isinstance(data, dict) and "when" in data:
            _check_condition(data["when"], "when")
        return data


MODELS: tuple[type[_Step], ...] = (
    LaunchApp,
    StopApp,
    Tap,
    LongPress,
    Type,
    ClearText,
    Swipe,
    ScrollUntilVisible,
    PressKey,
    AssertVisible,
    AssertNotVisible,
    WaitFor,
    Screenshot,
    AskUser,
    Sleep,
)
BLOCKS: tuple[type[_Block], ...] = (Repeat, Retry, RunFlow)
_BY_ACTION: dict[str, type[_Step]] = {
    m.model_fields["action"].annotation.__args__[0]: m  # type: ignore[union-attr]
    for m in (*MODELS, *BLOCKS)
}
ACTIONS = tuple(_BY_ACTION)[: len(MODELS)]  # the single steps (the composer's and the agent's vocabulary)
BLOCK_ACTIONS = tuple(_BY_ACTION)[len(MODELS) :]  # control flow (flows and the API)


class StepRequest(RootModel[Annotated[Union[MODELS + BLOCKS], Field(discriminator="action")]]):  # type: ignore[valid-type,misc]  # noqa: UP007
    """A step: `{"action": …, …its fields, …common fields}`."""


# Pydantic error types → our words. `{f}` is the field, `{ctx…}` the error's context.
_MESSAGES = {
    "missing": "'{f}' is required.",
    "string_type": "'{f}' must be a string.",
    "int_type": "'{f}' must be an integer.",
    "bool_type": "'{f}' must be true or false.",
    "list_type": "'{f}' must be a list.",
    "model_type": "'{f}' must be an object.",
    "model_attributes_type": "'{f}' must be an object.",
    "dict_type": "'{f}' must be an object.",
    "string_too_short": "'{f}' must not be empty.",
    "string_too_long": "'{f}' is longer than {max_length} characters.",
    "string_pattern_mismatch": "'{f}' is not valid.",
    "too_short": "'{f}' must have at least {min_length} item(s).",
    "too_long": "'{f}' must have at most {max_length} items.",
    "greater_than_equal": "'{f}' must be at least {ge}.",
    "less_than_equal": "'{f}' must be at most {le}.",
    "literal_error": "'{f}' must be one of: {expected}.",
    "extra_forbidden": "Unknown field '{f}'{for_action}.",
}
_PATTERN_MESSAGES = {
    "package": "'{f}' is not a valid Android package name (like com.example.app).",
}


_UNION_TAGS = {"none", "str", "int", "bool", "list", "dict"}


def _clean_loc(error: Any) -> list[str]:
    """The field path of an error; a union's errors carry the member's tag ("literal[…]", "Backoff",
    "constrained-str", "none") in their location: dropped."""
    return [
        str(p)
        for p in error["loc"]
        if not (isinstance(p, str) and ("[" in p or "-" in p or p in _UNION_TAGS or p[:1].isupper()))
    ]


def _invalid(exc: ValidationError, action: str) -> StepInvalid:
    errors = exc.errors(include_url=False)
    error, loc = errors[0], _clean_loc(errors[0])
    for other in errors[1:]:  # of a union's errors on one field, the deepest says most
        other_loc = _clean_loc(other)
        if other_loc[: len(loc)] == loc and len(other_loc) > len(loc):
            error, loc = other, other_loc
    name = ".".join(loc) or "step"
    kind = error["type"]
    ctx = {k: str(v).replace("'", "") for k, v in (error.get("ctx") or {}).items()}
    if kind == "string_pattern_mismatch":
        if loc[-1] in _PATTERN_MESSAGES:
            return StepInvalid(name, _PATTERN_MESSAGES[loc[-1]].format(f=name))
        bad = _FORBIDDEN.search(str(error.get("input", "")))
        what = unicodedata.name(bad[0], f"U+{ord(bad[0]):04X}") if bad else "a forbidden character"
        return StepInvalid(name, f"'{name}' must not contain control characters (found {what}).")
    template = _MESSAGES.get(kind)
    if template is None:
        return StepInvalid(name, f"'{name}': {error['msg']}.")
    for_action = f" for action '{action}'" if len(loc) == 1 else ""
    return StepInvalid(name, template.format(f=name, for_action=for_action, **ctx))


def _walk_strings(value: Any, name: str) -> None:
    """Refuse lone surrogates anywhere in the request (pydantic's pattern check does not see them)."""
    if isinstance(value, str):
        if _FORBIDDEN.search(value):
            raise StepInvalid(name, f"'{name}' must not contain control characters or lone surrogates.")
    elif isinstance(value, dict):
        for key, inner in value.items():
            _walk_strings(inner, f"{name}.{key}" if name else str(key))
    elif isinstance(value, list):
        for position, inner in enumerate(value):
            _walk_strings(inner, f"{name}.{position}")


def _block(step: _Block, depth: int) -> tuple[int, int]:
    """Validate a block's inner steps; (steps it may run in all, their time limits added up)."""
    if depth >= MAX_BLOCK_DEPTH:
        raise StepInvalid("steps", f"Control flow nests at most {MAX_BLOCK_DEPTH} deep.")
    count, time_ms = 0, 0
    for position, inner in enumerate(step.steps):
        try:
            spec = _parse(inner, depth + 1)
        except StepInvalid as exc:
            raise StepInvalid(f"steps.{position}.{exc.field}", f"steps[{position}]: {exc.message}") from None
        if spec.action == "ask_user":
            raise StepInvalid(f"steps.{position}.action", "ask_user cannot run inside a block.")
        if spec.always:
            message = "'always' is for a step of the session; a block's steps stop at a failure."
            raise StepInvalid(f"steps.{position}.always", f"steps[{position}]: {message}")
        count += spec.expanded
        time_ms += spec.timeout_ms
    count *= step.rounds()
    if count > MAX_BLOCK_STEPS:
        raise StepInvalid("steps", f"The block runs more than {MAX_BLOCK_STEPS} steps in all.")
    return count, time_ms * step.rounds()


def _waits_for_element(step: _Step) -> bool:
    """Whether the step waits for an element before it acts (its `timeout_ms`, when given, is that wait)."""
    if isinstance(step, Type | ClearText):
        return step.into is not None
    if isinstance(step, _TargetOrPoint):
        return step.x is None
    return isinstance(step, AssertVisible | AssertNotVisible)


def step_parse(data: Any) -> StepSpec:
    """Validate a step request (`{"action": …, …params}`) into a StepSpec, or raise StepInvalid."""
    return _parse(data, 0)


def _parse(data: Any, depth: int) -> StepSpec:
    if not isinstance(data, dict):
        raise StepInvalid("step", "A step must be a JSON object with an 'action'.")
    action = data.get("action")
    if not isinstance(action, str) or not action:
        raise StepInvalid("action", "'action' is required and must be a string.")
    model = _BY_ACTION.get(action)
    if model is None:
        raise StepInvalid("action", f"Unknown action '{action[:64]}'. Known actions: {', '.join(ACTIONS)}.")
    _walk_strings(data, "")
    try:
        step = model.model_validate(data)
    except ValidationError as exc:
        raise _invalid(exc, action) from None
    params = step.model_dump(by_alias=True, exclude_none=True, exclude={"action", *COMMON_FIELDS, "secret"})
    if isinstance(step, AskUser) and step.secret:  # the question says so to whoever answers it
        params["secret"] = True
    timeout_ms = step.timeout_ms or settings.STEP_DEFAULT_TIMEOUT_MS
    if isinstance(step, WaitFor):
        params["timeout_ms"] = step.timeout_ms or WAIT_FOR_DEFAULT_MS
        timeout_ms = params["timeout_ms"] + 5_000
    elif step.timeout_ms and _waits_for_element(step):  # the wait the step asked for, then time to act
        params["timeout_ms"] = step.timeout_ms
        timeout_ms = step.timeout_ms + 5_000
    elif isinstance(step, Sleep):
        if step.timeout_ms is not None and step.timeout_ms <= step.ms:
            raise StepInvalid(
                "timeout_ms",
                f"timeout_ms ({step.timeout_ms}) must be longer than the sleep ({step.ms} ms); "
                "leave it out and the sleep may take its ms plus 5 s.",
            )
        timeout_ms = step.timeout_ms or max(timeout_ms, step.ms + 5_000)
    expanded = 1
    if isinstance(step, _Block):  # its own limit, or the time its inner steps may take (at most 10 min)
        expanded, inner_ms = _block(step, depth)
        timeout_ms = step.timeout_ms or min(MAX_TIMEOUT_MS, max(inner_ms, 1))
    backoff = step.backoff if isinstance(step.backoff, Backoff) else Backoff(strategy=step.backoff or "exponential")
    return StepSpec(
        action=action,
        params=params,
        timeout_ms=timeout_ms,
        max_retries=step.max_retries,
        backoff=backoff.model_dump(),
        optional=step.optional,
        always=step.always,
        secret=isinstance(step, Type) and step.secret,
        expanded=expanded,
    )


def step_json_schema() -> dict[str, Any]:
    """The JSON Schema of a step request, self-contained (`$defs`)."""
    return StepRequest.model_json_schema()


def _field_entry(name: str, schema: dict[str, Any], required: bool, defs: dict[str, Any]) -> dict[str, Any]:
    if "$ref" in schema:
        schema = {**defs[schema["$ref"].rsplit("/", 1)[-1]], **{k: v for k, v in schema.items() if k != "$ref"}}
    # An optional field is `anyOf: [its type, null]`; a selector's own `anyOf` (which keys it needs) is not that.
    options = [s for s in schema.get("anyOf", [schema]) if s.get("type") != "null"]
    inner = schema if schema.get("type") == "object" else options[0] if options else schema
    if "$ref" in inner:
        inner = defs[inner["$ref"].rsplit("/", 1)[-1]]
    entry: dict[str, Any] = {"name": name, "required": required}
    if "const" in inner or "enum" in inner:
        entry.update(type="choice", choices=inner.get("enum", [inner.get("const")]))
    elif inner.get("type") == "object":
        entry.update(type="selector" if name in ("into", *SELECTOR_RELATIONS) else "point")
    else:
        entry["type"] = inner.get("type", "string")
    for key in ("minimum", "maximum", "maxLength", "default", "description"):
        if key in inner:
            entry[key] = inner[key]
    if "default" in schema:
        entry["default"] = schema["default"]
    return entry


def step_catalog() -> list[dict[str, Any]]:
    """Every action with its own fields, for the IDE composer and the LLM prompt.

    `{"action", "summary", "target": "none" | "selector" | "selector_or_point", "fields": [{name, type,
    required, choices?, minimum?, maximum?, maxLength?, default?}]}`; selector fields (text, id, desc,
    index, the states and relations, x, y) are not listed: `target` says which kind the
    action takes, `selector_fields()` lists them. Common fields are in `common_fields()`.
    """
    _, schema = models_json_schema([(m, "validation") for m in MODELS])
    defs = schema["$defs"]
    catalog = []
    for model in MODELS:
        skip = {"action", *COMMON_FIELDS, *(() if model.target == "none" else (*SELECTOR_FIELDS, "x", "y"))}
        own = defs[model.__name__]
        required = set(own.get("required", []))
        catalog.append(
            {
                "action": model.model_fields["action"].annotation.__args__[0],  # type: ignore[union-attr]
                "summary": (model.__doc__ or "").strip(),
                "target": model.target,
                "fields": [
                    _field_entry(name, prop, name in required, defs)
                    for name, prop in own["properties"].items()
                    if name not in skip
                ],
            }
        )
    return catalog


def common_fields() -> list[dict[str, Any]]:
    """The optional fields every step accepts."""
    _, schema = models_json_schema([(Screenshot, "validation")])
    defs = schema["$defs"]
    own = defs["Screenshot"]["properties"]
    return [_field_entry(name, own[name], False, defs) for name in COMMON_FIELDS]


def selector_fields() -> list[dict[str, Any]]:
    """The fields of a selector (an action's target, `into`, a condition's element): text, id, desc (one or more,
    all matching), text_match, index, the states enabled, checked, selected, focused, and the relations below,
    above, left_of, right_of, child_of (each an anchor: a selector without relations)."""
    _, schema = models_json_schema([(Selector, "validation")])
    defs = schema["$defs"]
    own = defs["Selector"]["properties"]
    return [_field_entry(name, own[name], False, defs) for name in SELECTOR_FIELDS]


def action_lines() -> list[str]:
    """One line per action for an LLM prompt: `tap {text|id|desc [, index] | x, y}: Tap an element …`."""
    named = "text|id|desc [, index, enabled, checked, selected, focused, below|above|left_of|right_of|child_of: {…}]"
    target = {"none": "", "selector": named, "selector_or_point": f"{named} | x, y"}
    lines = []
    for entry in step_catalog():
        parts = [target[entry["target"]]] if entry["target"] != "none" else []
        for f in entry["fields"]:
            shown = f["name"] + ("" if f["required"] else "?")
            if f["type"] == "choice":
                shown += ": " + "|".join(str(c) for c in f["choices"])
            parts.append(shown)
        lines.append(f"{entry['action']} {{{', '.join(p for p in parts if p)}}}: {entry['summary']}")
    return lines
