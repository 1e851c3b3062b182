"""Guard for periodic tasks: at most one run per task and time slot, whatever beat does.

Two beat processes (a mistake that happens in real deployments) would send every periodic
task twice. Each periodic task first claims ``(name, slot)`` in the database; the unique
constraint lets exactly one claim win.
"""

from __future__ import annotations

from datetime import datetime

from django.db import IntegrityError, transaction
from django.utils import timezone


def slot_for(now: datetime, every_seconds: int) -> str:
    """The slot ``now`` falls in, for a task that runs every ``every_seconds``."""
    epoch = int(now.timestamp())
    return str(epoch - epoch % every_seconds)


def claim_run(name: str, *, every_seconds: int, now: datetime | None = None) -> bool:
    """True if this caller won the slot and should do the work; False if it was taken."""
    from devices.models import PeriodicRun

    slot = slot_for(now or timezone.now(), every_seconds)
    try:
        with transaction.atomic():
            PeriodicRun.objects.create(name=name, slot=slot)
    except IntegrityError:
        return False
    return True
