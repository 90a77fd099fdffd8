"""Celery signal receivers: the workers' logs, their log ids, and their heartbeat for `/readyz`.

- Logging: Celery leaves logging alone when someone handles `setup_logging`; we apply Django's
  LOGGING, so a worker logs text or JSON like every other process.
- Ids: a task's log lines carry the ids it was given as keyword arguments (`session_id`, `step_id`,
  `turn_id`, `run_id`) and the ids bound where it was sent (the request's `request_id`, a
  `trace_id`), which travel in a message header.
- Heartbeat: a thread writes the worker's queues to Redis every WORKER_BEAT_SECONDS, also while a
  long step runs (a solo worker's own event heartbeat waits for the task to end).
"""

from __future__ import annotations

import logging
import logging.config
import threading
from typing import Any

from celery import signals

from core.logs import IDS, log_bind, log_ids, log_reset

logger = logging.getLogger("cognisim.worker")
HEADER = "cognisim_log"

_tokens: dict[str, Any] = {}


@signals.setup_logging.connect
def _logging(loglevel: Any = None, **_: Any) -> None:
    """Django's LOGGING for everything; Celery's own loggers at the worker's `-l` level."""
    from django.conf import settings

    logging.config.dictConfig(settings.LOGGING)
    if loglevel:
        logging.getLogger("celery").setLevel(loglevel)


@signals.before_task_publish.connect
def _ids_into_headers(headers: dict[str, Any] | None = None, **_: Any) -> None:
    ids = log_ids()
    if headers is not None and ids:
        headers[HEADER] = ids


@signals.task_prerun.connect
def _bind_task_ids(
    task_id: str | None = None, task: Any = None, kwargs: dict[str, Any] | None = None, **_: Any
) -> None:
    inherited = getattr(task.request, HEADER, None) if task is not None else None
    ids = dict(inherited) if isinstance(inherited, dict) else {}
    ids.update({key: value for key, value in (kwargs or {}).items() if key in IDS})
    if task_id is not None:
        _tokens[task_id] = log_bind(**ids)


@signals.task_prerun.connect
def _fresh_database_connections(**_: Any) -> None:
    """Reuse the task's database connections while Django's rules allow (CONN_MAX_AGE, health checks)."""
    from django.db import close_old_connections

    close_old_connections()


@signals.task_postrun.connect
def _unbind_task_ids(task_id: str | None = None, **_: Any) -> None:
    token = _tokens.pop(task_id, None) if task_id is not None else None
    if token is not None:
        log_reset(token)


class _Heart:
    def __init__(self, node: str, queues: list[str]) -> None:
        self.node, self.queues = node, queues
        self.stopping = threading.Event()
        self.thread = threading.Thread(target=self.run, name="cognisim-heartbeat", daemon=True)

    def run(self) -> None:
        from django.conf import settings

        from devices.workers import worker_beat

        while True:
            try:
                worker_beat(node=self.node, queues=self.queues)
            except Exception as exc:  # Redis away: the next beat tries again
                logger.warning("worker heartbeat failed: %s", exc)
            if self.stopping.wait(settings.WORKER_BEAT_SECONDS):
                return

    def stop(self) -> None:
        from devices.workers import worker_gone

        self.stopping.set()
        try:
            worker_gone(node=self.node, queues=self.queues)
        except Exception as exc:  # it expires on its own
            logger.debug("could not remove the worker's heartbeat: %s", exc)


_heart: _Heart | None = None


@signals.worker_ready.connect
def _start_heart(sender: Any = None, **_: Any) -> None:
    global _heart
    queues = sorted(queue.name for queue in sender.task_consumer.queues)
    _heart = _Heart(sender.hostname, queues)
    _heart.thread.start()
    logger.info("worker %s ready on %s", sender.hostname, ", ".join(queues))


@signals.worker_shutdown.connect
def _stop_heart(**_: Any) -> None:
    if _heart is not None:
        _heart.stop()
