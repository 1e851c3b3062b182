"""Prometheus metrics for the ingest, served by the web process at ``/metrics`` (config.health).

The ingest runs as its own process (often several, on other hosts), so in-memory counters
there would be invisible to the web process. Each ingest process therefore keeps its running
totals in its `IngestStat` row, written inside every batch's transaction (so the totals agree
with what was committed, and survive restarts), and ``/metrics`` reads those rows, plus a
few figures straight from the tables, at scrape time. No Prometheus multiprocess directory,
no second port to scrape.

Metric names (all prefixed ``tracker_``):
  ingest_messages_total{kind}           messages committed (telemetry, state)
  ingest_readings_total                 history rows stored (duplicates excluded)
  ingest_duplicates_total               redelivered readings already stored
  ingest_rejected_total{reason}         dead-lettered messages and readings
  ingest_batch_size                     histogram: messages per batch
  ingest_commit_seconds                 histogram: time to write a batch, up to its COMMIT
  ingest_lag_seconds                    age of the oldest message of each process's last batch (max)
  ingest_last_commit_age_seconds        seconds since any ingest process last committed
  dead_letters{reason}                  dead letters currently kept
  gateways{state}                       gateways online / offline
  telemetry_gaps_total                  sequence numbers missing, over all gateways
  devices_by_health{level}              devices per health level
  alerts_open                           alerts not yet resolved (open or acknowledged)
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from typing import Any

from django.db.models import Count, Max, Sum
from django.utils import timezone
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)

from telemetry.models import (
    Alert,
    DeadLetter,
    DeviceHealth,
    GatewayStatus,
    HealthLevel,
    IngestStat,
)

BATCH_SIZE_BUCKETS = (1, 10, 50, 100, 250, 500, 1000, 2000, 5000, 10000)
COMMIT_SECONDS_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


def _observe(histogram: dict[str, Any], value: float, bounds: tuple[float, ...]) -> dict[str, Any]:
    buckets = list(histogram.get("buckets") or [0] * len(bounds))
    if len(buckets) != len(bounds):  # bucket bounds changed between versions: start over
        buckets = [0] * len(bounds)
        histogram = {}
    for i, bound in enumerate(bounds):
        if value <= bound:
            buckets[i] += 1
    return {
        "buckets": buckets,
        "sum": float(histogram.get("sum", 0.0)) + value,
        "count": int(histogram.get("count", 0)) + 1,
    }


class IngestTotals:
    """Writes one process's running totals into its `IngestStat` row.

    ``record()`` is called by `telemetry.ingest.ingest_batch` inside the batch's transaction,
    so a rolled-back batch leaves the totals untouched.
    """

    def __init__(self, worker: str) -> None:
        self.worker = worker[:128]

    def record(self, result: Any, *, now: datetime, write_seconds: float) -> None:
        row, _ = IngestStat.objects.select_for_update().get_or_create(worker=self.worker)
        row.updated_at = now
        row.batches_total += 1
        row.messages_total += result.telemetry_messages
        row.state_messages_total += result.state_messages
        row.readings_total += result.readings_stored
        row.duplicates_total += result.readings_duplicate
        rejected = dict(row.rejected or {})
        for reason, count in result.rejected.items():
            rejected[str(reason)] = rejected.get(str(reason), 0) + count
        row.rejected = rejected
        row.batch_size = _observe(row.batch_size or {}, result.messages, BATCH_SIZE_BUCKETS)
        row.commit_seconds = _observe(
            row.commit_seconds or {}, write_seconds, COMMIT_SECONDS_BUCKETS
        )
        if result.oldest_sent_at is not None:
            row.lag_seconds = max(0.0, (now - result.oldest_sent_at).total_seconds())
        row.save()


class TrackerCollector:
    """Reads the figures above from the database at scrape time."""

    def collect(self) -> Iterator[Metric]:
        now = timezone.now()
        stats = list(IngestStat.objects.all())
        messages = CounterMetricFamily(
            "tracker_ingest_messages", "Messages committed by the ingest.", labels=["kind"]
        )
        messages.add_metric(["telemetry"], sum(s.messages_total for s in stats))
        messages.add_metric(["state"], sum(s.state_messages_total for s in stats))
        yield messages
        yield CounterMetricFamily(
            "tracker_ingest_readings",
            "Telemetry readings stored (duplicates excluded).",
            value=sum(s.readings_total for s in stats),
        )
        yield CounterMetricFamily(
            "tracker_ingest_duplicates",
            "Redelivered readings that were already stored.",
            value=sum(s.duplicates_total for s in stats),
        )
        rejected = CounterMetricFamily(
            "tracker_ingest_rejected",
            "Messages and readings rejected into dead letters.",
            labels=["reason"],
        )
        totals: dict[str, int] = {r.value: 0 for r in DeadLetter.Reason}
        for s in stats:
            for reason, count in (s.rejected or {}).items():
                totals[reason] = totals.get(reason, 0) + int(count)
        for reason, count in sorted(totals.items()):
            rejected.add_metric([reason], count)
        yield rejected
        yield _histogram(
            "tracker_ingest_batch_size",
            "Messages per committed batch.",
            stats,
            "batch_size",
            BATCH_SIZE_BUCKETS,
        )
        yield _histogram(
            "tracker_ingest_commit_seconds",
            "Seconds to write and commit a batch.",
            stats,
            "commit_seconds",
            COMMIT_SECONDS_BUCKETS,
        )
        yield GaugeMetricFamily(
            "tracker_ingest_lag_seconds",
            "Age of the oldest message in the last committed batch (worst process).",
            value=max((s.lag_seconds for s in stats), default=0.0),
        )
        last = max((s.updated_at for s in stats), default=None)
        yield GaugeMetricFamily(
            "tracker_ingest_last_commit_age_seconds",
            "Seconds since an ingest process last committed a batch.",
            value=(now - last).total_seconds() if last else float("nan"),
        )
        yield from _table_figures()


def _histogram(
    name: str, doc: str, stats: list[IngestStat], attr: str, bounds: tuple[float, ...]
) -> Metric:
    buckets = [0] * len(bounds)
    total_sum, total_count = 0.0, 0
    for s in stats:
        data = getattr(s, attr) or {}
        values = data.get("buckets") or []
        if len(values) != len(bounds):
            continue
        buckets = [a + b for a, b in zip(buckets, values, strict=True)]
        total_sum += float(data.get("sum", 0.0))
        total_count += int(data.get("count", 0))
    pairs = [(str(float(b)), c) for b, c in zip(bounds, buckets, strict=True)]
    pairs.append(("+Inf", total_count))
    return HistogramMetricFamily(name, doc, buckets=pairs, sum_value=total_sum)


def _table_figures() -> Iterator[Metric]:
    dead = GaugeMetricFamily(
        "tracker_dead_letters", "Dead letters kept, by reason.", labels=["reason"]
    )
    counts = dict(DeadLetter.objects.values_list("reason").annotate(n=Count("id")).order_by())
    for reason in DeadLetter.Reason:
        dead.add_metric([reason.value], counts.get(reason.value, 0))
    yield dead
    gateways = GaugeMetricFamily(
        "tracker_gateways", "Gateways by connection state.", labels=["state"]
    )
    by_state = dict(
        GatewayStatus.objects.values_list("is_online").annotate(n=Count("gateway")).order_by()
    )
    gateways.add_metric(["online"], by_state.get(True, 0))
    gateways.add_metric(["offline"], by_state.get(False, 0))
    yield gateways
    agg = GatewayStatus.objects.aggregate(gaps=Sum("gaps_total"), newest=Max("last_message_at"))
    yield GaugeMetricFamily(
        "tracker_telemetry_gaps_total",
        "Sequence numbers missing, over all gateways.",
        value=agg["gaps"] or 0,
    )
    levels = GaugeMetricFamily(
        "tracker_devices_by_health", "Devices per health level.", labels=["level"]
    )
    by_level = dict(
        DeviceHealth.objects.values_list("level").annotate(n=Count("device")).order_by()
    )
    for level in HealthLevel.values:
        levels.add_metric([level], by_level.get(level, 0))
    yield levels
    # Open or acknowledged: an alert counts until it is resolved (the API's "active").
    open_alerts = Alert.objects.filter(resolved_at__isnull=True).count()
    yield GaugeMetricFamily("tracker_alerts_open", "Alerts open now.", value=open_alerts)


def render_metrics() -> bytes:
    registry = CollectorRegistry(auto_describe=False)
    registry.register(TrackerCollector())
    return generate_latest(registry)
