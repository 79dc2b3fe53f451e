"""Every Celery task has a stable name of its own, and beat sends only tasks a worker knows."""

from typing import Any

from django.conf import settings

from config.celery import app


def registered_tasks() -> dict[str, Any]:
    # What a worker registers: the `include` list and the autodiscovered `tasks` modules.
    app.loader.import_default_modules()
    return {name: task for name, task in app.tasks.items() if not name.startswith("celery.")}


def test_every_task_has_an_explicit_name_in_the_consentry_namespace():
    tasks = registered_tasks()
    assert {"consentry.decide_chunk", "consentry.fan_out_withdrawal"} <= set(tasks)
    for name, task in tasks.items():
        assert name.startswith("consentry."), name
        # A name Celery derived from the module path would be `module.function`.
        assert name != f"{task.__module__}.{task.__name__}", name


def test_every_beat_entry_names_a_registered_task():
    tasks = registered_tasks()
    scheduled = {entry["task"] for entry in settings.CELERY_BEAT_SCHEDULE.values()}
    assert scheduled, "beat sends the sweeps"
    assert "consentry.publish_ledger_checkpoint" in scheduled  # the ledger's signed checkpoint
    assert scheduled <= set(tasks), scheduled - set(tasks)
