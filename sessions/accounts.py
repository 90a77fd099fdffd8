"""Users of the API: creation with a token and an optional per-user cap."""

from __future__ import annotations

from django.contrib.auth import get_user_model
from django.db import transaction
from rest_framework.authtoken.models import Token

from devices.services import host_agent_bind

from .models import UserQuota


def api_user_create(
    *,
    username: str,
    max_sessions: int | None = None,
    password: str | None = None,
    host_agent: bool = False,
    host: str | None = None,
) -> str:
    """Create the user if needed, set its cap and password when given, and return its API token.

    A host agent's token belongs to one host (`host`, by default the user's name): it registers,
    heartbeats and takes offline that host's devices only.
    """
    with transaction.atomic():
        user, _ = get_user_model().objects.get_or_create(username=username)
        if host_agent or host:
            host_agent_bind(user=user, host=host or username)
        if password is not None and not user.check_password(password):  # the same one: signed-in browsers stay in
            user.set_password(password)
            user.save(update_fields=["password"])
        if max_sessions is not None:
            UserQuota.objects.update_or_create(user=user, defaults={"max_active_sessions": max_sessions})
        token, _ = Token.objects.get_or_create(user=user)
    return token.key
