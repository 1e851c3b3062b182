"""WebAuthn wiring for django-otp-webauthn: the relying party, and the registration view that
audits what it saves.

The relying party id is TRACKER_WEBAUTHN_RP_ID, or the host the request came to (one site
name per deployment); the origins accepted are that host's own, with the request's scheme,
so a credential made on one site is refused on another. The library's own views do the
ceremonies; `AuditedRegistration` adds the audit record of a registration that succeeded, and
`AuditedAuthentication` that of a second step a key failed.
"""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import urlsplit

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.urls import path
from django_otp_webauthn import helpers
from django_otp_webauthn import views as webauthn_views

from config.proxies import client_address
from devices import mfa
from devices.audit import request_user_agent


def _host(request: HttpRequest) -> str:
    return urlsplit(f"//{request.get_host()}").hostname or ""


def relying_party_id(request: HttpRequest) -> str:
    """OTP_WEBAUTHN_RP_ID_CALLABLE: TRACKER_WEBAUTHN_RP_ID, or the host asked for."""
    return str(settings.TRACKER_WEBAUTHN_RP_ID or _host(request))


class WebAuthnHelper(helpers.WebAuthnHelper):
    """The library's helper, accepting the origin the request came to as well as the site's
    base URL: Django already refused any host outside ALLOWED_HOSTS, and the browser, not
    the request, writes the origin the authenticator signs."""

    def get_allowed_origins(self) -> list[str]:
        here = f"{self.request.scheme}://{self.request.get_host()}"
        return sorted({*settings.OTP_WEBAUTHN_ALLOWED_ORIGINS, here})


class AuditedRegistration(webauthn_views.CompleteCredentialRegistrationView):
    """Completes a registration as the library does, then writes the enrolment's audit record."""

    def post(self, *args: Any, **kwargs: Any) -> HttpResponse:
        response = super().post(*args, **kwargs)
        data = getattr(response, "content", b"")
        if response.status_code == 200 and b'"id"' in data:
            mfa.record_webauthn_enrolled(
                user_id=self.request.user.pk,
                device_id=int(json.loads(data)["id"]),
                remote_addr=client_address(self.request),
                user_agent=request_user_agent(self.request),
            )
        return response


class AuditedAuthentication(webauthn_views.CompleteCredentialAuthenticationView):
    """Completes a second step with a key as the library does; a refusal (a key not on the
    account, a stale or replayed challenge, a bad signature) is audited as a failed logon."""

    def handle_exception(self, exc: Exception) -> HttpResponse:
        response: HttpResponse = super().handle_exception(exc)
        if self.request.user.is_authenticated:
            mfa.record_failed_second_step(
                user_id=self.request.user.pk,
                what="security key",
                remote_addr=client_address(self.request),
                user_agent=request_user_agent(self.request),
            )
        return response


# Included under the library's own namespace, so its template tags find the same names.
app_name = "otp_webauthn"
urlpatterns = [
    path(
        "registration/begin/",
        webauthn_views.BeginCredentialRegistrationView.as_view(),
        name="credential-registration-begin",
    ),
    path(
        "registration/complete/",
        AuditedRegistration.as_view(),
        name="credential-registration-complete",
    ),
    path(
        "authentication/begin/",
        webauthn_views.BeginCredentialAuthenticationView.as_view(),
        name="credential-authentication-begin",
    ),
    path(
        "authentication/complete/",
        AuditedAuthentication.as_view(),
        name="credential-authentication-complete",
    ),
]
