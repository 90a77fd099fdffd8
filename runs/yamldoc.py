"""Reading flow YAML strictly: duplicate keys refused, every error at a line and column, and every
mapping and list remembering where it and each of its entries stand in the file.

It cannot be made to explode: anchors and aliases are refused (a few hundred bytes of nested
aliases expand to billions of nodes), and so are texts over `MAX_YAML_CHARS`, nesting deeper than
`MAX_YAML_DEPTH` (PyYAML composes recursively) and more than `MAX_YAML_NODES` values.

`yaml_documents(text)` returns the file's documents as plain Python values in which every dict is a
`YDict` and every list a `YList` (subclasses that carry `line`/`column`, and the line and column of
each key or item), so the flow parsers can say `login.yaml:7:5: …` about any field.

Plain scalars are resolved as YAML 1.2's core schema does (what Maestro's Jackson reads), not as
PyYAML's YAML 1.1: `true`/`false` (any case form) are the only booleans (`yes`, `no`, `on`, `off`
stay text), `0123` is not octal and `12:30` not a number of seconds. A number is a `TextInt` or
`TextFloat`: an int or float whose `str()` is the text as written (`0123`, `1.50`), so a field that
wants text gets what the person wrote and a field that wants a number gets the number.
"""

from __future__ import annotations

import math
import posixpath
import re
from typing import Any

import yaml
from yaml.composer import Composer
from yaml.constructor import SafeConstructor
from yaml.events import AliasEvent
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode
from yaml.parser import Parser
from yaml.reader import Reader
from yaml.resolver import BaseResolver
from yaml.scanner import Scanner

try:  # libyaml's C scanner and parser (PyYAML's wheels have them) are several times faster than Python's;
    # the nodes are still composed here in Python: the checks below need each event.
    from yaml.cyaml import CParser as _Parser
except ImportError:  # pragma: no cover - a PyYAML built without libyaml

    class _Parser(Reader, Scanner, Parser):  # type: ignore[no-redef]
        def __init__(self, text: str) -> None:
            Reader.__init__(self, text)
            Scanner.__init__(self)
            Parser.__init__(self)


Where = tuple[int, int]  # (line, column), both 1-based
MAX_YAML_CHARS = 1_000_000
MAX_YAML_DEPTH = 64
MAX_YAML_NODES = 200_000


class YDict(dict[str, Any]):
    """A mapping from the file: `where` is its own position, `keys_at[key]` each key's."""

    where: Where = (1, 1)
    keys_at: dict[str, Where]

    def at(self, key: str) -> Where:
        return self.keys_at.get(key, self.where)


class YList(list[Any]):
    where: Where = (1, 1)
    items_at: list[Where]

    def at(self, index: int) -> Where:
        return self.items_at[index] if 0 <= index < len(self.items_at) else self.where


class YamlProblem(Exception):
    def __init__(self, line: int, column: int, message: str) -> None:
        super().__init__(f"{line}:{column}: {message}")
        self.line, self.column, self.message = line, column, message


class _AsWritten:
    """A number that prints as the file wrote it; a format spec formats its value."""

    text: str

    def __str__(self) -> str:
        return self.text

    def __format__(self, spec: str) -> str:
        return self.text if not spec else super().__format__(spec)


class TextInt(_AsWritten, int):
    """An integer from the file that remembers how it was written: `str(TextInt("0123"))` is "0123"."""

    def __new__(cls, value: int, text: str) -> TextInt:
        number = super().__new__(cls, value)
        number.text = text
        return number


class TextFloat(_AsWritten, float):
    """A number with a fraction or an exponent from the file, remembering how it was written ("1.50")."""

    def __new__(cls, value: float, text: str) -> TextFloat:
        number = super().__new__(cls, value)
        number.text = text
        return number


def scalar_text(value: Any) -> str:
    """A scalar where text is wanted: numbers as written, booleans as `true`/`false`, null as ""."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def plain_scalar(value: Any) -> Any:
    """A `TextInt`/`TextFloat` as a plain int/float (for JSON, YAML output and the step schema)."""
    if isinstance(value, TextInt):
        return int(value)
    if isinstance(value, TextFloat):
        return float(value)
    return value


def where_of(value: Any, default: Where = (1, 1)) -> Where:
    return value.where if isinstance(value, YDict | YList) else default


def _mark(node: Node) -> Where:
    return node.start_mark.line + 1, node.start_mark.column + 1


class _CoreResolver(BaseResolver):
    """YAML 1.2 core schema for plain scalars (PyYAML resolves YAML 1.1's: `0123` octal, `yes` true …)."""


_CoreResolver.add_implicit_resolver(
    "tag:yaml.org,2002:bool", re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"), list("tTfF")
)
_CoreResolver.add_implicit_resolver(
    "tag:yaml.org,2002:int", re.compile(r"^(?:[-+]?[0-9]+|0o[0-7]+|0x[0-9a-fA-F]+)$"), list("-+0123456789")
)
_CoreResolver.add_implicit_resolver(
    "tag:yaml.org,2002:float",
    re.compile(
        r"^(?:[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)(?:[eE][-+]?[0-9]+)?|[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN))$"
    ),
    list("-+.0123456789"),
)
_CoreResolver.add_implicit_resolver(
    "tag:yaml.org,2002:null", re.compile(r"^(?:~|null|Null|NULL|)$"), ["~", "n", "N", ""]
)


class _StrictLoader(Composer, _Parser, SafeConstructor, _CoreResolver):
    """A safe loader that refuses duplicate keys, non-string keys, anchors, aliases, deep nesting and
    too many nodes, and keeps positions."""

    depth = 0
    nodes = 0

    def __init__(self, text: str) -> None:
        _Parser.__init__(self, text)
        Composer.__init__(self)
        SafeConstructor.__init__(self)
        _CoreResolver.__init__(self)

    def compose_node(self, parent: Node | None, index: Any) -> Node:  # type: ignore[override]
        event = self.peek_event()
        if isinstance(event, AliasEvent) or getattr(event, "anchor", None) is not None:
            line, column = event.start_mark.line + 1, event.start_mark.column + 1
            raise YamlProblem(line, column, "anchors and aliases (&name, *name) are not supported; write it out.")
        self.nodes += 1
        if self.nodes > MAX_YAML_NODES:
            line, column = event.start_mark.line + 1, event.start_mark.column + 1
            raise YamlProblem(line, column, f"a flow file has at most {MAX_YAML_NODES} values.")
        self.depth += 1
        try:
            if self.depth > MAX_YAML_DEPTH:
                line, column = event.start_mark.line + 1, event.start_mark.column + 1
                raise YamlProblem(line, column, f"nested more than {MAX_YAML_DEPTH} levels deep.")
            return Composer.compose_node(self, parent, index)  # type: ignore[no-any-return]
        finally:
            self.depth -= 1

    def construct_yaml_map(self, node: MappingNode) -> Any:  # type: ignore[override]
        data = YDict()
        data.where, data.keys_at = _mark(node), {}
        yield data
        self.flatten_mapping(node)
        for key_node, value_node in node.value:
            key = self.construct_object(key_node, deep=True)
            if not isinstance(key, str):
                # `true:` reads as a boolean and `1:` as a number; keys are names here.
                key = scalar_text(key) if isinstance(key, int | float | bool) else None
                if key is None:
                    line, column = _mark(key_node)
                    raise YamlProblem(line, column, "keys must be plain names (strings).")
            if key in data.keys_at:
                line, column = _mark(key_node)
                first = data.keys_at[key][0]
                raise YamlProblem(line, column, f"duplicate key '{key}' (first defined on line {first}).")
            data.keys_at[key] = _mark(key_node)
            data[key] = self.construct_object(value_node, deep=True)

    def construct_yaml_seq(self, node: SequenceNode) -> Any:  # type: ignore[override]
        data = YList()
        data.where, data.items_at = _mark(node), [_mark(item) for item in node.value]
        yield data
        data.extend(self.construct_sequence(node, deep=True))

    def construct_core_bool(self, node: ScalarNode) -> bool:
        return str(self.construct_scalar(node)).lower() == "true"

    def construct_core_int(self, node: ScalarNode) -> TextInt:
        text = str(self.construct_scalar(node))
        digits = text.lstrip("+-")
        sign = -1 if text.startswith("-") else 1
        if digits.startswith("0o"):
            return TextInt(sign * int(digits[2:], 8), text)
        if digits.startswith("0x"):
            return TextInt(sign * int(digits[2:], 16), text)
        return TextInt(int(text), text)

    def construct_core_float(self, node: ScalarNode) -> TextFloat:
        text = str(self.construct_scalar(node))
        lowered = text.lower()
        if lowered.lstrip("+-") == ".inf":
            return TextFloat(-math.inf if lowered.startswith("-") else math.inf, text)
        if lowered == ".nan":
            return TextFloat(math.nan, text)
        return TextFloat(float(text), text)


_StrictLoader.add_constructor("tag:yaml.org,2002:bool", _StrictLoader.construct_core_bool)
_StrictLoader.add_constructor("tag:yaml.org,2002:int", _StrictLoader.construct_core_int)
_StrictLoader.add_constructor("tag:yaml.org,2002:float", _StrictLoader.construct_core_float)
_StrictLoader.add_constructor("tag:yaml.org,2002:map", _StrictLoader.construct_yaml_map)
_StrictLoader.add_constructor("tag:yaml.org,2002:seq", _StrictLoader.construct_yaml_seq)


def yaml_documents(text: str) -> list[Any]:
    """Every non-empty document of `text`; raises YamlProblem (line, column, message)."""
    if len(text) > MAX_YAML_CHARS:
        raise YamlProblem(1, 1, f"a flow file has at most {MAX_YAML_CHARS} characters.")
    loader = None
    try:
        loader = _StrictLoader(text)  # it reads the start of the text already: inside the try
        documents = []
        while loader.check_node():
            node = loader.get_node()
            if node is None or (isinstance(node, ScalarNode) and node.tag.endswith(":null")):
                continue
            documents.append(loader.construct_document(node))
        return documents
    except YamlProblem:
        raise
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line, column = (mark.line + 1, mark.column + 1) if mark else (1, 1)
        problem = exc.problem or exc.context or "unreadable"
        if exc.context and exc.problem:
            problem = f"{exc.problem} ({exc.context})"
        if "maximum nesting depth" in problem:  # libyaml's own cap (1,000) met before ours
            problem = f"nested more than {MAX_YAML_DEPTH} levels deep."
            raise YamlProblem(line, column, problem) from None
        raise YamlProblem(line, column, f"not valid YAML: {problem}") from None
    except yaml.YAMLError as exc:
        raise YamlProblem(1, 1, f"not valid YAML: {exc}") from None
    except (ValueError, TypeError, OverflowError) as exc:  # a tagged scalar that is not its type (`!!float x`)
        raise YamlProblem(1, 1, f"not valid YAML: {str(exc)[:200]}") from None
    finally:
        if loader is not None:
            loader.dispose()


FLOW_FILE = re.compile(r".+\.ya?ml$")


def header_secrets(text: str) -> list[str]:
    """The `secrets:` a flow file's header lists (read before any step, so no file substitutes another's
    secret; the CLI reads them to find their values). Unreadable text → []."""
    try:
        documents = yaml_documents(text)
    except YamlProblem:
        return []
    head = documents[0] if documents and isinstance(documents[0], dict) else {}
    names = head.get("secrets")
    return [n for n in names if isinstance(n, str)] if isinstance(names, list) else []


VAR_IN_PATH = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")


def file_env(text: str) -> dict[str, str]:
    """The `env` a flow file's header gives (native or Maestro), as text; unreadable text → {}."""
    try:
        documents = yaml_documents(text)
    except YamlProblem:
        return {}
    head = documents[0] if documents and isinstance(documents[0], dict) else {}
    env = head.get("env")
    if not isinstance(env, dict):
        return {}
    return {str(k): scalar_text(v) for k, v in env.items() if not isinstance(v, dict | list)}


def file_references(text: str, *, filename: str, env: dict[str, str] | None = None) -> list[str]:
    """The other files a flow names (`run_flow: {file: …}`, Maestro `runFlow: file.yaml`), resolved
    against the folder of `filename`, with `${VAR}` in a path replaced from `env` (a path with a variable
    `env` does not give is left out). Only reads the YAML (the CLI uses it to send every file a flow
    needs; the server validates them). Unreadable text → []."""
    try:
        documents = yaml_documents(text)
    except YamlProblem:
        return []
    values = env or {}

    def with_values(path: str) -> str | None:
        names = VAR_IN_PATH.findall(path)
        if any(name not in values for name in names):
            return None
        return VAR_IN_PATH.sub(lambda m: values[m.group(1)], path)

    found: list[str] = []

    def walk(value: Any) -> None:
        if isinstance(value, dict):
            for key, item in value.items():
                names_file = key in ("run_flow", "runFlow", "retry", "file")
                if names_file and isinstance(item, str) and FLOW_FILE.match(item):
                    found.append(item)
                else:
                    walk(item)
        elif isinstance(value, list):
            for item in value:
                walk(item)

    for document in documents:
        walk(document)
    folder = posixpath.dirname(filename)
    paths = [path for path in (with_values(ref) for ref in dict.fromkeys(found)) if path is not None]
    return [posixpath.normpath(posixpath.join(folder, path)) for path in paths]
