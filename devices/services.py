"""Writes of the inventory, with their rules.

Every function here is keyword-only, runs in one transaction and writes exactly one audit
record (`devices.audit.record`) in that transaction, with the object's state before and
after. Who may call what is decided by the caller through `devices.scoping`; the rules
that do not depend on who asks (identifiers, uniqueness, lifecycle) live in `devices.rules`,
shared with the bulk import, and are applied here. Errors are `config.errors` exceptions
naming the field to fix.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from decimal import Decimal
from typing import Any, NoReturn

from django.db import IntegrityError, transaction
from django.db.models import Q, QuerySet
from django.utils import timezone

from config.errors import Conflict, InvalidInput
from devices import audit, rules
from devices.auth import issue_token
from devices.credentials import assign_new_secret
from devices.models import (
    Agency,
    ApiToken,
    AuditRecord,
    Cabinet,
    Device,
    DeviceModel,
    DeviceStatusChange,
    FirstNetStatusChange,
    Gateway,
    User,
)

# --- devices ---------------------------------------------------------------------------

_DEVICE_FIELDS = {
    "asset_tag",
    "imei",
    "iccid",
    "serial",
    "assigned_unit",
    "assigned_officer",
    "firmware_version",
    "network",
    "is_mdm_enrolled",
    "is_encryption_enabled",
    "has_cji_access",
    "notes",
}


def _raise(violation: rules.Violation) -> NoReturn:
    error = Conflict if violation.is_conflict else InvalidInput
    raise error(violation.message, field=violation.field)


def _holder(devices: QuerySet[Device], **lookup: Any) -> rules.Holder | None:
    row = devices.filter(**lookup).values_list("manufacturer", "serial", "agency_id").first()
    return rules.Holder(*row) if row is not None else None


def _check_device(device: Device) -> None:
    """Apply `devices.rules` to a device about to be saved; the first violation is raised.

    Normalises its IMEI and ICCID to digits in place. Reads only.
    """
    device.imei, imei_problem = rules.normalise_imei(device.imei)
    device.iccid, iccid_problem = rules.normalise_iccid(device.iccid)
    model = device.model
    for violation in (
        imei_problem,
        iccid_problem,
        *rules.cellular_violations(
            model_label=str(model),
            is_cellular=model.is_cellular,
            imei=device.imei,
            iccid=device.iccid,
            network=device.network,
        ),
    ):
        if violation is not None:
            _raise(violation)
    others = Device.objects.exclude(pk=device.pk) if device.pk else Device.objects.all()
    agency_id = device.agency_id
    found = rules.serial_violation(
        serial=device.serial,
        manufacturer=model.manufacturer,
        agency_id=agency_id,
        holder=_holder(others, manufacturer=model.manufacturer, serial=device.serial),
    )
    for field, scope in (("asset_tag", {"agency_id": agency_id}), ("imei", {}), ("iccid", {})):
        value = getattr(device, field)
        if found is None and value:
            holder = _holder(others, **scope, **{field: value})
            found = rules.taken_violation(field, value, holder, agency_id=agency_id)
    if found is not None:
        _raise(found)


def _save(obj: Any) -> None:
    """Save, turning a uniqueness race lost to a concurrent writer into a 409."""
    try:
        with transaction.atomic():
            obj.save()
    except IntegrityError as exc:
        raise Conflict(
            f"This {obj._meta.verbose_name} conflicts with one saved at the same moment; reload and retry."
        ) from exc


def register_device(
    *,
    actor: User | None,
    agency: Agency,
    model: DeviceModel,
    serial: str,
    status: str = Device.Status.IN_STOCK,
    remote_addr: str | None = None,
    **fields: Any,
) -> Device:
    """Register a new device and its first lifecycle entry. One transaction, one audit record.

    ``fields`` are the device's other attributes (asset_tag, imei, network, notes, …).
    """
    unknown = set(fields) - _DEVICE_FIELDS
    if unknown:
        raise TypeError(f"unknown device fields: {sorted(unknown)}")
    now = timezone.now()
    device = Device(
        agency=agency,
        model=model,
        serial=serial.strip(),
        status=status,
        status_changed_at=now,
        **fields,
    )
    with transaction.atomic():
        _check_device(device)
        _save(device)
        DeviceStatusChange.objects.create(
            device=device, from_status="", to_status=status, changed_at=now, changed_by=_user(actor)
        )
        audit.record(
            actor=actor,
            action=AuditRecord.Action.CREATE,
            obj=device,
            after=audit.snapshot(device),
            remote_addr=remote_addr,
        )
    return device


def _apply_status(device: Device, status: str, actor: User | None, now: dt.datetime) -> None:
    """Move a device to ``status``, keeping the history. Retired is final."""
    if status == device.status:
        return
    violation = rules.status_change_violation(
        serial=device.serial, current=device.status, new=status
    )
    if violation is not None:
        _raise(violation)
    DeviceStatusChange.objects.create(
        device=device,
        from_status=device.status,
        to_status=status,
        changed_at=now,
        changed_by=_user(actor),
    )
    device.status = status
    device.status_changed_at = now


def update_device(
    *,
    actor: User | None,
    device: Device,
    changes: Mapping[str, Any],
    remote_addr: str | None = None,
) -> Device:
    """Change a device's attributes; ``changes`` may hold ``agency``, ``model`` and ``status`` too.

    A status change is kept in the lifecycle history. One transaction, one audit record.
    """
    unknown = set(changes) - _DEVICE_FIELDS - {"agency", "model", "status"}
    if unknown:
        raise TypeError(f"unknown device fields: {sorted(unknown)}")
    now = timezone.now()
    with transaction.atomic():
        device = (
            Device.objects.select_for_update().select_related("agency", "model").get(pk=device.pk)
        )
        before = audit.snapshot(device)
        for field, value in changes.items():
            if field != "status":
                setattr(device, field, value.strip() if isinstance(value, str) else value)
        changed = {k for k, v in audit.snapshot(device).items() if before.get(k) != v}
        retired = rules.retired_edit_violation(
            serial=device.serial, current=before.get("status", ""), fields=changed
        )
        if retired is not None:
            _raise(retired)
        _check_device(device)
        if "status" in changes:
            _apply_status(device, changes["status"], actor, now)
        _save(device)
        audit.record(
            actor=actor,
            action=AuditRecord.Action.UPDATE,
            obj=device,
            before=before,
            after=audit.snapshot(device),
            remote_addr=remote_addr,
        )
    return device


def change_device_status(
    *,
    actor: User | None,
    device: Device,
    status: str,
    note: str = "",
    remote_addr: str | None = None,
) -> Device:
    """Move a device through its lifecycle (deployed, in repair, lost, …), kept in its history."""
    now = timezone.now()
    with transaction.atomic():
        device = (
            Device.objects.select_for_update().select_related("agency", "model").get(pk=device.pk)
        )
        before = audit.snapshot(device)
        _apply_status(device, status, actor, now)
        _save(device)
        audit.record(
            actor=actor,
            action=AuditRecord.Action.UPDATE,
            obj=device,
            before=before,
            after=audit.snapshot(device),
            message=note,
            remote_addr=remote_addr,
        )
    return device


def retire_device(
    *, actor: User | None, device: Device, note: str = "", remote_addr: str | None = None
) -> Device:
    """Retire a device for good: it stays in the inventory and its history, out of service."""
    violation = rules.retirement_violation(serial=device.serial, current=device.status)
    if violation is not None:
        _raise(violation)
    return change_device_status(
        actor=actor,
        device=device,
        status=Device.Status.RETIRED,
        note=note or "retired",
        remote_addr=remote_addr,
    )


def delete_device(*, actor: User | None, device: Device, remote_addr: str | None = None) -> None:
    """Delete a device registered by mistake: only one still in stock, with no history.

    Anything that was ever deployed, changed status or reported telemetry is retired
    instead, so the lifecycle and readiness history stay true.
    """
    with transaction.atomic():
        device = (
            Device.objects.select_for_update().select_related("agency", "model").get(pk=device.pk)
        )
        # Telemetry hangs its readings on the device; their presence alone is enough here.
        readings = getattr(device, "readings", None)
        violation = rules.deletion_violation(
            serial=device.serial,
            status=device.status,
            has_history=device.status_changes.count() > 1,
            has_telemetry=readings is not None and readings.exists(),
        )
        if violation is not None:
            _raise(violation)
        before = audit.snapshot(device)
        audit.record(
            actor=actor,
            action=AuditRecord.Action.DELETE,
            obj=device,
            before=before,
            remote_addr=remote_addr,
        )
        device.delete()


# --- agencies --------------------------------------------------------------------------

_AGENCY_FIELDS = {"name", "kind", "cabinet", "county", "ori"}


def _record_firstnet_change(agency: Agency, status: str, changed_on: dt.date, note: str) -> None:
    # Unique per (agency, day, status): recording the same status twice in a day is one fact.
    FirstNetStatusChange.objects.get_or_create(
        agency=agency, changed_on=changed_on, status=status, defaults={"note": note}
    )


def _check_firstnet_date(changed_on: dt.date, since: dt.date | None) -> None:
    if changed_on > timezone.localdate():
        raise InvalidInput(
            "The FirstNet status change date cannot be in the future.",
            field="firstnet_status_changed_on",
        )
    if since is not None and changed_on < since:
        raise InvalidInput(
            f"The FirstNet status change date cannot be before the current status's date ({since}).",
            field="firstnet_status_changed_on",
        )


def create_agency(
    *,
    actor: User | None,
    slug: str,
    name: str,
    kind: str,
    cabinet: Cabinet,
    county: str = "",
    ori: str = "",
    firstnet_status: str = Agency.FirstNetStatus.NOT_ENGAGED,
    firstnet_status_changed_on: dt.date | None = None,
    remote_addr: str | None = None,
) -> Agency:
    """Create an agency (a tenant) with its first FirstNet participation entry."""
    changed_on = firstnet_status_changed_on or timezone.localdate()
    _check_firstnet_date(changed_on, None)
    if Agency.objects.filter(slug=slug).exists():
        raise Conflict(f"An agency with the slug {slug!r} already exists.", field="slug")
    agency = Agency(
        slug=slug,
        name=name,
        kind=kind,
        cabinet=cabinet,
        county=county,
        ori=ori,
        firstnet_status=firstnet_status,
        firstnet_status_changed_on=changed_on,
    )
    with transaction.atomic():
        _save(agency)
        _record_firstnet_change(agency, firstnet_status, changed_on, "initial status")
        audit.record(
            actor=actor,
            action=AuditRecord.Action.CREATE,
            obj=agency,
            after=audit.snapshot(agency),
            remote_addr=remote_addr,
        )
    return agency


def update_agency(
    *,
    actor: User | None,
    agency: Agency,
    changes: Mapping[str, Any],
    firstnet_status: str | None = None,
    firstnet_status_changed_on: dt.date | None = None,
    firstnet_note: str = "",
    remote_addr: str | None = None,
) -> Agency:
    """Change an agency; a new FirstNet status is kept in its history with the date it took effect."""
    unknown = set(changes) - _AGENCY_FIELDS
    if unknown:
        raise TypeError(f"unknown agency fields: {sorted(unknown)}")
    with transaction.atomic():
        agency = Agency.objects.select_for_update().select_related("cabinet").get(pk=agency.pk)
        before = audit.snapshot(agency)
        for field, value in changes.items():
            setattr(agency, field, value)
        if firstnet_status is not None and firstnet_status != agency.firstnet_status:
            changed_on = firstnet_status_changed_on or timezone.localdate()
            _check_firstnet_date(changed_on, agency.firstnet_status_changed_on)
            agency.firstnet_status = firstnet_status
            agency.firstnet_status_changed_on = changed_on
            _record_firstnet_change(agency, firstnet_status, changed_on, firstnet_note)
        _save(agency)
        audit.record(
            actor=actor,
            action=AuditRecord.Action.UPDATE,
            obj=agency,
            before=before,
            after=audit.snapshot(agency),
            message=firstnet_note,
            remote_addr=remote_addr,
        )
    return agency


# --- cabinets --------------------------------------------------------------------------


def save_cabinet(
    *,
    actor: User | None,
    cabinet: Cabinet,
    changes: Mapping[str, Any],
    remote_addr: str | None = None,
) -> Cabinet:
    """Create (``cabinet`` unsaved) or change a cabinet: slug, name, relationship manager."""
    unknown = set(changes) - {"slug", "name", "brm"}
    if unknown:
        raise TypeError(f"unknown cabinet fields: {sorted(unknown)}")
    with transaction.atomic():
        before = audit.snapshot(cabinet) if cabinet.pk else None
        for field, value in changes.items():
            setattr(cabinet, field, value.strip() if isinstance(value, str) else value)
        others = Cabinet.objects.exclude(pk=cabinet.pk) if cabinet.pk else Cabinet.objects.all()
        for field in ("slug", "name"):
            if others.filter(**{field: getattr(cabinet, field)}).exists():
                raise Conflict(
                    f"Another cabinet already has the {field} {getattr(cabinet, field)!r}.",
                    field=field,
                )
        if cabinet.brm is not None and not cabinet.brm.is_state_staff:
            raise InvalidInput(
                "The relationship manager must be a state staff account.", field="brm"
            )
        _save(cabinet)
        audit.record(
            actor=actor,
            action=AuditRecord.Action.UPDATE if before else AuditRecord.Action.CREATE,
            obj=cabinet,
            before=before,
            after=audit.snapshot(cabinet),
            remote_addr=remote_addr,
        )
    return cabinet


# --- catalog ---------------------------------------------------------------------------

_MODEL_FIELDS = {
    "manufacturer",
    "name",
    "kind",
    "has_band14",
    "firstnet_program",
    "fips_140_level",
    "has_mcptt",
    "has_encryption_at_rest",
    "is_cellular",
    "telemetry_interval_s",
    "unit_cost",
}


def _check_model(model: DeviceModel) -> None:
    others = DeviceModel.objects.exclude(pk=model.pk) if model.pk else DeviceModel.objects.all()
    if others.filter(manufacturer=model.manufacturer, name=model.name).exists():
        raise Conflict(
            f"The catalog already lists {model.manufacturer} {model.name}.", field="name"
        )
    model.unit_cost = Decimal(str(model.unit_cost)).quantize(Decimal("0.01"))


def create_device_model(
    *, actor: User | None, remote_addr: str | None = None, **fields: Any
) -> DeviceModel:
    """Add a model to the catalog (manufacturer, name, kind and capabilities)."""
    unknown = set(fields) - _MODEL_FIELDS
    if unknown:
        raise TypeError(f"unknown catalog fields: {sorted(unknown)}")
    model = DeviceModel(**fields)
    with transaction.atomic():
        _check_model(model)
        _save(model)
        audit.record(
            actor=actor,
            action=AuditRecord.Action.CREATE,
            obj=model,
            after=audit.snapshot(model),
            remote_addr=remote_addr,
        )
    return model


def update_device_model(
    *,
    actor: User | None,
    model: DeviceModel,
    changes: Mapping[str, Any],
    remote_addr: str | None = None,
) -> DeviceModel:
    """Change a catalog entry. A new manufacturer is copied to its devices (serials stay unique)."""
    unknown = set(changes) - _MODEL_FIELDS
    if unknown:
        raise TypeError(f"unknown catalog fields: {sorted(unknown)}")
    with transaction.atomic():
        model = DeviceModel.objects.select_for_update().get(pk=model.pk)
        before = audit.snapshot(model)
        old_manufacturer = model.manufacturer
        for field, value in changes.items():
            setattr(model, field, value)
        _check_model(model)
        cellular_devices = model.devices.filter(
            ~Q(network=Device.Network.NONE) | ~Q(imei="") | ~Q(iccid="")
        )
        if not model.is_cellular and before["is_cellular"] and cellular_devices.exists():
            raise Conflict(
                "Devices of this model are on a cellular network or have an IMEI/ICCID; "
                "it cannot become non-cellular.",
                field="is_cellular",
            )
        if model.manufacturer != old_manufacturer:
            serials = model.devices.values("serial")
            clash = Device.objects.filter(
                manufacturer=model.manufacturer, serial__in=serials
            ).first()
            if clash is not None:
                raise Conflict(
                    f"Serial {clash.serial} already exists for {model.manufacturer}; "
                    "the manufacturer cannot change.",
                    field="manufacturer",
                )
        _save(model)
        if model.manufacturer != old_manufacturer:
            # Device.manufacturer is a copy that makes "serial unique per manufacturer" a constraint.
            Device.objects.filter(model=model).update(manufacturer=model.manufacturer)
        audit.record(
            actor=actor,
            action=AuditRecord.Action.UPDATE,
            obj=model,
            before=before,
            after=audit.snapshot(model),
            remote_addr=remote_addr,
        )
    return model


def delete_device_model(
    *, actor: User | None, model: DeviceModel, remote_addr: str | None = None
) -> None:
    """Remove a catalog entry that no device uses."""
    with transaction.atomic():
        if model.devices.exists():
            raise Conflict(f"{model} is used by devices; it cannot be deleted.")
        audit.record(
            actor=actor,
            action=AuditRecord.Action.DELETE,
            obj=model,
            before=audit.snapshot(model),
            remote_addr=remote_addr,
        )
        model.delete()


# --- gateways --------------------------------------------------------------------------


def create_gateway(
    *,
    actor: User | None,
    agency: Agency,
    name: str,
    description: str = "",
    is_active: bool = True,
    remote_addr: str | None = None,
) -> tuple[Gateway, str]:
    """Register a gateway with a new random credential; returns it and the secret (shown once)."""
    if Gateway.objects.filter(agency=agency, name=name).exists():
        raise Conflict(f"{agency} already has a gateway named {name!r}.", field="name")
    gateway = Gateway(agency=agency, name=name, description=description, is_active=is_active)
    secret = assign_new_secret(gateway)
    with transaction.atomic():
        _save(gateway)
        audit.record(
            actor=actor,
            action=AuditRecord.Action.CREATE,
            obj=gateway,
            after=audit.snapshot(gateway),
            remote_addr=remote_addr,
        )
    return gateway, secret


def update_gateway(
    *,
    actor: User | None,
    gateway: Gateway,
    changes: Mapping[str, Any],
    remote_addr: str | None = None,
) -> Gateway:
    """Change a gateway's description or switch it off. Its name is fixed: topics use it."""
    unknown = set(changes) - {"description", "is_active"}
    if unknown:
        raise TypeError(f"unknown gateway fields: {sorted(unknown)}")
    with transaction.atomic():
        gateway = Gateway.objects.select_for_update().select_related("agency").get(pk=gateway.pk)
        before = audit.snapshot(gateway)
        for field, value in changes.items():
            setattr(gateway, field, value)
        _save(gateway)
        audit.record(
            actor=actor,
            action=AuditRecord.Action.UPDATE,
            obj=gateway,
            before=before,
            after=audit.snapshot(gateway),
            remote_addr=remote_addr,
        )
    return gateway


def rotate_gateway_credential(
    *, actor: User | None, gateway: Gateway, remote_addr: str | None = None
) -> tuple[Gateway, str]:
    """Give a gateway a new credential; the old one stops working. Returns the new secret once."""
    with transaction.atomic():
        gateway = Gateway.objects.select_for_update().select_related("agency").get(pk=gateway.pk)
        secret = assign_new_secret(gateway)
        _save(gateway)
        audit.record(
            actor=actor,
            action=AuditRecord.Action.UPDATE,
            obj=gateway,
            message="credential rotated",
            remote_addr=remote_addr,
        )
    return gateway, secret


def delete_gateway(*, actor: User | None, gateway: Gateway, remote_addr: str | None = None) -> None:
    """Delete a gateway. Readings it forwarded stay, without the gateway reference."""
    with transaction.atomic():
        audit.record(
            actor=actor,
            action=AuditRecord.Action.DELETE,
            obj=gateway,
            before=audit.snapshot(gateway),
            remote_addr=remote_addr,
        )
        gateway.delete()


def gateway_credential_is_valid(gateway: Gateway, secret: str) -> bool:
    """True when ``secret`` is the gateway's current credential (for the HTTPS ingest fallback)."""
    from django.contrib.auth.hashers import check_password

    return bool(gateway.credential_hash) and check_password(secret, gateway.credential_hash)


# --- API tokens ------------------------------------------------------------------------


def create_api_token(
    *,
    actor: User | None,
    user: User,
    name: str = "api",
    scope: str = ApiToken.Scope.READ,
    expires_in_days: int | None = None,
    now: dt.datetime | None = None,
    remote_addr: str | None = None,
) -> tuple[ApiToken, str]:
    """Issue a bearer token for ``user``; returns the row and the token (never stored).

    Read-only unless ``scope`` says otherwise; expires after TRACKER_TOKEN_DEFAULT_DAYS or
    ``expires_in_days`` (InvalidInput beyond TRACKER_TOKEN_MAX_DAYS, before anything is
    written). Not idempotent: each call issues a new token; the row and its audit record are
    written in one transaction.
    """
    now = now or timezone.now()
    with transaction.atomic():
        row, token = issue_token(
            user=user, now=now, name=name, scope=scope, expires_in_days=expires_in_days
        )
        audit.record(
            actor=actor,
            action=AuditRecord.Action.CREATE,
            obj=row,
            agency_id=user.agency_id,
            object_repr=f"{row.prefix}… ({user.get_username()})",
            after=audit.snapshot(row),
            remote_addr=remote_addr,
        )
    return row, token


def revoke_api_token(
    *, actor: User | None, token: ApiToken, remote_addr: str | None = None
) -> ApiToken:
    """Revoke a token: requests with it answer 401 from now on."""
    with transaction.atomic():
        token = ApiToken.objects.select_for_update().select_related("user").get(pk=token.pk)
        if token.revoked_at is not None:
            raise Conflict(
                f"Token {token.prefix}… was already revoked on {token.revoked_at:%Y-%m-%d}."
            )
        before = audit.snapshot(token)
        token.revoked_at = timezone.now()
        token.save(update_fields=["revoked_at"])
        audit.record(
            actor=actor,
            action=AuditRecord.Action.REVOKE,
            obj=token,
            agency_id=token.user.agency_id,
            object_repr=f"{token.prefix}… ({token.user.get_username()})",
            before=before,
            after=audit.snapshot(token),
            remote_addr=remote_addr,
        )
    return token


def _user(actor: User | None) -> User | None:
    return actor if actor is not None and actor.pk else None
