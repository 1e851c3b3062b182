"""The password policy (NIST SP 800-63B): length, no common or user-derived passwords, nothing
else; checked through Django's validators and the form that sets a password."""

from __future__ import annotations

import pytest
from django.contrib.auth.forms import SetPasswordForm
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError

from devices.demo import DEMO_USERS
from devices.models import User
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db


def _person() -> User:
    return UserFactory(
        username="jordan.hale",
        first_name="Jordan",
        last_name="Hale",
        email="jordan.hale@example.gov",
        role=User.Role.STATE_STAFF,
        agency=None,
    )


def _refusals(password: str, user: User) -> list[str]:
    try:
        validate_password(password, user)
    except ValidationError as exc:
        return exc.messages
    return []


@pytest.mark.parametrize(
    ("password", "why"),
    [
        ("tulip-kayak", "at least 12 characters"),  # 11 characters
        ("qwerty123456", "too common"),
        ("1qaz2wsx3edc", "too common"),
        ("482913570264", "entirely numeric"),
        ("jordan.hale.2026", "too similar"),
    ],
)
def test_a_weak_password_is_refused_with_the_reason(password, why):
    messages = _refusals(password, _person())
    assert any(why in m for m in messages), messages


@pytest.mark.parametrize(
    "password",
    [
        "tulip-kayak-",  # exactly 12 characters
        "copper lantern under a quiet harbor",
        "all lowercase and no digits or symbols at all",  # no composition rules
        "a passphrase of well over sixty-four characters still fits fine, nothing cut off",
    ],
)
def test_a_long_enough_uncommon_password_is_accepted_whatever_it_is_made_of(password):
    assert _refusals(password, _person()) == []


def test_the_form_that_sets_a_password_applies_the_policy():
    user = _person()
    short = SetPasswordForm(user, {"new_password1": "short-pass", "new_password2": "short-pass"})
    assert not short.is_valid()
    phrase = "copper lantern under a quiet harbor"
    good = SetPasswordForm(user, {"new_password1": phrase, "new_password2": phrase})
    assert good.is_valid(), good.errors
    good.save()
    user.refresh_from_db()
    assert user.check_password(phrase)


@pytest.mark.parametrize("demo", DEMO_USERS, ids=lambda d: d.username)
def test_the_demo_passwords_make_run_prints_satisfy_the_policy(demo):
    user = User(
        username=demo.username,
        first_name=demo.first_name,
        last_name=demo.last_name,
        email=f"{demo.username}@example.gov",
        role=demo.role,
    )
    assert _refusals(demo.password, user) == []
