"""Telemetry: the history of readings, each device's latest state, gateways' state, dead letters."""

from __future__ import annotations

from django.db import models
from django.db.models import Q
from django.utils import timezone


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
    device = models.ForeignKey("devices.Device", on_delete=models.CASCADE, related_name="readings", db_constraint=False)
    ts = models.DateTimeField()
    received_at = models.DateTimeField()
    gateway = models.ForeignKey(
        "devices.Gateway", on_delete=models.SET_NULL, null=True, blank=True, related_name="+", db_constraint=False
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
    level = models.CharField(max_length=16, choices=HealthLevel.choices, default=HealthLevel.NEVER_SEEN)
    level_changed_at = models.DateTimeField(default=timezone.now)
    # Reasons a person can read, e.g. ["battery 8% is below 15%"]; empty when healthy.
    problems = models.JSONField(default=list, blank=True)
    last_reading_at = models.DateTimeField(null=True, blank=True)
    last_received_at = models.DateTimeField(null=True, blank=True)
    # Deadlines computed at ingest (reading time + interval, + grace), so the sweep is one
    # indexed conditional UPDATE instead of a per-device computation.
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
                condition=Q(level__in=[c.value for c in HealthLevel]), name="telemetry_health_level_valid"
            ),
            models.CheckConstraint(
                condition=Q(battery_pct__isnull=True) | Q(battery_pct__gte=0, battery_pct__lte=100),
                name="telemetry_health_battery_0_100",
            ),
        ]
        indexes = [
            # mark_stale_devices: devices past their deadline that are not yet offline.
            models.Index(
                fields=["offline_after"], condition=Q(level__in=["online", "late"]), name="telemetry_health_offline_due"
            ),
            models.Index(fields=["late_after"], condition=Q(level="online"), name="telemetry_health_late_due"),
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
            models.CheckConstraint(condition=Q(gaps_total__gte=0), name="telemetry_gateway_gaps_not_negative"),
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
            models.Index(fields=["agency", "reason", "-received_at"], name="telemetry_deadletter_agency"),
        ]

    def __str__(self) -> str:
        return f"{self.received_at:%Y-%m-%d %H:%M:%S} {self.reason} {self.topic}"


class GatewayCredential(models.Model):
    """What the MQTT broker needs to check a gateway's secret (the secret itself is never kept).

    ``Gateway.credential_hash`` is a Django hash for the HTTPS fallback; Mosquitto cannot read
    it, so the same secret is also hashed in Mosquitto's own PBKDF2-SHA512 format when it is
    generated (`telemetry.credentials.set_gateway_credential`).
    """

    gateway = models.OneToOneField(
        "devices.Gateway", on_delete=models.CASCADE, primary_key=True, related_name="broker_credential"
    )
    mosquitto_hash = models.CharField(max_length=300)
    created_at = models.DateTimeField(default=timezone.now)

    def __str__(self) -> str:
        return f"broker credential of gateway {self.gateway_id}"


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
