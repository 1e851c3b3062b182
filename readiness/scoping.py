"""The one place that decides which readiness results a user may see.

Same rule as the inventory (it delegates to ``devices.scoping``): state staff see every
agency; agency users see their own agency only, and another agency's device, waiver or
results answer 404, so they cannot even be confirmed to exist. Requirement sets and
federal expectations are public catalog data that every signed-in user may read.

Views, the API and exports resolve a viewer's scope here, once, at the interface: a
`Scope` (the agencies a page or briefing covers, with its label) or a list of agency ids.
The core below them (pages, results, waivers, the briefing assembler, the what-if engine)
takes those ids and never a user, so it cannot re-decide who sees what; inside a resolved
list of ids it looks objects up with ``get_agency_in`` / ``get_device_in`` (404 outside it).

Who may request, decide (approve or reject) and revoke a waiver is decided here too
(``require_waiver_requester``, ``require_waiver_decider``, ``require_waiver_revoker``), at the
interface; the waiver writers take the already-checked actor for the audit record. That the
decider is not the requester is a rule of the waiver, not of a role: ``readiness.waivers``
refuses it (and the database backs it).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, TypeVar

from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet

from config.errors import InvalidInput, NotFound
from devices.models import Agency, AgencyKind, Cabinet, Device, User
from devices.scoping import (
    can_manage,
    get_visible_or_404,
    require_state_staff,
    scope_to_user,
    visible_agencies,
    visible_devices,
)
from readiness.filters import Filters
from readiness.models import (
    BriefingExport,
    ReadinessSnapshot,
    RequirementSetVersion,
    Waiver,
    drafts_in_progress,
)

# The queryset's own class (e.g. WaiverQuerySet) survives the filtering, as in devices.scoping.
QS = TypeVar("QS", bound=QuerySet[Any])

__all__ = [
    "Scope",
    "agency_ids_for",
    "agency_scope",
    "cabinet_scope",
    "get_agency_in",
    "get_device_in",
    "get_visible_briefing",
    "get_visible_or_404",
    "in_agencies",
    "require_waiver_decider",
    "require_waiver_requester",
    "require_waiver_revoker",
    "require_state_staff",
    "scope_for_briefing",
    "scope_from_key",
    "scope_readiness",
    "state_scope",
    "visible_agencies",
    "visible_agency_ids",
    "visible_briefings",
    "visible_devices",
    "visible_snapshots",
    "visible_waivers",
]


def scope_readiness(queryset: QS, user: User, *, agency_field: str = "agency") -> QS:
    """Filter any readiness queryset with an agency relation to what ``user`` may see."""
    return scope_to_user(queryset, user, agency_field=agency_field)


def visible_agency_ids(user: User) -> list[int] | None:
    """The agencies whose results ``user`` may see; None means all (state staff)."""
    if user.is_authenticated and user.is_active and user.is_state_staff:
        return None
    return list(visible_agencies(user).values_list("pk", flat=True))


def visible_versions(
    user: User, queryset: QuerySet[RequirementSetVersion]
) -> QuerySet[RequirementSetVersion]:
    """Versions of the catalog a user may see: all for state staff; for anyone else, all but
    the drafts in progress in the product (``readiness.models.drafts_in_progress``)."""
    return queryset if user.is_state_staff else queryset.exclude(drafts_in_progress())


def require_visible_version(user: User, version: RequirementSetVersion) -> None:
    """404, as for a version that does not exist, when ``version`` is hidden from ``user``."""
    if not visible_versions(user, RequirementSetVersion.objects.filter(pk=version.pk)).exists():
        raise NotFound(
            f"'{version.requirement_set.code}' has no version '{version.version}'.",
            field="version",
        )


def visible_waivers(user: User) -> QuerySet[Waiver]:
    return scope_readiness(
        Waiver.objects.select_related(
            "agency", "device", "requirement_set", "approved_by", "requested_by", "decided_by"
        ),
        user,
    )


def visible_snapshots(user: User) -> QuerySet[ReadinessSnapshot]:
    return scope_readiness(ReadinessSnapshot.objects.all(), user)


def visible_briefings(user: User) -> QuerySet[BriefingExport]:
    """State staff see every briefing; an agency user only their own agency's."""
    return scope_readiness(BriefingExport.objects.select_related("requested_by", "agency"), user)


def get_visible_briefing(user: User, pk: int) -> BriefingExport:
    return get_visible_or_404(visible_briefings(user), pk=pk)


def get_visible_agency(user: User, slug: str) -> Agency:
    return get_visible_or_404(visible_agencies(user), slug=slug)


def get_visible_device(user: User, device_id: int) -> Device:
    return get_visible_or_404(visible_devices(user), pk=device_id)


# --- lookups inside an already resolved list of agency ids (what the core is given) -----------


def in_agencies(queryset: QS, agency_ids: list[int] | None, *, field_name: str = "agency_id") -> QS:
    """``queryset`` narrowed to ``agency_ids`` through ``field_name``; None means every agency."""
    if agency_ids is None:
        return queryset
    return queryset.filter(**{f"{field_name}__in": agency_ids})


def get_agency_in(agency_ids: list[int] | None, slug: str) -> Agency:
    """The agency ``slug`` if it is among ``agency_ids``, else 404 (never confirmed to exist)."""
    return get_visible_or_404(
        in_agencies(Agency.objects.all(), agency_ids, field_name="pk"), slug=slug
    )


def get_device_in(agency_ids: list[int] | None, device_id: int) -> Device:
    """The device if its agency is among ``agency_ids``, else 404."""
    devices = Device.objects.select_related("agency", "model")
    return get_visible_or_404(in_agencies(devices, agency_ids), pk=device_id)


# --- who may request, decide and revoke waivers -----------------------------------------------


def require_waiver_requester(actor: User, agency: Agency | int) -> None:
    """Agency admins request waivers for their own agency, state staff for any."""
    if not can_manage(actor, agency):
        raise PermissionDenied("Your role cannot request waivers for this agency.")


def require_waiver_decider(actor: User) -> None:
    """Only state staff approve or reject a waiver (never its own requester: readiness.waivers).

    Call after the waiver was found among the waivers ``actor`` may see (another agency's is
    a 404 before this is asked).
    """
    if not (actor.is_authenticated and actor.is_active and actor.is_state_staff):
        raise PermissionDenied(
            "Only state staff approve or reject waivers; an agency admin can request one, and "
            "a state staff member other than the requester decides it."
        )


def require_waiver_revoker(actor: User, agency: Agency | int) -> None:
    """Agency admins revoke their own agency's waivers; state staff revoke any."""
    if not can_manage(actor, agency):
        raise PermissionDenied("Your role cannot revoke waivers for this agency.")


# --- a page's or a briefing's scope -----------------------------------------------------------


@dataclass(frozen=True)
class Scope:
    """The agencies a page covers. ``agency_ids`` None means every agency (no IN list)."""

    kind: str  # "state", "cabinet" or "agency"
    label: str
    agency_ids: list[int] | None
    slug: str = ""
    # Whether the viewer may read drafts being written in the product (state staff), decided
    # with the scope so every page and export under it agrees (``visible_versions``).
    with_drafts_in_progress: bool = False

    @property
    def key(self) -> str:
        return "state" if self.kind == "state" else f"{self.kind}:{self.slug}"

    @property
    def agency_id(self) -> int:
        """The one agency of an agency scope; ValueError for a state or cabinet scope."""
        if self.kind != "agency" or not self.agency_ids:
            raise ValueError(f"scope {self.key} is not one agency")
        return self.agency_ids[0]

    def filter(self, queryset: QS, field_name: str = "agency_id") -> QS:
        """``queryset`` narrowed to the scope's agencies through ``field_name``."""
        return in_agencies(queryset, self.agency_ids, field_name=field_name)


def state_scope(user: User, filters: Filters) -> Scope:
    """Statewide (state staff only), narrowed by the cabinet, county and agency-kind filters."""
    require_state_staff(user)
    narrowed = bool(filters.cabinet or filters.county or filters.agency_kind)
    if filters.cabinet and not Cabinet.objects.filter(slug=filters.cabinet).exists():
        raise InvalidInput(
            f"Unknown cabinet '{filters.cabinet}'; choose one from the list.", field="cabinet"
        )
    ids = list(_filtered_agencies(user, filters).values_list("pk", flat=True)) if narrowed else None
    parts = [
        p
        for p in (
            filters.cabinet and Cabinet.objects.get(slug=filters.cabinet).name,
            filters.county and f"{filters.county} County",
            filters.agency_kind and AgencyKind(filters.agency_kind).label,
        )
        if p
    ]
    return Scope(
        kind="state",
        label="Statewide" + (f" · {', '.join(parts)}" if parts else ""),
        agency_ids=ids,
        with_drafts_in_progress=True,
    )


def _filtered_agencies(user: User, filters: Filters) -> QuerySet[Agency]:
    agencies = visible_agencies(user)
    if filters.cabinet:
        agencies = agencies.filter(cabinet__slug=filters.cabinet)
    if filters.county:
        agencies = agencies.filter(county=filters.county)
    if filters.agency_kind:
        agencies = agencies.filter(kind=filters.agency_kind)
    return agencies


def agency_scope(user: User, slug: str) -> Scope:
    """One agency the user may see; another agency's slug answers 404."""
    agency = get_visible_agency(user, slug)
    return Scope(
        kind="agency",
        label=agency.name,
        agency_ids=[agency.pk],
        slug=agency.slug,
        with_drafts_in_progress=user.is_state_staff,
    )


def cabinet_scope(user: User, slug: str) -> Scope:
    """A cabinet's agencies (state staff only: a cabinet spans agencies); unknown answers 404."""
    require_state_staff(user)
    cabinet = get_visible_or_404(Cabinet.objects.all(), slug=slug)
    ids = list(cabinet.agencies.values_list("pk", flat=True))
    return Scope(
        kind="cabinet",
        label=cabinet.name,
        agency_ids=ids,
        slug=cabinet.slug,
        with_drafts_in_progress=True,
    )


def scope_from_key(user: User, key: str) -> Scope:
    """A scope key ("state", "cabinet:<slug>" or "agency:<slug>") → a Scope the user may see."""
    kind, _, slug = key.partition(":")
    if kind == "state" and not slug:
        return state_scope(user, Filters())
    if kind == "cabinet" and slug:
        return cabinet_scope(user, slug)
    if kind == "agency" and slug:
        return agency_scope(user, slug)
    raise InvalidInput(
        f"Unknown scope '{key}': use state, cabinet:SLUG or agency:SLUG.", field="scope"
    )


def scope_for_briefing(key: str) -> Scope:
    """A scope key resolved without a viewer: the export was authorised when it was requested
    (``scope_from_key``, versions included), or is the operator's command, which may brief on
    any scope and version."""
    kind, _, slug = key.partition(":")
    if kind == "state" and not slug:
        return Scope(kind="state", label="Statewide", agency_ids=None, with_drafts_in_progress=True)
    if kind == "cabinet" and slug:
        cabinet = Cabinet.objects.filter(slug=slug).first()
        if cabinet is None:
            raise InvalidInput(f"Unknown cabinet '{slug}'.", field="scope")
        return Scope(
            kind="cabinet",
            label=cabinet.name,
            slug=slug,
            agency_ids=list(cabinet.agencies.values_list("pk", flat=True)),
            with_drafts_in_progress=True,
        )
    if kind == "agency" and slug:
        agency = Agency.objects.filter(slug=slug).first()
        if agency is None:
            raise InvalidInput(f"Unknown agency '{slug}'.", field="scope")
        return Scope(
            kind="agency",
            label=agency.name,
            slug=slug,
            agency_ids=[agency.pk],
            with_drafts_in_progress=True,
        )
    raise InvalidInput(
        f"Unknown scope '{key}': use state, cabinet:SLUG or agency:SLUG.", field="scope"
    )


def agency_ids_for(
    user: User, *, cabinet: str | None = None, agency: str | None = None
) -> list[int] | None:
    """The agencies a request covers: what ``user`` may see, narrowed to a cabinet or one agency.

    Neither: ``visible_agency_ids`` (None is every agency, for state staff). A cabinet
    narrows and never widens: an agency user asking for another cabinet gets no agency. An
    unknown cabinet, or an agency the user may not see, raises NotFound (another agency is
    never confirmed).
    """
    if not cabinet and not agency:
        return visible_agency_ids(user)
    agencies = visible_agencies(user)
    if cabinet:
        if not Cabinet.objects.filter(slug=cabinet).exists():
            raise NotFound(f"There is no cabinet '{cabinet}'.", field="cabinet")
        agencies = agencies.filter(cabinet__slug=cabinet)
    if agency:
        if not visible_agencies(user).filter(slug=agency).exists():
            raise NotFound(f"No agency '{agency}' among those you may see.", field="agency")
        agencies = agencies.filter(slug=agency)
    return sorted(agencies.values_list("pk", flat=True))
