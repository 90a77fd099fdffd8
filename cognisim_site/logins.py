"""Sign-in throttling: the model backend, refusing a user name or a client address after too many failures.

After LOGIN_FAILURES_ALLOWED failed sign-ins for one user name (or four times as many from one
client address), further attempts are refused for LOGIN_LOCKOUT_SECONDS, even with the right
password: the sign-in form says only that the attempt failed, as it does for a wrong password.
It applies wherever Django authenticates a password (the IDE's sign-in page, the admin). Counts
live in Redis (the `throttle` cache), shared by every web process; if Redis is away, sign-ins are
not throttled rather than refused.
"""

from __future__ import annotations

import hashlib
import logging
from typing import Any

from django.conf import settings
from django.contrib.auth.backends import ModelBackend
from django.core.cache import caches
from django.core.exceptions import PermissionDenied

logger = logging.getLogger(__name__)
ADDRESS_FACTOR = 4  # failures from one address, as a multiple of those allowed per user name


def _keys(request: Any, username: str | None) -> list[tuple[str, int]]:
    allowed = int(settings.LOGIN_FAILURES_ALLOWED)
    keys = []
    if username:
        name = hashlib.sha256(username.strip().lower().encode("utf-8", "replace")).hexdigest()[:32]
        keys.append((f"login-failures:user:{name}", allowed))
    address = request.META.get("REMOTE_ADDR") if request is not None else None
    if address:
        keys.append((f"login-failures:addr:{address}", allowed * ADDRESS_FACTOR))
    return keys


def _locked(keys: list[tuple[str, int]]) -> bool:
    counts = caches["throttle"].get_many([key for key, _ in keys])
    return any(counts.get(key, 0) >= limit for key, limit in keys)


def _failed(keys: list[tuple[str, int]]) -> None:
    cache = caches["throttle"]
    for key, _ in keys:
        cache.add(key, 0, timeout=settings.LOGIN_LOCKOUT_SECONDS)
        cache.incr(key)
        cache.touch(key, timeout=settings.LOGIN_LOCKOUT_SECONDS)


class ThrottledModelBackend(ModelBackend):
    def authenticate(
        self, request: Any, username: str | None = None, password: str | None = None, **kwargs: Any
    ) -> Any:
        if username is None:
            username = kwargs.get(self._username_field())
        keys = _keys(request, username)
        try:
            if keys and _locked(keys):
                logger.warning("sign-in refused: too many failures", extra={"user": (username or "")[:150]})
                raise PermissionDenied("Too many failed sign-ins; try again later.")
        except PermissionDenied:
            raise
        except Exception as exc:  # the cache is away: do not lock everyone out
            logger.warning("sign-in throttling unavailable: %s", exc)
            keys = []
        user = super().authenticate(request, username=username, password=password, **kwargs)
        if user is None and keys and password is not None:
            try:
                _failed(keys)
            except Exception as exc:
                logger.warning("sign-in throttling unavailable: %s", exc)
        return user

    @staticmethod
    def _username_field() -> str:
        from django.contrib.auth import get_user_model

        return str(get_user_model().USERNAME_FIELD)
