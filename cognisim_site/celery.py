import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "cognisim_site.settings")

app = Celery("cognisim")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()

from . import worker_hooks  # noqa: E402,F401  (logging, log ids and heartbeats of every worker)
