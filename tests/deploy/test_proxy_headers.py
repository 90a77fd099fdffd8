"""`cognisim web --proxy-headers` takes the client's address from the last value of X-Forwarded-For, the one
the proxy in front wrote: a client cannot choose the address that opens /metrics (docs/deploy.md)."""

from __future__ import annotations

import subprocess
import sys
import urllib.error
import urllib.request

import pytest
from twisted.web.http_headers import Headers

from cognisim_site.processes import wait_for_port
from cognisim_site.redis_server import free_port
from cognisim_site.web import last_hop_forwarded_for


def _status(url: str, forwarded_for: str) -> int:
    request = urllib.request.Request(url, headers={"X-Forwarded-For": forwarded_for})
    try:
        with urllib.request.urlopen(request, timeout=60) as reply:
            return reply.status
    except urllib.error.HTTPError as exc:
        return exc.code


@pytest.mark.integration
@pytest.mark.django_db(transaction=True)
def test_a_client_cannot_choose_its_address_in_front_of_the_proxys(stack):
    port = free_port()
    env = {k: v for k, v in stack.env.items() if k not in ("METRICS_TOKEN", "METRICS_ALLOW_FROM")}
    web = subprocess.Popen(
        [sys.executable, "-m", "cognisim_site.cli", "web", "--proxy-headers", "--port", str(port)],
        env=env,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_for_port("127.0.0.1", port, timeout=120, proc=web)
        url = f"http://127.0.0.1:{port}/metrics"
        # What nginx's $proxy_add_x_forwarded_for sends for a client at 8.8.8.8 that sent "127.0.0.1".
        assert _status(url, "127.0.0.1, 8.8.8.8") == 403
        assert _status(url, "8.8.8.8") == 403
        assert _status(url, "8.8.8.8, 127.0.0.1") == 200  # the proxy says: the client is on loopback
        assert _status(url, "127.0.0.1") == 200
    finally:
        web.terminate()
        web.wait(timeout=30)


def test_the_last_address_of_every_header_line_is_taken():
    twisted = Headers({b"X-Forwarded-For": [b"127.0.0.1", b"10.0.0.1, 8.8.8.8"], b"X-Forwarded-Proto": [b"https"]})
    assert last_hop_forwarded_for(twisted, "X-Forwarded-For", None, "X-Forwarded-Proto", ["10.9.9.9", 1], "http") == (
        ["8.8.8.8", 0],
        "https",
    )
    asgi = {b"x-forwarded-for": b"127.0.0.1,, ", b"host": b"example"}
    assert last_hop_forwarded_for(asgi, "X-Forwarded-For", None, None, ["10.9.9.9", 1]) == (["127.0.0.1", 0], None)
    assert last_hop_forwarded_for({b"x-forwarded-for": b" , "}, "X-Forwarded-For", None, None, ["10.9.9.9", 1]) == (
        ["10.9.9.9", 1],
        None,
    )
