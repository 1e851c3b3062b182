"""Device health: deadlines, classification, and what a committed batch changes.

The ingest (`telemetry.ingest`) calls `deadlines()` for every device's newest reading and
`apply_batch_effects()` inside the batch's transaction; the sweep calls `mark_stale_devices()`.

Contract with the ingest (the latest-state upsert):

* The upsert writes the measurements, ``last_reading_at``, ``last_received_at``, ``gateway``
  and the deadlines from `deadlines()`. It does NOT write ``level``, ``level_changed_at`` or
  ``problems`` of an existing row; a new row gets the model default (``never_seen``).
  Leaving the previous level readable is what lets `apply_batch_effects()` record a
  "back online" flip for exactly the devices that were not online.
* Then, in the same transaction, it calls ``apply_batch_effects(device_ids=..., now=...)``
  with the devices whose row the batch touched (duplicates allowed). That call is
  set-based: one read of those rows, writes only for the rows whose level or problems
  changed, so a batch of thousands of devices costs a few queries.
* ``gateway_state_changed(gateway_id=..., is_online=..., at=..., cause=...)`` is called after
  the ingest has updated ``GatewayStatus`` for a retained ``online`` or a Last Will
  ``offline`` message.
"""

from __future__ import annotations

from datetime import datetime, timedelta

# A device is late once its expected interval has passed without a reading, and offline
# once a grace period more has passed (Healthchecks' period + grace).
MIN_GRACE = timedelta(minutes=2)


def grace_for(interval_s: int) -> timedelta:
    return max(timedelta(seconds=2 * interval_s), MIN_GRACE)


def deadlines(reading_at: datetime, interval_s: int) -> tuple[datetime, datetime]:
    """(late_after, offline_after) for a device whose newest reading is at ``reading_at``."""
    late_after = reading_at + timedelta(seconds=interval_s)
    return late_after, late_after + grace_for(interval_s)


def apply_batch_effects(*, device_ids: list[int], now: datetime) -> None:
    """Flips, threshold problems and alerts for devices a committed batch just touched.

    Called inside the batch's transaction, after the latest-state upsert.
    """
    # Filled in by the health and alerting work (flips, thresholds, alert resolution).
    return
