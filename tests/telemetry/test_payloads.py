import json

import pytest
from pydantic import ValidationError

from telemetry.payloads import Reading, TelemetryMessage, describe_errors, parse_state

GOOD = {
    "schema": 1,
    "gateway": "post-12",
    "seq": 42,
    "sent_at": "2026-05-01T12:00:00Z",
    "readings": [
        {
            "device": "SN1",
            "ts": "2026-05-01T11:59:58+00:00",
            "battery_pct": 81,
            "rsrp_dbm": -97.5,
            "firmware": "4.2.1",
            "storage_pct": 40.0,
            "gps_fix": True,
            "temperature_c": 31.2,
            "status": "recording",
            "extra": {"docked": False},
        }
    ],
}


def validate(body: dict) -> TelemetryMessage:
    return TelemetryMessage.model_validate_json(json.dumps(body))


def with_reading(**changes) -> dict:
    body = json.loads(json.dumps(GOOD))
    body["readings"][0].update(changes)
    return body


def test_a_contract_message_validates_with_every_measurement():
    message = validate(GOOD)
    r = message.readings[0]
    assert (message.seq, r.device, r.battery_pct, r.gps_fix, r.extra) == (
        42,
        "SN1",
        81.0,
        True,
        {"docked": False},
    )
    assert r.ts.utcoffset().total_seconds() == 0


def test_unknown_measurement_keys_go_to_extra_and_explicit_extra_wins():
    r = validate(with_reading(door_open=True, docked="x")).readings[0]
    assert r.all_extra() == {"door_open": True, "docked": False}


@pytest.mark.parametrize(
    ("change", "where"),
    [
        ({"battery_pct": "81"}, "readings.0.battery_pct"),
        ({"gps_fix": 1}, "readings.0.gps_fix"),
        ({"firmware": 4}, "readings.0.firmware"),
        ({"ts": "2026-05-01T11:59:58"}, "readings.0.ts"),  # no UTC offset
        ({"ts": 1714564798}, "readings.0.ts"),
        ({"battery_pct": 140}, "readings.0.battery_pct"),
        ({"device": ""}, "readings.0.device"),
        ({"extra": []}, "readings.0.extra"),
    ],
)
def test_wrong_types_and_values_are_errors_naming_the_field(change, where):
    with pytest.raises(ValidationError) as info:
        validate(with_reading(**change))
    assert describe_errors(info.value).startswith(where)


@pytest.mark.parametrize("missing", ["schema", "gateway", "seq", "sent_at", "readings"])
def test_every_envelope_field_is_required(missing):
    body = dict(GOOD)
    del body[missing]
    with pytest.raises(ValidationError):
        validate(body)


def test_only_schema_version_1_is_accepted():
    with pytest.raises(ValidationError, match="schema"):
        validate({**GOOD, "schema": 2})


def test_a_message_needs_at_least_one_reading():
    with pytest.raises(ValidationError):
        validate({**GOOD, "readings": []})


def test_a_reading_without_device_or_time_is_an_error():
    with pytest.raises(ValidationError):
        Reading.model_validate_json('{"device": "SN1"}')


@pytest.mark.parametrize(
    ("payload", "expected"),
    [(b"online", True), (b"offline", False), (b" Online\n", True), (b"up", None), (b"", None)],
)
def test_state_payloads_are_online_or_offline(payload, expected):
    assert parse_state(payload) is expected
