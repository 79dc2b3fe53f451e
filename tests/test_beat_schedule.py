"""Beat sends tasks by name: every scheduled name must be one a worker registers, and each
task's name is written out, so moving or renaming a function cannot silently stop the periodic
checkpoint of the ledger or the sweeps."""

import inspect
import re

from django.conf import settings

from config.celery import app as celery_app
from registry import compliance_tasks, tasks


def test_every_scheduled_task_is_registered_under_its_name():
    celery_app.loader.import_default_modules()
    scheduled = {entry["task"] for entry in settings.CELERY_BEAT_SCHEDULE.values()}

    assert "registry.tasks.publish_ledger_checkpoint" in scheduled
    assert scheduled <= set(celery_app.tasks)


def test_every_task_names_itself_explicitly():
    for module in (tasks, compliance_tasks):
        decorators = re.findall(
            r"@shared_task\((.*?)\)\ndef (\w+)", inspect.getsource(module), re.S
        )
        assert decorators
        unnamed = [function for options, function in decorators if "name=" not in options]
        assert unnamed == [], module.__name__
