"""A small, fully known state for the dashboard, view and briefing tests.

Two cabinets, three agencies, phones that pass, fail or are silent, two published versions
of a set (the later one adds encryption) and a draft, a federal expectation, participation
history, a waiver, an alert and snapshots for the last few days.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

from django.utils import timezone

from devices.models import Agency, Device, FirstNetStatusChange, Gateway, User
from readiness.models import FederalExpectation, RequirementSetVersion
from readiness.snapshots import compute_snapshots
from telemetry.models import Alert, GatewayStatus
from tests.factories import AgencyFactory, CabinetFactory
from tests.readiness.catalog_helpers import (
    ENCRYPTION,
    MDM,
    make_requirement,
    make_set,
    make_version,
    phone,
)

FIRMWARE = {"attr": "device.firmware_version", "op": ">=", "value": "3.2.1"}


@dataclass
class Scenario:
    today: date
    v59: RequirementSetVersion
    v60: RequirementSetVersion
    draft: RequirementSetVersion
    ksp: Agency
    lex: Agency
    fire: Agency
    devices: dict[str, Device]


def build_scenario(
    agency_a: Agency, agency_b: Agency, *, brm: User | None = None, snapshot_days: int = 3
) -> Scenario:
    today = timezone.localdate()
    req_set = make_set()
    v59 = make_version(req_set, "5.9", effective_on=date(2020, 1, 1))
    make_requirement(v59, "cjis.mdm", "MDM-1", MDM, section="5.13.2", weight=5)
    v60 = make_version(req_set, "6.0", effective_on=today - timedelta(days=30), supersedes=v59)
    make_requirement(
        v60,
        "cjis.mdm",
        "MDM-2",
        MDM,
        section="5.20.2",
        weight=5,
        relation="renumbered",
        title="Managed by MDM",
    )
    make_requirement(
        v60, "cjis.enc", "ENC-2", ENCRYPTION, section="5.20.3", weight=3, title="Encrypted at rest"
    )
    draft = make_version(
        req_set, "7.0", effective_on=today + timedelta(days=60), status="draft", supersedes=v60
    )
    make_requirement(draft, "cjis.mdm", "MDM-3", MDM, section="5.20.2", weight=5, relation="same")
    make_requirement(
        draft, "cjis.enc", "ENC-3", ENCRYPTION, section="5.20.3", weight=3, relation="same"
    )
    make_requirement(
        draft, "cjis.fw", "FW-3", FIRMWARE, section="5.20.4", weight=2, title="Current firmware"
    )

    justice = agency_a.cabinet
    if brm is not None:
        justice.brm = brm
        justice.save()
    public = CabinetFactory(slug="public-protection", name="Public Protection Cabinet")
    fire = AgencyFactory(
        slug="frankfort-fire",
        name="Frankfort Fire",
        kind=Agency.Kind.FIRE,
        cabinet=public,
        county="Franklin",
    )
    agency_a.county, agency_b.county = "Franklin", "Fayette"
    agency_a.firstnet_status = Agency.FirstNetStatus.SUBSCRIBED
    agency_a.save()
    agency_b.save()
    FirstNetStatusChange.objects.create(
        agency=agency_a, status="evaluating", changed_on=date(2018, 3, 1)
    )
    FirstNetStatusChange.objects.create(
        agency=agency_a, status="subscribed", changed_on=date(2019, 6, 1)
    )
    FederalExpectation.objects.create(
        metric="agencies_subscribed",
        version="2021",
        target_value=0.5,
        target_by=date(2027, 1, 1),
        effective_from=date(2021, 1, 1),
        source="Illustrative target",
        is_illustrative=True,
    )

    devices = {
        # KSP: two ready, one without encryption (fails 6.0, passes 5.9), one silent.
        "ksp-ok-1": phone(agency_a, serial="KSP-OK-1", firmware="3.3.0"),
        "ksp-ok-2": phone(agency_a, serial="KSP-OK-2", firmware="3.1.0"),
        "ksp-noenc": phone(agency_a, serial="KSP-NOENC", encrypted=False, firmware="3.3.0"),
        "ksp-silent": phone(agency_a, serial="KSP-SILENT", online=False),
        # Lexington: one ready, one without MDM.
        "lex-ok": phone(agency_b, serial="LEX-OK", firmware="3.3.0"),
        "lex-nomdm": phone(agency_b, serial="LEX-NOMDM", mdm=False, firmware="3.3.0"),
        # Fire: one ready.
        "fire-ok": phone(fire, serial="FIRE-OK", firmware="3.2.1", network=Device.Network.FIRSTNET),
    }
    gw = Gateway.objects.create(agency=agency_a, name="post-1", description="Post 1 garage")
    GatewayStatus.objects.create(
        gateway=gw,
        is_online=True,
        changed_at=timezone.now(),
        last_message_at=timezone.now(),
        messages_total=10,
    )
    Alert.objects.create(
        agency=agency_a,
        device=devices["ksp-silent"],
        cause="device_offline",
        detail="no reading for 20 minutes",
    )
    for offset in range(snapshot_days - 1, -1, -1):
        compute_snapshots(as_of=today - timedelta(days=offset))
    return Scenario(
        today=today,
        v59=v59,
        v60=v60,
        draft=draft,
        ksp=agency_a,
        lex=agency_b,
        fire=fire,
        devices=devices,
    )
