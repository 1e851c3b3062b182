"""The ingest service against the real database (SQLite by default, PostgreSQL in CI)."""

from __future__ import annotations

import json
import random

import pytest

from devices.models import Agency
from telemetry import health
from telemetry.ingest import DEAD_LETTER_PAYLOAD_CAP, InboundMessage, ingest_batch
from telemetry.metrics import IngestTotals
from telemetry.models import DeadLetter, DeviceHealth, GatewayStatus, IngestStat, TelemetryReading
from telemetry.payloads import MAX_MESSAGE_BYTES
from telemetry.sequences import advance_sequence
from tests.factories import DeviceFactory, GatewayFactory
from tests.telemetry.conftest import NOW, make_fleet, minutes, reading

pytestmark = pytest.mark.django_db

Reason = DeadLetter.Reason


def reasons() -> list[str]:
    return sorted(DeadLetter.objects.values_list("reason", flat=True))


def test_a_reading_reaches_history_and_the_devices_latest_state(fleet):
    device = fleet.devices[0]
    ts = NOW - minutes(0.5)
    result = ingest_batch(
        [fleet.message([reading(device.serial, ts, battery_pct=81, gps_fix=True, docked=True)])],
        now=NOW,
    )

    assert (result.readings_stored, result.devices_advanced, result.dead_letters) == (1, 1, 0)
    row = TelemetryReading.objects.get(device=device)
    assert (row.ts, row.battery_pct, row.gps_fix, row.extra, row.gateway_id) == (
        ts,
        81,
        True,
        {"docked": True},
        fleet.gateway.pk,
    )
    state = DeviceHealth.objects.get(device=device)
    assert state.level == "online"
    assert state.last_reading_at == ts
    assert (state.late_after, state.offline_after) == health.deadlines(ts, 60)
    assert state.battery_pct == 81


def test_a_redelivered_batch_is_stored_once(fleet):
    batch = [fleet.message([reading(d.serial, NOW - minutes(1))]) for d in fleet.devices]
    first = ingest_batch(batch, now=NOW)
    again = ingest_batch(batch, now=NOW)

    assert (first.readings_stored, again.readings_stored, again.readings_duplicate) == (3, 0, 3)
    assert TelemetryReading.objects.count() == 3


def test_duplicates_and_shuffled_order_leave_one_row_each_and_the_newest_as_latest(fleet):
    times = [NOW - minutes(60 - i) for i in range(60)]
    messages = [
        fleet.message([reading(d.serial, ts, battery_pct=float(i))], seq=i * 10 + n)
        for i, ts in enumerate(times)
        for n, d in enumerate(fleet.devices)
    ]
    stream = messages + messages  # everything sent twice
    rng = random.Random(7)
    # Shuffle 10% of the messages out of order, then cut the stream into batches.
    for _ in range(len(stream) // 10):
        i, j = rng.randrange(len(stream)), rng.randrange(len(stream))
        stream[i], stream[j] = stream[j], stream[i]
    for start in range(0, len(stream), 25):
        ingest_batch(stream[start : start + 25], now=NOW)

    assert TelemetryReading.objects.count() == 60 * len(fleet.devices)
    for device in fleet.devices:
        state = DeviceHealth.objects.get(device=device)
        assert state.last_reading_at == times[-1]
        assert state.battery_pct == 59.0


def test_within_one_batch_the_newest_reading_of_a_device_wins(fleet):
    serial = fleet.devices[0].serial
    ingest_batch(
        [
            fleet.message(
                [
                    reading(serial, NOW - minutes(1), battery_pct=50),
                    reading(serial, NOW - minutes(3), battery_pct=70),
                    reading(serial, NOW - minutes(2), battery_pct=60),
                ]
            )
        ],
        now=NOW,
    )

    state = DeviceHealth.objects.get(device=fleet.devices[0])
    assert (state.last_reading_at, state.battery_pct) == (NOW - minutes(1), 50)


def test_a_reading_two_hours_ahead_is_rejected_and_one_forty_days_old_does_not_move_latest_back(
    fleet,
):
    serial = fleet.devices[0].serial
    ingest_batch([fleet.message([reading(serial, NOW - minutes(1), battery_pct=90)])], now=NOW)
    result = ingest_batch(
        [
            fleet.message(
                [
                    reading(serial, NOW + minutes(120), battery_pct=10),
                    reading(serial, NOW - minutes(40 * 24 * 60), battery_pct=20),
                ]
            )
        ],
        now=NOW,
    )

    assert result.rejected == {Reason.FUTURE_TIMESTAMP: 1}
    letter = DeadLetter.objects.get()
    assert (letter.reason, letter.device_serial) == (Reason.FUTURE_TIMESTAMP, serial)
    assert "ahead of the tracker's clock" in letter.detail
    assert TelemetryReading.objects.filter(ts=NOW - minutes(40 * 24 * 60)).exists()
    state = DeviceHealth.objects.get(device=fleet.devices[0])
    assert (state.last_reading_at, state.battery_pct) == (NOW - minutes(1), 90)


def test_a_reading_a_little_ahead_within_tolerance_is_stored(fleet):
    result = ingest_batch(
        [fleet.message([reading(fleet.devices[0].serial, NOW + minutes(4))])], now=NOW
    )
    assert result.readings_stored == 1


def test_a_stale_newest_reading_marks_a_never_seen_device_offline_not_online(fleet):
    ingest_batch([fleet.message([reading(fleet.devices[0].serial, NOW - minutes(60))])], now=NOW)
    assert DeviceHealth.objects.get(device=fleet.devices[0]).level == "offline"


def test_thirty_seven_dropped_messages_count_thirty_seven_gaps(fleet):
    serial = fleet.devices[0].serial
    seqs = list(range(1, 501))
    dropped = set(random.Random(3).sample(seqs[1:-1], 37))
    batch = [
        fleet.message([reading(serial, NOW - minutes(600 - s))], seq=s)
        for s in seqs
        if s not in dropped
    ]
    for start in range(0, len(batch), 40):
        ingest_batch(batch[start : start + 40], now=NOW)

    status = GatewayStatus.objects.get(gateway=fleet.gateway)
    assert (status.gaps_total, status.last_seq, status.messages_total) == (37, 500, 463)


def test_reordered_and_redelivered_messages_count_no_gap(fleet):
    serial = fleet.devices[0].serial
    messages = [
        fleet.message([reading(serial, NOW - minutes(600 - s))], seq=s) for s in range(1, 301)
    ]
    rng = random.Random(5)
    stream = messages + rng.sample(messages, 30)  # redeliveries
    rng.shuffle(stream)
    for start in range(0, len(stream), 20):
        ingest_batch(stream[start : start + 20], now=NOW)

    status = GatewayStatus.objects.get(gateway=fleet.gateway)
    assert (status.gaps_total, status.last_seq, status.seq_missing) == (0, 300, [])


@pytest.mark.parametrize(
    ("last", "missing", "seqs", "expected"),
    [
        (None, [], [5, 6, 7], (7, [], 0)),
        (7, [], [8, 11], (11, [9, 10], 2)),
        (11, [9, 10], [10, 9], (11, [], -2)),
        (11, [9, 10], [11, 8, 3], (11, [9, 10], 0)),  # duplicates are not late arrivals
        (500, [498], [0, 1, 2], (2, [], 0)),  # the gateway restarted its numbering
        (10, [], [5000], (5000, list(range(4000, 5000)), 4989)),  # only the window is kept
    ],
)
def test_sequence_accounting(last, missing, seqs, expected):
    outcome = advance_sequence(last, missing, seqs)
    assert (outcome.last_seq, outcome.missing, outcome.gaps_delta) == expected


def test_each_bad_message_is_dead_lettered_with_its_reason_and_good_ones_still_stored(
    fleet, agency_b
):
    other = make_fleet(devices=1)
    good = fleet.devices[0].serial
    ok = fleet.message([reading(good, NOW - minutes(1))])
    body = fleet.body([reading(good, NOW - minutes(1))])
    corpus = {
        Reason.NOT_JSON: InboundMessage(fleet.topic, b"{not json", NOW),
        Reason.SCHEMA: [
            InboundMessage(
                fleet.topic, json.dumps({**body, "seq": "7"}).encode(), NOW
            ),  # wrong type
            InboundMessage(
                fleet.topic,
                json.dumps({k: v for k, v in body.items() if k != "sent_at"}).encode(),
                NOW,
            ),
        ],
        Reason.OVERSIZED: InboundMessage(fleet.topic, b"x" * (10 * 1024 * 1024), NOW),
        Reason.UNKNOWN_DEVICE: fleet.message([reading("NO-SUCH-SERIAL", NOW)]),
        Reason.FOREIGN_DEVICE: fleet.message([reading(other.devices[0].serial, NOW)]),
        Reason.FUTURE_TIMESTAMP: fleet.message([reading(good, NOW + minutes(365 * 24 * 60))]),
        Reason.UNKNOWN_TOPIC: InboundMessage(
            "tracker/v1/ksp/commands", json.dumps(body).encode(), NOW
        ),
        Reason.UNKNOWN_GATEWAY: InboundMessage(
            f"tracker/v1/{fleet.agency.slug}/nobody/telemetry",
            json.dumps({**body, "gateway": "nobody"}).encode(),
            NOW,
        ),
    }
    batch = [ok]
    for value in corpus.values():
        batch.extend(value if isinstance(value, list) else [value])
    result = ingest_batch(batch, now=NOW)

    assert result.readings_stored == 1
    assert reasons() == sorted([Reason.SCHEMA, *corpus])
    oversized = DeadLetter.objects.get(reason=Reason.OVERSIZED)
    assert oversized.payload_bytes == 10 * 1024 * 1024
    assert len(oversized.payload.encode()) <= DEAD_LETTER_PAYLOAD_CAP
    assert str(MAX_MESSAGE_BYTES) in oversized.detail
    foreign = DeadLetter.objects.get(reason=Reason.FOREIGN_DEVICE)
    assert (foreign.agency_id, foreign.device_serial) == (fleet.agency.pk, other.devices[0].serial)
    assert (
        "seq: Input should be a valid integer"
        in DeadLetter.objects.filter(reason=Reason.SCHEMA).order_by("id")[0].detail
    )


def test_one_bad_reading_is_rejected_alone(fleet):
    a, b = fleet.devices[0].serial, fleet.devices[1].serial
    result = ingest_batch(
        [fleet.message([reading(a, NOW), reading(b, NOW, battery_pct="low")])], now=NOW
    )

    assert (result.readings_stored, result.rejected) == (1, {Reason.SCHEMA: 1})
    letter = DeadLetter.objects.get()
    assert (letter.device_serial, letter.detail) == (
        b,
        "readings.1: battery_pct: Input should be a valid number",
    )
    assert json.loads(letter.payload)["battery_pct"] == "low"


def test_a_payload_naming_another_gateway_than_its_topic_is_rejected(fleet):
    payload = json.dumps(
        fleet.body([reading(fleet.devices[0].serial, NOW)], gateway="someone-else")
    ).encode()
    ingest_batch([InboundMessage(fleet.topic, payload, NOW)], now=NOW)
    assert (
        "does not match the topic's gateway" in DeadLetter.objects.get(reason=Reason.SCHEMA).detail
    )


def test_a_deactivated_gateway_is_refused(fleet):
    fleet.gateway.is_active = False
    fleet.gateway.save()
    ingest_batch([fleet.message([reading(fleet.devices[0].serial, NOW)])], now=NOW)
    assert DeadLetter.objects.get().detail.endswith("is deactivated")


def test_nul_characters_and_non_finite_extras_are_rejected_not_crashed_on(fleet):
    serial = fleet.devices[0].serial
    nul = fleet.body([reading(serial, NOW, firmware="a\u0000b")])
    inf = json.dumps(fleet.body([reading(serial, NOW, extra={"k": 1})])).replace(
        '"k": 1', '"k": 1e999'
    )
    ingest_batch(
        [
            InboundMessage(fleet.topic, json.dumps(nul).encode(), NOW),
            InboundMessage(fleet.topic, inf.encode(), NOW),
        ],
        now=NOW,
    )
    assert reasons() == [Reason.SCHEMA, Reason.SCHEMA]


def test_the_same_serial_in_two_agencies_resolves_within_the_topics_agency(fleet):
    other = make_fleet(devices=0)
    twin = DeviceFactory(
        agency=other.agency, serial=fleet.devices[0].serial, model__manufacturer="Other maker"
    )
    ingest_batch([other.message([reading(twin.serial, NOW)])], now=NOW)
    assert TelemetryReading.objects.get().device_id == twin.pk


def test_gateway_state_is_recorded_once_per_change(fleet):
    online = InboundMessage(fleet.state, b"online", NOW)
    offline = InboundMessage(fleet.state, b"offline", NOW + minutes(5))
    first = ingest_batch([online, online], now=NOW)
    status = GatewayStatus.objects.get(gateway=fleet.gateway)
    assert (first.gateway_state_changes, status.is_online, status.changed_at) == (1, True, NOW)

    ingest_batch([offline], now=NOW)
    status.refresh_from_db()
    assert (status.is_online, status.changed_at) == (False, NOW + minutes(5))


def test_a_gateway_state_other_than_online_or_offline_is_dead_lettered(fleet):
    ingest_batch([InboundMessage(fleet.state, b"rebooting", NOW)], now=NOW)
    assert reasons() == [Reason.SCHEMA]


def test_an_unknown_agency_in_the_topic_is_an_unknown_gateway(db):
    ingest_batch([InboundMessage("tracker/v1/nowhere/gw/state", b"online", NOW)], now=NOW)
    letter = DeadLetter.objects.get()
    assert (letter.reason, letter.agency_id, letter.gateway_name) == (
        Reason.UNKNOWN_GATEWAY,
        None,
        "gw",
    )


def test_ingest_totals_are_written_with_the_batch(fleet):
    totals = IngestTotals("test-worker")
    ingest_batch(
        [
            fleet.message([reading(fleet.devices[0].serial, NOW - minutes(1))]),
            InboundMessage(fleet.topic, b"nope", NOW),
        ],
        now=NOW,
        stats=totals,
    )
    row = IngestStat.objects.get(worker="test-worker")
    assert (row.messages_total, row.readings_total, row.rejected, row.batch_size["count"]) == (
        1,
        1,
        {"not_json": 1},
        1,
    )


def test_a_new_gateway_is_seen_without_waiting_for_the_cache(fleet):
    ingest_batch(
        [InboundMessage(f"tracker/v1/{fleet.agency.slug}/late-comer/state", b"online", NOW)],
        now=NOW,
    )
    GatewayFactory(agency=fleet.agency, name="late-comer")
    ingest_batch(
        [InboundMessage(f"tracker/v1/{fleet.agency.slug}/late-comer/state", b"online", NOW)],
        now=NOW,
    )
    assert GatewayStatus.objects.get(gateway__name="late-comer").is_online


def test_dead_letters_of_a_known_agency_carry_it_for_scoping(fleet):
    ingest_batch([InboundMessage(fleet.topic, b"[]", NOW)], now=NOW)
    assert DeadLetter.objects.get().agency == Agency.objects.get(slug=fleet.agency.slug)
