"""One settings module, driven by the environment.

Every default is the embedded, single-machine default (SQLite, the project's own MQTT
broker, Celery on the filesystem transport), so a fresh checkout runs with no servers.
Production sets DATABASE_URL, MQTT_URL and CELERY_BROKER_URL and a real DJANGO_SECRET_KEY;
DJANGO_DEBUG is off unless set (`make run` turns it on for the demo). Importing this module
refuses only values it cannot read; config/production.py lists what a production start
refuses (the shipped secret, DEBUG on, a wildcard host, MQTT TLS files that do not load).
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import json
import os
import ssl
from decimal import Decimal, InvalidOperation
from pathlib import Path
from urllib.parse import urlsplit

import dj_database_url
import plotly
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = Path(os.environ.get("TRACKER_VAR_DIR", BASE_DIR / "var"))

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off", ""}


def env(name: str, default: str = "") -> str:
    """A string setting; NAME_FILE (a path) wins over NAME, for container secrets."""
    file_path = os.environ.get(f"{name}_FILE")
    if file_path:
        try:
            return Path(file_path).read_text().strip()
        except (OSError, UnicodeDecodeError) as exc:
            reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else "not text"
            raise ImproperlyConfigured(
                f"{name}_FILE={file_path!r}: cannot read it ({reason})"
            ) from exc
    return os.environ.get(name, default)


def env_bool(name: str, default: bool) -> bool:
    """A boolean setting; an unknown spelling is an error, not a silent False."""
    raw = env(name, "true" if default else "false").strip().lower()
    if raw in _TRUE:
        return True
    if raw in _FALSE:
        return False
    raise ImproperlyConfigured(f"{name}={raw!r}: use true or false")


def env_int(name: str, default: int) -> int:
    raw = env(name, str(default))
    try:
        return int(raw)
    except ValueError as exc:
        raise ImproperlyConfigured(f"{name}={raw!r}: expected a whole number") from exc


def env_list(name: str, default: str) -> list[str]:
    return [item.strip() for item in env(name, default).split(",") if item.strip()]


def env_share(name: str, default: float) -> float:
    """A share between 0 and 1 (0.1 is 10%)."""
    raw = env(name, str(default))
    try:
        value = float(raw)
    except ValueError:
        value = -1.0
    if not 0 <= value <= 1:
        raise ImproperlyConfigured(f"{name}={raw!r}: expected a share between 0 and 1")
    return value


def env_usd(name: str, default: str) -> Decimal:
    """An amount in USD, zero or more; Decimal, so costs add up to the cent."""
    raw = env(name, default)
    try:
        value = Decimal(raw)
    except InvalidOperation:
        value = Decimal(-1)
    if not value.is_finite() or value < 0:
        raise ImproperlyConfigured(f"{name}={raw!r}: expected an amount in USD, zero or more")
    return value


def env_networks(name: str, default: str) -> list[str]:
    """Comma-separated CIDRs (``10.0.0.0/8,::1/128``); a bad one is an error naming it."""
    networks = env_list(name, default)
    for cidr in networks:
        try:
            ipaddress.ip_network(cidr, strict=False)
        except ValueError as exc:
            raise ImproperlyConfigured(f"{name}: {cidr!r} is not an address or CIDR") from exc
    return networks


def env_ca_file(name: str) -> str:
    """A PEM file of CA certificates, loaded once here: a bad file stops the start, not a send."""
    path = env(name, "")
    if path:
        try:
            ssl.create_default_context(cafile=path)
        except OSError as exc:  # ssl.SSLError included: the file holds no certificate
            raise ImproperlyConfigured(
                f"{name}={path!r}: not a readable PEM CA file ({exc})"
            ) from exc
    return path


def env_cache(name: str) -> dict[str, dict[str, str]]:
    """CACHES from a URL: ``redis://host:6379/1`` (shared by every process), or empty for
    each process's own memory (the demo and the tests)."""
    url = env(name, "").strip()
    if not url:
        return {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
    if urlsplit(url).scheme not in ("redis", "rediss", "unix"):
        raise ImproperlyConfigured(
            f"{name}={url!r}: expected a Redis URL such as redis://127.0.0.1:6379/1"
        )
    return {"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": url}}


def env_origin(name: str, default: str) -> str:
    """A site's scheme and host (``https://tracker.example.gov``), without a trailing slash."""
    raw = env(name, default).strip().rstrip("/")
    parts = urlsplit(raw)
    if parts.scheme not in ("http", "https") or not parts.netloc or parts.path or parts.query:
        raise ImproperlyConfigured(
            f"{name}={raw!r}: expected a scheme and host only, like https://tracker.example.gov"
        )
    return raw


INSECURE_DEFAULT_SECRET = "insecure-local-development-key-change-me"  # noqa: S105

DEBUG = env_bool("DJANGO_DEBUG", False)
SECRET_KEY = env("DJANGO_SECRET_KEY", INSECURE_DEFAULT_SECRET)
# Previous keys, whitespace-separated (one a line in a _FILE): sessions and signed links made
# under them stay valid while a rotation settles (docs/production.md, "Rotating secrets").
SECRET_KEY_FALLBACKS = env("DJANGO_SECRET_KEY_FALLBACKS").split()
ALLOWED_HOSTS = env_list("DJANGO_ALLOWED_HOSTS", "127.0.0.1,localhost,[::1],testserver")
CSRF_TRUSTED_ORIGINS = env_list("DJANGO_CSRF_TRUSTED_ORIGINS", "")

# X-Forwarded-For is believed only from these proxies (CIDRs): config/proxies.py.
TRUSTED_PROXIES = env_networks("DJANGO_TRUSTED_PROXIES", "")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django_htmx",
    "ninja",
    "axes",
    # Two-factor sign-in (devices/mfa.py): django-otp's TOTP and recovery codes, and
    # WebAuthn passkeys and security keys as django-otp devices.
    "django_otp",
    "django_otp.plugins.otp_totp",
    "django_otp.plugins.otp_static",
    "django_otp_webauthn",
    "devices",
    "telemetry",
    "readiness",
]

MIDDLEWARE = [
    "config.proxies.TrustedProxyMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "config.middleware.SecurityHeadersMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "config.middleware.RejectNulCharactersMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    # request.user.is_verified(): True once the session passed a second factor.
    "django_otp.middleware.OTPMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    # After authentication: ends idle and over-age sessions (devices/sessions.py).
    "devices.sessions.SessionLimitMiddleware",
    # After the session checks: the second step, or enrolment, before anything else.
    "devices.mfa_middleware.SecondFactorMiddleware",
    # Last, as django-axes asks: turns a refused login into the locked-out page.
    "axes.middleware.AxesMiddleware",
]

# django-axes first: a locked-out name or address is refused before any password is checked.
# ModelBackend runs the hasher for unknown usernames too, so timing does not tell them apart.
# devices.sso's gate before it refuses every password while local accounts are turned off.
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "devices.sso.LocalLoginGate",
    "django.contrib.auth.backends.ModelBackend",
]

ROOT_URLCONF = "config.urls"
WSGI_APPLICATION = "config.wsgi.application"
AUTH_USER_MODEL = "devices.User"
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "login"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "config.context_processors.page_meta",
            ],
        },
    },
]

VAR_DIR.mkdir(parents=True, exist_ok=True)
DATABASE_URL = env("DATABASE_URL", f"sqlite:///{VAR_DIR / 'tracker.sqlite3'}")
DATABASES = {"default": dj_database_url.parse(DATABASE_URL, conn_max_age=60)}
# Per-token API rates, sign-in throttles and the shared "fleet now" figures count in the
# cache: with several web processes only a shared one (Redis) makes them site-wide.
CACHES = env_cache("TRACKER_CACHE_URL")
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # WAL lets the web process read while the ingest writes; the timeout rides out
    # the short write locks of a batch commit instead of failing with "database is locked".
    DATABASES["default"]["CONN_MAX_AGE"] = 0
    DATABASES["default"]["OPTIONS"] = {
        "timeout": 30,
        "transaction_mode": "IMMEDIATE",
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
    }
else:
    DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# NIST SP 800-63B: length over composition. At least 12 characters, no common or
# user-derived ones, nothing all digits; no "one capital and one symbol" rules and no forced
# periodic change (both push people to predictable passwords). No upper bound either (NIST
# asks for at least 64 characters): a long passphrase always fits. Django's own validators,
# so whatever sets a password later (accounts, invitations) applies the same list.
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {
        "NAME": "django.contrib.auth.password_validation.MinimumLengthValidator",
        "OPTIONS": {"min_length": 12},
    },
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

# API tokens: the lifetime a new token gets unless asked otherwise, and the longest one
# allowed (days). devices.auth.token_expiry applies both.
TRACKER_TOKEN_DEFAULT_DAYS = env_int("TRACKER_TOKEN_DEFAULT_DAYS", 90)
# Seconds the dashboards' "fleet now" section (devices, online, open alerts, the mix) is
# shared between viewers of one scope before it is counted again; it shows when it was counted.
TRACKER_LIVE_FIGURES_SECONDS = env_int("TRACKER_LIVE_FIGURES_SECONDS", 10)
# Minutes between evaluations of record (readiness.evaluations): "now" on every page, the
# API and briefings is the latest one, so they all show the same figures.
TRACKER_EVALUATION_MINUTES = env_int("TRACKER_EVALUATION_MINUTES", 15)
if TRACKER_EVALUATION_MINUTES < 1:
    raise ImproperlyConfigured(
        f"TRACKER_EVALUATION_MINUTES={TRACKER_EVALUATION_MINUTES}: at least 1"
    )
TRACKER_TOKEN_MAX_DAYS = env_int("TRACKER_TOKEN_MAX_DAYS", 365)
if not 1 <= TRACKER_TOKEN_DEFAULT_DAYS <= TRACKER_TOKEN_MAX_DAYS:
    raise ImproperlyConfigured(
        f"TRACKER_TOKEN_DEFAULT_DAYS={TRACKER_TOKEN_DEFAULT_DAYS} must be between 1 and "
        f"TRACKER_TOKEN_MAX_DAYS={TRACKER_TOKEN_MAX_DAYS}"
    )

# User invitations: how long the e-mailed one-time link works (devices.users.invite_user).
TRACKER_INVITATION_HOURS = env_int("TRACKER_INVITATION_HOURS", 72)
if TRACKER_INVITATION_HOURS < 1:
    raise ImproperlyConfigured(f"TRACKER_INVITATION_HOURS={TRACKER_INVITATION_HOURS}: at least 1")

# Sign-in (CJIS 5.5.3): TRACKER_LOCKOUT_FAILURES consecutive failures lock the username for
# TRACKER_LOCKOUT_MINUTES, counted by django-axes. Each username and each client address
# is counted on its own ([["username"], ["ip_address"]]): a guesser cycling usernames from
# one address is stopped as surely as one guessing a single password, at the cost that a
# busy shared NAT can lock itself for the same few minutes. A name that does not exist
# locks the same way, so the locked page tells nothing about which accounts exist.
TRACKER_LOCKOUT_FAILURES = env_int("TRACKER_LOCKOUT_FAILURES", 5)
TRACKER_LOCKOUT_MINUTES = env_int("TRACKER_LOCKOUT_MINUTES", 10)
AXES_FAILURE_LIMIT = TRACKER_LOCKOUT_FAILURES
AXES_COOLOFF_TIME = dt.timedelta(minutes=TRACKER_LOCKOUT_MINUTES)
AXES_LOCKOUT_PARAMETERS = [["username"], ["ip_address"]]
AXES_RESET_ON_SUCCESS = True  # "consecutive": a good password clears the count
# A lock lasts its ten minutes from the fifth failure; trying during it does not extend it
# (each try is still audited as a failed logon).
AXES_RESET_COOL_OFF_ON_FAILURE_DURING_LOCKOUT = False
# The address behind the site's own proxies (config/proxies.py), as the audit log has it.
AXES_CLIENT_IP_CALLABLE = "config.proxies.client_address"
AXES_LOCKOUT_CALLABLE = "devices.lockout.lockout_response"
AXES_VERBOSE = False

# Sessions: ended after TRACKER_SESSION_IDLE_MINUTES without a request and, whatever the
# activity, TRACKER_SESSION_MAX_HOURS after the logon (devices/sessions.py).
TRACKER_SESSION_IDLE_MINUTES = env_int("TRACKER_SESSION_IDLE_MINUTES", 30)
TRACKER_SESSION_MAX_HOURS = env_int("TRACKER_SESSION_MAX_HOURS", 12)
SESSION_COOKIE_AGE = TRACKER_SESSION_MAX_HOURS * 3600

# Two-factor sign-in (CJIS 5.6.2.2): a signed-in user without a confirmed factor is sent to
# enrol before anything else (devices/mfa_middleware.py). On unless turned off; `make run`
# turns it off for the demo and config/production.py warns when a production start has it off.
# A user who has a factor always passes the second step, whatever this says.
TRACKER_MFA_REQUIRED = env_bool("TRACKER_MFA_REQUIRED", True)
# The name authenticator apps and passkey prompts show.
TRACKER_MFA_ISSUER = "Device Readiness Tracker"
OTP_TOTP_ISSUER = TRACKER_MFA_ISSUER
# WebAuthn relying party: its id is the site's domain (credentials are bound to it); empty
# means the host the request came to, which suits one site name per deployment.
TRACKER_WEBAUTHN_RP_ID = env("TRACKER_WEBAUTHN_RP_ID", "")
OTP_WEBAUTHN_RP_ID_CALLABLE = "devices.webauthn.relying_party_id"
OTP_WEBAUTHN_RP_NAME = TRACKER_MFA_ISSUER
OTP_WEBAUTHN_HELPER_CLASS = "devices.webauthn.WebAuthnHelper"
# A passkey is a second factor here, after the password, never a login on its own.
OTP_WEBAUTHN_ALLOW_PASSWORDLESS_LOGIN = False

LANGUAGE_CODE = "en-us"
TIME_ZONE = env("TRACKER_TIME_ZONE", "America/New_York")
USE_I18N = True
USE_TZ = True

STATIC_URL = "/static/"
# `manage.py collectstatic` writes here; whitenoise serves it in production.
STATIC_ROOT = Path(env("TRACKER_STATIC_ROOT", str(VAR_DIR / "static")))
STATIC_ROOT.mkdir(parents=True, exist_ok=True)  # whitenoise warns on every start without it
# plotly.js comes from the plotly wheel itself: served locally, never from a CDN.
STATICFILES_DIRS = [
    BASE_DIR / "static",
    ("vendor/plotly", Path(plotly.__file__).parent / "package_data"),
]
MEDIA_ROOT = Path(env("TRACKER_MEDIA_ROOT", str(VAR_DIR / "media")))
# Hashed, compressed names (cached for a year by browsers and the proxy) need `collectstatic`
# first; the demo and the test suite serve the source folders under plain names instead. Its
# own switch, not DEBUG itself: pytest-django turns DEBUG off after settings are read.
TRACKER_STATIC_MANIFEST = env_bool("TRACKER_STATIC_MANIFEST", not DEBUG)
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"
        if TRACKER_STATIC_MANIFEST
        else "django.contrib.staticfiles.storage.StaticFilesStorage"
    },
}
DATA_UPLOAD_MAX_MEMORY_SIZE = 50 * 1024 * 1024  # bulk imports of 100,000 rows

# Security: strict by default outside DEBUG so `check --deploy` passes with production values.
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SECURE = not DEBUG
CSRF_COOKIE_SECURE = not DEBUG
SECURE_SSL_REDIRECT = env_bool("DJANGO_SECURE_SSL_REDIRECT", not DEBUG)
SECURE_HSTS_SECONDS = env_int("DJANGO_HSTS_SECONDS", 0 if DEBUG else 31536000)
SECURE_HSTS_INCLUDE_SUBDOMAINS = not DEBUG
SECURE_HSTS_PRELOAD = not DEBUG
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
# /healthz and /readyz answer plain HTTP from a load balancer inside the network.
SECURE_REDIRECT_EXEMPT = [r"^healthz$", r"^readyz$", r"^metrics$"]
# Every response, in the demo as in production (config/middleware.py): no inline script may
# run. Styles allow 'unsafe-inline' because plotly.js and HTMX set style attributes and add
# <style> rules at run time; that lets injected markup restyle a page, not run code.
CONTENT_SECURITY_POLICY = "; ".join(
    [
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self' 'unsafe-inline'",
        "img-src 'self' data: blob:",
        "font-src 'self' data:",
        "connect-src 'self'",
        "object-src 'none'",
        "base-uri 'self'",
        "frame-ancestors 'none'",
        "form-action 'self'",
    ]
)
# Browser features no page uses, denied to the site and anything it might embed; WebAuthn
# sign-in (publickey-credentials-get) is the site's own and only its own.
PERMISSIONS_POLICY = (
    "accelerometer=(), autoplay=(), bluetooth=(), camera=(), display-capture=(), "
    "geolocation=(), gyroscope=(), hid=(), magnetometer=(), microphone=(), midi=(), "
    "payment=(), publickey-credentials-get=(self), serial=(), usb=(), xr-spatial-tracking=()"
)

# /metrics answers a bearer token (Prometheus' `authorization` block) or these networks.
TRACKER_METRICS_TOKEN = env("TRACKER_METRICS_TOKEN", "")
TRACKER_METRICS_NETWORKS = env_networks("TRACKER_METRICS_NETWORKS", "127.0.0.1/32,::1/128")

# MQTT: unset means the embedded broker that `make run` starts on this loopback port.
MQTT_EMBEDDED_PORT = env_int("MQTT_EMBEDDED_PORT", 18830)
MQTT_URL = env("MQTT_URL", f"mqtt://127.0.0.1:{MQTT_EMBEDDED_PORT}")
MQTT_CLIENT_ID = env("MQTT_CLIENT_ID", "tracker-ingest")
MQTT_TOPIC_ROOT = env("MQTT_TOPIC_ROOT", "tracker/v1")
# The embedded broker's MQTT 3.1.1 listener, beside its MQTT 5 one (rumqttd speaks one
# version per listener).
MQTT_EMBEDDED_V311_PORT = env_int("MQTT_EMBEDDED_V311_PORT", 18831)
# mqtts:// (paths, not contents): the CA that signed the broker's certificate (empty: the
# system's CA bundle), and a client certificate and key for a broker that authenticates the
# ingest by certificate. telemetry.mqtt.mqtt_tls_context checks them.
MQTT_CA_FILE = env("MQTT_CA_FILE")
MQTT_CLIENT_CERT_FILE = env("MQTT_CLIENT_CERT_FILE")
MQTT_CLIENT_KEY_FILE = env("MQTT_CLIENT_KEY_FILE")

# Health thresholds (a device breaking one has a "problem" with a readable reason).
HEALTH_BATTERY_MIN_PCT = float(env("HEALTH_BATTERY_MIN_PCT", "15"))
HEALTH_STORAGE_MAX_PCT = float(env("HEALTH_STORAGE_MAX_PCT", "90"))
HEALTH_RSRP_MIN_DBM = float(env("HEALTH_RSRP_MIN_DBM", "-110"))
HEALTH_FIRMWARE_MAX_AGE_DAYS = env_int("HEALTH_FIRMWARE_MAX_AGE_DAYS", 365)
# A gateway back from its Last Will gives its devices this long before they count as silent.
HEALTH_GATEWAY_RECONNECT_GRACE_S = env_int("HEALTH_GATEWAY_RECONNECT_GRACE_S", 300)
TELEMETRY_RETENTION_DAYS = env_int("TELEMETRY_RETENTION_DAYS", 90)
# A readings export of more rows than this is built by a worker, with progress and a link.
TELEMETRY_EXPORT_ASYNC_ROWS = env_int("TELEMETRY_EXPORT_ASYNC_ROWS", 200_000)

# Readiness: the most of an agency's applicable results that waivers may turn into "waived"
# (a share, 0.1 = 10%); a waiver that would pass it is refused.
READINESS_WAIVER_CEILING = env_share("READINESS_WAIVER_CEILING", 0.10)
# What-if and remediation plan: per-device cost in USD of the fixes that need no new hardware.
READINESS_FIRMWARE_UPDATE_COST_USD = env_usd("READINESS_FIRMWARE_UPDATE_COST_USD", "25")
# About half an hour of a technician's time.
READINESS_CONFIGURATION_FIX_COST_USD = env_usd("READINESS_CONFIGURATION_FIX_COST_USD", "40")
# Getting a device's telemetry right again (a silent device, a reading out of bounds).
READINESS_TELEMETRY_FIX_COST_USD = env_usd("READINESS_TELEMETRY_FIX_COST_USD", "40")

# Longest a Celery task may run before the Redis broker hands it to another worker.
TASK_VISIBILITY_TIMEOUT_S = env_int("TASK_VISIBILITY_TIMEOUT_S", 3600)

# Celery: unset means kombu's filesystem transport (a folder as the queue; no server).
CELERY_QUEUE_DIR = VAR_DIR / "celery"
CELERY_BROKER_URL = env("CELERY_BROKER_URL", "filesystem://")
CELERY_BROKER_TRANSPORT_OPTIONS: dict[str, object] = {}
if CELERY_BROKER_URL.startswith("filesystem://"):
    for sub in ("queue", "processed", "control"):
        (CELERY_QUEUE_DIR / sub).mkdir(parents=True, exist_ok=True)
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(CELERY_QUEUE_DIR / "queue"),
        "data_folder_out": str(CELERY_QUEUE_DIR / "queue"),
        "processed_folder": str(CELERY_QUEUE_DIR / "processed"),
        # Broadcast/pidbox state; kombu's default is a "control" folder in the working directory.
        "control_folder": str(CELERY_QUEUE_DIR / "control"),
        "store_processed": False,
    }
else:
    # A task killed with its worker comes back after the visibility timeout; a task still
    # running when it expires is delivered a second time. So it stays above the longest
    # task's hard limit (retention: 3,300 s; a test checks every task), and no retry
    # countdown may exceed it.
    CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": TASK_VISIBILITY_TIMEOUT_S}
CELERY_RESULT_BACKEND = None
CELERY_TASK_IGNORE_RESULT = True
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TASK_SERIALIZER = "json"
CELERY_RESULT_SERIALIZER = "json"
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_SOFT_TIME_LIMIT = 300
CELERY_TASK_TIME_LIMIT = 360
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_TIMEZONE = TIME_ZONE
CELERY_BEAT_SCHEDULE_FILENAME = str(VAR_DIR / "celerybeat-schedule")

# Outgoing e-mail (alert notifications). Without EMAIL_HOST it is printed on the console, which
# is what `make run` wants; with one it goes over SMTP through config.email.EmailBackend, which
# can trust a private CA.
EMAIL_HOST = env("EMAIL_HOST", "")
EMAIL_BACKEND = env(
    "EMAIL_BACKEND",
    "config.email.EmailBackend" if EMAIL_HOST else "django.core.mail.backends.console.EmailBackend",
)
# One variable for the connection's security, mapped to Django's two switches, so STARTTLS and
# implicit TLS can never both be on: starttls (a plain connection upgraded; port 587), tls (TLS
# from the first byte; port 465) or none (a relay on a trusted network; port 25).
EMAIL_SECURITY = env("EMAIL_SECURITY", "starttls").strip().lower()
_EMAIL_DEFAULT_PORTS = {"none": 25, "starttls": 587, "tls": 465}
if EMAIL_SECURITY not in _EMAIL_DEFAULT_PORTS:
    raise ImproperlyConfigured(f"EMAIL_SECURITY={EMAIL_SECURITY!r}: use starttls, tls or none")
for _switch in ("EMAIL_USE_TLS", "EMAIL_USE_SSL"):
    if env(_switch):
        raise ImproperlyConfigured(
            f"{_switch} is not read (it could be set together with the other): "
            "set EMAIL_SECURITY to starttls, tls or none"
        )
EMAIL_USE_TLS = EMAIL_SECURITY == "starttls"
EMAIL_USE_SSL = EMAIL_SECURITY == "tls"
EMAIL_PORT = env_int("EMAIL_PORT", _EMAIL_DEFAULT_PORTS[EMAIL_SECURITY])
EMAIL_HOST_USER = env("EMAIL_HOST_USER", "")
EMAIL_HOST_PASSWORD = env("EMAIL_HOST_PASSWORD", "")
if EMAIL_HOST_USER and not EMAIL_HOST_PASSWORD:
    # Django logs in only with both, and would otherwise send unauthenticated without a word.
    raise ImproperlyConfigured("EMAIL_HOST_USER is set but EMAIL_HOST_PASSWORD is empty")
if EMAIL_HOST_PASSWORD and EMAIL_SECURITY == "none":
    raise ImproperlyConfigured(
        "EMAIL_HOST_PASSWORD with EMAIL_SECURITY=none would cross the network in clear text: "
        "use starttls or tls"
    )
# Seconds; below the delivery task's 60 s soft time limit, so a server that stops answering is
# a recorded, retried failure rather than a task killed mid-send.
EMAIL_TIMEOUT = env_int("EMAIL_TIMEOUT", 20)
if not 0 < EMAIL_TIMEOUT < 60:
    raise ImproperlyConfigured(f"EMAIL_TIMEOUT={EMAIL_TIMEOUT}: expected 1 to 59 seconds")
# The CA that issued the SMTP server's certificate, when it is a private one (PEM); empty means
# the system's CAs. When set, only this CA is trusted for mail.
EMAIL_SSL_CAFILE = env_ca_file("EMAIL_SSL_CAFILE")
DEFAULT_FROM_EMAIL = env("DEFAULT_FROM_EMAIL", "tracker@localhost")
# The site's public address as people reach it (behind the proxy): links in e-mail are built
# from it, because a Celery worker has no request to take the host from.
TRACKER_BASE_URL = env_origin("TRACKER_BASE_URL", "http://127.0.0.1:8000")
# WebAuthn accepts the site's own address and the one a request came to (ALLOWED_HOSTS).
# Browsers allow it over https, or on localhost (an IP address is no relying party id): the
# demo's security keys work at http://localhost:8000, not at 127.0.0.1.
OTP_WEBAUTHN_ALLOWED_ORIGINS = (
    [TRACKER_BASE_URL]
    if TRACKER_BASE_URL.startswith(("https://", "http://localhost"))
    else ["http://localhost:8000"]
)

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": env("LOG_LEVEL", "INFO")},
    "loggers": {"django.db.backends": {"level": "WARNING"}},
}

# Single sign-on with OpenID Connect (devices/sso.py). On when TRACKER_OIDC_ISSUER is set:
# discovery at <issuer>/.well-known/openid-configuration, the client registered there
# (secret from TRACKER_OIDC_CLIENT_SECRET or TRACKER_OIDC_CLIENT_SECRET_FILE). The role and
# agency come from TRACKER_OIDC_ROLE_CLAIM's values through TRACKER_OIDC_GROUP_MAP, a JSON
# object {"<claim value>": {"role": "<role>", "agency": "<agency slug>"}} (state staff take
# no agency). TRACKER_LOCAL_LOGIN=off refuses passwords on the login page once SSO is on;
# API tokens are not sign-ins and keep working.
TRACKER_OIDC_ISSUER = env("TRACKER_OIDC_ISSUER").rstrip("/")
TRACKER_OIDC_CLIENT_ID = env("TRACKER_OIDC_CLIENT_ID")
TRACKER_OIDC_CLIENT_SECRET = env("TRACKER_OIDC_CLIENT_SECRET")
TRACKER_OIDC_SCOPES = env("TRACKER_OIDC_SCOPES", "openid email profile")
TRACKER_OIDC_ROLE_CLAIM = env("TRACKER_OIDC_ROLE_CLAIM", "groups")
TRACKER_OIDC_PROVIDER_NAME = env("TRACKER_OIDC_PROVIDER_NAME", "single sign-on")
TRACKER_OIDC_CREATE_USERS = env_bool("TRACKER_OIDC_CREATE_USERS", False)
TRACKER_LOCAL_LOGIN = env_bool("TRACKER_LOCAL_LOGIN", True)
# An SSO sign-in counts as two-factor when the ID token's `amr` shows a second factor
# (RFC 8176: "mfa", "mca", or two kinds of method); otherwise the person also passes the
# tracker's own second factor. On: count every SSO sign-in, for a provider that enforces MFA
# by policy but does not send `amr` (devices/sso.py, provider_did_mfa).
TRACKER_OIDC_TRUST_PROVIDER_MFA = env_bool("TRACKER_OIDC_TRUST_PROVIDER_MFA", False)


def env_group_map(name: str) -> dict[str, dict[str, str]]:
    """A JSON object {claim value: {"role": ..., "agency": slug}}; refused unless each entry
    names a role, and an agency exactly when the role is an agency one."""
    try:
        value = json.loads(env(name, "{}"))
    except ValueError as exc:
        raise ImproperlyConfigured(f"{name} is not JSON: {exc}") from exc
    agency_roles = ("agency_admin", "agency_viewer")
    ok = isinstance(value, dict) and all(
        isinstance(v, dict)
        and (
            (v.get("role") == "state_staff" and not v.get("agency"))
            or (v.get("role") in agency_roles and isinstance(v.get("agency"), str))
        )
        for v in value.values()
    )
    if not ok:
        raise ImproperlyConfigured(
            f'{name} must map each claim value to {{"role": "state_staff"}} or '
            '{"role": "agency_admin" | "agency_viewer", "agency": "<agency slug>"}'
        )
    return value


TRACKER_OIDC_GROUP_MAP = env_group_map("TRACKER_OIDC_GROUP_MAP")
if TRACKER_OIDC_ISSUER and not (TRACKER_OIDC_CLIENT_ID and TRACKER_OIDC_CLIENT_SECRET):
    raise ImproperlyConfigured(
        "TRACKER_OIDC_ISSUER is set: set TRACKER_OIDC_CLIENT_ID and TRACKER_OIDC_CLIENT_SECRET "
        "(or TRACKER_OIDC_CLIENT_SECRET_FILE) to the client registered at the provider"
    )

# API bearer tokens: requests allowed per token ("<n>/<second|minute|hour|day>"), counted in
# the cache (shared by every process when the cache is Redis). devices/throttling.py.
TRACKER_API_TOKEN_RATE = env("TRACKER_API_TOKEN_RATE", "600/minute")
