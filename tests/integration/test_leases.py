"""Device leases with real Redis and real processes: one holder, a dead holder's lease lapses within the TTL."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from devices.leases import lease_current
from tests.live import Rest

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]

HOLDER = """
import os, sys, time, django
os.environ["DJANGO_SETTINGS_MODULE"] = "cognisim_site.settings"
django.setup()
from devices.leases import lane_lease
lease = lane_lease(serial=sys.argv[1])  # kept and renewed in the background, as a device's worker does
print(lease.token, flush=True)
time.sleep(600)
"""


def test_two_users_racing_for_one_device_one_wins(stack, devices, alice, bob):
    clients = [Rest(stack.base_url, token) for token in (alice, bob) * 5]
    with ThreadPoolExecutor(10) as pool:
        replies = list(pool.map(lambda c: c.post("/api/sessions/", {"device": devices[0].serial}), clients))
    assert sorted(r.status for r in replies) == [201] + [409] * 9
    assert {r.body["code"] for r in replies if r.status == 409} == {"device_busy"}


def test_a_killed_holders_lease_lapses_within_the_ttl():
    ttl = 2
    serial = f"lapse-{os.getpid()}"  # a device no worker of the test stack serves
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLDER, serial],
        env=dict(os.environ, LEASE_TTL_SECONDS=str(ttl)),
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        token = int(holder.stdout.readline())
        time.sleep(ttl * 2)  # the condition under test: a live holder keeps its lease past the TTL by renewing it
        assert lease_current(serial=serial) == f"{socket.gethostname()}:{holder.pid}:{token}"
        holder.send_signal(signal.SIGKILL)
        killed = time.monotonic()
        while lease_current(serial=serial) is not None:
            assert time.monotonic() - killed < ttl * 2, "the dead holder's lease outlived its TTL"
            time.sleep(0.05)
    finally:
        holder.kill()
        holder.wait()
