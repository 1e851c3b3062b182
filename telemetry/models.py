"""Telemetry: the history of readings, each device's latest state, gateways' state, dead letters."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone

from devices.models import DeviceKind


class HealthLevel(models.TextChoices):
    NEVER_SEEN = "never_seen", "Never seen"
    ONLINE = "online", "Online"
    LATE = "late", "Late"
    OFFLINE = "offline", "Offline"
    UNREACHABLE = "unreachable", "Unreachable (gateway offline)"
    MAINTENANCE = "maintenance", "Maintenance"


class TelemetryReading(models.Model):
    """One reading of one device: append-only history, unique by device and reading time.

    The composite primary key (device, ts) is the idempotency key (a redelivered reading is
    stored once) and, on PostgreSQL, lets the table be partitioned by ``ts``.
    """

    pk = models.CompositePrimaryKey("device", "ts")
    # No index of its own: the primary key (device, ts) leads with the device. Every index
    # on this table is paid for by every reading stored.
    device = models.ForeignKey(
        "devices.Device",
        on_delete=models.CASCADE,
        related_name="readings",
        db_constraint=False,
        db_index=False,
    )
    ts = models.DateTimeField()
    received_at = models.DateTimeField()
    # The gateway a reading came through, kept as a fact of history: deleting a gateway
    # leaves its readings as they were (no index, no months-long UPDATE of the history).
    gateway = models.ForeignKey(
        "devices.Gateway",
        on_delete=models.DO_NOTHING,
        null=True,
        blank=True,
        related_name="+",
        db_constraint=False,
        db_index=False,
    )
    battery_pct = models.FloatField(null=True, blank=True)
    rsrp_dbm = models.FloatField(null=True, blank=True)
    firmware = models.CharField(max_length=64, blank=True)
    storage_pct = models.FloatField(null=True, blank=True)
    gps_fix = models.BooleanField(null=True, blank=True)
    temperature_c = models.FloatField(null=True, blank=True)
    status = models.CharField(max_length=64, blank=True)
    extra = models.JSONField(default=dict, blank=True)

    class Meta:
        indexes = [
            # Retention and the partition sweep work by time.
            models.Index(fields=["ts"], name="telemetry_reading_ts"),
        ]

    def __str__(self) -> str:
        return f"{self.device_id}@{self.ts:%Y-%m-%dT%H:%M:%S}"


class DeviceHealth(models.Model):
    """The latest state of one device: one row per device, only ever moved forward in time."""

    device = models.OneToOneField(
        "devices.Device", on_delete=models.CASCADE, primary_key=True, related_name="health"
    )
    level = models.CharField(
        max_length=16, choices=HealthLevel.choices, default=HealthLevel.NEVER_SEEN
    )
    level_changed_at = models.DateTimeField(default=timezone.now)
    # Reasons a person can read, e.g. ["battery 8% is below 15%"]; empty when healthy.
    problems = models.JSONField(default=list, blank=True)
    last_reading_at = models.DateTimeField(null=True, blank=True)
    last_received_at = models.DateTimeField(null=True, blank=True)
    # Deadlines computed at ingest (reading time + interval, + grace), so the sweep is one
    # conditional UPDATE instead of a per-device computation. They are deliberately not
    # indexed: they change with every reading, and an indexed column that changes makes
    # every upsert a non-HOT update that rewrites all of the table's indexes. Unindexed (and
    # with free space left on each page, migration 0006), the ingest's upsert is a HOT update
    # touching no index, about twice as fast; the sweep, once a minute, reads the rows of one
    # level through telemetry_health_level instead.
    late_after = models.DateTimeField(null=True, blank=True)
    offline_after = models.DateTimeField(null=True, blank=True)
    gateway = models.ForeignKey(
        "devices.Gateway", on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    battery_pct = models.FloatField(null=True, blank=True)
    rsrp_dbm = models.FloatField(null=True, blank=True)
    firmware = models.CharField(max_length=64, blank=True)
    storage_pct = models.FloatField(null=True, blank=True)
    gps_fix = models.BooleanField(null=True, blank=True)
    temperature_c = models.FloatField(null=True, blank=True)
    status = models.CharField(max_length=64, blank=True)

    class Meta:
        verbose_name_plural = "device health"
        constraints = [
            models.CheckConstraint(
                condition=Q(level__in=[c.value for c in HealthLevel]),
                name="telemetry_health_level_valid",
            ),
            models.CheckConstraint(
                condition=Q(battery_pct__isnull=True) | Q(battery_pct__gte=0, battery_pct__lte=100),
                name="telemetry_health_battery_0_100",
            ),
        ]
        indexes = [
            # The sweep (level = online/late and a deadline passed) and the health counts.
            models.Index(fields=["level"], name="telemetry_health_level"),
        ]

    def __str__(self) -> str:
        return f"{self.device_id}: {self.level}"


class GatewayStatus(models.Model):
    """A gateway's connection state (retained online / Last Will offline) and its sequence."""

    gateway = models.OneToOneField(
        "devices.Gateway", on_delete=models.CASCADE, primary_key=True, related_name="status"
    )
    is_online = models.BooleanField(default=False)
    changed_at = models.DateTimeField(null=True, blank=True)
    last_message_at = models.DateTimeField(null=True, blank=True)
    last_seq = models.BigIntegerField(null=True, blank=True)
    messages_total = models.BigIntegerField(default=0)
    gaps_total = models.BigIntegerField(default=0)
    # Sequence numbers skipped (counted in gaps_total) within the last SEQ_WINDOW numbers;
    # one that arrives late is taken off the list and the gap un-counted, so reordering is
    # not a gap while a redelivered duplicate is not mistaken for a late arrival.
    seq_missing = models.JSONField(default=list, blank=True)

    class Meta:
        verbose_name_plural = "gateway status"
        constraints = [
            models.CheckConstraint(
                condition=Q(gaps_total__gte=0), name="telemetry_gateway_gaps_not_negative"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.gateway_id}: {'online' if self.is_online else 'offline'}"


class DeadLetter(models.Model):
    """A rejected message or reading, kept with why, so nothing is silently dropped."""

    class Reason(models.TextChoices):
        NOT_JSON = "not_json", "Not JSON"
        SCHEMA = "schema", "Schema error"
        OVERSIZED = "oversized", "Oversized"
        UNKNOWN_TOPIC = "unknown_topic", "Topic outside the contract"
        UNKNOWN_GATEWAY = "unknown_gateway", "Unknown gateway"
        UNKNOWN_DEVICE = "unknown_device", "Unknown device"
        FOREIGN_DEVICE = "foreign_device", "Device of another agency"
        FUTURE_TIMESTAMP = "future_timestamp", "Timestamp too far in the future"

    received_at = models.DateTimeField(default=timezone.now, db_index=True)
    topic = models.CharField(max_length=300)
    agency = models.ForeignKey(
        "devices.Agency", on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    gateway_name = models.CharField(max_length=64, blank=True)
    device_serial = models.CharField(max_length=64, blank=True)
    reason = models.CharField(max_length=24, choices=Reason.choices)
    detail = models.TextField(blank=True)
    payload = models.TextField(blank=True, help_text="The payload, capped in size.")
    payload_bytes = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["-received_at", "-id"]
        indexes = [
            # The dead-letter page: one agency's, newest first, by reason.
            models.Index(
                fields=["agency", "reason", "-received_at"], name="telemetry_deadletter_agency"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.received_at:%Y-%m-%d %H:%M:%S} {self.reason} {self.topic}"


class IngestStat(models.Model):
    """Running totals of one ingest process (one MQTT client id), written in each batch's
    transaction so they agree with what was committed; /metrics reads them at scrape time,
    which lets the web process report an ingest that runs elsewhere."""

    worker = models.CharField(max_length=128, primary_key=True)
    started_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)
    batches_total = models.BigIntegerField(default=0)
    messages_total = models.BigIntegerField(default=0)
    state_messages_total = models.BigIntegerField(default=0)
    readings_total = models.BigIntegerField(default=0)
    duplicates_total = models.BigIntegerField(default=0)
    # {reason: count} of rejected messages and readings.
    rejected = models.JSONField(default=dict, blank=True)
    # Histograms as {"buckets": [cumulative counts...], "sum": float, "count": int}.
    batch_size = models.JSONField(default=dict, blank=True)
    commit_seconds = models.JSONField(default=dict, blank=True)
    lag_seconds = models.FloatField(default=0)

    def __str__(self) -> str:
        return f"ingest {self.worker}"


class FlipCause(models.TextChoices):
    SILENCE = "silence", "Silence past the expected interval or grace"
    GATEWAY_LAST_WILL = "gateway_last_will", "Gateway Last Will (gateway offline)"
    GATEWAY_BACK = "gateway_back", "Gateway back online"
    THRESHOLD = "threshold", "Threshold"
    MAINTENANCE = "maintenance", "Maintenance window"
    BACK_ONLINE = "back_online", "Back online"


class HealthFlip(models.Model):
    """One change of a device's health, with its cause: why it is down, and since when.

    A level change has ``old_level != new_level``; a threshold flip (healthy to unhealthy or
    back) keeps the level and says which thresholds in ``detail``. Uptime is computed from
    the level changes (`telemetry.selectors.monthly_uptime`).
    """

    Cause = FlipCause

    device = models.ForeignKey(
        "devices.Device", on_delete=models.CASCADE, related_name="health_flips"
    )
    at = models.DateTimeField()
    old_level = models.CharField(max_length=16, choices=HealthLevel.choices)
    new_level = models.CharField(max_length=16, choices=HealthLevel.choices)
    cause = models.CharField(max_length=24, choices=FlipCause.choices)
    detail = models.CharField(max_length=500, blank=True)

    class Meta:
        ordering = ["-at", "-id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(cause__in=[c.value for c in FlipCause]),
                name="telemetry_flip_cause_valid",
            ),
        ]
        indexes = [
            # The device page's flips list and monthly_uptime: one device's flips by time.
            models.Index(fields=["device", "at"], name="telemetry_flip_device_at"),
        ]

    def __str__(self) -> str:
        return f"{self.device_id} {self.old_level}→{self.new_level} ({self.cause}) at {self.at:%Y-%m-%d %H:%M:%S}"


class DeviceFirmware(models.Model):
    """The firmware a device reports and since when, so firmware age can be a threshold.

    Kept apart from `DeviceHealth` because the ingest overwrites that row's firmware: only
    `telemetry.effects.apply_batch_effects` writes this one, when the reported version changes.
    """

    device = models.OneToOneField(
        "devices.Device", on_delete=models.CASCADE, primary_key=True, related_name="firmware_seen"
    )
    firmware = models.CharField(max_length=64, blank=True)
    since = models.DateTimeField()

    def __str__(self) -> str:
        return f"{self.device_id}: {self.firmware} since {self.since:%Y-%m-%d}"


class AlertCause(models.TextChoices):
    DEVICE_OFFLINE = "device_offline", "Device offline"
    DEVICE_UNHEALTHY = "device_unhealthy", "Device unhealthy (threshold)"
    GATEWAY_OFFLINE = "gateway_offline", "Gateway offline"


class Alert(models.Model):
    """A problem someone should look at: a device offline or unhealthy, or a gateway offline.

    At most one open alert per device (or gateway) and cause, enforced by partial unique
    constraints, so a sweep or a redelivered message never opens a second one. Resolved by the
    product when the cause clears; acknowledged by a person.
    """

    Cause = AlertCause

    agency = models.ForeignKey("devices.Agency", on_delete=models.CASCADE, related_name="alerts")
    device = models.ForeignKey(
        "devices.Device", on_delete=models.CASCADE, null=True, blank=True, related_name="alerts"
    )
    gateway = models.ForeignKey(
        "devices.Gateway", on_delete=models.CASCADE, null=True, blank=True, related_name="alerts"
    )
    cause = models.CharField(max_length=24, choices=AlertCause.choices)
    detail = models.CharField(max_length=500, blank=True)
    opened_at = models.DateTimeField(default=timezone.now)
    acknowledged_at = models.DateTimeField(null=True, blank=True)
    acknowledged_by = models.ForeignKey(
        "devices.User", on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    resolved_at = models.DateTimeField(null=True, blank=True)
    resolution = models.CharField(max_length=300, blank=True)

    class Meta:
        ordering = ["-opened_at", "-id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(cause__in=[c.value for c in AlertCause]),
                name="telemetry_alert_cause_valid",
            ),
            # An alert is about exactly one thing: a device or a gateway.
            models.CheckConstraint(
                condition=Q(device__isnull=False, gateway__isnull=True)
                | Q(device__isnull=True, gateway__isnull=False),
                name="telemetry_alert_one_subject",
            ),
            models.UniqueConstraint(
                fields=["device", "cause"],
                condition=Q(resolved_at__isnull=True, device__isnull=False),
                name="telemetry_alert_one_open_per_device_cause",
            ),
            models.UniqueConstraint(
                fields=["gateway", "cause"],
                condition=Q(resolved_at__isnull=True, gateway__isnull=False),
                name="telemetry_alert_one_open_per_gateway_cause",
            ),
        ]
        indexes = [
            # The alerts page and API: one agency's open alerts, newest first.
            models.Index(
                fields=["agency", "-opened_at"],
                condition=Q(resolved_at__isnull=True),
                name="telemetry_alert_open_agency",
            ),
        ]

    def __str__(self) -> str:
        subject = f"device {self.device_id}" if self.device_id else f"gateway {self.gateway_id}"
        return f"{self.get_cause_display()}: {subject}"

    @property
    def state(self) -> str:
        if self.resolved_at is not None:
            return "resolved"
        if self.acknowledged_at is not None:
            return "acknowledged"
        return "open"


def _default_time_zone() -> str:
    return settings.TIME_ZONE


class MaintenanceRecurrence(models.TextChoices):
    ONCE = "once", "Once"
    DAILY = "daily", "Daily"


class MaintenanceWindow(models.Model):
    """A time when an agency's devices (all, one kind, or one device) are expected to be silent.

    Devices in an active window go to the ``maintenance`` level instead of late/offline, and no
    alert is opened for them. ``once`` uses ``starts_at``..``ends_at``; ``daily`` repeats
    ``daily_start``..``daily_end`` in ``time_zone`` (wrapping midnight when start > end, e.g.
    body cameras docked 23:00-06:00), optionally bounded by ``starts_at``/``ends_at``.
    """

    Recurrence = MaintenanceRecurrence

    agency = models.ForeignKey(
        "devices.Agency", on_delete=models.CASCADE, related_name="maintenance_windows"
    )
    device_kind = models.CharField(
        max_length=24, choices=DeviceKind.choices, blank=True, help_text="Empty: every kind."
    )
    device = models.ForeignKey(
        "devices.Device",
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="maintenance_windows",
    )
    title = models.CharField(max_length=200)
    recurrence = models.CharField(max_length=8, choices=MaintenanceRecurrence.choices)
    starts_at = models.DateTimeField(null=True, blank=True)
    ends_at = models.DateTimeField(null=True, blank=True)
    daily_start = models.TimeField(null=True, blank=True)
    daily_end = models.TimeField(null=True, blank=True)
    time_zone = models.CharField(max_length=64, default=_default_time_zone)
    created_by = models.ForeignKey(
        "devices.User", on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["agency_id", "title"]
        constraints = [
            models.CheckConstraint(
                condition=Q(recurrence__in=[c.value for c in MaintenanceRecurrence]),
                name="telemetry_maintenance_recurrence_valid",
            ),
            models.CheckConstraint(
                condition=~Q(recurrence="once") | Q(starts_at__isnull=False, ends_at__isnull=False),
                name="telemetry_maintenance_once_has_bounds",
            ),
            models.CheckConstraint(
                condition=~Q(recurrence="daily")
                | Q(daily_start__isnull=False, daily_end__isnull=False),
                name="telemetry_maintenance_daily_has_times",
            ),
            models.CheckConstraint(
                condition=Q(starts_at__isnull=True)
                | Q(ends_at__isnull=True)
                | Q(ends_at__gt=models.F("starts_at")),
                name="telemetry_maintenance_ends_after_start",
            ),
        ]

    def __str__(self) -> str:
        return self.title


class ChannelKind(models.TextChoices):
    EMAIL = "email", "E-mail"
    WEBHOOK = "webhook", "Webhook"


class NotificationChannel(models.Model):
    """Where alerts of an agency (or of every agency, when ``agency`` is empty) are sent."""

    Kind = ChannelKind

    agency = models.ForeignKey(
        "devices.Agency",
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="notification_channels",
        help_text="Empty: alerts of every agency (state staff).",
    )
    kind = models.CharField(max_length=8, choices=ChannelKind.choices)
    name = models.CharField(max_length=100)
    # An e-mail address or an https:// URL.
    target = models.CharField(max_length=500)
    # The webhook's HMAC-SHA256 key; the receiver needs the same value to verify, so it is kept.
    secret = models.CharField(max_length=128, blank=True)
    is_active = models.BooleanField(default=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["agency_id", "name"]
        constraints = [
            models.CheckConstraint(
                condition=Q(kind__in=[c.value for c in ChannelKind]),
                name="telemetry_channel_kind_valid",
            ),
            models.CheckConstraint(
                condition=~Q(kind="webhook") | ~Q(secret=""),
                name="telemetry_channel_webhook_has_secret",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.kind})"


class Notification(models.Model):
    """One delivery of one alert event to one channel; the unique key makes delivery idempotent."""

    class Event(models.TextChoices):
        OPENED = "opened", "Opened"
        RESOLVED = "resolved", "Resolved"

    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        SENT = "sent", "Sent"
        FAILED = "failed", "Failed"

    alert = models.ForeignKey(Alert, on_delete=models.CASCADE, related_name="notifications")
    channel = models.ForeignKey(
        NotificationChannel, on_delete=models.CASCADE, related_name="notifications"
    )
    event = models.CharField(max_length=8, choices=Event.choices)
    status = models.CharField(max_length=8, choices=Status.choices, default=Status.PENDING)
    attempts = models.PositiveIntegerField(default=0)
    created_at = models.DateTimeField(default=timezone.now)
    sent_at = models.DateTimeField(null=True, blank=True)
    last_error = models.CharField(max_length=500, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["alert", "channel", "event"], name="telemetry_notification_once_per_event"
            ),
        ]

    def __str__(self) -> str:
        return f"alert {self.alert_id} {self.event} → channel {self.channel_id}: {self.status}"
