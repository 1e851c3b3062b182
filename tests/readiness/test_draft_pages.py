"""The pages where state staff maintain drafts and expectations, without JavaScript."""

from __future__ import annotations

import pytest

from devices.models import AuditRecord
from readiness.models import FederalExpectation, Requirement, RequirementSetVersion
from tests.readiness.catalog_helpers import cjis_catalog, phone

pytestmark = pytest.mark.django_db


@pytest.fixture
def draft(agency_a, state_staff):
    cjis_catalog()
    phone(agency_a)
    response = state_staff.browser.post(
        "/dashboard/requirements/cjis-mobile/drafts/", {"version": "6.0"}
    )
    assert response.status_code == 302
    return RequirementSetVersion.objects.get(version="6.0")


def test_state_staff_edit_a_draft_in_a_form_with_errors_next_to_the_field(draft, state_staff):
    base = f"/dashboard/requirements/cjis-mobile/drafts/{draft.pk}/"
    page = state_staff.browser.get(base).content.decode()
    assert "100.0%" in page  # the copied MDM rule's pass rate on today's fleet
    assert "whatif/?from=5.9&amp;to=6.0" in page
    form = {
        "key": "cjis.fw",
        "code": "FW-1",
        "title": "Firmware",
        "explanation": "Supported firmware.",
        "severity": "mandatory",
        "weight": "2",
        "due_on": "2031-01-01",
        "rule": '{ attr = "device.firmwear", op = ">=", value = "3.2.1" }',
    }
    refused = state_staff.browser.post(f"{base}requirements/new/", form)
    assert refused.status_code == 422
    assert 'id="r-rule-error"' in refused.content.decode()
    assert "device.firmwear" in refused.content.decode()
    assert not Requirement.objects.filter(key="cjis.fw").exists()
    form["rule"] = '{ attr = "device.firmware", op = ">=", value = "3.2.1" }'
    assert state_staff.browser.post(f"{base}requirements/new/", form).status_code == 302
    assert Requirement.objects.get(version=draft, key="cjis.fw").due_on.isoformat() == "2031-01-01"
    edit = state_staff.browser.get(f"{base}requirements/cjis.fw/").content.decode()
    assert "value = &quot;3.2.1&quot;" in edit
    assert state_staff.browser.post(f"{base}requirements/cjis.fw/remove/").status_code == 302
    assert not Requirement.objects.filter(version=draft, key="cjis.fw").exists()
    published = state_staff.browser.post(f"{base}publish/", {"effective_on": "2030-01-01"})
    assert published.status_code == 302
    draft.refresh_from_db()
    assert draft.status == "published"
    assert "cannot change" in state_staff.browser.get(base).content.decode()
    assert AuditRecord.objects.filter(object_type="requirement").count() == 2


def test_agency_users_get_404_on_drafts_and_403_on_writes(draft, viewer_a, admin_a):
    base = f"/dashboard/requirements/cjis-mobile/drafts/{draft.pk}/"
    assert viewer_a.browser.get(base).status_code == 404
    assert viewer_a.browser.get("/dashboard/requirements/cjis-mobile/drafts/").status_code == 404
    assert viewer_a.browser.get(f"{base}requirements/cjis.mdm/").status_code == 404
    assert (
        viewer_a.browser.get("/dashboard/requirements/cjis-mobile/versions/6.0/file/").status_code
        == 404
    )
    assert admin_a.browser.post(f"{base}requirements/cjis.mdm/remove/").status_code == 403
    assert (
        admin_a.browser.post(f"{base}publish/", {"effective_on": "2031-01-01"}).status_code == 403
    )
    assert (
        admin_a.browser.post(
            "/dashboard/requirements/cjis-mobile/drafts/", {"version": "7"}
        ).status_code
        == 403
    )
    assert admin_a.browser.get("/dashboard/participation/expectations/").status_code == 403
    assert Requirement.objects.filter(version=draft).count() == 1
    assert (
        viewer_a.browser.get("/dashboard/requirements/cjis-mobile/versions/5.9/file/").status_code
        == 200
    )


def test_expectations_are_recorded_on_their_page(db, state_staff):
    url = "/dashboard/participation/expectations/"
    form = {
        "metric": "devices_band14",
        "version": "2027",
        "target_value": "1.4",
        "target_by": "2028-01-01",
        "effective_from": "2027-01-01",
        "scope": "state",
        "source": "State plan",
    }
    refused = state_staff.browser.post(url, form)
    assert refused.status_code == 422
    assert 'id="e-target-error"' in refused.content.decode()
    assert FederalExpectation.objects.count() == 0
    assert (
        state_staff.browser.post(
            url, {**form, "target_value": "0.4", "is_illustrative": "1"}
        ).status_code
        == 302
    )
    row = FederalExpectation.objects.get()
    assert (row.target_value, row.is_illustrative) == (0.4, True)
    assert "illustrative" in state_staff.browser.get(url).content.decode()
