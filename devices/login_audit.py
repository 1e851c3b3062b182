"""Sign-in events into the audit log: logons, failed logons, lockouts and logouts.

The handlers are thin: Django's auth signals (user_logged_in, user_login_failed,
user_logged_out) and django-axes' user_locked_out each pull the address and user agent
from the request and call `audit_sign_in`. Connected in `DevicesConfig.ready`.

A failed logon is recorded under the name that was typed, whether or not such a user
exists; when one does, the record carries their agency so their agency admin sees it.
That lookup costs one indexed query on both paths, so it tells nothing by its timing.
A lockout is recorded once, when it begins; the refused tries during it are failed logons.

A session opened or closed outside any HTTP request (``request.method`` is None: the test
client's ``force_login``/``logout``, a shell) is no logon: nobody presented credentials
from anywhere, so there is nothing to audit and nothing is written.
"""

from __future__ import annotations

from typing import Any

from axes.signals import user_locked_out
from django.contrib.auth.signals import user_logged_in, user_logged_out, user_login_failed
from django.http import HttpRequest

from config.proxies import client_address
from devices.audit import record, request_user_agent
from devices.models import AuditRecord, User


def audit_sign_in(
    *,
    action: str,
    username: str,
    remote_addr: str | None,
    user_agent: str,
    message: str = "",
) -> AuditRecord:
    """Write one sign-in event for ``username`` (which may name no user). Not idempotent:
    each call is one event. Runs in the caller's transaction, if any."""
    user = User.objects.filter(username=username).first() if username else None
    return record(
        actor=user,
        actor_name=username or "(blank)",
        action=action,
        object_type="user",
        object_id=str(user.pk) if user else "",
        object_repr=username[:200],
        agency_id=user.agency_id if user else None,
        remote_addr=remote_addr,
        user_agent=user_agent,
        message=message,
    )


def _from_request(request: HttpRequest | None) -> dict[str, Any]:
    return {"remote_addr": client_address(request), "user_agent": request_user_agent(request)}


def _is_http(request: HttpRequest | None) -> bool:
    return request is not None and request.method is not None


def on_logged_in(sender: Any, request: HttpRequest, user: User, **kwargs: Any) -> None:
    if not _is_http(request):
        return
    # The method, when not a password: single sign-on sets it (devices/sso_views.py).
    method = getattr(request, "login_method", "")
    audit_sign_in(
        action=AuditRecord.Action.LOGIN,
        username=user.get_username(),
        message=f"method: {method}" if method else "",
        **_from_request(request),
    )


def on_login_failed(
    sender: Any, credentials: dict[str, Any], request: HttpRequest | None = None, **kwargs: Any
) -> None:
    locked = bool(getattr(request, "axes_locked_out", False))
    # A refusal that is not about the password says so (devices/sso.py: local accounts off).
    refusal = getattr(request, "login_refusal", "")
    audit_sign_in(
        action=AuditRecord.Action.LOGIN_FAILED,
        username=str(credentials.get("username") or ""),
        message=refusal or ("refused: locked out" if locked else "wrong username or password"),
        **_from_request(request),
    )


def on_logged_out(sender: Any, request: HttpRequest, user: User | None, **kwargs: Any) -> None:
    if user is None or not _is_http(request):  # no session, or no HTTP request: no logout
        return
    audit_sign_in(
        action=AuditRecord.Action.LOGOUT,
        username=user.get_username(),
        message=getattr(request, "logout_reason", ""),
        **_from_request(request),
    )


def on_locked_out(
    sender: Any, request: HttpRequest, username: str | None, ip_address: str, **kwargs: Any
) -> None:
    # django-axes sets the failure count only on the failure that reaches the limit; a try
    # refused during the lock resends the signal without it.
    failures = getattr(request, "axes_failures_since_start", None)
    if failures is None:
        return
    audit_sign_in(
        action=AuditRecord.Action.LOCKOUT,
        username=username or "",
        message=f"locked after {failures} consecutive failures",
        **_from_request(request),
    )


def connect() -> None:
    """Connect the handlers (once: dispatch_uid)."""
    user_logged_in.connect(on_logged_in, dispatch_uid="devices.login_audit.in")
    user_login_failed.connect(on_login_failed, dispatch_uid="devices.login_audit.failed")
    user_logged_out.connect(on_logged_out, dispatch_uid="devices.login_audit.out")
    user_locked_out.connect(on_locked_out, dispatch_uid="devices.login_audit.locked")
