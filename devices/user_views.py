"""User administration pages and the invitation acceptance page (thin: `devices.scoping`
decides who may, `devices.users` changes). Every form works without JavaScript."""

from __future__ import annotations

from typing import Any, cast

from django import forms
from django.conf import settings
from django.contrib import messages
from django.contrib.auth import login
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views.decorators.http import require_POST

from config.errors import DomainError, InvalidInput
from config.proxies import client_address
from config.typing import AuthedRequest
from devices import scoping, sso, users
from devices.forms import set_choices
from devices.models import User

NO_AGENCY = ""


class GrantForm(forms.Form):
    """A role and an agency, offering only what the actor may grant."""

    role = forms.ChoiceField(label="Role")
    agency = forms.ChoiceField(label="Agency", required=False)

    def __init__(self, *args: Any, actor: User, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        labels = dict(User.Role.choices)
        set_choices(self, "role", [(r, labels[r]) for r in scoping.grantable_roles(actor)])
        agencies: list[tuple[int | str, str]] = list(
            scoping.visible_agencies(actor).values_list("pk", "name")
        )
        if actor.is_state_staff:
            agencies.insert(0, (NO_AGENCY, "None (state staff)"))
        # Form.fields is typed as plain Field; "agency" is a ChoiceField by declaration.
        cast(forms.ChoiceField, self.fields["agency"]).choices = agencies

    def agency_id(self) -> int | None:
        value = self.cleaned_data["agency"]
        return int(value) if value else None


class InviteForm(GrantForm):
    email = forms.EmailField(label="E-mail")
    username = forms.CharField(
        label="Username (optional)",
        required=False,
        max_length=150,
        help_text="Leave empty to let the person choose.",
    )

    field_order = ["email", "role", "agency", "username"]


class AcceptForm(forms.Form):
    username = forms.CharField(label="Username", max_length=150)
    password = forms.CharField(
        label="Password", widget=forms.PasswordInput(attrs={"autocomplete": "new-password"})
    )


def _manager(request: AuthedRequest) -> User:
    scoping.require_user_manager(request.user)
    return request.user


def _target(request: AuthedRequest, pk: int) -> User:
    return scoping.get_visible_or_404(scoping.visible_users(_manager(request)), pk=pk)


@login_required
def user_list(request: AuthedRequest) -> HttpResponse:
    """Accounts the actor manages, open invitations, and the invitation form."""
    actor = _manager(request)
    accounts = list(scoping.visible_users(actor).order_by("username", "id"))
    with_mfa = users.mfa_enabled_ids([u.pk for u in accounts])
    invitations = scoping.visible_invitations(actor).filter(accepted_at=None, revoked_at=None)
    initial = {"agency": actor.agency_id or NO_AGENCY, "role": User.Role.AGENCY_VIEWER}
    context = {
        "rows": [(u, u.pk in with_mfa) for u in accounts],
        "invitations": [(i, users.invitation_status(i, now=timezone.now())) for i in invitations],
        "form": InviteForm(actor=actor, initial=initial),
    }
    return render(request, "devices/user_list.html", context)


@login_required
@require_POST
def user_invite(request: AuthedRequest) -> HttpResponse:
    actor = _manager(request)
    form = InviteForm(request.POST, actor=actor)
    if not form.is_valid():
        messages.error(request, _form_problems(form))
        return redirect("user_list")
    try:
        scoping.require_grantable(actor, role=form.cleaned_data["role"], agency_id=form.agency_id())
        invitation, _ = users.invite_user(
            actor=actor,
            email=form.cleaned_data["email"],
            role=form.cleaned_data["role"],
            agency_id=form.agency_id(),
            username=form.cleaned_data["username"],
            now=timezone.now(),
            remote_addr=client_address(request),
        )
        messages.success(request, f"Invitation sent to {invitation.email}.")
    except DomainError as exc:
        messages.error(request, exc.message)
    return redirect("user_list")


def _form_problems(form: forms.Form) -> str:
    return " ".join(
        f"{form.fields[f].label if f in form.fields else ''}: {' '.join(str(m) for m in e)}"
        for f, e in form.errors.items()
    )


@login_required
def user_detail(request: AuthedRequest, pk: int) -> HttpResponse:
    """One account: role, agency, last login, MFA; change, deactivate; its audit history."""
    target = _target(request, pk)
    history = scoping.visible_audit(request.user).filter(
        object_type="user", object_id=str(target.pk)
    )[:50]
    initial = {"role": target.role, "agency": target.agency_id or NO_AGENCY}
    context = {
        "target": target,
        "has_mfa": target.pk in users.mfa_enabled_ids([target.pk]),
        "is_self": target.pk == request.user.pk,
        "form": GrantForm(actor=request.user, initial=initial),
        "history": history,
    }
    return render(request, "devices/user_detail.html", context)


@login_required
@require_POST
def user_change_role(request: AuthedRequest, pk: int) -> HttpResponse:
    target = _target(request, pk)
    form = GrantForm(request.POST, actor=request.user)
    if not form.is_valid():
        messages.error(request, _form_problems(form))
        return redirect("user_detail", pk=pk)
    scoping.require_not_self(request.user, target.pk)
    role, agency_id = form.cleaned_data["role"], form.agency_id()
    if role == User.Role.STATE_STAFF:
        agency_id = None  # state staff belong to no agency, whatever the list showed
    elif agency_id is None:
        agency_id = target.agency_id  # left empty: the agency stays
    try:
        scoping.require_grantable(request.user, role=role, agency_id=agency_id)
        users.change_user_role(
            actor=request.user,
            user_id=target.pk,
            role=role,
            agency_id=agency_id,
            remote_addr=client_address(request),
        )
        messages.success(request, f"{target.username}'s role is saved.")
    except DomainError as exc:
        messages.error(request, exc.message)
    return redirect("user_detail", pk=pk)


@login_required
@require_POST
def user_deactivate(request: AuthedRequest, pk: int) -> HttpResponse:
    target = _target(request, pk)
    scoping.require_not_self(request.user, target.pk)
    users.deactivate_user(
        actor=request.user,
        user_id=target.pk,
        now=timezone.now(),
        remote_addr=client_address(request),
    )
    messages.success(request, f"{target.username} is deactivated: sessions and tokens ended.")
    return redirect("user_detail", pk=pk)


@login_required
@require_POST
def user_reactivate(request: AuthedRequest, pk: int) -> HttpResponse:
    target = _target(request, pk)
    scoping.require_not_self(request.user, target.pk)
    users.reactivate_user(
        actor=request.user, user_id=target.pk, remote_addr=client_address(request)
    )
    messages.success(request, f"{target.username} can log in again (old API tokens stay revoked).")
    return redirect("user_detail", pk=pk)


@login_required
@require_POST
def invitation_revoke(request: AuthedRequest, pk: int) -> HttpResponse:
    actor = _manager(request)
    invitation = scoping.get_visible_or_404(scoping.visible_invitations(actor), pk=pk)
    try:
        users.revoke_invitation(
            actor=actor,
            invitation_id=invitation.pk,
            now=timezone.now(),
            remote_addr=client_address(request),
        )
        messages.success(request, f"The invitation of {invitation.email} is withdrawn.")
    except DomainError as exc:
        messages.error(request, exc.message)
    return redirect("user_list")


def invitation_accept(request: HttpRequest, token: str) -> HttpResponse:
    """The e-mailed link: choose a username (unless pre-set) and a password, then go home."""
    try:
        invitation = users.check_invitation(token, now=timezone.now())
    except DomainError as exc:
        return render(
            request, "accounts/invitation_invalid.html", {"message": exc.message}, status=exc.status
        )
    form = AcceptForm(request.POST or None, initial={"username": invitation.username})
    if invitation.username:
        form.fields["username"].disabled = True  # chosen by the administrator who invited
    with_password = sso.password_login_allowed()
    if not with_password:
        del form.fields["password"]  # sign-in is through single sign-on only
    if request.method == "POST" and form.is_valid():
        try:
            user = users.accept_invitation(
                token=token,
                username=form.cleaned_data["username"],
                password=form.cleaned_data["password"] if with_password else None,
                now=timezone.now(),
                remote_addr=client_address(request),
            )
        except InvalidInput as exc:
            form.add_error(exc.field if exc.field in form.fields else None, exc.message)
        except DomainError as exc:
            if exc.field in form.fields:
                form.add_error(exc.field, exc.message)
            else:
                return render(
                    request,
                    "accounts/invitation_invalid.html",
                    {"message": exc.message},
                    status=exc.status,
                )
        else:
            if not with_password:
                # The invitation makes the account; signing in is the provider's, with its
                # own factors, never the e-mailed link's.
                messages.success(
                    request,
                    f"Your account {user.get_username()} is ready: sign in with "
                    f"{settings.TRACKER_OIDC_PROVIDER_NAME}, with the e-mail address {user.email}.",
                )
                return redirect("login")
            login(request, user, backend="django.contrib.auth.backends.ModelBackend")
            # When two-factor sign-in is required, devices.mfa_middleware sends the new user
            # to enrol a factor before home.
            return redirect("home")
    return render(
        request,
        "accounts/invitation.html",
        {
            "form": form,
            "invitation": invitation,
            "with_password": with_password,
            "provider": None if with_password else settings.TRACKER_OIDC_PROVIDER_NAME,
        },
    )
