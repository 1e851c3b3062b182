"""Browser sessions: the idle and absolute limits, and the list a user sees and ends.

Why a small model of our own (`UserSession`) rather than django-allauth's usersessions:
allauth brings its whole account stack (its own login views, forms, settings and
templates) and the product does not use it; adopting it for one list would replace the
login page the rest of the product and its tests rely on. What the list needs is one row
per signed-in browser, keyed by the Django session key, written at logon, touched on
activity at most once a minute (so a busy page costs no write per request), and deleted
at logout or when its owner ends it, together with the Django session row, which is what
actually signs that browser out.

The limits live in the Django session itself (logon time and last activity), checked by
`SessionLimitMiddleware` on every request of a signed-in user; `expiry_reason` is the
pure rule, with `now` passed in. Idle precision is the touch interval (a minute, or a tenth
of the idle limit when that is shorter).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any
from urllib.parse import urlencode

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import logout
from django.contrib.auth.signals import user_logged_in, user_logged_out
from django.contrib.sessions.models import Session
from django.db import transaction
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.urls import reverse
from django.utils import timezone

from config.proxies import client_address
from devices.audit import request_user_agent
from devices.models import UserSession

STARTED_KEY = "tracker_started_at"
SEEN_KEY = "tracker_seen_at"
TOUCH_EVERY = dt.timedelta(minutes=1)


def limits() -> tuple[dt.timedelta, dt.timedelta]:
    """(idle, absolute) from TRACKER_SESSION_IDLE_MINUTES and TRACKER_SESSION_MAX_HOURS."""
    return (
        dt.timedelta(minutes=settings.TRACKER_SESSION_IDLE_MINUTES),
        dt.timedelta(hours=settings.TRACKER_SESSION_MAX_HOURS),
    )


def expiry_reason(*, started_at: dt.datetime, seen_at: dt.datetime, now: dt.datetime) -> str | None:
    """Why a session seen last at ``seen_at`` and begun at ``started_at`` is over, or None."""
    idle, absolute = limits()
    if now - started_at >= absolute:
        return f"signed out {settings.TRACKER_SESSION_MAX_HOURS} hours after signing in"
    if now - seen_at >= idle:
        return f"signed out after {settings.TRACKER_SESSION_IDLE_MINUTES} minutes idle"
    return None


def start_session(
    *, session_key: str, user_id: int, remote_addr: str | None, user_agent: str, now: dt.datetime
) -> UserSession:
    """Record a browser's logon. Idempotent per session key (a repeat updates the row)."""
    row, _ = UserSession.objects.update_or_create(
        session_key=session_key,
        defaults={
            "user_id": user_id,
            "remote_addr": remote_addr,
            "user_agent": user_agent[:300],
            "started_at": now,
            "last_active_at": now,
        },
    )
    return row


def touch_session(*, session_key: str, now: dt.datetime) -> None:
    """Move last activity forward (never back: a slow request must not undo a newer one)."""
    UserSession.objects.filter(session_key=session_key, last_active_at__lt=now).update(
        last_active_at=now
    )


def end_session(*, user_id: int, session_id: int) -> bool:
    """End one of ``user_id``'s sessions: its row and the Django session that signs it in.

    Returns False when there is no such session of that user (already ended, or another
    user's: the caller answers 404 either way). Idempotent; one transaction.
    """
    with transaction.atomic():
        row = UserSession.objects.filter(pk=session_id, user_id=user_id).first()
        if row is None:
            return False
        Session.objects.filter(session_key=row.session_key).delete()
        row.delete()
    return True


def forget_session(*, session_key: str | None) -> None:
    """Drop the row of a session that logged out (its Django session is flushed by logout)."""
    if session_key:
        UserSession.objects.filter(session_key=session_key).delete()


class SessionLimitMiddleware:
    """Sign out a session past its idle or absolute limit and send it to login, saying why."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        user = getattr(request, "user", None)
        if user is not None and user.is_authenticated:
            expired = self._check(request, now=timezone.now())
            if expired is not None:
                return expired
        return self.get_response(request)

    def _check(self, request: HttpRequest, *, now: dt.datetime) -> HttpResponse | None:
        session = request.session
        started = _read(session.get(STARTED_KEY)) or now
        seen = _read(session.get(SEEN_KEY)) or now
        reason = expiry_reason(started_at=started, seen_at=seen, now=now)
        if reason is not None:
            request.logout_reason = reason  # type: ignore[attr-defined]  # for the audit
            logout(request)
            messages.info(request, f"You were {reason}. Please sign in again.")
            query = urlencode({"next": request.get_full_path()})
            return HttpResponseRedirect(f"{reverse('login')}?{query}")
        idle, _ = limits()
        if STARTED_KEY not in session:
            session[STARTED_KEY] = now.isoformat()
        if now - seen >= min(TOUCH_EVERY, idle / 10) or SEEN_KEY not in session:
            session[SEEN_KEY] = now.isoformat()
            if session.session_key:
                touch_session(session_key=session.session_key, now=now)
        return None


def _read(value: Any) -> dt.datetime | None:
    if not isinstance(value, str):
        return None
    try:
        return dt.datetime.fromisoformat(value)
    except ValueError:
        return None


def on_logged_in(sender: Any, request: HttpRequest, user: Any, **kwargs: Any) -> None:
    now = timezone.now()
    request.session[STARTED_KEY] = now.isoformat()
    request.session[SEEN_KEY] = now.isoformat()
    if request.method is None or not request.session.session_key:
        return  # force_login and the like: no browser signed in, so no row to list
    start_session(
        session_key=request.session.session_key,
        user_id=user.pk,
        remote_addr=client_address(request),
        user_agent=request_user_agent(request),
        now=now,
    )


def on_logged_out(sender: Any, request: HttpRequest, user: Any, **kwargs: Any) -> None:
    forget_session(session_key=getattr(request.session, "session_key", None))


def connect() -> None:
    """Connect the logon/logout handlers (once: dispatch_uid)."""
    user_logged_in.connect(on_logged_in, dispatch_uid="devices.sessions.in")
    user_logged_out.connect(on_logged_out, dispatch_uid="devices.sessions.out")
