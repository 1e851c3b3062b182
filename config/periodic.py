"""Guard for periodic tasks: the work of each task's time slot is done once, whatever beat does.

Two beat processes (a mistake that happens in real deployments) would send every periodic
task twice, and the late-acked Redis broker hands a task to another worker when its worker
dies. Each slot of a task is one row ``(name, slot)`` (unique), claimed by a conditional
UPDATE before the work and marked completed after it. What a delivery of the slot sees:

* The first one inserts the row, takes a lease and does the work.
* A second beat's delivery (another task id) finds the slot completed, or its lease held by
  the run in progress, and does nothing.
* A retry (autoretry on ``OperationalError``) finds the slot released: the failed run
  cleared its lease on the way out, so the retry claims it and does the work. If the release
  itself could not be written (the database was gone), the retry still gets the slot back:
  it carries the same task id, and the holder may always reclaim an unfinished slot.
* A redelivery after a worker was killed outright (nobody released anything) carries the same
  task id too, and reclaims the slot the same way. Any other delivery waits for the lease to
  expire before it takes the slot over.
* A completed slot is never run again.

The lease is the task's hard time limit (``run_periodic_task`` reads it off the task): by
then Celery has killed a run that overran, so an expired lease means its holder is gone. That
limit is below the broker's visibility timeout (tests/test_celery_config.py), so the broker
never redelivers a task whose run may still hold the slot. A killed run that is never
redelivered (the sweep's messages expire after 25 s) leaves its slot leased until the lease
ends; the next slot runs as usual. The guard saves load and surprises, not correctness: re-running a
snapshot, a retention or a partition run is safe, the work is idempotent.
"""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Generic, TypeVar

from django.core.exceptions import ImproperlyConfigured
from django.db import DatabaseError
from django.db.models import F, Q, QuerySet

from devices.models import PeriodicRun

logger = logging.getLogger(__name__)

T = TypeVar("T")


@dataclass(frozen=True)
class Claim:
    """A won slot: what ``complete_run`` and ``release_run`` need to touch only this claim."""

    name: str
    slot: str
    holder: str
    claimed_at: datetime


@dataclass(frozen=True)
class Ran(Generic[T]):
    """The slot was this caller's and its work returned ``result``."""

    result: T


def slot_for(now: datetime, every_seconds: int) -> str:
    """The slot ``now`` falls in, for a task that runs every ``every_seconds``."""
    epoch = int(now.timestamp())
    return str(epoch - epoch % every_seconds)


def claim_run(
    name: str, *, every_seconds: int, lease_seconds: int, now: datetime, holder: str | None = None
) -> Claim | None:
    """Claim the slot of ``now`` for ``holder``; None if it is completed or held by another.

    The claim wins when the slot has no completed run and its lease is released, expired or
    already ``holder``'s (a retry or redelivery of the same task). Race-safe: the row is
    inserted or left alone, then taken by one conditional UPDATE, so of two callers racing
    for the slot exactly one wins. Each statement commits on its own outside a transaction
    (the claim must be visible to other workers before the work starts).
    """
    slot = slot_for(now, every_seconds)
    holder = holder or uuid.uuid4().hex
    PeriodicRun.objects.bulk_create(
        [PeriodicRun(name=name, slot=slot, claimed_at=now)], ignore_conflicts=True
    )
    claimable = Q(lease_until__isnull=True) | Q(lease_until__lte=now) | Q(holder=holder)
    won = (
        PeriodicRun.objects.filter(name=name, slot=slot, completed_at__isnull=True)
        .filter(claimable)
        .update(
            holder=holder,
            claimed_at=now,
            lease_until=now + timedelta(seconds=lease_seconds),
            attempts=F("attempts") + 1,
        )
    )
    return Claim(name=name, slot=slot, holder=holder, claimed_at=now) if won else None


def complete_run(claim: Claim, *, now: datetime) -> bool:
    """Mark the claimed slot done for good; False if the claim had been taken over meanwhile.

    Idempotent. The work is done either way; a taken-over slot is completed by its new holder.
    """
    return bool(_this_claim(claim).update(completed_at=now, lease_until=None, last_error=""))


def release_run(claim: Claim, *, error: str = "") -> bool:
    """Give the slot back after a failed run, so that a retry (or any delivery) can take it.

    Idempotent; touches nothing if the claim had been taken over. Best effort: when the
    database cannot be reached the slot stays leased, and only its holder's retry or the
    lease's end frees it (module docstring).
    """
    try:
        return bool(_this_claim(claim).update(lease_until=None, last_error=error[:500]))
    except DatabaseError:
        logger.warning("periodic run %s@%s: release failed", claim.name, claim.slot, exc_info=True)
        return False


def _this_claim(claim: Claim) -> QuerySet[PeriodicRun]:
    # claimed_at fences the claim: a takeover (even by the same holder) moves it.
    return PeriodicRun.objects.filter(
        name=claim.name,
        slot=claim.slot,
        holder=claim.holder,
        claimed_at=claim.claimed_at,
        completed_at__isnull=True,
    )


def run_once(
    name: str,
    *,
    every_seconds: int,
    lease_seconds: int,
    now: datetime,
    work: Callable[[], T],
    holder: str | None = None,
) -> Ran[T] | None:
    """Claim the slot of ``now``, call ``work``, mark the slot completed; None if not ours.

    If ``work`` raises, the slot is released and the exception propagates (Celery's autoretry
    then claims it again). The completion time is ``now`` plus the time the work took, so an
    injected clock stays consistent. ``work`` runs in no transaction of this function's.
    """
    claim = claim_run(
        name, every_seconds=every_seconds, lease_seconds=lease_seconds, now=now, holder=holder
    )
    if claim is None:
        return None
    started = time.monotonic()
    try:
        result = work()
    except BaseException as exc:
        release_run(claim, error=f"{type(exc).__name__}: {exc}")
        raise
    complete_run(claim, now=now + timedelta(seconds=time.monotonic() - started))
    return Ran(result)


def run_periodic_task(
    task: Any, *, every_seconds: int, now: datetime, work: Callable[[], T]
) -> Ran[T] | None:
    """``run_once`` for a bound Celery task: named after it, held by its task id, leased for
    its hard time limit (Celery's default one when the task sets none)."""
    lease_seconds = task.time_limit or task.app.conf.task_time_limit
    if not lease_seconds:
        raise ImproperlyConfigured(f"{task.name} needs a hard time limit to lease its slot")
    return run_once(
        task.name,
        every_seconds=every_seconds,
        lease_seconds=int(lease_seconds),
        now=now,
        work=work,
        holder=task.request.id,
    )


def delete_old_runs(*, name_prefix: str, before: datetime) -> int:
    """Forget the slots of tasks named ``name_prefix…`` claimed before ``before``; idempotent."""
    deleted, _ = PeriodicRun.objects.filter(
        name__startswith=name_prefix, claimed_at__lt=before
    ).delete()
    return deleted
