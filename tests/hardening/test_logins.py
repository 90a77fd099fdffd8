"""Sign-ins are throttled per user name and per client address (issue 17, finding 7)."""

from __future__ import annotations

import uuid

import pytest
from django.contrib.auth import get_user_model

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def fast_hashing(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def person():
    name = f"dana-{uuid.uuid4().hex[:8]}"
    get_user_model().objects.create_user(name, password="right-password-1")
    return name


def sign_in(client, name, password, address):
    reply = client.post("/login/", {"username": name, "password": password}, REMOTE_ADDR=address)
    return reply.status_code == 302  # signed in: redirected home


def fresh_address() -> str:
    return f"10.{uuid.uuid4().int % 250}.{uuid.uuid4().int % 250}.{uuid.uuid4().int % 250}"


def test_a_user_name_is_locked_after_too_many_failures_even_with_the_right_password(client, person, settings):
    address = fresh_address()
    for _ in range(settings.LOGIN_FAILURES_ALLOWED):
        assert not sign_in(client, person, "wrong", address)
    assert not sign_in(client, person, "right-password-1", address)
    assert not sign_in(client, person, "right-password-1", fresh_address())  # the name is locked, wherever from
    other = f"erin-{uuid.uuid4().hex[:8]}"
    get_user_model().objects.create_user(other, password="right-password-2")
    assert sign_in(client, other, "right-password-2", address)  # one address is allowed more failures


def test_fewer_failures_than_allowed_do_not_lock(client, person, settings):
    address = fresh_address()
    for _ in range(settings.LOGIN_FAILURES_ALLOWED - 1):
        assert not sign_in(client, person, "wrong", address)
    assert sign_in(client, person, "right-password-1", address)


def test_one_address_guessing_many_names_is_locked(client, person, settings):
    address = fresh_address()
    for n in range(settings.LOGIN_FAILURES_ALLOWED * 4):
        assert not sign_in(client, f"nobody-{n}-{uuid.uuid4().hex[:6]}", "guess", address)
    assert not sign_in(client, person, "right-password-1", address)
    assert sign_in(client, person, "right-password-1", fresh_address())


def test_starting_the_stack_again_keeps_the_demo_users_browsers_signed_in(client):
    """`cognisim up` sets the demo user's password on every start: the same one must not sign anybody out."""
    from sessions.accounts import api_user_create

    api_user_create(username="demo-again", password="same-password-1")
    client.login(username="demo-again", password="same-password-1")
    assert client.get("/").status_code == 200
    api_user_create(username="demo-again", password="same-password-1")  # the stack started again
    assert client.get("/").status_code == 200
    api_user_create(username="demo-again", password="another-password-2")  # a new one does sign out
    assert client.get("/").status_code == 302
