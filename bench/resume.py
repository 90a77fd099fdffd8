"""Resume after a reconnect: a socket that comes back with `?last_seq=0` behind 10,000 events.

    python bench/resume.py [--events 10000] [--sockets 1]

Starts its own `cognisim up` (SQLite unless DATABASE_URL is set), writes the events straight into
the session's history, then times from the socket's connect to its last replayed event.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.roundtrip import running_stack  # noqa: E402
from tests.live import Rest, Socket, wait_ready  # noqa: E402


def write_history(session_id: str, count: int) -> int:
    """Append `count` STEP_STATUS-sized events to the session, as the services would have; the last seq."""
    import django

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "cognisim_site.settings")
    django.setup()
    from sessions.models import SessionEvent, TestSession

    session = TestSession.objects.get(pk=session_id)
    first = session.last_seq + 1
    payload = {"step_id": 1, "step_index": 0, "action": "tap", "status": "COMPLETED", "attempt": 1, "duration_ms": 3}
    SessionEvent.objects.bulk_create(
        [
            SessionEvent(session=session, seq=seq, type="STEP_STATUS", payload=payload)
            for seq in range(first, first + count)
        ],
        batch_size=2000,
    )
    TestSession.objects.filter(pk=session_id).update(last_seq=first + count - 1)
    return first + count - 1


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--events", type=int, default=10_000)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    home = tempfile.mkdtemp(prefix="cognisim-bench-")
    os.environ["COGNISIM_HOME"] = home
    with running_stack(devices=1, home=home) as (url, token):
        session = Rest(url, token).post("/api/sessions/", {}).body
        sock = Socket(session["ws_url"] + "?last_seq=0", token=token)
        wait_ready(sock)
        sock.close()
        last = write_history(session["id"], args.events)
        times = []
        for _ in range(args.rounds):
            started = time.perf_counter()
            sock = Socket(session["ws_url"] + "?last_seq=0", token=token)
            sock.wait_for(lambda m: m.get("seq") == last, timeout=60)
            times.append(time.perf_counter() - started)
            assert [m["seq"] for m in sock.events()] == list(range(1, last + 1))
            sock.close()
        print(
            f"resume with {last} events behind: median {statistics.median(times) * 1000:.0f} ms, "
            f"best {min(times) * 1000:.0f} ms, worst {max(times) * 1000:.0f} ms over {args.rounds} reconnects"
        )


if __name__ == "__main__":
    main()
