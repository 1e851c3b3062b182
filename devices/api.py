"""The inventory API router: agencies, catalog, devices, gateways, tokens and the audit log.

Operations are thin: scope through `devices.scoping`, call one `devices.services`
function, return what the response schema shapes. Bulk import/export endpoints live in
`devices.api_transfer`, mounted at the end of this module. Ids in paths use Django's
``int`` converter so ``/devices/export`` and friends are never taken for a device id.
"""

from __future__ import annotations

from typing import Any, TypeVar

from django.db.models import Model, Prefetch, Q, QuerySet
from django.http import HttpRequest
from django.shortcuts import get_object_or_404
from ninja import Path, Query, Router, Status

from config.api import NOT_FOUND_ERRORS, WRITE_ERRORS
from config.errors import InvalidInput
from config.pagination import paginated
from config.proxies import client_address
from config.typing import AuthedRequest
from devices import scoping, services
from devices.models import (
    Agency,
    Cabinet,
    Device,
    DeviceModel,
    DeviceStatusChange,
    FirstNetStatusChange,
)
from devices.schemas import (
    MAX_ID,
    AgencyDetailOut,
    AgencyFilter,
    AgencyIn,
    AgencyOut,
    AgencyPatch,
    AuditFilter,
    AuditOut,
    DeviceDetailOut,
    DeviceFilter,
    DeviceIn,
    DeviceModelFilter,
    DeviceModelIn,
    DeviceModelOut,
    DeviceModelPatch,
    DeviceOut,
    DevicePatch,
    GatewayCreatedOut,
    GatewayFilter,
    GatewayIn,
    GatewayOut,
    GatewayPatch,
    RetireIn,
    TokenCreatedOut,
    TokenFilter,
    TokenIn,
    TokenOut,
)
from devices.selectors import device_rows, filter_audit, filter_devices

router = Router(tags=["devices"])
M = TypeVar("M", bound=Model)

# Lists answer 400/401/403/422 like every operation, and 404 for an unknown filter value.
LIST_ERRORS = NOT_FOUND_ERRORS
NO_CONTENT: dict[int, Any] = {204: None, **WRITE_ERRORS}
Id = Path(..., ge=1, le=MAX_ID)
Slug = Path(..., min_length=1, max_length=64, pattern=r"^[-a-zA-Z0-9_]+$")


def _ip(request: HttpRequest) -> str | None:
    return client_address(request)


def _agency_for_write(request: AuthedRequest, slug: str | None) -> Agency:
    """The agency a new device or gateway goes to: named, or the agency admin's own."""
    user = request.user
    if slug is None:
        if user.agency is None:
            raise InvalidInput("State staff must name the agency (its slug).", field="agency")
        slug = user.agency.slug
    agency = scoping.visible_agencies(user).filter(slug=slug).first()
    if agency is None:
        raise InvalidInput(f"There is no agency {slug!r} that you can see.", field="agency")
    scoping.require_manager_of(user, agency)
    return agency


def _shown_once(row: M, **secrets: str) -> M:
    """``row`` carrying a secret its `...CreatedOut` schema shows this once; never saved."""
    for name, value in secrets.items():
        setattr(row, name, value)
    return row


def _catalog_model(model_id: int) -> DeviceModel:
    model = DeviceModel.objects.filter(pk=model_id).first()
    if model is None:
        raise InvalidInput(f"There is no device model {model_id} in the catalog.", field="model_id")
    return model


def _cabinet(slug: str) -> Cabinet:
    cabinet = Cabinet.objects.filter(slug=slug).first()
    if cabinet is None:
        raise InvalidInput(f"There is no cabinet {slug!r}.", field="cabinet")
    return cabinet


# --- agencies --------------------------------------------------------------------------


def _agencies(request: AuthedRequest) -> QuerySet[Agency]:
    return scoping.visible_agencies(request.user).prefetch_related(
        Prefetch(
            "firstnet_changes", queryset=FirstNetStatusChange.objects.order_by("changed_on", "id")
        )
    )


@router.get("/agencies", response={200: list[AgencyOut], **LIST_ERRORS}, tags=["agencies"])
@paginated
def list_agencies(request: AuthedRequest, filters: Query[AgencyFilter]):
    """Agencies you can see: every agency for state staff, your own otherwise."""
    agencies = scoping.visible_agencies(request.user)
    if filters.kind:
        agencies = agencies.filter(kind=filters.kind)
    if filters.cabinet:
        agencies = agencies.filter(cabinet__slug=filters.cabinet)
    if filters.firstnet_status:
        agencies = agencies.filter(firstnet_status=filters.firstnet_status)
    if filters.q:
        agencies = agencies.filter(Q(name__icontains=filters.q) | Q(slug__icontains=filters.q))
    return agencies.order_by("name", "id")


@router.post("/agencies", response={201: AgencyDetailOut, **WRITE_ERRORS}, tags=["agencies"])
def create_agency(request: AuthedRequest, payload: AgencyIn):
    """Create an agency (state staff)."""
    scoping.require_state_staff(request.user)
    data = payload.dict()
    data["cabinet"] = _cabinet(payload.cabinet)
    agency = services.create_agency(actor=request.user, remote_addr=_ip(request), **data)
    return Status(201, get_object_or_404(_agencies(request), pk=agency.pk))


@router.get(
    "/agencies/{slug}", response={200: AgencyDetailOut, **NOT_FOUND_ERRORS}, tags=["agencies"]
)
def get_agency(request: AuthedRequest, slug: str = Slug):
    """One agency with its FirstNet participation history."""
    return get_object_or_404(_agencies(request), slug=slug)


@router.patch(
    "/agencies/{slug}", response={200: AgencyDetailOut, **WRITE_ERRORS}, tags=["agencies"]
)
def update_agency(request: AuthedRequest, payload: AgencyPatch, slug: str = Slug):
    """Change an agency (state staff). A new FirstNet status is kept with its date."""
    agency = get_object_or_404(_agencies(request), slug=slug)
    scoping.require_state_staff(request.user)
    changes = payload.dict(
        exclude_unset=True,
        exclude={"firstnet_status", "firstnet_status_changed_on", "firstnet_note"},
    )
    changes = {k: v for k, v in changes.items() if v is not None}
    if "cabinet" in changes:
        changes["cabinet"] = _cabinet(changes["cabinet"])
    services.update_agency(
        actor=request.user,
        agency=agency,
        changes=changes,
        firstnet_status=payload.firstnet_status,
        firstnet_status_changed_on=payload.firstnet_status_changed_on,
        firstnet_note=payload.firstnet_note,
        remote_addr=_ip(request),
    )
    return get_object_or_404(_agencies(request), pk=agency.pk)


# --- catalog ---------------------------------------------------------------------------


@router.get("/device-models", response={200: list[DeviceModelOut], **LIST_ERRORS}, tags=["catalog"])
@paginated
def list_device_models(request: AuthedRequest, filters: Query[DeviceModelFilter]):
    """The device catalog (everyone reads it; state staff maintain it)."""
    models = DeviceModel.objects.all()
    if filters.kind:
        models = models.filter(kind=filters.kind)
    if filters.manufacturer:
        models = models.filter(manufacturer__iexact=filters.manufacturer)
    if filters.q:
        models = models.filter(Q(manufacturer__icontains=filters.q) | Q(name__icontains=filters.q))
    return models.order_by("manufacturer", "name", "id")


@router.post("/device-models", response={201: DeviceModelOut, **WRITE_ERRORS}, tags=["catalog"])
def create_device_model(request: AuthedRequest, payload: DeviceModelIn):
    """Add a model to the catalog (state staff)."""
    scoping.require_state_staff(request.user)
    return Status(
        201,
        services.create_device_model(
            actor=request.user, remote_addr=_ip(request), **payload.dict()
        ),
    )


@router.get(
    "/device-models/{int:model_id}",
    response={200: DeviceModelOut, **NOT_FOUND_ERRORS},
    tags=["catalog"],
)
def get_device_model(request: AuthedRequest, model_id: int = Id):
    return get_object_or_404(DeviceModel, pk=model_id)


@router.patch(
    "/device-models/{int:model_id}",
    response={200: DeviceModelOut, **WRITE_ERRORS},
    tags=["catalog"],
)
def update_device_model(request: AuthedRequest, payload: DeviceModelPatch, model_id: int = Id):
    """Change a catalog entry (state staff). ``fips_140_level: null`` clears it."""
    model = get_object_or_404(DeviceModel, pk=model_id)
    scoping.require_state_staff(request.user)
    changes = payload.dict(exclude_unset=True)
    changes = {k: v for k, v in changes.items() if v is not None or k == "fips_140_level"}
    return services.update_device_model(
        actor=request.user, model=model, changes=changes, remote_addr=_ip(request)
    )


@router.delete("/device-models/{int:model_id}", response=NO_CONTENT, tags=["catalog"])
def delete_device_model(request: AuthedRequest, model_id: int = Id):
    """Remove a catalog entry no device uses (state staff)."""
    model = get_object_or_404(DeviceModel, pk=model_id)
    scoping.require_state_staff(request.user)
    services.delete_device_model(actor=request.user, model=model, remote_addr=_ip(request))
    return Status(204, None)


# --- devices ---------------------------------------------------------------------------


def _device(request: AuthedRequest, device_id: int) -> Device:
    history = DeviceStatusChange.objects.select_related("changed_by").order_by("changed_at", "id")
    devices = scoping.visible_devices(request.user).prefetch_related(
        Prefetch("status_changes", queryset=history)
    )
    return get_object_or_404(devices, pk=device_id)


@router.get("/devices", response={200: list[DeviceOut], **LIST_ERRORS}, tags=["devices"])
@paginated(rows=device_rows)
def list_devices(request: AuthedRequest, filters: Query[DeviceFilter]):
    """Devices you can see, filtered; ``q`` searches serial and asset tag."""
    return filter_devices(scoping.visible_devices(request.user), **filters.dict())


@router.post("/devices", response={201: DeviceDetailOut, **WRITE_ERRORS}, tags=["devices"])
def register_device(request: AuthedRequest, payload: DeviceIn):
    """Register a device (agency admins in their agency; state staff anywhere)."""
    scoping.require_writer(request.user)
    data = payload.dict(exclude={"agency", "model_id"})
    agency = _agency_for_write(request, payload.agency)
    model = _catalog_model(payload.model_id)
    device = services.register_device(
        actor=request.user, agency=agency, model=model, remote_addr=_ip(request), **data
    )
    return Status(201, _device(request, device.pk))


@router.get(
    "/devices/{int:device_id}",
    response={200: DeviceDetailOut, **NOT_FOUND_ERRORS},
    tags=["devices"],
)
def get_device(request: AuthedRequest, device_id: int = Id):
    """One device with its lifecycle history."""
    return _device(request, device_id)


@router.patch(
    "/devices/{int:device_id}", response={200: DeviceDetailOut, **WRITE_ERRORS}, tags=["devices"]
)
def update_device(request: AuthedRequest, payload: DevicePatch, device_id: int = Id):
    """Change a device; a ``status`` change is kept in its lifecycle history."""
    device = _device(request, device_id)
    scoping.require_manager_of(request.user, device.agency_id)
    changes = {k: v for k, v in payload.dict(exclude_unset=True).items() if v is not None}
    if "agency" in changes:
        changes["agency"] = _agency_for_write(request, changes["agency"])
    if "model_id" in changes:
        changes["model"] = _catalog_model(changes.pop("model_id"))
    services.update_device(
        actor=request.user, device=device, changes=changes, remote_addr=_ip(request)
    )
    return _device(request, device_id)


@router.post(
    "/devices/{int:device_id}/retire",
    response={200: DeviceDetailOut, **WRITE_ERRORS},
    tags=["devices"],
)
def retire_device(request: AuthedRequest, payload: RetireIn, device_id: int = Id):
    """Retire a device: out of service for good, kept with its history."""
    device = _device(request, device_id)
    scoping.require_manager_of(request.user, device.agency_id)
    services.retire_device(
        actor=request.user, device=device, note=payload.note, remote_addr=_ip(request)
    )
    return _device(request, device_id)


@router.delete("/devices/{int:device_id}", response=NO_CONTENT, tags=["devices"])
def delete_device(request: AuthedRequest, device_id: int = Id):
    """Delete a device registered by mistake (in stock, no history); otherwise retire it."""
    device = _device(request, device_id)
    scoping.require_manager_of(request.user, device.agency_id)
    services.delete_device(actor=request.user, device=device, remote_addr=_ip(request))
    return Status(204, None)


# --- gateways --------------------------------------------------------------------------


def _gateway(request: AuthedRequest, gateway_id: int):
    return get_object_or_404(scoping.visible_gateways(request.user), pk=gateway_id)


@router.get("/gateways", response={200: list[GatewayOut], **LIST_ERRORS}, tags=["gateways"])
@paginated
def list_gateways(request: AuthedRequest, filters: Query[GatewayFilter]):
    gateways = scoping.visible_gateways(request.user)
    if filters.agency:
        gateways = gateways.filter(agency__slug=filters.agency)
    if filters.is_active is not None:
        gateways = gateways.filter(is_active=filters.is_active)
    return gateways.order_by("agency__slug", "name", "id")


@router.post("/gateways", response={201: GatewayCreatedOut, **WRITE_ERRORS}, tags=["gateways"])
def create_gateway(request: AuthedRequest, payload: GatewayIn):
    """Register a gateway; the answer holds its MQTT secret, shown this once."""
    scoping.require_writer(request.user)
    agency = _agency_for_write(request, payload.agency)
    gateway, secret = services.create_gateway(
        actor=request.user,
        agency=agency,
        remote_addr=_ip(request),
        **payload.dict(exclude={"agency"}),
    )
    return Status(201, _shown_once(gateway, secret=secret))


@router.get(
    "/gateways/{int:gateway_id}", response={200: GatewayOut, **NOT_FOUND_ERRORS}, tags=["gateways"]
)
def get_gateway(request: AuthedRequest, gateway_id: int = Id):
    return _gateway(request, gateway_id)


@router.patch(
    "/gateways/{int:gateway_id}", response={200: GatewayOut, **WRITE_ERRORS}, tags=["gateways"]
)
def update_gateway(request: AuthedRequest, payload: GatewayPatch, gateway_id: int = Id):
    gateway = _gateway(request, gateway_id)
    scoping.require_manager_of(request.user, gateway.agency_id)
    changes = {k: v for k, v in payload.dict(exclude_unset=True).items() if v is not None}
    return services.update_gateway(
        actor=request.user, gateway=gateway, changes=changes, remote_addr=_ip(request)
    )


@router.post(
    "/gateways/{int:gateway_id}/credential",
    response={200: GatewayCreatedOut, **WRITE_ERRORS},
    tags=["gateways"],
)
def rotate_gateway_credential(request: AuthedRequest, gateway_id: int = Id):
    """Replace a gateway's secret; the old one stops working. The new one is shown once."""
    gateway = _gateway(request, gateway_id)
    scoping.require_manager_of(request.user, gateway.agency_id)
    gateway, secret = services.rotate_gateway_credential(
        actor=request.user, gateway=gateway, remote_addr=_ip(request)
    )
    return _shown_once(gateway, secret=secret)


@router.delete("/gateways/{int:gateway_id}", response=NO_CONTENT, tags=["gateways"])
def delete_gateway(request: AuthedRequest, gateway_id: int = Id):
    gateway = _gateway(request, gateway_id)
    scoping.require_manager_of(request.user, gateway.agency_id)
    services.delete_gateway(actor=request.user, gateway=gateway, remote_addr=_ip(request))
    return Status(204, None)


# --- API tokens ------------------------------------------------------------------------


@router.get("/tokens", response={200: list[TokenOut], **LIST_ERRORS}, tags=["tokens"])
@paginated
def list_tokens(request: AuthedRequest, filters: Query[TokenFilter]):
    """Your tokens; state staff see everyone's, to revoke a leaked one."""
    tokens = scoping.visible_tokens(request.user)
    if not filters.include_revoked:
        tokens = tokens.filter(revoked_at__isnull=True)
    return tokens.order_by("-created_at", "-id")


@router.post("/tokens", response={201: TokenCreatedOut, **WRITE_ERRORS}, tags=["tokens"])
def create_token(request: AuthedRequest, payload: TokenIn):
    """A new token for yourself, read-only unless asked; the answer holds it, shown this once."""
    row, token = services.create_api_token(
        actor=request.user,
        user=request.user,
        name=payload.name,
        scope=payload.scope,
        expires_in_days=payload.expires_in_days,
        remote_addr=_ip(request),
    )
    return Status(201, _shown_once(row, token=token))


@router.post(
    "/tokens/{int:token_id}/revoke", response={200: TokenOut, **WRITE_ERRORS}, tags=["tokens"]
)
def revoke_token(request: AuthedRequest, token_id: int = Id):
    """Revoke a token; requests with it answer 401 from now on."""
    token = get_object_or_404(scoping.visible_tokens(request.user), pk=token_id)
    return services.revoke_api_token(actor=request.user, token=token, remote_addr=_ip(request))


# --- audit log -------------------------------------------------------------------------


@router.get("/audit", response={200: list[AuditOut], **LIST_ERRORS}, tags=["audit"])
@paginated
def list_audit(request: AuthedRequest, filters: Query[AuditFilter]):
    """Who changed what, newest first: everything for state staff, your agency's otherwise."""
    return filter_audit(scoping.visible_audit(request.user), **filters.dict())


from devices.api_transfer import router as transfer_router  # noqa: E402

router.add_router("", transfer_router)

from devices.api_bulk import router as bulk_router  # noqa: E402

router.add_router("", bulk_router)

# Officers, check-out and check-in: devices/api_inventory.py.
from devices.api_inventory import router as inventory_router  # noqa: E402

router.add_router("", inventory_router)
