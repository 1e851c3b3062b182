"""Small builders for readiness tests: requirement sets, versions, requirements and health.

Tests build exactly the catalog they are about instead of loading the shipped files, so a
change to a shipped requirement cannot change what a test proves.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta

from django.utils import timezone

from devices.models import Device, DeviceModel
from readiness.models import Requirement, RequirementSet, RequirementSetVersion
from telemetry.models import DeviceHealth
from tests.factories import DeviceFactory, DeviceModelFactory

MDM = {"attr": "device.is_mdm_enrolled", "op": "==", "value": True}
ENCRYPTION = {"attr": "device.is_encryption_enabled", "op": "==", "value": True}


def make_set(code: str = "cjis-mobile", name: str = "CJIS mobile devices") -> RequirementSet:
    return RequirementSet.objects.get_or_create(
        code=code, defaults={"name": name, "publisher": "FBI CJIS"}
    )[0]


def make_version(
    req_set: RequirementSet,
    number: str,
    *,
    effective_on: date,
    status: str = "published",
    supersedes: RequirementSetVersion | None = None,
) -> RequirementSetVersion:
    return RequirementSetVersion.objects.create(
        requirement_set=req_set,
        version=number,
        status=status,
        effective_on=effective_on,
        issuing_authority="FBI CJIS Division",
        source_note="test",
        supersedes=supersedes,
        # As loaded from a publisher's file: even a draft is public catalog data then.
        source_file=f"{req_set.code}-{number}.toml",
    )


def make_requirement(
    version: RequirementSetVersion,
    key: str,
    code: str,
    rule: dict,
    *,
    section: str = "",
    weight: int = 1,
    severity: str = "mandatory",
    applies_to: list[str] | None = None,
    relation: str = "new",
    previous: Requirement | None = None,
    change_note: str = "",
    title: str | None = None,
) -> Requirement:
    # bulk_create, as a fixture of an already issued version: saving one requirement at a
    # time is for drafts only (readiness.models.require_draft_version).
    return Requirement.objects.bulk_create(
        [
            Requirement(
                version=version,
                key=key,
                code=code,
                section=section or code,
                title=title or key,
                explanation=f"{key} explained",
                applies_to=applies_to or [],
                severity=severity,
                weight=weight,
                rule=rule,
                relation=relation,
                previous=previous,
                change_note=change_note,
            )
        ]
    )[0]


def phone_model(**overrides) -> DeviceModel:
    fields = {
        "manufacturer": "Samsung",
        "name": "Galaxy XCover",
        "kind": DeviceModel.Kind.SMARTPHONE,
        "is_cellular": True,
        "has_band14": True,
        "unit_cost": 600,
        "telemetry_interval_s": 300,
    }
    fields.update(overrides)
    return DeviceModelFactory(**fields)


def seen(
    device: Device, *, at: datetime | None = None, level: str = "online", firmware: str = ""
) -> DeviceHealth:
    """Give ``device`` a latest state: reported at ``at`` (default now), reporting on time."""
    at = at or timezone.now()
    interval = timedelta(seconds=device.model.telemetry_interval_s)
    health, _ = DeviceHealth.objects.update_or_create(
        device=device,
        defaults={
            "level": level,
            "last_reading_at": at,
            "last_received_at": at,
            "late_after": at + interval,
            "offline_after": at + 3 * interval,
            "firmware": firmware,
        },
    )
    return health


def phone(
    agency,
    *,
    model: DeviceModel | None = None,
    mdm: bool = True,
    encrypted: bool = True,
    online: bool = True,
    firmware: str = "",
    **fields,
) -> Device:
    device = DeviceFactory(
        agency=agency,
        model=model or phone_model(),
        is_mdm_enrolled=mdm,
        is_encryption_enabled=encrypted,
        firmware_version=firmware,
        **fields,
    )
    if online:
        seen(device, firmware=firmware)
    return device


# CJIS section numbers, for tests whose order follows the section (a version's detail page).
CJIS_SECTIONS = {
    ("5.9", "cjis.mdm"): "5.13.2",
    ("6.0", "cjis.mdm"): "5.20.2",
    ("6.0", "cjis.enc"): "5.20.4",
}


@dataclass(frozen=True)
class CjisCatalog:
    """The CJIS mobile-device set a test built: 5.9, and 6.0 when asked for."""

    req_set: RequirementSet
    v59: RequirementSetVersion
    v60: RequirementSetVersion | None


def cjis_catalog(
    *,
    encryption_in_59: bool = False,
    mdm_weight: int = 1,
    mdm_applies_to: list[str] | None = None,
    sections: bool = False,
    v60_on: date | None = None,
    v60_status: str = "published",
) -> CjisCatalog:
    """The CJIS catalog the readiness tests share, with each test's differences as arguments.

    5.9 asks for MDM enrolment (weight ``mdm_weight``, for ``mdm_applies_to`` kinds or all),
    plus encryption when ``encryption_in_59``. With ``v60_on``, a 6.0 effective then (status
    ``v60_status``) supersedes it: MDM renumbered, encryption added. ``sections`` gives the
    requirements their CJIS section numbers instead of their codes.
    """

    def section(version: str, key: str) -> str:
        return CJIS_SECTIONS.get((version, key), "") if sections else ""

    req_set = make_set()
    v59 = make_version(req_set, "5.9", effective_on=date(2020, 1, 1))
    mdm = make_requirement(
        v59,
        "cjis.mdm",
        "MDM-1",
        MDM,
        section=section("5.9", "cjis.mdm"),
        weight=mdm_weight,
        applies_to=mdm_applies_to,
    )
    if encryption_in_59:
        make_requirement(v59, "cjis.enc", "ENC-1", ENCRYPTION)
    v60 = None
    if v60_on is not None:
        v60 = make_version(req_set, "6.0", effective_on=v60_on, status=v60_status, supersedes=v59)
        make_requirement(
            v60,
            "cjis.mdm",
            "MDM-2",
            MDM,
            section=section("6.0", "cjis.mdm"),
            relation="renumbered",
            previous=mdm,
        )
        make_requirement(v60, "cjis.enc", "ENC-2", ENCRYPTION, section=section("6.0", "cjis.enc"))
    return CjisCatalog(req_set=req_set, v59=v59, v60=v60)
