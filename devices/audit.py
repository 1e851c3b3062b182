"""The audit log's single writer. Every inventory change goes through `record`."""

from __future__ import annotations

import datetime as dt
import decimal
from typing import Any

from django.db.models import Model
from django.forms.models import model_to_dict
from django.http import HttpRequest

from config.proxies import client_address
from devices.models import AuditRecord, User

_SKIP_FIELDS = {"credential_hash", "broker_password_hash", "key_hash", "password"}


def snapshot(obj: Model) -> dict[str, Any]:
    """A JSON-safe dict of a model's concrete fields (secrets left out)."""
    data = model_to_dict(obj, fields=[f.name for f in obj._meta.concrete_fields])
    data["id"] = obj.pk
    for field in obj._meta.concrete_fields:
        if not field.editable and field.name not in data:
            data[field.name] = getattr(obj, field.attname)
    clean: dict[str, Any] = {}
    for key, value in data.items():
        if key in _SKIP_FIELDS:
            continue
        if isinstance(value, dt.datetime | dt.date | decimal.Decimal):
            value = str(value)
        elif isinstance(value, Model):
            value = value.pk
        clean[key] = value
    return clean


def record(
    *,
    actor: User | None,
    action: str,
    obj: Model | None = None,
    object_type: str | None = None,
    object_id: str = "",
    object_repr: str = "",
    agency_id: int | None = None,
    before: dict[str, Any] | None = None,
    after: dict[str, Any] | None = None,
    message: str = "",
    request: HttpRequest | None = None,
    remote_addr: str | None = None,
    user_agent: str | None = None,
    actor_name: str | None = None,
) -> AuditRecord:
    """Write one audit record. Call inside the transaction of the change it describes.

    ``actor_name`` names someone who is not a user row (the name typed at a failed logon);
    ``user_agent`` and ``remote_addr`` default to the request's.
    """
    if obj is not None:
        object_type = object_type or obj._meta.model_name
        object_id = object_id or str(obj.pk)
        object_repr = object_repr or str(obj)[:200]
        if agency_id is None:
            agency_id = getattr(obj, "agency_id", None)
            if agency_id is None and obj._meta.model_name == "agency":
                agency_id = obj.pk
    return AuditRecord.objects.create(
        actor=actor if actor is not None and actor.pk else None,
        actor_name=(actor_name or (actor.get_username() if actor is not None else "system"))[:150],
        remote_addr=remote_addr or client_address(request),
        user_agent=(user_agent or request_user_agent(request))[:300],
        action=action,
        object_type=object_type or "",
        object_id=object_id,
        object_repr=object_repr,
        agency_id=agency_id,
        before=before,
        after=after,
        message=message[:500],
    )


def request_user_agent(request: HttpRequest | None) -> str:
    """The request's User-Agent header, or "" (no request, or none sent)."""
    if request is None:
        return ""
    return str(request.META.get("HTTP_USER_AGENT", ""))
