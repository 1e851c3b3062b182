"""API tokens: issued once, stored hashed, revocable, with a last-used time."""

from __future__ import annotations

import pytest
from django.test import Client

from devices.models import ApiToken

pytestmark = pytest.mark.django_db


def test_a_new_token_works_and_is_stored_only_as_a_hash(viewer_a):
    response = viewer_a.client.post("/api/tokens", {"name": "laptop"}, content_type="application/json")
    assert response.status_code == 201
    token = response.json()["token"]
    row = ApiToken.objects.get(pk=response.json()["id"])
    assert token not in (row.key_hash, row.prefix)
    assert row.user == viewer_a.user
    fresh = Client(HTTP_AUTHORIZATION=f"Bearer {token}")
    assert fresh.get("/api/devices").status_code == 200
    row.refresh_from_db()
    assert row.last_used_at is not None


def test_a_revoked_token_answers_401(viewer_a):
    row = ApiToken.objects.get(user=viewer_a.user)
    assert viewer_a.client.get("/api/devices").status_code == 200
    response = viewer_a.client.post(f"/api/tokens/{row.pk}/revoke")
    assert response.status_code == 200
    assert response.json()["revoked_at"]
    response = viewer_a.client.get("/api/devices")
    assert response.status_code == 401
    assert response.json()["message"]


def test_users_list_their_own_tokens_and_state_staff_list_all(viewer_a, admin_a, state_staff):
    assert [t["username"] for t in viewer_a.client.get("/api/tokens").json()["items"]] == ["ksp-viewer"]
    everyone = {t["username"] for t in state_staff.client.get("/api/tokens").json()["items"]}
    assert everyone == {"ksp-viewer", "ksp-admin", "cio-analyst"}


def test_state_staff_revoke_a_leaked_token_of_anyone(viewer_a, state_staff):
    row = ApiToken.objects.get(user=viewer_a.user)
    assert state_staff.client.post(f"/api/tokens/{row.pk}/revoke").status_code == 200
    assert viewer_a.client.get("/api/devices").status_code == 401
    revoked = state_staff.client.get("/api/tokens", {"include_revoked": True}).json()["items"]
    assert any(t["id"] == row.pk and t["revoked_at"] for t in revoked)


def test_revoking_twice_is_a_conflict(viewer_a, state_staff):
    row = ApiToken.objects.get(user=viewer_a.user)
    state_staff.client.post(f"/api/tokens/{row.pk}/revoke")
    assert state_staff.client.post(f"/api/tokens/{row.pk}/revoke").status_code == 409
