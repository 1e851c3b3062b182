"""Device health: deadlines, classification, and what a committed batch changes.

The ingest (`telemetry.ingest`) calls `deadlines()` for every device's newest reading and
`apply_batch_effects()` inside the batch's transaction; the sweep calls `mark_stale_devices()`.
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
