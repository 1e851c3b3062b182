"""The periodic-task guard: a slot's work is done once, and a failed run is done by its retry.

The guard's functions are called with an injected clock and a work function that records its
calls. The last tests run a probe task (tests/periodic_probe.py) in a real worker subprocess
on Redis and kill it in the middle of the work.
"""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from django.db import OperationalError, close_old_connections, connection

from config.periodic import claim_run, complete_run, delete_old_runs, release_run, run_once
from devices.models import PeriodicRun
from tests.conftest import skip_or_fail, wait_for

pytestmark = pytest.mark.django_db

NOW = datetime(2026, 5, 1, 0, 15, tzinfo=UTC)
DAY = 24 * 3600
LEASE = 600
NAME = "test.nightly"


class Work:
    """A work function that records each call and raises for the first ``failures`` of them."""

    def __init__(self, *, failures: int = 0, during: Callable[[], None] | None = None) -> None:
        self.calls: list[str] = []
        self.failures = failures
        self.during = during

    def __call__(self) -> str:
        self.calls.append("call")
        if self.during:
            self.during()
        if len(self.calls) <= self.failures:
            raise OperationalError("server closed the connection unexpectedly")
        return "done"


def run(work: Work, *, now: datetime = NOW, holder: str | None = None) -> str | None:
    """The work's result, or None when the slot was not this delivery's."""
    ran = run_once(NAME, every_seconds=DAY, lease_seconds=LEASE, now=now, work=work, holder=holder)
    return ran.result if ran else None


def test_a_failed_run_is_done_by_its_retry_exactly_once():
    work = Work(failures=1)
    with pytest.raises(OperationalError):
        run(work, holder="task-1")
    row = PeriodicRun.objects.get()
    assert row.completed_at is None
    assert row.lease_until is None
    assert "server closed the connection" in row.last_error

    # Celery's autoretry: the same task id, a few seconds later.
    assert run(work, now=NOW + timedelta(seconds=2), holder="task-1") == "done"
    # Any later delivery for the slot, retry or second beat, finds it completed.
    assert run(work, now=NOW + timedelta(seconds=4), holder="task-1") is None
    assert run(work, now=NOW + timedelta(seconds=5), holder="task-2") is None
    assert work.calls == ["call", "call"]
    row.refresh_from_db()
    assert row.attempts == 2
    assert row.completed_at is not None
    assert row.last_error == ""


def test_a_released_slot_is_taken_by_any_delivery():
    work = Work(failures=1)
    with pytest.raises(OperationalError):
        run(work, holder="task-1")
    assert run(work, now=NOW + timedelta(seconds=1), holder="sent-by-hand") == "done"
    assert work.calls == ["call", "call"]


def test_a_second_beat_does_nothing_while_the_first_runs_or_after_it():
    second: list[str | None] = []
    first = Work(during=lambda: second.append(run(Work(), holder="beat-2")))
    assert run(first, holder="beat-1") == "done"
    assert second == [None]
    late = Work()
    assert run(late, now=NOW + timedelta(hours=1), holder="beat-2") is None
    assert late.calls == []
    assert PeriodicRun.objects.get().attempts == 1


def test_a_completed_slot_is_never_run_again():
    assert run(Work(), holder="task-1") == "done"
    again = Work()
    for holder in ("task-1", "task-2", None):
        assert run(again, now=NOW + timedelta(seconds=LEASE * 2), holder=holder) is None
    assert again.calls == []


def test_the_next_slot_runs_again():
    assert run(Work(), holder="task-1") == "done"
    assert run(Work(), now=NOW + timedelta(days=1), holder="task-2") == "done"
    assert PeriodicRun.objects.filter(name=NAME, completed_at__isnull=False).count() == 2


def test_a_killed_run_is_reclaimed_by_its_redelivery_at_once():
    # Killed outright: claimed, never completed nor released.
    assert claim_run(NAME, every_seconds=DAY, lease_seconds=LEASE, now=NOW, holder="task-1")
    work = Work()
    assert run(work, now=NOW + timedelta(seconds=5), holder="task-2") is None
    assert run(work, now=NOW + timedelta(seconds=5), holder="task-1") == "done"
    assert work.calls == ["call"]


def test_an_expired_lease_of_an_unfinished_run_can_be_taken_over():
    stale = claim_run(NAME, every_seconds=DAY, lease_seconds=LEASE, now=NOW, holder="task-1")
    assert stale is not None
    work = Work()
    just_before = NOW + timedelta(seconds=LEASE - 1)
    assert run(work, now=just_before, holder="task-2") is None
    assert run(work, now=NOW + timedelta(seconds=LEASE), holder="task-2") == "done"
    assert work.calls == ["call"]
    # The stale holder cannot touch the slot it lost.
    assert complete_run(stale, now=NOW + timedelta(seconds=LEASE + 1)) is False
    assert release_run(stale, error="late") is False
    row = PeriodicRun.objects.get()
    assert row.holder == "task-2"
    assert row.last_error == ""
    assert row.completed_at >= NOW + timedelta(seconds=LEASE)


def test_old_runs_are_forgotten_by_name_and_claim_time():
    run_once("telemetry.sweep", every_seconds=30, lease_seconds=60, now=NOW, work=Work())
    run_once(
        "telemetry.sweep",
        every_seconds=30,
        lease_seconds=60,
        now=NOW + timedelta(days=8),
        work=Work(),
    )
    run_once("readiness.nightly", every_seconds=DAY, lease_seconds=60, now=NOW, work=Work())
    assert delete_old_runs(name_prefix="telemetry.", before=NOW + timedelta(days=1)) == 1
    assert sorted(PeriodicRun.objects.values_list("name", flat=True)) == [
        "readiness.nightly",
        "telemetry.sweep",
    ]


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_two_beats_racing_in_threads_run_the_work_once():
    if connection.vendor != "postgresql":
        pytest.skip("row locking between connections is PostgreSQL behaviour")
    lock = threading.Lock()
    calls: list[str] = []
    start = threading.Barrier(4)
    results: list[object] = []

    def work() -> str:
        with lock:
            calls.append("call")
        time.sleep(0.2)
        return "done"

    def beat(holder: str) -> None:
        try:
            start.wait()
            ran = run_once(
                NAME, every_seconds=DAY, lease_seconds=LEASE, now=NOW, work=work, holder=holder
            )
            results.append(ran is not None)
        finally:
            close_old_connections()
            connection.close()

    threads = [threading.Thread(target=beat, args=(f"beat-{i}",)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    assert calls == ["call"]
    assert sorted(results) == [False, False, False, True]


# A real worker, a real broker: the probe task in a subprocess on Redis.

REDIS_URL = os.environ.get("PERIODIC_TEST_REDIS_URL", "redis://127.0.0.1:6379/13")
VISIBILITY_TIMEOUT_S = 3
ROOT = Path(__file__).resolve().parents[1]


def lines(path: Path) -> list[str]:
    return path.read_text().splitlines() if path.exists() else []


class Workers:
    """Probe workers in subprocesses on the test database and a queue of this test's own."""

    def __init__(self, tmp_path: Path) -> None:
        from tests.telemetry.brokers import test_database_url

        self.queue = f"test-periodic-{uuid.uuid4().hex[:8]}"
        self.tmp_path = tmp_path
        self.env = {
            **os.environ,
            "DATABASE_URL": test_database_url(),
            "CELERY_BROKER_URL": REDIS_URL,
            "TASK_VISIBILITY_TIMEOUT_S": str(VISIBILITY_TIMEOUT_S),
            "PYTHONUNBUFFERED": "1",
        }
        self.processes: list[subprocess.Popen[bytes]] = []

    def start(self) -> subprocess.Popen[bytes]:
        log = open(self.tmp_path / f"worker-{len(self.processes)}.log", "ab")  # noqa: SIM115
        proc = subprocess.Popen(
            [sys.executable, "-m", "tests.periodic_probe", self.queue],
            env=self.env,
            stdout=log,
            stderr=subprocess.STDOUT,
            cwd=ROOT,
        )
        log.close()
        self.processes.append(proc)
        return proc

    def send(self, **kwargs: object) -> str:
        from celery import Celery

        task_id = uuid.uuid4().hex
        sender = Celery("periodic-test", broker=REDIS_URL)
        # The URL again here: Celery prefers CELERY_BROKER_URL from the environment (CI sets
        # it to another Redis database) over the broker the app was made with.
        with sender.connection_for_write(REDIS_URL) as conn:
            sender.send_task(
                "tests.periodic_probe",
                kwargs=kwargs,
                queue=self.queue,
                task_id=task_id,
                connection=conn,
            )
        return task_id

    def logs(self) -> str:
        return "\n".join(
            p.read_text(errors="replace")[-3000:] for p in self.tmp_path.glob("worker-*.log")
        )

    def close(self) -> None:
        for proc in self.processes:
            if proc.poll() is None:
                proc.kill()
                proc.wait()


def completed() -> bool:
    return PeriodicRun.objects.filter(
        name="tests.periodic_probe", completed_at__isnull=False
    ).exists()


@pytest.fixture
def workers(tmp_path) -> Iterator[Workers]:
    import redis

    try:
        redis.Redis.from_url(REDIS_URL, socket_connect_timeout=2).ping()
    except redis.exceptions.ConnectionError:
        skip_or_fail(f"Redis at {REDIS_URL} is not reachable")
    pool = Workers(tmp_path)
    yield pool
    pool.close()


@pytest.mark.celery
@pytest.mark.django_db(transaction=True)
def test_a_worker_killed_mid_run_leaves_the_work_to_the_redelivery(workers, tmp_path):
    folder = tmp_path / "probe"
    folder.mkdir()
    (folder / "hold").touch()
    first = workers.start()
    task_id = workers.send(folder=str(folder), now=NOW.isoformat())
    wait_for(lambda: lines(folder / "started"), what="the first run to start", timeout=90)
    first.kill()
    first.wait()
    (folder / "hold").unlink()

    workers.start()
    wait_for(completed, what=f"the redelivered run\n{workers.logs()}", timeout=90)
    assert lines(folder / "started") == [task_id, task_id]
    assert lines(folder / "done") == [task_id]
    row = PeriodicRun.objects.get(name="tests.periodic_probe")
    assert (row.attempts, row.holder) == (2, task_id)

    # A second beat's message for the same slot: the work is not done again.
    other = workers.send(folder=str(folder), now=(NOW + timedelta(hours=1)).isoformat())
    wait_for(lambda: lines(folder / "skipped"), what="the second delivery", timeout=60)
    assert lines(folder / "skipped") == [other], (task_id, other, workers.logs())
    assert lines(folder / "done") == [task_id]


@pytest.mark.celery
@pytest.mark.django_db(transaction=True)
def test_a_run_failing_on_the_database_is_done_by_the_celery_retry(workers, tmp_path):
    folder = tmp_path / "probe"
    folder.mkdir()
    workers.start()
    task_id = workers.send(folder=str(folder), now=NOW.isoformat(), fail_times=1)
    wait_for(completed, what=f"the retried run\n{workers.logs()}", timeout=90)
    assert lines(folder / "started") == [task_id, task_id]
    assert lines(folder / "done") == [task_id]
    assert PeriodicRun.objects.get(name="tests.periodic_probe").attempts == 2
