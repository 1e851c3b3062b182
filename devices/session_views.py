""" "Your sessions": the signed-in user's browsers, each with an "End" button (POST).

Thin: the list is the user's own `UserSession` rows; ending calls
`devices.sessions.end_session`, which answers False for a row that is not theirs (404).
"""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from config.typing import AuthedRequest
from devices.audit import record
from devices.models import AuditRecord, UserSession
from devices.sessions import end_session


@login_required
def session_list(request: AuthedRequest) -> HttpResponse:
    rows = UserSession.objects.filter(user=request.user)
    current = request.session.session_key
    return render(request, "accounts/session_list.html", {"rows": rows, "current": current})


@require_POST
@login_required
def session_end(request: AuthedRequest, pk: int) -> HttpResponse:
    if not end_session(user_id=request.user.pk, session_id=pk):
        raise Http404("No such session of yours.")
    record(
        actor=request.user,
        action=AuditRecord.Action.SESSION_ENDED,
        object_type="session",
        object_id=str(pk),
        request=request,
        message="ended by its user from Your sessions",
    )
    messages.success(request, "That session is ended: the browser must sign in again.")
    return redirect("session_list")
