"""Waivers through their service against the real database: ceiling, conflicts, audit.

``grant`` is the whole two-person path (requested by ``actor``, approved by a second state
staff member); the approval rules themselves are in test_waiver_approvals.py.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.core.exceptions import PermissionDenied
from django.utils import timezone

from config.errors import Conflict, InvalidInput
from devices.models import AuditRecord, User
from readiness.models import Waiver
from readiness.scoping import (
    require_waiver_decider,
    require_waiver_requester,
    require_waiver_revoker,
)
from readiness.waivers import request_waiver, revoke_waiver
from tests.conftest import make_persona
from tests.readiness.catalog_helpers import cjis_catalog, phone
from tests.readiness.waiver_helpers import approved_waiver

pytestmark = pytest.mark.django_db


@pytest.fixture
def cjis():
    return cjis_catalog(encryption_in_59=True).v59


def _fields(**kw):
    fields = {
        "set_code": "cjis-mobile",
        "requirement_key": "cjis.mdm",
        "reason": "licences on order",
        "expires_at": timezone.now() + timedelta(days=30),
    }
    fields.update(kw)
    return fields


def grant(actor, agency, **kw):
    approver = User.objects.filter(username="state-approver").first() or (
        make_persona(username="state-approver", role=User.Role.STATE_STAFF, agency=None).user
    )
    return approved_waiver(requester=actor, approver=approver, agency=agency, **_fields(**kw))


def test_waiver_beyond_the_ceiling_is_refused_and_nothing_is_written(
    cjis, agency_a, state_staff, settings
):
    settings.READINESS_WAIVER_CEILING = 0.10
    # 10 phones x 2 requirements = 20 applicable results; 3 fail MDM.
    devices = [phone(agency_a, mdm=i >= 3) for i in range(10)]
    grant(state_staff.user, agency_a, device=devices[0])
    grant(state_staff.user, agency_a, device=devices[1])  # 2 of 20 = 10%: at the ceiling, allowed
    with pytest.raises(Conflict) as refused:
        grant(state_staff.user, agency_a, device=devices[2])
    assert (
        "3 of Kentucky State Police's 20 applicable cjis-mobile results (15.0%)"
        in refused.value.message
    )
    assert "ceiling of 10%" in refused.value.message
    assert Waiver.objects.count() == 2
    # Each granted waiver: one record for the request, one for the approval.
    assert AuditRecord.objects.filter(object_type="waiver").count() == 4


def test_agency_wide_waiver_counts_every_failing_device(cjis, agency_a, state_staff, settings):
    settings.READINESS_WAIVER_CEILING = 0.10
    for i in range(10):
        phone(agency_a, mdm=i >= 3)
    with pytest.raises(Conflict, match="would waive 3 of"):
        grant(state_staff.user, agency_a)


def test_waiver_of_a_passing_requirement_never_breaks_the_ceiling(
    cjis, agency_a, state_staff, settings
):
    settings.READINESS_WAIVER_CEILING = 0.0
    phone(agency_a)
    assert grant(state_staff.user, agency_a).pk


def test_overlapping_waiver_is_a_conflict_and_a_revoked_one_can_be_replaced(
    cjis, agency_a, state_staff, settings
):
    settings.READINESS_WAIVER_CEILING = 0.5
    device = phone(agency_a, mdm=False)
    phone(agency_a)
    phone(agency_a)
    first = grant(state_staff.user, agency_a, device=device)
    with pytest.raises(Conflict, match=f"Waiver {first.pk} already covers this"):
        grant(state_staff.user, agency_a, device=device)
    revoke_waiver(actor=state_staff.user, waiver=first, reason="MDM fixed")
    assert grant(state_staff.user, agency_a, device=device).pk != first.pk


def test_revocation_is_audited_with_before_and_after_and_cannot_happen_twice(
    cjis, agency_a, state_staff, settings
):
    settings.READINESS_WAIVER_CEILING = 0.5
    waiver = grant(state_staff.user, agency_a, device=phone(agency_a, mdm=False))
    revoke_waiver(actor=state_staff.user, waiver=waiver, reason="no longer needed")
    audit = AuditRecord.objects.get(object_type="waiver", action="revoke")
    assert audit.before["revoked_at"] is None
    assert audit.after["revoked_at"] is not None
    assert audit.agency_id == agency_a.pk
    with pytest.raises(Conflict, match="already revoked"):
        revoke_waiver(actor=state_staff.user, waiver=waiver, reason="again")


def test_bad_input_names_every_field_to_fix(cjis, agency_a, agency_b, state_staff):
    other = phone(agency_b)
    with pytest.raises(InvalidInput) as bad:
        request_waiver(
            actor=state_staff.user,
            agency=agency_a,
            **_fields(reason=" ", expires_at=timezone.now() - timedelta(days=1), device=other),
        )
    fields = {e["field"] for e in bad.value.errors}
    assert fields == {"reason", "expires_at", "device"}
    with pytest.raises(InvalidInput, match="no requirement with key 'cjis.nope'"):
        grant(state_staff.user, agency_a, requirement_key="cjis.nope")
    with pytest.raises(InvalidInput, match="at most 366 days"):
        grant(state_staff.user, agency_a, expires_at=timezone.now() + timedelta(days=400))


def test_agency_admins_request_for_their_agency_and_only_state_staff_decide(
    cjis, agency_a, admin_a, viewer_a, admin_b, state_staff
):
    # Who may request and decide a waiver is decided once, in readiness.scoping, at the interface.
    require_waiver_requester(admin_a.user, agency_a)
    require_waiver_requester(state_staff.user, agency_a)
    for other in (viewer_a, admin_b):
        with pytest.raises(PermissionDenied, match="cannot request waivers"):
            require_waiver_requester(other.user, agency_a)
    require_waiver_decider(state_staff.user)
    for agency_user in (admin_a, viewer_a):
        with pytest.raises(PermissionDenied, match="Only state staff approve or reject"):
            require_waiver_decider(agency_user.user)


def test_only_state_staff_and_the_agencys_admins_revoke_its_waivers(
    agency_a, admin_a, viewer_a, admin_b, state_staff
):
    require_waiver_revoker(state_staff.user, agency_a)
    require_waiver_revoker(admin_a.user, agency_a)
    for other in (viewer_a, admin_b):
        with pytest.raises(PermissionDenied, match="cannot revoke waivers"):
            require_waiver_revoker(other.user, agency_a)
