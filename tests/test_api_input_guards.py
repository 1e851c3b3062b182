import pytest

pytestmark = pytest.mark.django_db


def test_nul_character_in_a_query_is_refused_with_the_field_named(state_staff):
    response = state_staff.client.get("/api/devices", {"q": "SN\x00"})
    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == "q"


def test_nul_character_in_a_json_body_is_refused_before_the_database(admin_a):
    response = admin_a.client.post(
        "/api/maintenance-windows",
        data='{"note": "overnight\\u0000"}',
        content_type="application/json",
    )
    assert response.status_code == 422
    assert "NUL" in response.json()["message"]


def test_ordinary_requests_pass_the_guard(state_staff):
    assert state_staff.client.get("/api/devices", {"q": "SN1"}).status_code == 200
