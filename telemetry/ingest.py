"""The ingest service: one path from a batch of raw messages to committed rows.

Used by the MQTT subscriber (`telemetry.mqtt`, `manage.py ingest_mqtt`) and by the HTTPS
fallback (`POST /api/telemetry`), so both validate and store the same way.

`ingest_batch()`:

1. parses every message without touching the database (topic, size cap, JSON, strict schema);
2. resolves agencies, gateways and devices (process-wide caches with a short time to live,
   one query per batch for what the cache misses);
3. in ONE transaction: writes history rows idempotently (unique by device and reading time,
   ON CONFLICT DO NOTHING), advances each device's latest state only forward in time (newest
   reading per device wins inside the batch; ``WHERE excluded.last_reading_at >
   current.last_reading_at`` across batches and processes), updates gateway state and
   sequence gaps, writes dead letters for every rejected message or reading, and lets
   `telemetry.effects.apply_batch_effects` react.

Input never makes it raise: bad input becomes a dead letter. Database outages do raise
(``OperationalError``), so the caller leaves the batch unacknowledged and retries it; that
is safe because every write here is idempotent.
"""

from __future__ import annotations

import functools
import gc
import json
import logging
import time
from collections import Counter, deque
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import DatabaseError, InterfaceError, OperationalError, connection, transaction
from django.utils import timezone
from pydantic import ValidationError

from devices.models import Agency, Device, DeviceModel, Gateway
from telemetry import effects, health, writers
from telemetry.models import DeadLetter, GatewayStatus
from telemetry.payloads import (
    MAX_MESSAGE_BYTES,
    Envelope,
    Reading,
    TelemetryMessage,
    describe_errors,
    parse_state,
)
from telemetry.sequences import advance_sequence
from telemetry.topics import Topic, TopicError, TopicKind, parse_topic
from telemetry.writers import Row

log = logging.getLogger(__name__)

Reason = DeadLetter.Reason
# A reading this far ahead of the tracker's clock is a gateway with a wrong clock; storing it
# would pin the device's latest state in the future and hide every real reading after it.
FUTURE_TOLERANCE = timedelta(minutes=5)
DEAD_LETTER_PAYLOAD_CAP = 4096
# Inventory changes (a device moved to another agency, a new gateway) are seen within this.
CACHE_TTL_S = 60.0
# Devices `warm_caches` loads at start at most (a cached device holds about 440 bytes).
WARM_DEVICES_MAX = 1_000_000


@dataclass(frozen=True, slots=True)
class InboundMessage:
    """One message as received: the topic, the raw payload and when it arrived."""

    topic: str
    payload: bytes
    received_at: datetime


@dataclass(slots=True)
class BatchResult:
    """What one batch did; the caller feeds it to metrics and logs."""

    messages: int = 0
    telemetry_messages: int = 0
    state_messages: int = 0
    readings_accepted: int = 0
    readings_stored: int = 0
    readings_duplicate: int = 0
    devices_advanced: int = 0
    gateway_state_changes: int = 0
    gaps: int = 0
    rejected: Counter[str] = field(default_factory=Counter)
    # (reason, detail, device serial) of every rejection, for the HTTPS answer and logs.
    rejections: list[tuple[str, str, str]] = field(default_factory=list)
    oldest_sent_at: datetime | None = None
    sent_at: list[datetime] = field(default_factory=list)
    # Seconds in the batch's transaction (validation and row building excluded).
    write_seconds: float = 0.0

    @property
    def dead_letters(self) -> int:
        return sum(self.rejected.values())

    def count_message(self, sent_at: datetime) -> None:
        """One accepted telemetry message, sent at ``sent_at``."""
        self.telemetry_messages += 1
        self.sent_at.append(sent_at)
        if self.oldest_sent_at is None or sent_at < self.oldest_sent_at:
            self.oldest_sent_at = sent_at


@dataclass(slots=True)
class _Rejection:
    reason: str
    detail: str
    topic: str
    received_at: datetime
    payload: bytes
    agency_slug: str = ""
    gateway_name: str = ""
    device_serial: str = ""
    agency_id: int | None = None


@dataclass(slots=True)
class _Telemetry:
    topic: Topic
    raw: InboundMessage
    message: TelemetryMessage | None
    readings: list[Reading]
    seq: int
    sent_at: datetime
    gateway_id: int = 0
    agency_id: int = 0


@dataclass(slots=True)
class _State:
    topic: Topic
    raw: InboundMessage
    is_online: bool
    gateway_id: int = 0


@dataclass(slots=True)
class _Parsed:
    telemetry: list[_Telemetry] = field(default_factory=list)
    states: list[_State] = field(default_factory=list)
    rejections: list[_Rejection] = field(default_factory=list)


# ---------------------------------------------------------------------------------------
# Caches: agencies, gateways and devices by their contract names
# ---------------------------------------------------------------------------------------


class _TTLCache:
    """A dict whose entries expire ``ttl`` seconds after they were put; for one ingest loop.

    ``get`` is the dict's own method (the ingest looks up every reading's device, so a
    Python-level call with a clock read per look-up was a measurable share of a batch).
    `expire()`, called once per batch, drops what has aged past ``ttl`` from the front of a
    queue kept in the order of birth, so each batch pays only for what expires now. Entries
    therefore expire one by one as they age instead of all at one sweep: a sweep every
    quarter of the ttl dropped the 100,000 devices a fresh ingest loads in its first seconds
    together, and the next batches reloaded them all at once.
    ``clock`` (seconds, monotonic) is there so a test can step time instead of sleeping.
    """

    def __init__(
        self, ttl: float = CACHE_TTL_S, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.ttl = ttl
        self._clock = clock
        self._data: dict[Any, Any] = {}
        self._born: dict[Any, float] = {}
        self._queue: deque[tuple[float, Any]] = deque()
        self.get = self._data.get

    def __len__(self) -> int:
        return len(self._data)

    def now(self) -> float:
        return self._clock()

    def put(self, key: Any, value: Any, *, born: float | None = None) -> None:
        """Cache ``value``; ``born`` (at most now, never before an earlier put's) backdates it."""
        born = self._clock() if born is None else born
        self._data[key] = value
        self._born[key] = born
        self._queue.append((born, key))

    def expire(self) -> None:
        cutoff = self._clock() - self.ttl
        queue, born_of = self._queue, self._born
        while queue and queue[0][0] <= cutoff:
            born, key = queue.popleft()
            if born_of.get(key) == born:  # a key put again since lives on from then
                del self._data[key]
                del born_of[key]

    def clear(self) -> None:
        self._data.clear()
        self._born.clear()
        self._queue.clear()


_agencies = _TTLCache()  # slug -> agency id
_gateways = _TTLCache()  # (agency id, name) -> (gateway id, is_active)
# (agency id, serial) -> (device id, interval s, late after s, offline after s): the
# deadlines' offsets come from `health.deadlines`, once per device instead of per reading.
_devices = _TTLCache()
_topics: dict[str, Topic | TopicError] = {}
_known_status_rows: set[int] = set()


def clear_caches() -> None:
    """Forget every cached lookup (tests, and after inventory changes that must apply now)."""
    for cache in (_agencies, _gateways, _devices):
        cache.clear()
    _topics.clear()
    _known_status_rows.clear()


def warm_caches(*, limit: int = WARM_DEVICES_MAX) -> int:
    """Load the agencies, the gateways and up to ``limit`` devices; return the devices loaded.

    A fresh ingest otherwise resolves its whole fleet batch by batch in its first seconds,
    while the broker's backlog and the live stream wait: at the national rate (22,300
    readings/s, 100,000 devices) that start put the whole minute's p95 at 1.2 s against a
    steady 0.4 s. One ordered scan here takes 0.24 s per 100,000 devices before the first
    message is taken. The devices' birth times
    are spread over the last ttl, so they expire and reload a few at every batch afterwards
    rather than all together one ttl later. Meant for an empty cache, at start.
    """
    for agency_id, slug in Agency.objects.values_list("id", "slug"):
        _agencies.put(slug, agency_id)
    for gateway_id, agency_id, name, is_active in Gateway.objects.values_list(
        "id", "agency_id", "name", "is_active"
    ):
        _gateways.put((agency_id, name), (gateway_id, is_active))
    total = min(limit, Device.objects.count())
    if total <= 0:
        return 0
    start = _devices.now() - _devices.ttl
    step = _devices.ttl / (total + 1)
    rows = (
        Device.objects.order_by("id")
        .values_list("id", "serial", "agency_id", "model__telemetry_interval_s")[:total]
        .iterator(chunk_size=20_000)
    )
    loaded = 0
    for device_id, serial, agency_id, interval in rows:
        key = (agency_id, serial)
        if _devices.get(key) is not None:
            continue  # a repeated serial in one agency: the first device wins, as on a miss
        loaded += 1
        _devices.put(key, _device_entry(device_id, interval), born=start + step * loaded)
    return loaded


def _topic_for(name: str, root: str) -> Topic | TopicError:
    cached = _topics.get(name)
    if cached is None:
        try:
            cached = parse_topic(name, root=root)
        except TopicError as exc:
            cached = exc
        if len(_topics) < 100_000:  # bounded: topics are per gateway
            _topics[name] = cached
    return cached


# ---------------------------------------------------------------------------------------
# The service
# ---------------------------------------------------------------------------------------


def ingest_batch(
    messages: Sequence[InboundMessage], *, now: datetime | None = None, stats: Any = None
) -> BatchResult:
    """Validate and store a batch of messages in one transaction; return what it did.

    Idempotent: the same messages ingested again store nothing new and never move a
    device's latest state backwards. Rejected input is dead-lettered, never raised.
    ``stats`` (a `telemetry.metrics.IngestTotals`) is updated inside the same transaction.
    Raises only for database failures, after which nothing of the batch was committed.
    """
    now = now or timezone.now()
    result = BatchResult(messages=len(messages))
    try:
        with _collector_paused():
            _parse_and_store(messages, result, now=now, stats=stats)
    except (OperationalError, InterfaceError):
        raise  # the database is away: the caller retries the whole batch
    except Exception as exc:
        # Input the validation let through but the database (or a bug) refuses. It should
        # not happen; this keeps one odd message from blocking every batch after it, which a
        # retry loop would do forever. Store message by message so only the culprit is
        # dead-lettered, with the error in its detail.
        if not isinstance(exc, DatabaseError):
            log.exception("unexpected error storing a batch of %d", len(messages))
        if len(messages) == 1:
            return _reject_whole(messages[0], exc, now=now, stats=stats)
        log.warning("batch of %d refused (%s); storing one by one", len(messages), exc)
        total = BatchResult()
        for message in messages:
            _merge(total, ingest_batch([message], now=now, stats=stats))
        return total
    return result


def _parse_and_store(
    messages: Sequence[InboundMessage], result: BatchResult, *, now: datetime, stats: Any
) -> None:
    # A function of its own so that the batch's objects are freed when it returns, before
    # the collector runs again: alive at that moment, they would all be scanned and
    # promoted (13% of the ingest's samples at the national rate, by py-spy).
    parsed = _parse(messages, now=now, root=settings.MQTT_TOPIC_ROOT)
    _store(parsed, result, now=now, stats=stats)


@contextmanager
def _collector_paused() -> Iterator[None]:
    """Pause Python's cyclic garbage collector for one batch.

    A batch allocates a few objects per reading (validated readings, rows), none of them in
    reference cycles, so reference counting frees them all; meanwhile the collector would
    run its generation scans again and again, over Django's long-lived heap too: about a
    third of the ingest's CPU time in measurements (bench/ingest.py). It runs as usual
    between batches. Only a caller that found it enabled enables it again, so concurrent
    callers (threads of a web process) never leave it off.
    """
    was_enabled = gc.isenabled()
    if was_enabled:
        gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def _reject_whole(
    message: InboundMessage, exc: Exception, *, now: datetime, stats: Any
) -> BatchResult:
    result = BatchResult(messages=1)
    rejection = _Rejection(
        reason=Reason.SCHEMA,
        detail=f"the message could not be stored: {exc!r}"[:2000],
        topic=message.topic,
        received_at=message.received_at,
        payload=message.payload,
    )
    parsed = _Parsed(rejections=[rejection])
    _store(parsed, result, now=now, stats=stats)
    return result


def _merge(total: BatchResult, part: BatchResult) -> None:
    for name in (
        "messages",
        "telemetry_messages",
        "state_messages",
        "readings_accepted",
        "readings_stored",
        "readings_duplicate",
        "devices_advanced",
        "gateway_state_changes",
        "gaps",
        "write_seconds",
    ):
        setattr(total, name, getattr(total, name) + getattr(part, name))
    total.rejected.update(part.rejected)
    total.rejections.extend(part.rejections)
    total.sent_at.extend(part.sent_at)
    if part.oldest_sent_at and (
        total.oldest_sent_at is None or part.oldest_sent_at < total.oldest_sent_at
    ):
        total.oldest_sent_at = part.oldest_sent_at


# -- step 1: parse (no database) --------------------------------------------------------


def _parse(messages: Sequence[InboundMessage], *, now: datetime, root: str) -> _Parsed:
    parsed = _Parsed()
    reject = parsed.rejections.append
    for raw in messages:
        topic = _topic_for(raw.topic, root)
        if isinstance(topic, TopicError):
            reject(
                _Rejection(
                    Reason.UNKNOWN_TOPIC, str(topic), raw.topic, raw.received_at, raw.payload
                )
            )
            continue
        size = len(raw.payload)
        if size > MAX_MESSAGE_BYTES:
            reject(
                _rejection(
                    raw,
                    topic,
                    Reason.OVERSIZED,
                    f"{size} bytes; the limit is {MAX_MESSAGE_BYTES} bytes",
                )
            )
            continue
        if topic.kind is TopicKind.STATE:
            is_online = parse_state(raw.payload)
            if is_online is None:
                reject(
                    _rejection(
                        raw, topic, Reason.SCHEMA, "a state message must be 'online' or 'offline'"
                    )
                )
            else:
                parsed.states.append(_State(topic=topic, raw=raw, is_online=is_online))
            continue
        _parse_telemetry(raw, topic, parsed)
    return parsed


def _parse_telemetry(raw: InboundMessage, topic: Topic, parsed: _Parsed) -> None:
    reject = parsed.rejections.append
    if b"\\u0000" in raw.payload:
        # PostgreSQL text and jsonb cannot hold NUL; refuse it here with a clear reason.
        reject(_rejection(raw, topic, Reason.SCHEMA, "NUL characters (\\u0000) are not allowed"))
        return
    try:
        message = TelemetryMessage.model_validate_json(raw.payload)
        readings = message.readings
        seq, sent_at, gateway = message.seq, message.sent_at, message.gateway
    except ValidationError as exc:
        if any(
            e["type"] == "json_invalid" for e in exc.errors(include_url=False, include_input=False)
        ):
            reject(_rejection(raw, topic, Reason.NOT_JSON, describe_errors(exc)))
            return
        # Slow path, only for bad messages: is the envelope broken, or some readings only?
        try:
            envelope = Envelope.model_validate_json(raw.payload)
        except ValidationError as env_exc:
            reject(_rejection(raw, topic, Reason.SCHEMA, describe_errors(env_exc)))
            return
        message = None
        readings = []
        seq, sent_at, gateway = envelope.seq, envelope.sent_at, envelope.gateway
        for index, item in enumerate(envelope.readings):
            text = json.dumps(item)
            try:
                readings.append(Reading.model_validate_json(text))
            except ValidationError as reading_exc:
                rejection = _rejection(
                    raw, topic, Reason.SCHEMA, f"readings.{index}: {describe_errors(reading_exc)}"
                )
                rejection.payload = text.encode()
                serial = item.get("device")
                rejection.device_serial = serial[:64] if isinstance(serial, str) else ""
                reject(rejection)
    if gateway != topic.gateway:
        reject(
            _rejection(
                raw,
                topic,
                Reason.SCHEMA,
                f"the payload's gateway {gateway!r} does not match the topic's gateway {topic.gateway!r}",
            )
        )
        return
    parsed.telemetry.append(
        _Telemetry(
            topic=topic, raw=raw, message=message, readings=readings, seq=seq, sent_at=sent_at
        )
    )


def _rejection(raw: InboundMessage, topic: Topic, reason: str, detail: str) -> _Rejection:
    return _Rejection(
        reason=reason,
        detail=detail,
        topic=raw.topic,
        received_at=raw.received_at,
        payload=raw.payload,
        agency_slug=topic.agency,
        gateway_name=topic.gateway,
    )


# -- step 2: resolve names to rows -------------------------------------------------------


def _resolve_gateways(parsed: _Parsed) -> None:
    """Set agency and gateway ids; reject messages of unknown or deactivated gateways.

    Works per distinct (agency, gateway) of the batch, not per message: a batch holds
    thousands of messages from a few dozen gateways.
    """
    items: list[_Telemetry | _State] = [*parsed.telemetry, *parsed.states]
    pairs = {(i.topic.agency, i.topic.gateway) for i in items}
    missing_slugs = {a for a, _ in pairs if _agencies.get(a) is None}
    if missing_slugs:
        for found_id, slug in Agency.objects.filter(slug__in=missing_slugs).values_list(
            "id", "slug"
        ):
            _agencies.put(slug, found_id)
    wanted: set[tuple[int, str]] = set()
    for slug, name in pairs:
        agency_id = _agencies.get(slug)
        if agency_id is not None and _gateways.get((agency_id, name)) is None:
            wanted.add((agency_id, name))
    if wanted:
        rows = Gateway.objects.filter(
            agency_id__in={a for a, _ in wanted}, name__in={n for _, n in wanted}
        ).values_list("id", "agency_id", "name", "is_active")
        for gateway_id, agency_id, name, is_active in rows:
            _gateways.put((agency_id, name), (gateway_id, is_active))

    verdicts = _gateway_verdicts(pairs)

    def known(item: _Telemetry | _State) -> bool:
        agency_id, outcome = verdicts[(item.topic.agency, item.topic.gateway)]
        if isinstance(outcome, int):
            item.gateway_id = outcome
            if isinstance(item, _Telemetry):
                assert agency_id is not None  # a known gateway's agency is known
                item.agency_id = agency_id
            return True
        rejection = _rejection(item.raw, item.topic, Reason.UNKNOWN_GATEWAY, outcome)
        rejection.agency_id = agency_id
        parsed.rejections.append(rejection)
        return False

    parsed.telemetry = [t for t in parsed.telemetry if known(t)]
    parsed.states = [s for s in parsed.states if known(s)]


def _gateway_verdicts(
    pairs: set[tuple[str, str]],
) -> dict[tuple[str, str], tuple[int | None, int | str]]:
    """(agency slug, gateway name) -> (agency id, gateway id) or (agency id or None, why not)."""
    verdicts: dict[tuple[str, str], tuple[int | None, int | str]] = {}
    for slug, name in pairs:
        agency_id = _agencies.get(slug)
        if agency_id is None:
            verdicts[(slug, name)] = (None, f"no agency {slug!r} is registered")
            continue
        hit = _gateways.get((agency_id, name))
        if hit is not None and hit[1]:
            verdicts[(slug, name)] = (agency_id, hit[0])
        else:
            verdicts[(slug, name)] = (
                agency_id,
                f"gateway {name!r} of agency {slug!r} is "
                + ("deactivated" if hit is not None else "not registered"),
            )
    return verdicts


def _resolve_devices(parsed: _Parsed) -> None:
    """Load the devices the cache lacks: one query per batch for every miss.

    Looked up by (agency, serial), the order of the ``devices_device_agency_serial`` index:
    by serial alone the query scanned the whole device table, every batch that brought a
    device the cache did not hold (tens of milliseconds at 100,000 devices).
    """
    devices_get = _devices.get
    missing: set[tuple[int, str]] = set()
    for item in parsed.telemetry:
        agency_id = item.agency_id
        for reading in item.readings:
            key = (agency_id, reading.device)
            if devices_get(key) is None:
                missing.add(key)
    if not missing:
        return
    found: dict[tuple[int, str], list[tuple[int, int]]] = {}
    for device_id, serial, agency_id, interval in _devices_by_agency_and_serial(missing):
        found.setdefault((agency_id, serial), []).append((device_id, interval))
    for key, hits in found.items():
        # One serial may repeat across manufacturers; within an agency the first device wins
        # and the others cannot report over this contract (the serial is its only key).
        _devices.put(key, _device_entry(*min(hits)))
    # Serials registered in another agency, for "belongs to another agency" versus "unknown".
    unresolved = {serial for _, serial in missing - found.keys()}
    _foreign_serials.clear()
    if unresolved:
        _foreign_serials.update(
            Device.objects.filter(serial__in=unresolved).values_list("serial", flat=True)
        )


def _devices_by_agency_and_serial(
    keys: set[tuple[int, str]],
) -> Iterable[tuple[int, str, int, int]]:
    """(device id, serial, agency id, interval s) of the devices with these (agency, serial)."""
    if connection.vendor == "postgresql":
        agencies, serials = zip(*keys, strict=True)
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT d.id, d.serial, d.agency_id, m.telemetry_interval_s "
                "FROM unnest(%s::bigint[], %s::text[]) AS k(agency_id, serial) "
                f"JOIN {Device._meta.db_table} d ON d.agency_id = k.agency_id AND d.serial = k.serial "
                f"JOIN {DeviceModel._meta.db_table} m ON m.id = d.model_id",
                [list(agencies), list(serials)],
            )
            found: list[tuple[int, str, int, int]] = cursor.fetchall()
            return found
    by_agency: dict[int, list[str]] = {}
    for agency_id, serial in keys:
        by_agency.setdefault(agency_id, []).append(serial)
    rows: list[tuple[int, str, int, int]] = []
    for agency_id, agency_serials in by_agency.items():
        for start in range(0, len(agency_serials), 5000):
            rows += Device.objects.filter(
                agency_id=agency_id, serial__in=agency_serials[start : start + 5000]
            ).values_list("id", "serial", "agency_id", "model__telemetry_interval_s")
    return rows


_foreign_serials: set[str] = set()
_EPOCH = datetime(2000, 1, 1, tzinfo=UTC)


def _device_entry(device_id: int, interval_s: int) -> tuple[int, int, int, int]:
    """What the device cache holds: (device id, interval s, late after s, offline after s)."""
    return (device_id, interval_s, *_deadline_offsets(interval_s))


@functools.cache  # a handful of intervals across the catalog
def _deadline_offsets(interval_s: int) -> tuple[int, int]:
    """Seconds from a reading to its late and offline deadlines (`health.deadlines` decides)."""
    late_after, offline_after = health.deadlines(_EPOCH, interval_s)
    return int((late_after - _EPOCH).total_seconds()), int((offline_after - _EPOCH).total_seconds())


# -- step 3: store ------------------------------------------------------------------------


def _store(parsed: _Parsed, result: BatchResult, *, now: datetime, stats: Any) -> None:
    for cache in (_agencies, _gateways, _devices):
        cache.expire()
    _resolve_gateways(parsed)
    _resolve_devices(parsed)
    writer = writers.get_writer()
    history, by_gateway = _plan_rows(parsed, result, now=now, time_value=writer.time_value)
    # The write time is the transaction's: rows in hand to commit, as a raw driver write
    # of the same rows is timed.
    started = time.perf_counter()
    with transaction.atomic():
        advanced: list[int] = []
        if history:
            inserted, advanced = writer.write(history, now=now)
            result.readings_stored = inserted
            result.readings_duplicate = len(history) - inserted
            result.devices_advanced = len(advanced)
        _update_gateways(by_gateway, parsed.states, result, now=now)
        if parsed.rejections:
            _write_dead_letters(parsed.rejections, result)
        if advanced:
            effects.apply_batch_effects(device_ids=advanced, now=now)
        if stats is not None:
            stats.record(result, now=now, write_seconds=time.perf_counter() - started)
    result.write_seconds = time.perf_counter() - started


def _plan_rows(
    parsed: _Parsed, result: BatchResult, *, now: datetime, time_value: Any
) -> tuple[list[Row], dict[int, list[_Telemetry]]]:
    """History rows for every accepted reading and the accepted messages per gateway.

    The hot loop of the ingest (once per reading): plain tuples, cached look-ups, no
    per-reading objects. The same reading twice in a batch is left to the database's
    unique key (counted as a duplicate), and the newest reading per device is chosen by
    the writer.
    """
    limit = now + FUTURE_TOLERANCE
    rows: list[Row] = []
    add = rows.append
    by_gateway: dict[int, list[_Telemetry]] = {}
    devices_get = _devices.get
    accepted = 0
    for item in parsed.telemetry:
        result.count_message(item.sent_at)
        gateway_id = item.gateway_id
        agency_id = item.agency_id
        by_gateway.setdefault(gateway_id, []).append(item)
        received = time_value(item.raw.received_at)
        for reading in item.readings:
            hit = devices_get((agency_id, reading.device))
            ts = reading.ts
            if hit is None or ts > limit:
                parsed.rejections.append(
                    _reading_rejection(item, reading, now=now, unknown=hit is None)
                )
                continue
            extra_json: str | None = "{}"
            if reading.extra or reading.__pydantic_extra__:
                extra_json = _extra_json(item, reading, parsed.rejections)
                if extra_json is None:
                    continue
            add(
                (
                    hit[0],
                    ts,
                    received,
                    gateway_id,
                    reading.battery_pct,
                    reading.rsrp_dbm,
                    reading.firmware,
                    reading.storage_pct,
                    reading.gps_fix,
                    reading.temperature_c,
                    reading.status,
                    extra_json,
                    hit[2],
                    hit[3],
                )
            )
            accepted += 1
    result.readings_accepted += accepted
    return rows, by_gateway


def _extra_json(item: _Telemetry, reading: Reading, rejections: list[_Rejection]) -> str | None:
    """The reading's extra measurements as JSON text, or None once rejected (NaN, infinity)."""
    try:
        return json.dumps(reading.all_extra(), allow_nan=False, separators=(",", ":"))
    except ValueError as exc:
        rejection = _rejection(item.raw, item.topic, Reason.SCHEMA, f"extra: {exc}")
        rejection.agency_id = item.agency_id
        rejection.device_serial = reading.device
        rejections.append(rejection)
        return None


def _reading_rejection(
    item: _Telemetry, reading: Reading, *, now: datetime, unknown: bool
) -> _Rejection:
    if unknown:
        foreign = reading.device in _foreign_serials
        rejection = _rejection(
            item.raw,
            item.topic,
            Reason.FOREIGN_DEVICE if foreign else Reason.UNKNOWN_DEVICE,
            f"device {reading.device!r} belongs to another agency than {item.topic.agency!r}"
            if foreign
            else f"no device with serial {reading.device!r} in agency {item.topic.agency!r}",
        )
    else:
        rejection = _rejection(
            item.raw,
            item.topic,
            Reason.FUTURE_TIMESTAMP,
            f"reading time {reading.ts.isoformat()} is more than {int(FUTURE_TOLERANCE.total_seconds() // 60)} "
            f"minutes ahead of the tracker's clock ({now.isoformat(timespec='seconds')})",
        )
    rejection.agency_id = item.agency_id
    rejection.device_serial = reading.device
    rejection.payload = reading.model_dump_json().encode()
    return rejection


def _update_gateways(
    by_gateway: dict[int, list[_Telemetry]],
    states: list[_State],
    result: BatchResult,
    *,
    now: datetime,
) -> None:
    ids = set(by_gateway) | {s.gateway_id for s in states}
    if not ids:
        return
    new_ids = ids - _known_status_rows
    if new_ids:
        GatewayStatus.objects.bulk_create(
            [GatewayStatus(gateway_id=g) for g in sorted(new_ids)], ignore_conflicts=True
        )
    if by_gateway:
        _advance_sequences(by_gateway, result)
    _known_status_rows.update(ids)
    _apply_gateway_states(states, result)


def _advance_sequences(by_gateway: dict[int, list[_Telemetry]], result: BatchResult) -> None:
    """Count each gateway's sequence gaps and messages (`telemetry.sequences`), under row locks."""
    # Locked in gateway order so two ingest processes never deadlock on each other.
    current = (
        GatewayStatus.objects.select_for_update()
        .filter(gateway_id__in=by_gateway)
        .order_by("gateway_id")
        .values_list(
            "gateway_id",
            "last_seq",
            "seq_missing",
            "gaps_total",
            "messages_total",
            "last_message_at",
        )
    )
    adapt = connection.ops.adapt_datetimefield_value
    changed = []
    for gateway_id, last_seq, missing, gaps_total, messages_total, last_message_at in current:
        items = by_gateway[gateway_id]
        outcome = advance_sequence(last_seq, missing or [], (i.seq for i in items))
        newest_received = max(i.raw.received_at for i in items)
        if last_message_at is None or newest_received > last_message_at:
            last_message_at = newest_received
        result.gaps += outcome.gaps_delta
        changed.append(
            (
                outcome.last_seq,
                json.dumps(outcome.missing),
                max(0, gaps_total + outcome.gaps_delta),
                messages_total + len(items),
                adapt(last_message_at),
                gateway_id,
            )
        )
    # One UPDATE per gateway, sent together: bulk_update's CASE per field and row cost
    # about as much as the history insert of a batch of single-reading messages.
    with connection.cursor() as cursor:
        cursor.executemany(
            f"UPDATE {GatewayStatus._meta.db_table} SET last_seq = %s, seq_missing = %s, gaps_total = %s, "
            "messages_total = %s, last_message_at = %s WHERE gateway_id = %s",
            changed,
        )


def _apply_gateway_states(states: list[_State], result: BatchResult) -> None:
    for state in states:
        result.state_messages += 1
        at = state.raw.received_at
        # Conditional update: repeated (retained) states and a second ingest process seeing
        # the same message change nothing and notify nobody.
        updated = (
            GatewayStatus.objects.filter(gateway_id=state.gateway_id)
            .exclude(is_online=state.is_online, changed_at__isnull=False)
            .update(is_online=state.is_online, changed_at=at)
        )
        if updated:
            result.gateway_state_changes += 1
            effects.gateway_state_changed(
                gateway_id=state.gateway_id,
                is_online=state.is_online,
                at=at,
                cause="connect" if state.is_online else "lwt",
            )


def _write_dead_letters(rejections: list[_Rejection], result: BatchResult) -> None:
    # Rejected while parsing, before any lookup: find their agencies so each agency sees its own.
    slugs = {r.agency_slug for r in rejections if r.agency_id is None and r.agency_slug}
    unknown = {s for s in slugs if _agencies.get(s) is None}
    if unknown:
        for found_id, slug in Agency.objects.filter(slug__in=unknown).values_list("id", "slug"):
            _agencies.put(slug, found_id)
    rows = []
    for r in rejections:
        agency_id = (
            r.agency_id
            if r.agency_id is not None
            else (_agencies.get(r.agency_slug) if r.agency_slug else None)
        )
        rows.append(
            DeadLetter(
                received_at=r.received_at,
                topic=r.topic[:300],
                agency_id=agency_id,
                gateway_name=r.gateway_name[:64],
                device_serial=r.device_serial[:64],
                reason=r.reason,
                detail=r.detail[:2000],
                payload=cap_payload(r.payload),
                payload_bytes=len(r.payload),
            )
        )
        result.rejected[r.reason] += 1
        result.rejections.append((str(r.reason), r.detail, r.device_serial))
    DeadLetter.objects.bulk_create(rows)


def cap_payload(payload: bytes, cap: int = DEAD_LETTER_PAYLOAD_CAP) -> str:
    """The payload as text, at most ``cap`` bytes of it, safe for any database text column."""
    return payload[:cap].decode("utf-8", "replace").replace("\x00", "\ufffd")


def utc_from_timestamp(epoch: float) -> datetime:
    return datetime.fromtimestamp(epoch, UTC)
