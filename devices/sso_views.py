"""Single sign-on pages: the login page with its provider button, the redirect to the
provider, and the callback that signs the person in.

Thin: devices/oidc.py checks the protocol, devices/sso.py decides who signs in, Django's
`login()` opens the session, so the session registry and limits (devices/sessions.py) and
the logon record (devices/login_audit.py, told the method) apply as to a password logon.
A refusal is a page with the reason and what to do (status 403), audited as a failed logon.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.contrib.auth import login
from django.contrib.auth import views as auth_views
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render, resolve_url
from django.urls import reverse
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_GET

from config.proxies import client_address
from devices import mfa, oidc, sso
from devices.login_audit import audit_sign_in
from devices.models import AuditRecord, User

NEXT_KEY = "tracker_sso_next"
BACKEND = "django.contrib.auth.backends.ModelBackend"
LOCAL_OFF_MESSAGE = (
    "Password sign-in is turned off here: use the single sign-on button. API tokens work as before."
)


class LoginPage(auth_views.LoginView):
    """Django's LoginView, with the provider button, and passwords refused when turned off."""

    template_name = "registration/login.html"

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        context["sso_enabled"] = oidc.enabled()
        context["sso_provider"] = settings.TRACKER_OIDC_PROVIDER_NAME
        context["password_login_off"] = not sso.password_login_allowed()
        return context

    def post(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if sso.password_login_allowed():
            return super().post(request, *args, **kwargs)
        audit_sign_in(
            action=AuditRecord.Action.LOGIN_FAILED,
            username=str(request.POST.get("username", ""))[:150],
            remote_addr=client_address(request),
            user_agent=str(request.META.get("HTTP_USER_AGENT", "")),
            message=sso.LOCAL_OFF_REASON,
        )
        context = self.get_context_data(form=self.get_form())
        context["refused_message"] = LOCAL_OFF_MESSAGE
        return self.render_to_response(context, status=403)


def _redirect_uri() -> str:
    # The address registered at the provider: fixed by the site's public address, never
    # taken from the request's Host header.
    return settings.TRACKER_BASE_URL + reverse("sso_callback")


def _refused(request: HttpRequest, exc: oidc.SignInRefused, claims: dict | None) -> HttpResponse:
    sso.audit_refusal(claims=claims, reason=exc.reason, request=request)
    context = {"message": exc.message, "provider": settings.TRACKER_OIDC_PROVIDER_NAME}
    return render(request, "registration/sso_refused.html", context, status=403)


@require_GET
def sso_begin(request: HttpRequest) -> HttpResponse:
    if not oidc.enabled():
        raise Http404("Single sign-on is not configured.")
    wanted = request.GET.get("next", "")
    safe = url_has_allowed_host_and_scheme(
        wanted, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    )
    request.session[NEXT_KEY] = wanted if safe else ""
    try:
        return oidc.begin(request, redirect_uri=_redirect_uri())
    except oidc.SignInRefused as exc:
        return _refused(request, exc, None)


@require_GET
def sso_callback(request: HttpRequest) -> HttpResponse:
    if not oidc.enabled():
        raise Http404("Single sign-on is not configured.")
    claims: dict | None = None
    try:
        claims = oidc.complete(request)
        user_id = sso.sign_in(
            claims=claims, now=timezone.now(), remote_addr=client_address(request)
        )
    except oidc.SignInRefused as exc:
        return _refused(request, exc, claims)
    user = User.objects.get(pk=user_id)
    wanted = request.session.pop(NEXT_KEY, "")
    request.login_method = f"single sign-on ({claims['iss']})"  # type: ignore[attr-defined]
    login(request, user, backend=BACKEND)
    # After login(), which starts a new session: the provider's second factor counts for this
    # session only, so the tracker asks for none of its own (devices/mfa_middleware.py).
    if sso.provider_did_mfa(claims, trust_provider=settings.TRACKER_OIDC_TRUST_PROVIDER_MFA):
        request.session[mfa.PROVIDER_MFA_SESSION_KEY] = claims["iss"]
    return HttpResponseRedirect(wanted or resolve_url(settings.LOGIN_REDIRECT_URL))
