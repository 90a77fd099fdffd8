"""The part of `/system/bin/sh` a test driver leans on: words, quotes, `;`, `&&`, `||` and `$?`.

adbd hands the command of a `shell:` or `exec:` stream to `sh -c`, so whatever the
driver sends has to survive a real shell's parsing. This module does that parsing
with the same rules — single quotes literal, double quotes with `\\` escapes and
`$` expansion, backslash outside quotes, `#` comments, unset variables empty — so a
driver that quotes badly fails here the way it would on a phone. Pipes, redirection
and subshells are refused with a syntax error rather than half-supported.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field

OPERATORS = (";", "&&", "||")
_UNSUPPORTED = set("|&<>`()")
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_ASSIGNMENT = re.compile(r"[A-Za-z_][A-Za-z0-9_]*=")
_STATUS = object()


class ShellSyntaxError(Exception):
    pass


class UsageError(Exception):
    """A program called with arguments it cannot use; the message is what it prints."""


@dataclass
class _Word:
    parts: list[object] = field(default_factory=list)
    quoted: bool = False

    def expand(self, status: int) -> str:
        return "".join(str(status) if part is _STATUS else str(part) for part in self.parts)


@dataclass
class Command:
    """One simple command and the operator that joins it to the one before (None for the first)."""

    joined_by: str | None
    words: list[_Word]

    def argv(self, status: int) -> list[str]:
        """The arguments; an unquoted word that expanded to nothing is dropped, as field splitting does."""
        expanded = [(word.expand(status), word.quoted) for word in self.words]
        return [text for text, quoted in expanded if text or quoted]

    def split(self, status: int) -> tuple[dict[str, str], list[str]]:
        """The `NAME=value` assignments in front of the command (its environment), and its arguments."""
        env: dict[str, str] = {}
        argv = self.argv(status)
        while argv and _ASSIGNMENT.match(argv[0]):
            name, _, value = argv.pop(0).partition("=")
            env[name] = value
        return env, argv


def _dollar(line: str, at: int, word: _Word) -> int:
    """Expand the `$…` at `at` into `word`; returns the index after it."""
    rest = line[at + 1 :]
    if rest.startswith("?"):
        word.parts.append(_STATUS)
        return at + 2
    if rest.startswith("{"):
        raise ShellSyntaxError("${…} is not supported by the simulated shell")
    name = _NAME.match(rest)
    if name:
        return at + 1 + name.end()
    word.parts.append("$")
    return at + 1


def _double_quoted(line: str, at: int, word: _Word) -> int:
    """Read a "…" string starting after its opening quote; returns the index after the closing quote."""
    while at < len(line):
        char = line[at]
        if char == '"':
            return at + 1
        if char == "\\" and at + 1 < len(line) and line[at + 1] in '\\"$`\n':
            if line[at + 1] != "\n":
                word.parts.append(line[at + 1])
            at += 2
        elif char == "$":
            at = _dollar(line, at, word)
        else:
            word.parts.append(char)
            at += 1
    raise ShellSyntaxError("unterminated quoted string")


def parse(line: str) -> list[Command]:
    """The simple commands of `line`, in order; `ShellSyntaxError` for what the simulated shell refuses."""
    commands: list[Command] = []
    words: list[_Word] = []
    word: _Word | None = None
    joined_by: str | None = None
    at = 0

    def finish(operator: str) -> None:
        nonlocal words, joined_by
        if words:
            commands.append(Command(joined_by, words))
            words, joined_by = [], ";" if operator == "\n" else operator
        elif operator != "\n":
            raise ShellSyntaxError(f"unexpected '{operator}'")

    while at < len(line):
        char = line[at]
        operator = next((op for op in (*OPERATORS, "\n") if line.startswith(op, at)), None)
        if operator is not None:
            finish(operator)
            word, at = None, at + len(operator)
            continue
        if char in " \t":
            word, at = None, at + 1
            continue
        if char in _UNSUPPORTED:
            raise ShellSyntaxError(f"'{char}' is not supported by the simulated shell")
        if char == "#" and word is None:
            newline = line.find("\n", at)
            at = len(line) if newline < 0 else newline
            continue
        if word is None:
            word = _Word()
            words.append(word)
        if char in "'\"":
            word.quoted = True
        if char == "'":
            close = line.find("'", at + 1)
            if close < 0:
                raise ShellSyntaxError("unterminated quoted string")
            word.parts.append(line[at + 1 : close])
            at = close + 1
        elif char == '"':
            at = _double_quoted(line, at + 1, word)
        elif char == "\\":
            if at + 1 < len(line) and line[at + 1] != "\n":
                word.parts.append(line[at + 1])
            at += 2
        elif char == "$":
            at = _dollar(line, at, word)
        else:
            word.parts.append(char)
            at += 1
    if words:
        commands.append(Command(joined_by, words))
    elif joined_by in ("&&", "||"):
        raise ShellSyntaxError(f"unexpected end of line after '{joined_by}'")
    return commands


Program = Callable[[list[str], bytearray], int]
Lookup = Callable[[str, dict[str, str]], Program | None]
"""The program a command name runs, given the environment assignments in front of it."""


def run(line: str, programs: Lookup, out: bytearray) -> int:
    """Run `line` the way `sh -c` would, writing stdout and stderr (merged, as `shell:` v1 does) to `out`."""
    try:
        commands = parse(line)
    except ShellSyntaxError as exc:
        out += f"/system/bin/sh: syntax error: {exc}\n".encode()
        return 2
    status = 0
    for command in commands:
        if (command.joined_by == "&&" and status != 0) or (command.joined_by == "||" and status == 0):
            continue
        env, argv = command.split(status)
        if not argv:
            continue
        program = programs(argv[0], env)
        if program is None:
            out += f"/system/bin/sh: {argv[0]}: not found\n".encode()
            status = 127
        else:
            status = program(argv[1:], out)
    return status
