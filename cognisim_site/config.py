"""Reading settings from the environment, each checked for its type, range or allowed values.

Every variable `settings.py` takes from the environment goes through one of these readers. A bad value
raises `ConfigError`, whose message is one line naming the variable, its value and what it may be
(docs/settings.md "Checking"). The commands print that line and exit 1 (`cognisim up`, `web`,
`worker`, `scheduler`); a process started by a Supervisor exits with `EXIT_CONFIG` instead, so that its
supervisor stops rather than restarting it for ever.
"""

from __future__ import annotations

import importlib.util
import ipaddress
import os
import sys
from collections.abc import Iterable
from typing import NoReturn
from urllib.parse import urlsplit

from django.core.exceptions import ImproperlyConfigured

EXIT_CONFIG = 78  # sysexits.h EX_CONFIG: a configuration error, which a restart cannot fix
SUPERVISED = "COGNISIM_SUPERVISED"  # set in the environment of a Supervisor's children
TRUE, FALSE = ("1", "true", "yes", "on"), ("0", "false", "no", "off")


class ConfigError(ImproperlyConfigured):
    """A setting from the environment that cannot be used; `str()` is the one line to show."""


def _raw(name: str) -> str | None:
    return os.environ.get(name)


def _refuse(name: str, raw: str, allowed: str) -> NoReturn:
    raise ConfigError(f"{name} must be {allowed}, got {raw!r}")


def env_str(name: str, default: str) -> str:
    raw = _raw(name)
    return default if raw is None else raw


def env_bool(name: str, default: bool) -> bool:
    raw = _raw(name)
    if raw is None:
        return default
    value = raw.strip().lower()
    if value in TRUE:
        return True
    if value in FALSE:
        return False
    _refuse(name, raw, "true or false (1/0, yes/no, on/off)")


def _bounds(low: float | None, high: float | None) -> str:
    if low is not None and high is not None:
        return f" from {low:g} to {high:g}"
    if low is not None:
        return f" >= {low:g}"
    return f" <= {high:g}" if high is not None else ""


def env_int(name: str, default: int, *, low: int | None = None, high: int | None = None) -> int:
    raw = _raw(name)
    if raw is None:
        return default
    allowed = f"an integer{_bounds(low, high)}"
    try:
        value = int(raw.strip())
    except ValueError:
        _refuse(name, raw, allowed)
    if (low is not None and value < low) or (high is not None and value > high):
        _refuse(name, raw, allowed)
    return value


def env_float(name: str, default: float, *, low: float = 0.0, positive: bool = False) -> float:
    """A number of seconds (or a rate): at least `low`, or above 0 when `positive`."""
    raw = _raw(name)
    if raw is None:
        return default
    allowed = "a number > 0" if positive else f"a number >= {low:g}"
    try:
        value = float(raw.strip())
    except ValueError:
        _refuse(name, raw, allowed)
    if value != value or value in (float("inf"), float("-inf")) or value < low or (positive and value <= 0):
        _refuse(name, raw, allowed)
    return value


def env_choice(name: str, default: str, choices: Iterable[str], *, upper: bool = False) -> str:
    raw = _raw(name)
    if raw is None:
        return default
    value = raw.strip().upper() if upper else raw.strip().lower()
    options = tuple(choices)
    if value not in options:
        _refuse(name, raw, "one of " + ", ".join(options))
    return value


def env_url(name: str, default: str, *, schemes: Iterable[str], host: bool = True) -> str:
    """A URL with one of `schemes` (and a host, for a network address)."""
    raw = _raw(name)
    if raw is None:
        return default
    options = tuple(schemes)
    allowed = "a URL starting with " + ", ".join(f"{s}://" for s in options)
    try:
        parts = urlsplit(raw.strip())
        parts.port  # noqa: B018  (a port that is not a number raises here)
    except ValueError:
        _refuse(name, _redacted(raw), allowed)
    if parts.scheme not in options:
        _refuse(name, _redacted(raw), allowed)
    if host and parts.scheme not in ("sqlite", "unix") and not parts.hostname:
        _refuse(name, _redacted(raw), allowed + " and a host")
    return raw.strip()


def _redacted(url: str) -> str:
    """The URL without its password, which an error line must not print."""
    scheme, sep, rest = url.partition("://")
    credentials, at, where = rest.rpartition("@")
    if not sep or not at or ":" not in credentials:
        return url
    return f"{scheme}://{credentials.split(':', 1)[0]}:***@{where}"


def env_networks(name: str, default: str) -> list[ipaddress.IPv4Network | ipaddress.IPv6Network]:
    raw = _raw(name)
    value = default if raw is None else raw
    try:
        return [ipaddress.ip_network(net.strip()) for net in value.split(",") if net.strip()]
    except ValueError:
        _refuse(name, value, "comma-separated networks such as 10.0.0.0/8,::1/128")


def env_needs(name: str, value: str, *, module: str, extra: str) -> None:
    """A setting that needs an optional dependency: refused, saying what to install, when it is missing."""
    if importlib.util.find_spec(module) is None:
        raise ConfigError(f"{name}={value!r} needs {module}, which is not installed: pip install 'cognisim[{extra}]'")


SECRET_KEY_MIN_LENGTH = 50  # Django's own check (security.W009)
POSTGRES_SCHEMES = ("postgres", "postgresql", "pgsql")


def secret_key_warning() -> str | None:
    """The line to print when a server's processes (DATABASE_URL on PostgreSQL: shared by several
    processes, often on several hosts) have no SECRET_KEY of at least `SECRET_KEY_MIN_LENGTH` characters.
    Without one each host makes its own key in its COGNISIM_HOME, and the sessions' secrets sealed on
    one are unreadable on the others. A warning, not a refusal: nothing says for sure it is production."""
    database = urlsplit((_raw("DATABASE_URL") or "").strip()).scheme
    if database not in POSTGRES_SCHEMES:
        return None
    key = _raw("SECRET_KEY") or ""
    if len(key) >= SECRET_KEY_MIN_LENGTH:
        return None
    problem = "is not set" if not key else f"has {len(key)} characters"
    return (
        f"cognisim: warning: SECRET_KEY {problem} while DATABASE_URL is PostgreSQL; set the same key of at least "
        f"{SECRET_KEY_MIN_LENGTH} characters (openssl rand -base64 48) on every process, or each host makes its "
        "own and the sessions' sealed secrets are unreadable on the others (docs/settings.md)"
    )


def secret_key_check() -> None:
    """`secret_key_warning`'s line on standard error, if there is one."""
    warning = secret_key_warning()
    if warning:
        print(warning, file=sys.stderr, flush=True)


def settings_check() -> None:
    """Load the settings module, so that a bad setting raises `ConfigError` here, before anything starts."""
    importlib.import_module(os.environ.get("DJANGO_SETTINGS_MODULE", "cognisim_site.settings"))


def exit_on_config_error(exc: ConfigError) -> NoReturn:
    """The end of a process that only a Supervisor starts (daphne, a Celery worker) on a bad setting: its
    line on stderr, no traceback, `EXIT_CONFIG`."""
    print(f"cognisim: configuration error: {exc}", file=sys.stderr, flush=True)
    raise SystemExit(EXIT_CONFIG)
