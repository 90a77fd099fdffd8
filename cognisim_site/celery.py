import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "cognisim_site.settings")

app = Celery("cognisim")
app.config_from_object("django.conf:settings", namespace="CELERY")
# Celery's Django fixup closes every database connection before and after each task unless told to
# reuse them: reconnecting costs more than a step. Connections follow Django's own rules instead
# (CONN_MAX_AGE, CONN_HEALTH_CHECKS), checked before each task (`worker_hooks`).
app.conf.update(CELERY_DB_REUSE_MAX=1_000_000)
app.autodiscover_tasks()

from . import worker_hooks  # noqa: E402,F401  (logging, log ids and heartbeats of every worker)
