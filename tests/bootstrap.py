"""Loaded by pytest before Django reads its settings (`-p tests.bootstrap` in pyproject).

Every run gets its own home folder (SQLite test database, simulated devices) and a real
Redis: the one at REDIS_URL or 127.0.0.1:6379 when it answers, otherwise a private
`redis-server` started on a free port and stopped at exit.
"""

import atexit
import os
import tempfile
from pathlib import Path

from cognisim_site.redis_server import redis_answers, start_private_redis

HOME = Path(tempfile.mkdtemp(prefix="cognisim-test-"))
os.environ["COGNISIM_HOME"] = str(HOME)
os.environ["COGNISIM_CHANNEL_PREFIX"] = f"cognisim-test-{os.getpid()}"
os.environ["COGNISIM_QUEUE_PREFIX"] = f"t{os.getpid()}-"  # two test runs on one Redis never share a queue

_url = os.environ.get("REDIS_URL") or "redis://127.0.0.1:6379/0"
if not redis_answers(_url):
    _proc, _url = start_private_redis(HOME / "redis")
    atexit.register(_proc.terminate)
os.environ["REDIS_URL"] = _url
