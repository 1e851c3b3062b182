from django.contrib.auth import views as auth_views
from django.urls import path

from devices import views

urlpatterns = [
    path(
        "login/",
        auth_views.LoginView.as_view(template_name="registration/login.html"),
        name="login",
    ),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("", views.home, name="home"),
    path("devices/", views.device_list, name="device_list"),
    path("devices/<int:pk>/", views.device_detail, name="device_detail"),
    path("devices/<int:pk>/status/", views.device_change_status, name="device_change_status"),
    path("devices/<int:pk>/retire/", views.device_retire, name="device_retire"),
    path("agencies/", views.agency_list, name="agency_list"),
    path("agencies/<slug:slug>/", views.agency_detail, name="agency_detail"),
    path("gateways/", views.gateway_list, name="gateway_list"),
    path("gateways/<int:pk>/credential/", views.gateway_rotate, name="gateway_rotate"),
    path("audit/", views.audit_list, name="audit_list"),
]

# "Your sessions": devices/session_views.py.
from devices import session_views  # noqa: E402

urlpatterns += [
    path("account/sessions/", session_views.session_list, name="session_list"),
    path("account/sessions/<int:pk>/end/", session_views.session_end, name="session_end"),
]

# Bulk import (upload → preview → confirm) and export downloads: devices/transfer_views.py.
from devices import transfer_views  # noqa: E402

urlpatterns += [
    path("devices/import/", transfer_views.device_import, name="device_import"),
    path(
        "devices/import/<str:token>/",
        transfer_views.device_import_preview,
        name="device_import_preview",
    ),
    path(
        "devices/import/<str:token>/confirm/",
        transfer_views.device_import_confirm,
        name="device_import_confirm",
    ),
    path(
        "devices/import/<str:token>/cancel/",
        transfer_views.device_import_cancel,
        name="device_import_cancel",
    ),
    path("devices/export/", transfer_views.device_export, name="device_export"),
]

# User administration and invitations: devices/user_views.py.
from devices import user_views  # noqa: E402

urlpatterns += [
    path("users/", user_views.user_list, name="user_list"),
    path("users/invite/", user_views.user_invite, name="user_invite"),
    path("users/<int:pk>/", user_views.user_detail, name="user_detail"),
    path("users/<int:pk>/role/", user_views.user_change_role, name="user_change_role"),
    path("users/<int:pk>/deactivate/", user_views.user_deactivate, name="user_deactivate"),
    path("users/<int:pk>/reactivate/", user_views.user_reactivate, name="user_reactivate"),
    path(
        "users/invitations/<int:pk>/revoke/",
        user_views.invitation_revoke,
        name="invitation_revoke",
    ),
    path(
        "accounts/invitation/<str:token>/",
        user_views.invitation_accept,
        name="invitation_accept",
    ),
]

# Two-factor sign-in: devices/mfa_views.py; WebAuthn ceremonies: devices/webauthn.py.
from devices import mfa_views  # noqa: E402

urlpatterns += [
    path("account/security/", mfa_views.security, name="mfa_security"),
    path("account/security/totp/", mfa_views.totp_enrol, name="mfa_totp"),
    path("account/security/recovery-codes/", mfa_views.recovery_codes, name="mfa_recovery_codes"),
    path("account/security/remove/", mfa_views.factor_remove, name="mfa_remove"),
    path("account/verify/", mfa_views.verify, name="mfa_verify"),
    path("users/<int:pk>/mfa-reset/", mfa_views.user_mfa_reset, name="user_mfa_reset"),
]
