from django.contrib.auth import views as auth_views
from django.urls import path

from devices import sso_views, views

urlpatterns = [
    path("login/", sso_views.LoginPage.as_view(), name="login"),
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

# Single sign-on with OpenID Connect: devices/sso_views.py.
urlpatterns += [
    path("sso/login/", sso_views.sso_begin, name="sso_begin"),
    path("sso/callback/", sso_views.sso_callback, name="sso_callback"),
]

# Bulk edits (preview → confirm) and asset labels of the list's selection: devices/bulk_views.py.
from devices import bulk_views  # noqa: E402

urlpatterns += [
    path("devices/bulk/", bulk_views.device_bulk_preview, name="device_bulk_preview"),
    path("devices/bulk/apply/", bulk_views.device_bulk_apply, name="device_bulk_apply"),
    path("devices/labels/", bulk_views.device_labels, name="device_labels"),
]

# Daily inventory work (add and edit a device, check-out and check-in, officers, scan to
# find): devices/inventory_views.py.
from devices import inventory_views  # noqa: E402

urlpatterns += [
    path("devices/new/", inventory_views.device_create, name="device_create"),
    path("devices/scan/", inventory_views.scan, name="device_scan"),
    path("devices/<int:pk>/edit/", inventory_views.device_edit, name="device_edit"),
    path("devices/<int:pk>/checkout/", inventory_views.device_checkout, name="device_checkout"),
    path("devices/<int:pk>/checkin/", inventory_views.device_checkin, name="device_checkin"),
    path("officers/", inventory_views.officer_list, name="officer_list"),
    path("officers/<int:pk>/", inventory_views.officer_detail, name="officer_detail"),
]

# Setup pages (agencies, cabinets, the catalog, gateway edits): devices/setup_views.py.
from devices import setup_views  # noqa: E402

# First, so "new" is not taken for an agency's slug by agencies/<slug>/ above.
urlpatterns.insert(0, path("agencies/new/", setup_views.agency_create, name="agency_create"))
urlpatterns += [
    path("agencies/<slug:slug>/edit/", setup_views.agency_edit, name="agency_edit"),
    path("cabinets/", setup_views.cabinet_list, name="cabinet_list"),
    path("cabinets/<slug:slug>/edit/", setup_views.cabinet_edit, name="cabinet_edit"),
    path("catalog/", setup_views.catalog_list, name="catalog_list"),
    path("catalog/new/", setup_views.catalog_edit, name="catalog_create"),
    path("catalog/<int:pk>/edit/", setup_views.catalog_edit, name="catalog_edit"),
    path("gateways/<int:pk>/edit/", setup_views.gateway_edit, name="gateway_edit"),
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
