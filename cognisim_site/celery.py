import os

from celery import Celery

from .config import SUPERVISED, ConfigError, exit_on_config_error, settings_check

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "cognisim_site.settings")

if os.environ.get(SUPERVISED):
    # A Supervisor's child (a Celery worker, daphne, the scheduler) checks its settings first: on a bad
    # one it exits with EXIT_CONFIG and its one line, and its supervisor stops instead of restarting it
    # (Celery would load them inside its option parsing, and end in a traceback and exit status 1).
    try:
        settings_check()
    except ConfigError as exc:
        exit_on_config_error(exc)

app = Celery("cognisim")
app.config_from_object("django.conf:settings", namespace="CELERY")
# Celery's Django fixup closes every database connection before and after each task unless told to
# reuse them: reconnecting costs more than a step. Connections follow Django's own rules instead
# (CONN_MAX_AGE, CONN_HEALTH_CHECKS), checked before each task (`worker_hooks`).
app.conf.update(CELERY_DB_REUSE_MAX=1_000_000)
app.autodiscover_tasks()

from . import worker_hooks  # noqa: E402,F401  (logging, log ids and heartbeats of every worker)
