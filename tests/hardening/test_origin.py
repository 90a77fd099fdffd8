"""A cookie socket's Origin is compared as scheme + host + port, like Django's CSRF check (issue 17, finding 7)."""

from __future__ import annotations

import pytest

from sessions.auth import _origin_allowed


def allowed(origin: str, host: str = "localhost:8000", scheme: str = "ws", **headers: str) -> bool:
    raw = {b"host": host.encode(), **{k.replace("_", "-").encode(): v.encode() for k, v in headers.items()}}
    return _origin_allowed(origin.encode(), {"scheme": scheme}, raw)


@pytest.mark.parametrize(
    ("origin", "host", "scheme", "ok"),
    [
        ("http://localhost:8000", "localhost:8000", "ws", True),
        ("http://localhost:9999", "localhost:8000", "ws", False),  # another port: another origin
        ("https://localhost:8000", "localhost:8000", "ws", False),  # another scheme
        ("http://localhost:8000", "localhost:8000", "wss", False),
        ("https://localhost:8000", "localhost:8000", "wss", True),
        ("http://localhost", "localhost", "ws", True),
        ("http://localhost:8000", "evil.example:8000", "ws", False),  # a Host outside ALLOWED_HOSTS
        ("http://evil.example", "localhost:8000", "ws", False),
        ("null", "localhost:8000", "ws", False),
        ("http://[::1]:8000", "[::1]:8000", "ws", True),
    ],
)
def test_the_origin_must_be_the_sockets_own(origin, host, scheme, ok):
    assert allowed(origin, host, scheme) is ok


def test_trusted_origins_and_their_wildcards(settings):
    settings.CSRF_TRUSTED_ORIGINS = ["https://ide.example.com", "https://*.corp.example"]
    assert allowed("https://ide.example.com")
    assert not allowed("http://ide.example.com")
    assert allowed("https://a.corp.example") and allowed("https://b.a.corp.example")
    assert not allowed("http://a.corp.example") and not allowed("https://corp.example.evil")


def test_behind_a_tls_proxy_the_forwarded_scheme_counts(settings):
    settings.SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    assert allowed("https://localhost:8000", x_forwarded_proto="https")
    assert not allowed("http://localhost:8000", x_forwarded_proto="https")
    assert allowed("http://localhost:8000")
