"""Small builders for readiness tests: requirement sets, versions, requirements and health.

Tests build exactly the catalog they are about instead of loading the shipped files, so a
change to a shipped requirement cannot change what a test proves.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta

from django.utils import timezone

from devices.models import Device, DeviceModel
from readiness.models import Requirement, RequirementSet, RequirementSetVersion
from telemetry.models import DeviceHealth
from tests.factories import DeviceFactory, DeviceModelFactory

MDM = {"attr": "device.is_mdm_enrolled", "op": "==", "value": True}
ENCRYPTION = {"attr": "device.is_encryption_enabled", "op": "==", "value": True}


def make_set(code: str = "cjis-mobile", name: str = "CJIS mobile devices") -> RequirementSet:
    return RequirementSet.objects.get_or_create(code=code, defaults={"name": name, "publisher": "FBI CJIS"})[0]


def make_version(
    req_set: RequirementSet, number: str, *, effective_on: date, status: str = "published",
    supersedes: RequirementSetVersion | None = None,
) -> RequirementSetVersion:
    return RequirementSetVersion.objects.create(
        requirement_set=req_set, version=number, status=status, effective_on=effective_on,
        issuing_authority="FBI CJIS Division", source_note="test", supersedes=supersedes,
    )


def make_requirement(
    version: RequirementSetVersion, key: str, code: str, rule: dict, *, section: str = "", weight: int = 1,
    severity: str = "mandatory", applies_to: list[str] | None = None, relation: str = "new",
    previous: Requirement | None = None, change_note: str = "", title: str | None = None,
) -> Requirement:
    return Requirement.objects.create(
        version=version, key=key, code=code, section=section or code, title=title or key,
        explanation=f"{key} explained", applies_to=applies_to or [], severity=severity, weight=weight,
        rule=rule, relation=relation, previous=previous, change_note=change_note,
    )


def phone_model(**overrides) -> DeviceModel:
    fields = {"manufacturer": "Samsung", "name": "Galaxy XCover", "kind": DeviceModel.Kind.SMARTPHONE,
              "is_cellular": True, "has_band14": True, "unit_cost": 600, "telemetry_interval_s": 300}
    fields.update(overrides)
    return DeviceModelFactory(**fields)


def seen(device: Device, *, at: datetime | None = None, level: str = "online", firmware: str = "") -> DeviceHealth:
    """Give ``device`` a latest state: reported at ``at`` (default now), reporting on time."""
    at = at or timezone.now()
    interval = timedelta(seconds=device.model.telemetry_interval_s)
    health, _ = DeviceHealth.objects.update_or_create(
        device=device,
        defaults={"level": level, "last_reading_at": at, "last_received_at": at, "late_after": at + interval,
                  "offline_after": at + 3 * interval, "firmware": firmware},
    )
    return health


def phone(agency, *, model: DeviceModel | None = None, mdm: bool = True, encrypted: bool = True,
          online: bool = True, firmware: str = "", **fields) -> Device:
    device = DeviceFactory(agency=agency, model=model or phone_model(), is_mdm_enrolled=mdm,
                           is_encryption_enabled=encrypted, firmware_version=firmware, **fields)
    if online:
        seen(device, firmware=firmware)
    return device
