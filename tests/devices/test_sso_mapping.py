"""The group map, without a provider: claim values → the strongest role and its agency;
an ambiguous or unreadable map is refused with a message naming what to fix."""

from __future__ import annotations

import pytest
from django.core.exceptions import ImproperlyConfigured

from config.settings import env_group_map
from devices.oidc import SignInRefused
from devices.sso import Mapping, claim_values, map_groups

GROUP_MAP = {
    "staff": {"role": "state_staff"},
    "ksp-admins": {"role": "agency_admin", "agency": "ksp"},
    "ksp-viewers": {"role": "agency_viewer", "agency": "ksp"},
    "lex-admins": {"role": "agency_admin", "agency": "lex-pd"},
}


@pytest.mark.parametrize(
    ("values", "expected"),
    [
        (["ksp-viewers"], Mapping("agency_viewer", "ksp")),
        (["ksp-viewers", "ksp-admins", "unmapped"], Mapping("agency_admin", "ksp")),
        (["lex-admins", "staff"], Mapping("state_staff", None)),
        (["unmapped"], None),
        ([], None),
    ],
)
def test_the_strongest_mapped_role_wins(values, expected):
    assert map_groups(values, GROUP_MAP) == expected


def test_the_same_role_in_two_agencies_is_refused():
    with pytest.raises(SignInRefused, match=r"several agencies \(ksp, lex-pd\)"):
        map_groups(["ksp-admins", "lex-admins"], GROUP_MAP)


def test_a_claim_is_read_as_a_list_or_one_string():
    assert claim_values({"groups": ["a", "b"]}, "groups") == ["a", "b"]
    assert claim_values({"roles": "a"}, "roles") == ["a"]
    assert claim_values({}, "groups") == []


@pytest.mark.parametrize(
    "raw",
    [
        "not json",
        '["ksp-admins"]',
        '{"ksp-admins": {"role": "agency_admin"}}',
        '{"staff": {"role": "state_staff", "agency": "ksp"}}',
        '{"x": {"role": "superuser"}}',
    ],
)
def test_a_group_map_that_cannot_work_stops_the_start(monkeypatch, raw):
    monkeypatch.setenv("TRACKER_TEST_GROUP_MAP", raw)
    with pytest.raises(ImproperlyConfigured, match="TRACKER_TEST_GROUP_MAP"):
        env_group_map("TRACKER_TEST_GROUP_MAP")


def test_a_group_map_is_read_from_the_environment(monkeypatch):
    monkeypatch.setenv(
        "TRACKER_TEST_GROUP_MAP", '{"ksp-admins": {"role": "agency_admin", "agency": "ksp"}}'
    )
    assert env_group_map("TRACKER_TEST_GROUP_MAP") == {
        "ksp-admins": {"role": "agency_admin", "agency": "ksp"}
    }
