"""Telemetry API: the HTTPS fallback for gateways, dead letters and gateway status.

``POST /api/telemetry`` takes the same JSON body as the MQTT contract and goes through the
same ingest service (`telemetry.ingest.ingest_batch`), authenticated as the gateway itself
(HTTP Basic: ``<agency>/<gateway>`` and its secret), never with a user's token. Reads are
scoped by `telemetry.scoping`; another agency's rows answer 404. The health endpoints
(alerts, device health, maintenance, notifications) live in `telemetry.api_health`.
"""

from __future__ import annotations

import datetime as dt

from django.conf import settings
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils import timezone
from ninja import Field, Path, Query, Router, Schema
from ninja.security import HttpBasicAuth

from config.api import COMMON_ERRORS, NOT_FOUND_ERRORS, ErrorOut
from config.errors import InvalidInput
from config.pagination import paginated
from config.typing import AuthedRequest
from devices.models import Gateway
from telemetry.credentials import find_gateway_by_credentials
from telemetry.ingest import InboundMessage, ingest_batch
from telemetry.metrics import IngestTotals
from telemetry.models import DeadLetter
from telemetry.payloads import MAX_MESSAGE_BYTES
from telemetry.scoping import get_visible_or_404, visible_dead_letters, visible_gateway_status
from telemetry.topics import telemetry_topic

router = Router(tags=["telemetry"])

MAX_ID = 2**63 - 1
# The HTTPS path records its totals under one name, shown beside the MQTT processes.
HTTPS_TOTALS = IngestTotals("https")


class GatewayAuth(HttpBasicAuth):
    """A gateway's own credential: user ``<agency>/<gateway>``, password its secret."""

    openapi_description = (
        "Gateway credential: HTTP Basic with `<agency>/<gateway>` and the gateway's secret."
    )

    def authenticate(self, request: HttpRequest, username: str, password: str) -> Gateway | None:
        gateway = find_gateway_by_credentials(username, password)
        if gateway is not None:
            request.gateway = gateway  # type: ignore[attr-defined]
        return gateway


# --- HTTPS fallback ----------------------------------------------------------------------


class RejectedOut(Schema):
    reason: str
    count: int


class IngestOut(Schema):
    """What happened to the readings of the message."""

    readings_stored: int = Field(..., description="New history rows.")
    readings_duplicate: int = Field(
        ..., description="Readings already stored (a resend): not stored twice."
    )
    rejected: list[RejectedOut] = Field(
        ..., description="Rejected readings by reason; see the dead letters."
    )


TELEMETRY_BODY_DOC = {
    "requestBody": {
        "required": True,
        "content": {
            "application/json": {
                "schema": {
                    "type": "object",
                    "description": "The MQTT contract's telemetry message (README: MQTT contract for gateway vendors).",
                    "required": ["schema", "gateway", "seq", "sent_at", "readings"],
                    "properties": {
                        "schema": {"type": "integer", "enum": [1]},
                        "gateway": {"type": "string"},
                        "seq": {"type": "integer", "minimum": 0},
                        "sent_at": {"type": "string", "format": "date-time"},
                        "readings": {"type": "array", "minItems": 1, "items": {"type": "object"}},
                    },
                }
            }
        },
    }
}


@router.post(
    "/telemetry",
    auth=GatewayAuth(),
    response={200: IngestOut, 413: ErrorOut, **COMMON_ERRORS},
    openapi_extra=TELEMETRY_BODY_DOC,
)
def post_telemetry(request: HttpRequest):
    """Submit one telemetry message over HTTPS (when MQTT is not available to the gateway).

    Same validation and storage as MQTT. The whole message is refused (422, dead-lettered)
    when it is not a valid message; otherwise the answer counts stored, duplicate and
    rejected readings (each rejected reading is a dead letter with its reason).
    """
    gateway: Gateway = request.gateway  # type: ignore[attr-defined]
    if len(request.body) > MAX_MESSAGE_BYTES:
        raise _TooLarge(
            f"The message is {len(request.body)} bytes; the limit is {MAX_MESSAGE_BYTES} bytes."
        )
    topic = telemetry_topic(gateway.agency.slug, gateway.name, root=settings.MQTT_TOPIC_ROOT)
    result = ingest_batch([InboundMessage(topic, request.body, timezone.now())], stats=HTTPS_TOTALS)
    if not result.telemetry_messages:
        detail = result.rejections[0][1] if result.rejections else "not a valid message"
        raise InvalidInput(f"The message was rejected: {detail}", field="body")
    return {
        "readings_stored": result.readings_stored,
        "readings_duplicate": result.readings_duplicate,
        "rejected": [{"reason": str(r), "count": n} for r, n in sorted(result.rejected.items())],
    }


class _TooLarge(InvalidInput):
    status = 413


# --- dead letters ------------------------------------------------------------------------


class DeadLetterOut(Schema):
    id: int
    received_at: dt.datetime
    reason: DeadLetter.Reason
    reason_display: str = Field(..., alias="get_reason_display")
    detail: str
    topic: str
    agency: str | None = None
    gateway_name: str
    device_serial: str
    payload_bytes: int

    @staticmethod
    def resolve_agency(obj: DeadLetter) -> str | None:
        return obj.agency.slug if obj.agency else None


class DeadLetterDetailOut(DeadLetterOut):
    payload: str = Field(..., description="The payload as received, capped at 4 KiB.")


class DeadLetterFilter(Schema):
    reason: DeadLetter.Reason | None = None
    agency: str | None = Field(
        None, max_length=64, description="Agency slug (state staff see every agency)."
    )
    gateway: str | None = Field(None, max_length=64, description="Gateway name.")
    since: dt.datetime | None = Field(None, description="Received at or after this time.")


def filter_dead_letters(
    queryset: QuerySet[DeadLetter], filters: DeadLetterFilter
) -> QuerySet[DeadLetter]:
    if filters.reason:
        queryset = queryset.filter(reason=filters.reason)
    if filters.agency:
        queryset = queryset.filter(agency__slug=filters.agency)
    if filters.gateway:
        queryset = queryset.filter(gateway_name=filters.gateway)
    if filters.since:
        queryset = queryset.filter(received_at__gte=filters.since)
    return queryset


@router.get("/telemetry/dead-letters", response={200: list[DeadLetterOut], **COMMON_ERRORS})
@paginated
def list_dead_letters(request: AuthedRequest, filters: Query[DeadLetterFilter]):
    """Rejected messages and readings you can see, newest first, with the reason."""
    return filter_dead_letters(visible_dead_letters(request.user), filters)


@router.get(
    "/telemetry/dead-letters/{int:dead_letter_id}",
    response={200: DeadLetterDetailOut, **NOT_FOUND_ERRORS},
)
def get_dead_letter(request: AuthedRequest, dead_letter_id: int = Path(..., ge=1, le=MAX_ID)):
    """One dead letter with its (capped) payload."""
    return get_visible_or_404(visible_dead_letters(request.user), pk=dead_letter_id)


# --- gateway status ----------------------------------------------------------------------


class GatewayStatusOut(Schema):
    gateway_id: int
    agency: str = Field(..., alias="gateway.agency.slug")
    name: str = Field(..., alias="gateway.name")
    is_online: bool
    changed_at: dt.datetime | None = Field(..., description="When it last went online or offline.")
    last_message_at: dt.datetime | None
    last_seq: int | None
    messages_total: int
    gaps_total: int = Field(..., description="Sequence numbers never received.")


class GatewayStatusFilter(Schema):
    agency: str | None = Field(None, max_length=64)
    online: bool | None = None


@router.get("/telemetry/gateways", response={200: list[GatewayStatusOut], **COMMON_ERRORS})
@paginated
def list_gateway_status(request: AuthedRequest, filters: Query[GatewayStatusFilter]):
    """Gateways' connection state (online/offline since when), message and gap counts."""
    queryset = visible_gateway_status(request.user).order_by(
        "gateway__agency__slug", "gateway__name"
    )
    if filters.agency:
        queryset = queryset.filter(gateway__agency__slug=filters.agency)
    if filters.online is not None:
        queryset = queryset.filter(is_online=filters.online)
    return queryset


from telemetry.api_health import router as health_router  # noqa: E402

router.add_router("", health_router)

from telemetry.api_readings import router as readings_router  # noqa: E402

router.add_router("", readings_router)
