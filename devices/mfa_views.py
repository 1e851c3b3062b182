"""Two-factor sign-in pages (thin: `devices.mfa` decides and writes): the account's
"Two-factor sign-in" page, the authenticator app enrolment, recovery codes, removing a factor,
the second step after the password, and an administrator's reset of another user's factors.

Every form works without JavaScript except the security key buttons, which need the browser's
WebAuthn API; their script is static/js/webauthn.js and the library's own, served from static.
"""

from __future__ import annotations

from base64 import b32encode
from io import BytesIO
from typing import TypedDict

import segno
from axes.handlers.proxy import AxesProxyHandler
from django import forms
from django.contrib import messages
from django.contrib.auth import logout
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_POST
from django_otp import login as otp_login
from django_otp.plugins.otp_totp.models import TOTPDevice
from django_otp_webauthn.templatetags.otp_webauthn import get_configuration

from config.errors import DomainError
from config.proxies import client_address
from config.typing import AuthedRequest
from devices import mfa, scoping
from devices.audit import request_user_agent
from devices.lockout import lockout_response


class CodeForm(forms.Form):
    code = forms.CharField(
        label="Code",
        max_length=32,
        widget=forms.TextInput(attrs={"autocomplete": "one-time-code", "inputmode": "numeric"}),
    )


class RemoveForm(forms.Form):
    kind = forms.ChoiceField(
        choices=[("totp", "totp"), ("webauthn", "webauthn"), ("recovery", "recovery")]
    )
    device_id = forms.IntegerField()
    secret = forms.CharField(label="Your password or a current code", max_length=4096)


class Where(TypedDict):
    remote_addr: str | None
    user_agent: str


def _where(request: HttpRequest) -> Where:
    return {"remote_addr": client_address(request), "user_agent": request_user_agent(request)}


def _next(request: HttpRequest, default: str = "home") -> str:
    target = request.POST.get("next") or request.GET.get("next") or ""
    if url_has_allowed_host_and_scheme(target, {request.get_host()}, request.is_secure()):
        return target
    return default


def _qr_svg(uri: str) -> str:
    out = BytesIO()
    segno.make(uri, error="m").save(
        out, kind="svg", xmldecl=False, svgns=True, nl=False, scale=5, title="QR code of the key"
    )
    return out.getvalue().decode()


@login_required
def security(request: AuthedRequest) -> HttpResponse:
    """The account's factors, and how to add or remove one."""
    context = {
        "factors": mfa.list_factors(request.user.pk),
        "has_factor": mfa.has_factor(request.user.pk),
        "webauthn_config": get_configuration(request),
        "next": _next(request, ""),
    }
    return render(request, "accounts/mfa_security.html", context)


@login_required
def totp_enrol(request: AuthedRequest) -> HttpResponse:
    """The pending app's QR code and key; the code typed back confirms it."""
    # A GET makes the pending device when there is none: idempotent (the same key on every
    # reload) and no factor until confirmed, so nothing a link could abuse.
    device = mfa.start_totp(user_id=request.user.pk)
    form = CodeForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            confirmed = mfa.confirm_totp(
                user_id=request.user.pk,
                device_id=device.pk,
                code=form.cleaned_data["code"],
                now=timezone.now(),
                **_where(request),
            )
        except DomainError as exc:
            form.add_error("code", exc.message)
        else:
            otp_login(request, confirmed)
            messages.success(
                request,
                "Authenticator app set up. Generate recovery codes now, in case you lose it.",
            )
            return redirect(_next(request, "mfa_security"))
    context = {
        "form": form,
        "key": _base32(device),
        "qr_svg": _qr_svg(mfa.provisioning_uri(device)),
        "next": _next(request, ""),
    }
    return render(request, "accounts/mfa_totp.html", context, status=422 if form.errors else 200)


def _base32(device: TOTPDevice) -> str:
    """The key as authenticator apps take it typed in: base32, in groups of four."""
    raw = b32encode(device.bin_key).decode().rstrip("=")
    return " ".join(raw[i : i + 4] for i in range(0, len(raw), 4))


@login_required
def recovery_codes(request: AuthedRequest) -> HttpResponse:
    """POST: ten new codes, shown on this response only. GET: back to the account page."""
    if request.method != "POST":
        return redirect("mfa_security")
    try:
        codes = mfa.generate_recovery_codes(user_id=request.user.pk, **_where(request))
    except DomainError as exc:
        messages.error(request, exc.message)
        return redirect("mfa_security")
    return render(request, "accounts/mfa_recovery_codes.html", {"codes": codes})


@login_required
@require_POST
def factor_remove(request: AuthedRequest) -> HttpResponse:
    form = RemoveForm(request.POST)
    if not form.is_valid():
        messages.error(request, "Say which factor to remove and give your password or a code.")
        return redirect("mfa_security")
    data = form.cleaned_data
    if not mfa.check_password_or_code(
        user_id=request.user.pk, secret=data["secret"], now=timezone.now()
    ):
        messages.error(
            request, "That is neither your password nor a current code: nothing removed."
        )
        return redirect("mfa_security")
    try:
        mfa.remove_factor(
            user_id=request.user.pk,
            kind=data["kind"],
            device_id=data["device_id"],
            **_where(request),
        )
        messages.success(request, "The factor is removed.")
    except DomainError as exc:
        messages.error(request, exc.message)
    return redirect("mfa_security")


def _count_failure(request: HttpRequest, username: str) -> bool:
    """Count a wrong code as a failed sign-in of ``username`` with django-axes; True when
    that locks it. The handler is called directly, not through user_login_failed, so the
    login audit does not record it a second time as a wrong password."""
    AxesProxyHandler.update_request(request)
    AxesProxyHandler.user_login_failed(
        sender=verify, credentials={"username": username}, request=request
    )
    return bool(getattr(request, "axes_locked_out", False))


@login_required
def verify(request: AuthedRequest) -> HttpResponse:
    """The second step: a code from the app, a recovery code, or the security key."""
    if mfa.session_is_verified(request.user) or not mfa.has_factor(request.user.pk):
        return redirect(_next(request))
    form = CodeForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        device = mfa.verify_second_step(
            user_id=request.user.pk, code=form.cleaned_data["code"], **_where(request)
        )
        if device is not None:
            otp_login(request, device)
            return redirect(_next(request))
        if _count_failure(request, request.user.get_username()):
            logout(request)
            return lockout_response(request)
        form.add_error("code", mfa.WRONG_CODE)
    context = {
        "form": form,
        "next": _next(request, ""),
        "webauthn_config": get_configuration(request),
    }
    return render(request, "accounts/mfa_verify.html", context, status=422 if form.errors else 200)


@login_required
@require_POST
def user_mfa_reset(request: AuthedRequest, pk: int) -> HttpResponse:
    """An administrator removes another user's factors (scope as for any user change)."""
    scoping.require_user_manager(request.user)
    target = scoping.get_visible_or_404(scoping.visible_users(request.user), pk=pk)
    scoping.require_not_self(request.user, target.pk)
    removed = mfa.reset_mfa(user_id=target.pk, actor_id=request.user.pk, **_where(request))
    messages.success(
        request, f"{target.username}'s two-factor sign-in is reset ({removed} factor(s) removed)."
    )
    return redirect("user_detail", pk=pk)
