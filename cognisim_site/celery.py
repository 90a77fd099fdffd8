import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "cognisim_site.settings")

app = Celery("cognisim")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
