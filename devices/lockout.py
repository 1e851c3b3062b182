"""Account lockout: the page a locked-out sign-in sees, and unlocking by an administrator.

The counting is django-axes' (settings: AXES_*, from TRACKER_LOCKOUT_FAILURES and
TRACKER_LOCKOUT_MINUTES), not ours: it is the library the field uses and it already knows
the races of concurrent failures. What is the product's is the wording and the unlock.

The locked page says the same for a name that exists and one that does not (axes locks
both), so it cannot be used to find accounts. It names no count of attempts left either:
that would tell a guesser how to pace himself under the limit.
"""

from __future__ import annotations

from typing import Any

from axes.utils import reset as axes_reset
from django.conf import settings
from django.contrib.auth.forms import AuthenticationForm
from django.db import transaction
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from devices.audit import record
from devices.models import AuditRecord, User


def locked_message() -> str:
    minutes = settings.TRACKER_LOCKOUT_MINUTES
    return (
        "Too many failed sign-ins for this username or from this address. Sign-in is "
        f"paused for {minutes} minutes; try again then, or ask an administrator to unlock "
        "the account."
    )


def lockout_response(
    request: HttpRequest,
    original_response: HttpResponse | None = None,
    credentials: dict[str, Any] | None = None,
) -> HttpResponse:
    """The login page with the locked message, 429 (django-axes' AXES_LOCKOUT_CALLABLE)."""
    form = AuthenticationForm(request)
    context = {"form": form, "locked_message": locked_message(), "next": ""}
    return render(request, "registration/login.html", context, status=429)


def unlock_user(
    *,
    user_id: int,
    actor_id: int | None,
    remote_addr: str | None = None,
    user_agent: str = "",
) -> int:
    """Clear the failed sign-ins of ``user_id``'s username (and so its lock); audit it.

    Returns how many attempt records were removed (0 if the user was not locked). Idempotent:
    a second unlock removes nothing and is audited again, as who tried matters. Failures
    recorded from one address under other usernames still count against that address.
    One transaction: the audit record and the reset commit together.
    """
    with transaction.atomic():
        user = User.objects.get(pk=user_id)
        actor = User.objects.filter(pk=actor_id).first() if actor_id is not None else None
        cleared = axes_reset(username=user.get_username())
        record(
            actor=actor,
            action=AuditRecord.Action.UNLOCK,
            obj=user,
            remote_addr=remote_addr,
            user_agent=user_agent,
            message=f"{cleared} failed sign-in record(s) cleared",
        )
    return cleared
