"""Two-factor sign-in: the factors a user holds, enrolling and removing them, the second step.

Library: django-otp (TOTP through ``django_otp.plugins.otp_totp``, recovery codes through
``django_otp.plugins.otp_static``) and django-otp-webauthn (passkeys and security keys as
django-otp devices, on py_webauthn). Not django-allauth: its MFA works only inside its own
account login flow, and the product signs in with Django's LoginView under django-axes'
lockout, its own session registry (devices/sessions.py) and its own invitations
(devices/users.py), all of which allauth would replace. django-otp adds a second step to
Django's own login instead: ``django_otp.middleware.OTPMiddleware`` gives every request
``user.is_verified()``, and `devices.mfa_middleware` holds a session at the second step (or
at enrolment) until it is True.

The factors:
- an authenticator app (TOTP): created unconfirmed with a random key, it counts only once a
  code from it was typed back (`confirm_totp`); an unconfirmed one is a pending enrolment;
- a security key or passkey (WebAuthn): registered by the library's views and script, and
  confirmed from the start;
- recovery codes: ten single-use codes, shown once; generating them again replaces them. A
  backup, not a factor of their own: they need one of the two above, and removing the last
  of those removes them too.

The second step (`verify_second_step`) tries the user's authenticator apps and recovery codes.
A wrong code is refused twice over: django-otp's throttling on the device (a growing delay,
kept on the device across sign-ins until a right code), and django-axes, which counts it as a
failed sign-in of the username (devices/mfa_views.py), so TRACKER_LOCKOUT_FAILURES
consecutive failures lock the account as wrong passwords do.

Every change is one transaction with one audit record on the user (object_type "user", so the
user's page lists it), with the address and user agent: an enrolment (create), a removal or
an administrator's reset (delete, with the factors before and after), a failed second step
(failed logon) and a recovery code used (logon). No audit action of its own: the existing
actions and the message say it, which keeps the audit log's choices (and their migration)
as they are.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from django.db import transaction
from django_otp.models import Device
from django_otp.oath import TOTP
from django_otp.plugins.otp_static.models import StaticDevice, StaticToken
from django_otp.plugins.otp_totp.models import TOTPDevice
from django_otp_webauthn.models import WebAuthnCredential

from config.errors import InvalidInput, NotFound
from devices.audit import record
from devices.models import AuditRecord, User

RECOVERY_CODE_COUNT = 10
RECOVERY_DEVICE_NAME = "Recovery codes"
TOTP_DEVICE_NAME = "Authenticator app"
WRONG_CODE = (
    "That code did not match. Type the 6 digits your authenticator app shows now (they "
    "change every 30 seconds), or one of your recovery codes. After a wrong code, wait a "
    "few seconds before the next: each one in a row doubles the wait."
)


@dataclass(frozen=True)
class Factor:
    """One confirmed factor as the account page lists it."""

    kind: str  # "totp", "webauthn" or "recovery"
    id: int
    name: str
    created_at: dt.datetime | None
    remaining: int | None = None  # recovery codes left


def _primary_ids(user_ids: list[int]) -> set[int]:
    totp = TOTPDevice.objects.filter(user_id__in=user_ids, confirmed=True)
    keys = WebAuthnCredential.objects.filter(user_id__in=user_ids, confirmed=True)
    return set(totp.values_list("user_id", flat=True)) | set(keys.values_list("user_id", flat=True))


def mfa_enabled_ids(user_ids: list[int]) -> set[int]:
    """Which of ``user_ids`` have a confirmed second factor (an app or a key). Two queries."""
    if not user_ids:
        return set()
    return _primary_ids(user_ids)


def has_factor(user_id: int) -> bool:
    """Whether the user must pass the second step: a confirmed app or key (one or two
    EXISTS queries)."""
    return (
        TOTPDevice.objects.filter(user_id=user_id, confirmed=True).exists()
        or WebAuthnCredential.objects.filter(user_id=user_id, confirmed=True).exists()
    )


# Set in the session by an SSO sign-in whose provider did a second factor (devices/sso_views.py).
PROVIDER_MFA_SESSION_KEY = "tracker_provider_mfa"


def session_is_verified(user: Any) -> bool:
    """Whether this request's session passed a second factor (OTPMiddleware's is_verified)."""
    check = getattr(user, "is_verified", None)
    return bool(check()) if check is not None else False


def list_factors(user_id: int) -> list[Factor]:
    """The user's confirmed factors, apps and keys first, recovery codes last."""
    factors = [
        Factor("totp", d.pk, d.name, d.created_at)
        for d in TOTPDevice.objects.filter(user_id=user_id, confirmed=True).order_by("pk")
    ]
    factors += [
        Factor("webauthn", d.pk, d.name or "Security key", d.created_at)
        for d in WebAuthnCredential.objects.filter(user_id=user_id, confirmed=True).order_by("pk")
    ]
    for static in StaticDevice.objects.filter(user_id=user_id, confirmed=True).order_by("pk"):
        left = static.token_set.count()
        factors.append(Factor("recovery", static.pk, static.name, static.created_at, left))
    return factors


def factor_state(user_id: int) -> dict[str, Any]:
    """The factors as the audit log's before/after holds them."""
    return {"factors": [f"{f.kind}:{f.id} {f.name}" for f in list_factors(user_id)]}


def _audit(
    *, user: User, actor: User | None, action: str, message: str, **extra: Any
) -> AuditRecord:
    return record(
        actor=actor if actor is not None else user,
        action=action,
        obj=user,
        object_type="user",
        message=message,
        **extra,
    )


def start_totp(*, user_id: int) -> TOTPDevice:
    """The user's pending authenticator app, created with a new random key if there is none.

    Idempotent: a second call returns the same pending device (and key), so reloading the
    enrolment page does not invalidate a QR code already scanned. A pending device is no
    factor and is not audited; `confirm_totp` makes it one.
    """
    pending = TOTPDevice.objects.filter(user_id=user_id, confirmed=False).order_by("pk").first()
    if pending is not None:
        return pending
    return TOTPDevice.objects.create(user_id=user_id, name=TOTP_DEVICE_NAME, confirmed=False)


def _totp_matches(device: TOTPDevice, code: str, *, now: dt.datetime) -> int | None:
    """The time step ``code`` belongs to (within the device's tolerance), or None. Pure: the
    device is not touched, so a wrong code changes nothing."""
    code = code.strip().replace(" ", "")
    if not code.isdigit() or len(code) != device.digits:
        return None
    totp = TOTP(device.bin_key, device.step, device.t0, device.digits, device.drift)
    totp.time = now.timestamp()
    if totp.verify(int(code), tolerance=device.tolerance, min_t=device.last_t + 1):
        return int(totp.t())
    return None


def confirm_totp(
    *,
    user_id: int,
    device_id: int,
    code: str,
    now: dt.datetime,
    remote_addr: str | None = None,
    user_agent: str = "",
) -> TOTPDevice:
    """Confirm a pending authenticator app with a code from it; audited as an enrolment.

    A wrong code raises InvalidInput and writes nothing. Not idempotent: a confirmed device
    is no longer pending (NotFound). One transaction with one audit record.
    """
    with transaction.atomic():
        device = (
            TOTPDevice.objects.select_for_update()
            .filter(pk=device_id, user_id=user_id, confirmed=False)
            .first()
        )
        if device is None:
            raise NotFound("There is no authenticator app waiting to be confirmed: start again.")
        step = _totp_matches(device, code, now=now)
        if step is None:
            raise InvalidInput(WRONG_CODE, field="code")
        before = factor_state(user_id)
        device.confirmed = True
        device.last_t = step  # the code that confirmed it cannot sign in a second time
        device.save(update_fields=["confirmed", "last_t"])
        user = User.objects.get(pk=user_id)
        _audit(
            user=user,
            actor=None,
            action=AuditRecord.Action.CREATE,
            message="two-factor sign-in: authenticator app enrolled",
            before=before,
            after=factor_state(user_id),
            remote_addr=remote_addr,
            user_agent=user_agent,
        )
    return device


def record_webauthn_enrolled(
    *, user_id: int, device_id: int, remote_addr: str | None = None, user_agent: str = ""
) -> AuditRecord:
    """Audit a security key or passkey the library just registered (it saved the row)."""
    user = User.objects.get(pk=user_id)
    name = WebAuthnCredential.objects.filter(pk=device_id).values_list("name", flat=True).first()
    return _audit(
        user=user,
        actor=None,
        action=AuditRecord.Action.CREATE,
        message=f"two-factor sign-in: security key enrolled ({name or 'unnamed'})",
        after=factor_state(user_id),
        remote_addr=remote_addr,
        user_agent=user_agent,
    )


def generate_recovery_codes(
    *, user_id: int, remote_addr: str | None = None, user_agent: str = ""
) -> list[str]:
    """Ten new single-use recovery codes, replacing any earlier ones; returned once, to show.

    Needs an app or a key first (InvalidInput otherwise). Not idempotent: each call makes
    new codes and the earlier ones stop working. One transaction with one audit record.
    """
    if not has_factor(user_id):
        raise InvalidInput(
            "Set up an authenticator app or a security key first: recovery codes are its backup."
        )
    with transaction.atomic():
        user = User.objects.select_for_update().get(pk=user_id)
        device, _ = StaticDevice.objects.get_or_create(
            user=user, name=RECOVERY_DEVICE_NAME, defaults={"confirmed": True}
        )
        replaced = device.token_set.count()
        device.token_set.all().delete()
        codes = [StaticToken.random_token() for _ in range(RECOVERY_CODE_COUNT)]
        StaticToken.objects.bulk_create([StaticToken(device=device, token=c) for c in codes])
        _audit(
            user=user,
            actor=None,
            action=AuditRecord.Action.CREATE,
            message=f"two-factor sign-in: {RECOVERY_CODE_COUNT} recovery codes generated"
            + (f" ({replaced} earlier unused ones no longer work)" if replaced else ""),
            remote_addr=remote_addr,
            user_agent=user_agent,
        )
    return codes


def check_password_or_code(*, user_id: int, secret: str, now: dt.datetime) -> bool:
    """Whether ``secret`` is the user's password or a current code of one of their apps.

    Reads only (the code is checked without using it up): a re-confirmation before a
    removal, not a sign-in.
    """
    user = User.objects.get(pk=user_id)
    if secret and user.check_password(secret):
        return True
    devices = TOTPDevice.objects.filter(user_id=user_id, confirmed=True)
    return any(_totp_matches(d, secret, now=now) is not None for d in devices)


_MODELS: dict[str, type[Device]] = {
    "totp": TOTPDevice,
    "webauthn": WebAuthnCredential,
    "recovery": StaticDevice,
}


def remove_factor(
    *,
    user_id: int,
    kind: str,
    device_id: int,
    remote_addr: str | None = None,
    user_agent: str = "",
) -> None:
    """Remove one of the user's own factors (re-confirmed by the caller); audited.

    Removing the last app or key removes the recovery codes too: they are its backup and
    must not become a factor on their own. Not idempotent: an absent factor is NotFound.
    One transaction with one audit record holding the factors before and after.
    """
    model = _MODELS.get(kind)
    if model is None:
        raise InvalidInput(f"Unknown kind of factor {kind!r}.", field="kind")
    with transaction.atomic():
        user = User.objects.select_for_update().get(pk=user_id)
        before = factor_state(user_id)
        deleted, _ = model.objects.filter(pk=device_id, user_id=user_id).delete()
        if not deleted:
            raise NotFound("That factor is not on your account (removed already?).")
        if not has_factor(user_id):
            StaticDevice.objects.filter(user_id=user_id).delete()
            TOTPDevice.objects.filter(user_id=user_id, confirmed=False).delete()
        _audit(
            user=user,
            actor=None,
            action=AuditRecord.Action.DELETE,
            message=f"two-factor sign-in: {kind} factor removed",
            before=before,
            after=factor_state(user_id),
            remote_addr=remote_addr,
            user_agent=user_agent,
        )


def reset_mfa(
    *, user_id: int, actor_id: int, remote_addr: str | None = None, user_agent: str = ""
) -> int:
    """An administrator removes every factor of ``user_id`` (scope checked by the caller).

    The user enrols again at their next sign-in (when two-factor sign-in is required).
    Returns how many factors were removed. Idempotent in effect: a second reset removes
    nothing and is audited again, as who tried matters. One transaction, one audit record.
    """
    with transaction.atomic():
        user = User.objects.select_for_update().get(pk=user_id)
        actor = User.objects.get(pk=actor_id)
        before = factor_state(user_id)
        removed = sum(
            model.objects.filter(user_id=user_id).delete()[1].get(model._meta.label, 0)
            for model in _MODELS.values()
        )
        _audit(
            user=user,
            actor=actor,
            action=AuditRecord.Action.DELETE,
            message=f"two-factor sign-in reset by {actor.get_username()}",
            before=before,
            after=factor_state(user_id),
            remote_addr=remote_addr,
            user_agent=user_agent,
        )
    return removed


def verify_second_step(
    *, user_id: int, code: str, remote_addr: str | None = None, user_agent: str = ""
) -> Device | None:
    """The app or recovery code device that accepts ``code``, or None; audited either way
    it matters (a failure, a recovery code used).

    Uses django-otp's own verification: a right code is used up (an app's time step, a
    recovery code) and a wrong one feeds the device's throttling. Not idempotent by nature.
    """
    code = code.strip().replace(" ", "")
    user = User.objects.get(pk=user_id)
    devices: list[Device] = [
        *TOTPDevice.objects.filter(user_id=user_id, confirmed=True),
        *StaticDevice.objects.filter(user_id=user_id, confirmed=True),
    ]
    for device in devices:
        allowed, _ = device.verify_is_allowed()
        if allowed and device.verify_token(code):
            if isinstance(device, StaticDevice):
                left = device.token_set.count()
                _audit(
                    user=user,
                    actor=None,
                    action=AuditRecord.Action.LOGIN,
                    message=f"second step passed with a recovery code ({left} left)",
                    remote_addr=remote_addr,
                    user_agent=user_agent,
                )
            return device
    record_failed_second_step(
        user_id=user_id, what="code", remote_addr=remote_addr, user_agent=user_agent
    )
    return None


def record_failed_second_step(
    *, user_id: int, what: str, remote_addr: str | None = None, user_agent: str = ""
) -> AuditRecord:
    """Audit a refused second step (``what``: "code" or "security key") as a failed logon."""
    return _audit(
        user=User.objects.get(pk=user_id),
        actor=None,
        action=AuditRecord.Action.LOGIN_FAILED,
        message=f"wrong second-factor {what}",
        remote_addr=remote_addr,
        user_agent=user_agent,
    )


def provisioning_uri(device: TOTPDevice) -> str:
    """The otpauth:// URI an authenticator app scans (issuer: TRACKER_MFA_ISSUER)."""
    return str(device.config_url)
