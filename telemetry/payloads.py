"""Inbound payloads of the MQTT contract, version 1: strict validation only (no Django).

A telemetry message::

    {"schema": 1, "gateway": "post-12", "seq": 42, "sent_at": "2026-05-01T12:00:00Z",
     "readings": [{"device": "SN0001", "ts": "2026-05-01T11:59:58Z", "battery_pct": 81.5,
                   "rsrp_dbm": -97, "firmware": "4.2.1", "storage_pct": 40,
                   "gps_fix": true, "temperature_c": 31.2, "status": "recording",
                   "extra": {"docked": false}}]}

Types are strict (pydantic strict mode): ``"81"`` is not a number and ``1`` is not a boolean,
because a gateway that sends the wrong type is misconfigured and a person must see it rather
than have it guessed at. Integers are accepted where a number is expected. Timestamps must
carry a UTC offset. Measurement keys the contract does not name go to ``extra``.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, ValidationError

SCHEMA_VERSION = 1
# Caps: one message is one gateway's batch of readings, normally a few KiB. Anything bigger
# is a misbehaving gateway; it is dead-lettered as "oversized" without being parsed.
MAX_MESSAGE_BYTES = 256 * 1024
MAX_READINGS_PER_MESSAGE = 1000
STATE_PAYLOADS = {b"online": True, b"offline": False}


# No device of this tracker reported before 2000; year 1 or 9999 parse as valid ISO-8601 but
# overflow date arithmetic downstream. Bounds rather than an after-validator: pydantic checks
# them in Rust (offsets included), which matters at tens of thousands of readings a second.
EARLIEST = datetime(2000, 1, 1, tzinfo=UTC)
LATEST = datetime(9000, 1, 1, tzinfo=UTC)

Timestamp = Annotated[AwareDatetime, Field(ge=EARLIEST, lt=LATEST)]


class Reading(BaseModel):
    """One device's measurements at one time. Every measurement is optional."""

    model_config = ConfigDict(strict=True, extra="allow", frozen=False)

    device: str = Field(min_length=1, max_length=64, description="The device's serial number.")
    ts: Timestamp
    battery_pct: float | None = Field(default=None, ge=0, le=100)
    rsrp_dbm: float | None = Field(default=None, ge=-200, le=0)
    firmware: str | None = Field(default=None, max_length=64)
    storage_pct: float | None = Field(default=None, ge=0, le=100)
    gps_fix: bool | None = None
    temperature_c: float | None = Field(default=None, ge=-100, le=200)
    status: str | None = Field(default=None, max_length=64)
    extra: dict[str, Any] = Field(default_factory=dict)

    def all_extra(self) -> dict[str, Any]:
        """``extra`` plus any measurement key the contract does not name."""
        unknown = self.model_extra
        if not unknown:
            return self.extra
        return {**unknown, **self.extra}


class TelemetryMessage(BaseModel):
    """The body of a ``.../telemetry`` message."""

    model_config = ConfigDict(strict=True, extra="forbid", populate_by_name=True)

    schema_version: Literal[1] = Field(alias="schema")
    gateway: str = Field(min_length=1, max_length=64)
    seq: int = Field(ge=0, le=2**63 - 1)
    sent_at: Timestamp
    readings: list[Reading] = Field(min_length=1, max_length=MAX_READINGS_PER_MESSAGE)


class Envelope(BaseModel):
    """A telemetry message with its readings left unparsed.

    Used only after `TelemetryMessage` failed, to tell a broken envelope (the whole message
    is rejected) from a few broken readings (only those are rejected; the rest are stored).
    """

    model_config = ConfigDict(strict=True, extra="forbid", populate_by_name=True)

    schema_version: Literal[1] = Field(alias="schema")
    gateway: str = Field(min_length=1, max_length=64)
    seq: int = Field(ge=0, le=2**63 - 1)
    sent_at: Timestamp
    readings: list[dict[str, Any]] = Field(min_length=1, max_length=MAX_READINGS_PER_MESSAGE)


def describe_errors(exc: ValidationError, *, limit: int = 5) -> str:
    """A short, readable account of what is wrong, e.g. ``readings.0.battery_pct: Input
    should be a valid number``."""
    parts = []
    for err in exc.errors(include_url=False, include_input=False)[:limit]:
        loc = ".".join(str(p) for p in err["loc"]) or "message"
        parts.append(f"{loc}: {err['msg']}")
    more = exc.error_count() - limit
    if more > 0:
        parts.append(f"and {more} more")
    return "; ".join(parts)


def parse_state(payload: bytes) -> bool | None:
    """True for ``online``, False for ``offline``, None for anything else."""
    return STATE_PAYLOADS.get(payload.strip().lower())


def build_message(
    *, gateway: str, seq: int, sent_at: datetime, readings: list[dict[str, Any]]
) -> dict[str, Any]:
    """A contract message as a JSON-ready dict (used by the simulator, tests and the bench)."""
    return {
        "schema": SCHEMA_VERSION,
        "gateway": gateway,
        "seq": seq,
        "sent_at": sent_at.isoformat(),
        "readings": readings,
    }
