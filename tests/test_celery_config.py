"""Celery settings that keep work from being lost or run twice (late acks on Redis)."""

from django.conf import settings

from config.celery import app


def _project_tasks():
    app.loader.import_default_modules()
    return [task for name, task in app.tasks.items() if not name.startswith("celery.")]


def test_every_task_ends_before_the_broker_would_hand_it_to_another_worker():
    tasks = _project_tasks()
    assert tasks, "no project task registered"
    for task in tasks:
        hard_limit = task.time_limit or app.conf.task_time_limit
        assert hard_limit, f"{task.name} has no hard time limit"
        assert hard_limit < settings.TASK_VISIBILITY_TIMEOUT_S, (
            f"{task.name} may run {hard_limit} s, past the {settings.TASK_VISIBILITY_TIMEOUT_S} s "
            "visibility timeout: it would be delivered twice"
        )


def test_tasks_are_acknowledged_late_one_at_a_time_and_json_only():
    assert app.conf.task_acks_late is True
    assert app.conf.task_reject_on_worker_lost is True
    assert app.conf.worker_prefetch_multiplier == 1
    assert app.conf.accept_content == ["json"]
    assert app.conf.task_serializer == "json"
