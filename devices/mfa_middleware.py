"""Hold a signed-in session at the second step, or at enrolment, before anything else.

After authentication and django-otp's OTPMiddleware (which gives ``user.is_verified()``):
- a user with a confirmed app or key whose session has not passed a second factor is sent to
  the second-step page, whatever TRACKER_MFA_REQUIRED says;
- when TRACKER_MFA_REQUIRED is on, a user with no factor is sent to enrol one.
A session opened by single sign-on whose provider did a second factor (devices/sso.py,
`provider_did_mfa`) is held nowhere: the provider's factor stands for the tracker's.

Left alone either way: logging in and out, the pages of the step itself, static files, the
probes (/healthz, /readyz, /metrics) and invitation acceptance. The API answers its bearer
tokens as before (a token is its own credential); a half-signed-in browser session calling
the API gets a 403 in JSON saying what to finish. A verified session costs no query here;
an unverified one one or two EXISTS queries (`mfa.has_factor`).
"""

from __future__ import annotations

from collections.abc import Callable
from urllib.parse import urlencode

from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect
from django.urls import reverse

from devices import mfa

ALWAYS_OPEN = ("/login/", "/logout/", "/healthz", "/readyz", "/metrics", "/accounts/invitation/")
STEP_PAGES = ("/account/verify/", "/webauthn/authentication/")
ENROL_PAGES = ("/account/security/", "/webauthn/registration/")


def _outstanding(request: HttpRequest) -> str | None:
    """ "verify", "enrol" or None: what the session must do before anything else."""
    user = request.user
    if not user.is_authenticated or mfa.session_is_verified(user):
        return None
    if request.session.get(mfa.PROVIDER_MFA_SESSION_KEY):
        return None  # signed in through SSO, whose provider did the second factor
    if mfa.has_factor(user.pk):
        return "verify"
    return "enrol" if settings.TRACKER_MFA_REQUIRED else None


class SecondFactorMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        path = request.path
        if path.startswith((settings.STATIC_URL, *ALWAYS_OPEN)):
            return self.get_response(request)
        if path.startswith("/api/") and request.headers.get("Authorization"):
            return self.get_response(request)
        outstanding = _outstanding(request)
        if outstanding is None:
            return self.get_response(request)
        if path.startswith(STEP_PAGES if outstanding == "verify" else ENROL_PAGES):
            return self.get_response(request)
        if path.startswith("/api/"):
            what = "the second step" if outstanding == "verify" else "setting up a second factor"
            return JsonResponse(
                {
                    "message": f"Finish two-factor sign-in ({what}) in the browser first.",
                    "errors": [{"field": None, "message": "two-factor sign-in not finished"}],
                },
                status=403,
            )
        target = reverse("mfa_verify" if outstanding == "verify" else "mfa_security")
        return redirect(f"{target}?{urlencode({'next': request.get_full_path()})}")
