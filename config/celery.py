"""The Celery app. Its settings are the CELERY_* names in config.settings."""

import os
from pathlib import Path

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

# `registry.tasks` is found by autodiscovery; the compliance tasks live in a module of their own.
app = Celery("consentry", include=["registry.compliance_tasks"])
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()

# The embedded broker is a pair of folders; making them here lets it work with no setup at all.
for _option in ("data_folder_in", "processed_folder", "control_folder"):
    _folder = app.conf.broker_transport_options.get(_option)
    if _folder:
        Path(_folder).mkdir(parents=True, exist_ok=True)
