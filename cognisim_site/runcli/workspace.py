"""Which flow files `cognisim run PATH…` runs: files and folders, a folder's `config.yaml` (flow globs,
include/exclude tags, as Maestro's workspace config), and every other file each flow runs."""

from __future__ import annotations

import posixpath
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from runs.yamldoc import YamlProblem, file_env, file_references, yaml_documents

from .client import CliError

CONFIG_NAMES = ("config.yaml", "config.yml")
CONFIG_FIELDS = ("flows", "includeTags", "excludeTags")
MAX_FILES = 200  # other files one flow may pull in


@dataclass
class FlowFile:
    """One flow to run: its name as given (posix), its text, and the other files it runs (path → text)."""

    filename: str
    text: str
    files: dict[str, str] = field(default_factory=dict)


@dataclass
class Workspace:
    flows: list[FlowFile]
    include_tags: list[str]
    exclude_tags: list[str]


def _read(path: str) -> str:
    try:
        return Path(path).read_text()
    except (OSError, UnicodeDecodeError) as exc:
        raise CliError(f"cannot read {path}: {getattr(exc, 'strerror', None) or exc}") from None


def _bundle(filename: str, text: str, env: dict[str, str]) -> dict[str, str]:
    """Every file the flow names with `run_flow: {file: …}`, and the files those name, read from disk.

    `${VAR}` in a path takes its value as the server's does: the `-e` values over the file's own `env`,
    over the variables of the file that runs it."""
    files: dict[str, str] = {}
    own = {**file_env(text), **env}
    pending = [(path, own) for path in file_references(text, filename=filename, env=own)]
    while pending:
        path, outer = pending.pop(0)
        if path in files or path == filename:
            continue
        if len(files) >= MAX_FILES:
            raise CliError(f"{filename}: runs more than {MAX_FILES} other files.")
        if not Path(path).is_file():
            continue  # the server names the missing file, with the line that wants it
        files[path] = _read(path)
        inner = {**outer, **file_env(files[path]), **env}
        pending += [(ref, inner) for ref in file_references(files[path], filename=path, env=inner)]
    return files


def _strings(value: Any, where: str) -> list[str]:
    if value is None:
        return []
    if isinstance(value, str):
        return [value]
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return list(value)
    raise CliError(f"{where} must be a name or a list of names.")


def _config(path: Path) -> dict[str, Any]:
    try:
        documents = yaml_documents(path.read_text())
    except YamlProblem as exc:
        raise CliError(f"{path}:{exc.line}:{exc.column}: {exc.message}") from None
    except OSError as exc:
        raise CliError(f"cannot read {path}: {exc.strerror}") from None
    config = documents[0] if documents else {}
    if not isinstance(config, dict):
        raise CliError(f"{path}: a workspace config is a mapping (flows, includeTags, excludeTags).")
    for key in config:
        if key not in CONFIG_FIELDS:
            line = config.at(key)[0] if hasattr(config, "at") else 1
            raise CliError(f"{path}:{line}: unknown field '{key}'; a workspace config has {', '.join(CONFIG_FIELDS)}.")
    return config


def _folder_flows(folder: Path, globs: list[str]) -> list[Path]:
    found: list[Path] = []
    for pattern in globs:
        for path in sorted(folder.glob(pattern)):
            flow = path.is_file() and path.suffix in (".yaml", ".yml") and path.name not in CONFIG_NAMES
            if flow and path not in found:
                found.append(path)
    return found


def flow_file(path: str, *, env: dict[str, str] | None = None) -> FlowFile:
    """One flow file and every other file it runs, read as `cognisim run` reads them."""
    if not Path(path).is_file():
        raise CliError(f"{path}: no such file.")
    name = posixpath.normpath(Path(path).as_posix())
    text = _read(name)
    return FlowFile(filename=name, text=text, files=_bundle(name, text, env or {}))


def workspace_load(
    paths: Iterable[str],
    *,
    config_path: str | None,
    include_tags: list[str],
    exclude_tags: list[str],
    env: dict[str, str] | None = None,
) -> Workspace:
    """The flows named by files and folders (a folder: its config's `flows` globs, default `*`)."""
    flows: list[FlowFile] = []
    include, exclude = list(include_tags), list(exclude_tags)
    explicit = _config(Path(config_path)) if config_path else None
    for given in paths:
        path = Path(given)
        if path.is_dir():
            config = explicit
            if config is None:
                found = next((path / n for n in CONFIG_NAMES if (path / n).is_file()), None)
                config = _config(found) if found else {}
            globs = _strings(config.get("flows"), "flows") or ["*"]
            include += _strings(config.get("includeTags"), "includeTags")
            exclude += _strings(config.get("excludeTags"), "excludeTags")
            members = _folder_flows(path, globs)
            if not members:
                raise CliError(f"{given}: no flow files match {', '.join(globs)}.")
            names = [posixpath.normpath(m.as_posix()) for m in members]
        elif path.is_file():
            names = [posixpath.normpath(path.as_posix())]
        else:
            raise CliError(f"{given}: no such file or folder.")
        for name in names:
            text = _read(name)
            flows.append(FlowFile(filename=name, text=text, files=_bundle(name, text, env or {})))
    if explicit is not None:
        include += _strings(explicit.get("includeTags"), "includeTags")
        exclude += _strings(explicit.get("excludeTags"), "excludeTags")
    return Workspace(flows=flows, include_tags=sorted(set(include)), exclude_tags=sorted(set(exclude)))


def tags_admit(tags: list[str], *, include: list[str], exclude: list[str]) -> bool:
    """Maestro's rule: with include tags, a flow needs one of them; it must have none of the excluded."""
    return (not include or any(t in include for t in tags)) and not any(t in exclude for t in tags)


def pairs(items: list[str], option: str) -> dict[str, str]:
    """`KEY=VALUE` arguments as a dict."""
    values = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise CliError(f"{option} takes KEY=VALUE, not {item!r}")
        values[key] = value
    return values


def tag_list(items: list[str]) -> list[str]:
    return [t.strip() for item in items for t in item.split(",") if t.strip()]
