"""The dashboard pages' query parameters: GET parameters in, a `Filters` value out.

Every page reads the same parameters (set, version, compare, as_of, cabinet, county, kind);
`parse_filters` checks them once and names each bad field, so a page never guesses. The
options the filter form offers (`filter_choices`) come from small tables and the agencies
the viewer may see, which the caller resolves through `readiness.scoping`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

from django.db.models import Q
from django.http import QueryDict

from config.errors import InvalidInput
from devices.models import Agency, AgencyKind, Cabinet
from readiness.models import RequirementSet, RequirementSetVersion, drafts_in_progress


@dataclass(frozen=True)
class Filters:
    """What the viewer asked to see. Empty values mean "all" or "the default"."""

    set_code: str = ""
    version: str = ""
    compare_version: str = ""
    as_of: date | None = None
    cabinet: str = ""
    county: str = ""
    agency_kind: str = ""

    def query(self, **overrides: object) -> str:
        """The filters as a query string, e.g. for the live partial's URL."""
        params: dict[str, object] = {
            "set": self.set_code,
            "version": self.version,
            "compare": self.compare_version,
            "as_of": self.as_of.isoformat() if self.as_of else "",
            "cabinet": self.cabinet,
            "county": self.county,
            "kind": self.agency_kind,
        }
        params.update(overrides)
        q = QueryDict(mutable=True)
        for key, value in params.items():
            if value:
                q[key] = str(value)
        return q.urlencode()


def parse_filters(params: QueryDict, *, today: date) -> Filters:
    """Filters from GET parameters; a bad value raises InvalidInput naming the field."""
    errors: list[dict[str, str]] = []
    as_of: date | None = None
    raw_as_of = params.get("as_of", "").strip()
    if raw_as_of:
        try:
            as_of = date.fromisoformat(raw_as_of)
        except ValueError:
            errors.append(
                {"field": "as_of", "message": f"'{raw_as_of}' is not a date: use YYYY-MM-DD."}
            )
        else:
            if as_of > today:
                errors.append(
                    {
                        "field": "as_of",
                        "message": f"{as_of} is in the future: pick today or earlier.",
                    }
                )
    kind = params.get("kind", "").strip()
    if kind and kind not in AgencyKind.values:
        errors.append(
            {"field": "kind", "message": f"Unknown agency kind '{kind}'; choose one from the list."}
        )
    if errors:
        raise InvalidInput("; ".join(e["message"] for e in errors), errors=errors)
    return Filters(
        set_code=params.get("set", "").strip(),
        version=params.get("version", "").strip(),
        compare_version=params.get("compare", "").strip(),
        as_of=as_of,
        cabinet=params.get("cabinet", "").strip(),
        county=params.get("county", "").strip(),
        agency_kind=kind,
    )


@dataclass(frozen=True)
class FilterChoices:
    """The options of the filter form (cheap: small tables)."""

    cabinets: list[tuple[str, str]]
    counties: list[str]
    kinds: list[tuple[str, str]]
    sets: list[tuple[str, str]] = field(default_factory=list)
    versions: list[tuple[str, str]] = field(default_factory=list)


def requirement_sets() -> list[tuple[str, str]]:
    """(code, name) of every requirement set, by code: the first is every page's default."""
    return list(RequirementSet.objects.order_by("code").values_list("code", "name"))


def set_versions(set_code: str, *, with_drafts_in_progress: bool) -> list[tuple[str, str]]:
    """(number, label) of the set's versions a picker offers, oldest first; drafts being
    written in the product only ``with_drafts_in_progress`` (state staff)."""
    rows = RequirementSetVersion.objects.filter(requirement_set__code=set_code).order_by(
        "effective_on", "id"
    )
    if not with_drafts_in_progress:
        rows = rows.exclude(drafts_in_progress())
    return [
        (
            v.version,
            f"{v.version} ({v.get_status_display().lower()}, effective {v.effective_on:%Y-%m-%d})",
        )
        for v in rows
    ]


def filter_choices(agency_ids: list[int] | None, *, set_code: str = "") -> FilterChoices:
    """The filter form's options over ``agency_ids`` (None: every agency, for state staff,
    who alone are offered drafts in progress). Read-only."""
    agencies = (
        Agency.objects.all() if agency_ids is None else Agency.objects.filter(pk__in=agency_ids)
    )
    counties = list(
        agencies.exclude(county="").order_by("county").values_list("county", flat=True).distinct()
    )
    cabinets = list(
        Cabinet.objects.filter(Q(agencies__in=agencies)).distinct().values_list("slug", "name")
    )
    return FilterChoices(
        cabinets=cabinets,
        counties=counties,
        kinds=list(AgencyKind.choices),
        sets=requirement_sets(),
        versions=(
            set_versions(set_code, with_drafts_in_progress=agency_ids is None) if set_code else []
        ),
    )
