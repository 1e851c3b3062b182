"""``{% mfa_required %}``: whether two-factor sign-in is required (TRACKER_MFA_REQUIRED), read
on each render so the login page says what the server enforces now."""

from __future__ import annotations

from django import template
from django.conf import settings

register = template.Library()


@register.simple_tag
def mfa_required() -> bool:
    return bool(settings.TRACKER_MFA_REQUIRED)
