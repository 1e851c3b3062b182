"""The accounts API router: unlocking a locked-out user, resetting a user's two-factor sign-in,
and the audit log as CSV.

Thin like every router: scope (another agency's user answers 404), authorise, call one
core function (`devices.lockout.unlock_user`, `devices.mfa.reset_mfa`,
`devices.audit_export.iter_audit_csv`).
"""

from __future__ import annotations

from typing import Literal

from django.http import StreamingHttpResponse
from ninja import Path, Query, Router, Schema

from config.api import NOT_FOUND_ERRORS, WRITE_ERRORS
from config.proxies import client_address
from config.typing import AuthedRequest
from devices import mfa, scoping
from devices.audit import request_user_agent
from devices.audit_export import iter_audit_csv
from devices.lockout import unlock_user
from devices.models import User
from devices.schemas import MAX_ID, AuditFilter
from devices.selectors import filter_audit

router = Router(tags=["accounts"])


class UnlockOut(Schema):
    user_id: int
    username: str
    cleared: int


class AuditExportFilter(AuditFilter):
    format: Literal["csv"] = "csv"


@router.post("/users/{int:user_id}/unlock", response={200: UnlockOut, **WRITE_ERRORS})
def unlock(request: AuthedRequest, user_id: int = Path(..., ge=1, le=MAX_ID)):
    """Clear a user's failed sign-ins so they can sign in again now. State staff unlock
    anyone; an agency admin unlocks their own agency's users."""
    target = scoping.get_visible_or_404(
        scoping.scope_to_user(User.objects.all(), request.user), pk=user_id
    )
    scoping.require_manager_of(request.user, target.agency_id or 0)
    cleared = unlock_user(
        user_id=target.pk,
        actor_id=request.user.pk,
        remote_addr=client_address(request),
        user_agent=request_user_agent(request),
    )
    return UnlockOut(user_id=target.pk, username=target.get_username(), cleared=cleared)


@router.get("/audit/export", response={200: None, **NOT_FOUND_ERRORS}, tags=["audit"])
def export_audit(request: AuthedRequest, filters: Query[AuditExportFilter]):
    """The audit log as CSV (streamed), with the list's filters and scope."""
    given = filters.dict(exclude={"format"})
    records = filter_audit(scoping.visible_audit(request.user), **given)
    response = StreamingHttpResponse(iter_audit_csv(records), content_type="text/csv")
    response["Content-Disposition"] = 'attachment; filename="audit.csv"'
    return response


class MfaResetOut(Schema):
    user_id: int
    username: str
    removed: int


@router.post("/users/{int:user_id}/mfa-reset", response={200: MfaResetOut, **WRITE_ERRORS})
def reset_user_mfa(request: AuthedRequest, user_id: int = Path(..., ge=1, le=MAX_ID)):
    """Remove every second factor of a user (a lost phone or key); they enrol again at their
    next sign-in. State staff reset anyone; an agency admin their own agency's users; nobody
    their own account."""
    scoping.require_user_manager(request.user)
    target = scoping.get_visible_or_404(scoping.visible_users(request.user), pk=user_id)
    scoping.require_not_self(request.user, target.pk)
    removed = mfa.reset_mfa(
        user_id=target.pk,
        actor_id=request.user.pk,
        remote_addr=client_address(request),
        user_agent=request_user_agent(request),
    )
    return MfaResetOut(user_id=target.pk, username=target.get_username(), removed=removed)
