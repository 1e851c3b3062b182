"""The MQTT topic contract, version 1: parse and build topic strings (pure, no Django).

    <root>/<agency>/<gateway>/telemetry   QoS 1, JSON readings (see `telemetry.payloads`)
    <root>/<agency>/<gateway>/state       retained "online" / "offline" (the Last Will)

``root`` is ``tracker/v1`` unless settings.MQTT_TOPIC_ROOT says otherwise. Agency and
gateway segments are slugs (letters, digits, ``-`` and ``_``), the same characters the
inventory allows for ``Agency.slug`` and ``Gateway.name``, so a topic maps to one row each.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum

DEFAULT_ROOT = "tracker/v1"
SEGMENT = re.compile(r"^[A-Za-z0-9_-]{1,64}$")


class TopicKind(StrEnum):
    TELEMETRY = "telemetry"
    STATE = "state"


@dataclass(frozen=True, slots=True)
class Topic:
    """A topic that follows the contract."""

    agency: str
    gateway: str
    kind: TopicKind


class TopicError(ValueError):
    """A topic outside the contract; the message says what is wrong with it."""


def parse_topic(topic: str, *, root: str = DEFAULT_ROOT) -> Topic:
    """Split a contract topic into agency, gateway and kind; raise `TopicError` otherwise."""
    prefix = root.rstrip("/") + "/"
    if not topic.startswith(prefix):
        raise TopicError(f"topic {topic!r} does not start with {prefix!r}")
    parts = topic[len(prefix) :].split("/")
    if len(parts) != 3:
        raise TopicError(
            f"topic {topic!r} must be {prefix}<agency>/<gateway>/telemetry or .../state"
        )
    agency, gateway, kind = parts
    if not SEGMENT.match(agency):
        raise TopicError(f"agency segment {agency!r} is not a slug (letters, digits, - and _)")
    if not SEGMENT.match(gateway):
        raise TopicError(f"gateway segment {gateway!r} is not a slug (letters, digits, - and _)")
    try:
        return Topic(agency=agency, gateway=gateway, kind=TopicKind(kind))
    except ValueError:
        raise TopicError(
            f"topic {topic!r} ends in {kind!r}; expected 'telemetry' or 'state'"
        ) from None


def telemetry_topic(agency: str, gateway: str, *, root: str = DEFAULT_ROOT) -> str:
    return _build(agency, gateway, TopicKind.TELEMETRY, root)


def state_topic(agency: str, gateway: str, *, root: str = DEFAULT_ROOT) -> str:
    return _build(agency, gateway, TopicKind.STATE, root)


def subscription_filters(*, root: str = DEFAULT_ROOT, shared_group: str | None = None) -> list[str]:
    """The ingest's subscriptions: every gateway's telemetry and state.

    With ``shared_group`` the telemetry filter becomes ``$share/<group>/...`` so several
    ingest processes split the load. State stays a plain subscription: it is tiny, retained
    and idempotent, and every ingest may as well see it.
    """
    root = root.rstrip("/")
    telemetry = f"{root}/+/+/{TopicKind.TELEMETRY}"
    if shared_group:
        if not SEGMENT.match(shared_group):
            raise TopicError(f"shared group {shared_group!r} is not a slug")
        telemetry = f"$share/{shared_group}/{telemetry}"
    return [telemetry, f"{root}/+/+/{TopicKind.STATE}"]


def gateway_acl_pattern(agency: str, gateway: str, *, root: str = DEFAULT_ROOT) -> str:
    """The one topic tree a gateway may publish under (for the broker's ACL)."""
    _check(agency, "agency")
    _check(gateway, "gateway")
    return f"{root.rstrip('/')}/{agency}/{gateway}/#"


def _build(agency: str, gateway: str, kind: TopicKind, root: str) -> str:
    _check(agency, "agency")
    _check(gateway, "gateway")
    return f"{root.rstrip('/')}/{agency}/{gateway}/{kind}"


def _check(value: str, what: str) -> None:
    if not SEGMENT.match(value):
        raise TopicError(f"{what} {value!r} is not a slug (letters, digits, - and _)")
