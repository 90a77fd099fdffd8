"""A session's secrets (a CI run's `--secret` values, typed passwords): referred to as `${NAME}` in the steps,
filled in on the device's worker, and masked back to `${NAME}` in everything a step produces."""

from __future__ import annotations

import re
from typing import Any
from xml.sax.saxutils import escape

SECRET_REF = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")


def secrets_resolve(value: Any, secrets: dict[str, str]) -> Any:
    """`${NAME}` → the secret's value, in every string of a step's params."""
    if isinstance(value, str):
        return SECRET_REF.sub(lambda m: secrets.get(m[1], m[0]), value) if "${" in value else value
    if isinstance(value, dict):
        return {key: secrets_resolve(inner, secrets) for key, inner in value.items()}
    if isinstance(value, list):
        return [secrets_resolve(inner, secrets) for inner in value]
    return value


def secrets_named(value: Any) -> set[str]:
    """The names a step's params refer to as `${NAME}`."""
    if isinstance(value, str):
        return {m[1] for m in SECRET_REF.finditer(value)} if "${" in value else set()
    if isinstance(value, dict):
        return set().union(*(secrets_named(inner) for inner in value.values()))
    if isinstance(value, list):
        return set().union(*(secrets_named(inner) for inner in value))
    return set()


def secrets_mask_xml(xml: str, secrets: dict[str, str]) -> str:
    """Every secret value → `${NAME}` in a screen's UI tree, where a value is also XML-escaped (`&amp;`)."""
    escaped = {name: escape(secret, {'"': "&quot;"}) for name, secret in secrets.items()}
    return str(secrets_mask(secrets_mask(xml, escaped), secrets))


def secrets_mask(value: Any, secrets: dict[str, str]) -> Any:
    """Every secret value → `${NAME}`, in every string of a result, an effect or an error."""
    if not secrets:
        return value
    if isinstance(value, str):
        for name, secret in secrets.items():
            if secret and secret in value:
                value = value.replace(secret, "${" + name + "}")
        return value
    if isinstance(value, dict):
        return {key: secrets_mask(inner, secrets) for key, inner in value.items()}
    if isinstance(value, list):
        return [secrets_mask(inner, secrets) for inner in value]
    return value
