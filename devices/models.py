"""Inventory: agencies, the device catalog, devices, gateways, users and the audit log."""

from __future__ import annotations

from django.contrib.auth.models import AbstractUser
from django.db import models
from django.db.models import Q
from django.utils import timezone


class Cabinet(models.Model):
    """An executive-branch cabinet; its business relationship manager looks after its agencies."""

    slug = models.SlugField(max_length=64, unique=True)
    name = models.CharField(max_length=200, unique=True)
    brm = models.ForeignKey(
        "devices.User",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="cabinets",
        help_text="Business relationship manager (a state-side user).",
    )

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class AgencyKind(models.TextChoices):
    STATE_POLICE = "state_police", "State police"
    SHERIFF = "sheriff", "Sheriff"
    POLICE = "police", "Police"
    FIRE = "fire", "Fire"
    EMS = "ems", "EMS"
    EMERGENCY_MANAGEMENT = "emergency_management", "Emergency management"
    OTHER = "other", "Other"


class FirstNetStatus(models.TextChoices):
    NOT_ENGAGED = "not_engaged", "Not engaged"
    EVALUATING = "evaluating", "Evaluating"
    PILOT = "pilot", "Pilot"
    SUBSCRIBED = "subscribed", "Subscribed"
    DECLINED = "declined", "Declined"


class Agency(models.Model):
    """A public-safety agency: the tenant. Its users see only its own devices."""

    Kind = AgencyKind

    FirstNetStatus = FirstNetStatus

    slug = models.SlugField(max_length=64, unique=True)
    name = models.CharField(max_length=200)
    kind = models.CharField(max_length=32, choices=Kind.choices)
    cabinet = models.ForeignKey(Cabinet, on_delete=models.PROTECT, related_name="agencies")
    county = models.CharField(max_length=100, blank=True)
    ori = models.CharField("NCIC ORI", max_length=9, blank=True)
    firstnet_status = models.CharField(
        max_length=16, choices=FirstNetStatus.choices, default=FirstNetStatus.NOT_ENGAGED
    )
    firstnet_status_changed_on = models.DateField(default=timezone.localdate)
    created_at = models.DateTimeField(default=timezone.now, db_index=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name"]
        verbose_name_plural = "agencies"
        constraints = [
            models.CheckConstraint(
                condition=Q(kind__in=[c.value for c in AgencyKind]),
                name="devices_agency_kind_valid",
            ),
            models.CheckConstraint(
                condition=Q(firstnet_status__in=[c.value for c in FirstNetStatus]),
                name="devices_agency_firstnet_status_valid",
            ),
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def brm(self) -> User | None:
        return self.cabinet.brm


class FirstNetStatusChange(models.Model):
    """One change of an agency's FirstNet participation status, kept for the history."""

    agency = models.ForeignKey(Agency, on_delete=models.CASCADE, related_name="firstnet_changes")
    status = models.CharField(max_length=16, choices=Agency.FirstNetStatus.choices)
    changed_on = models.DateField()
    note = models.CharField(max_length=300, blank=True)

    class Meta:
        ordering = ["agency", "changed_on"]
        constraints = [
            models.UniqueConstraint(
                fields=["agency", "changed_on", "status"],
                name="devices_firstnet_change_unique_per_day",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.agency} → {self.status} on {self.changed_on}"


class User(AbstractUser):
    """A person or an API client. State staff see everything; agency roles see their agency."""

    class Role(models.TextChoices):
        STATE_STAFF = "state_staff", "State staff"
        AGENCY_ADMIN = "agency_admin", "Agency admin"
        AGENCY_VIEWER = "agency_viewer", "Agency viewer"

    role = models.CharField(max_length=16, choices=Role.choices, default=Role.AGENCY_VIEWER)
    agency = models.ForeignKey(
        Agency, on_delete=models.PROTECT, null=True, blank=True, related_name="users"
    )

    class Meta:
        constraints = [
            # An agency role without an agency would see nothing or, worse, be guessed at.
            models.CheckConstraint(
                condition=Q(role="state_staff", agency__isnull=True)
                | (Q(role__in=["agency_admin", "agency_viewer"]) & Q(agency__isnull=False)),
                name="devices_user_role_matches_agency",
            ),
        ]

    @property
    def is_state_staff(self) -> bool:
        return self.role == self.Role.STATE_STAFF

    @property
    def can_manage_inventory(self) -> bool:
        return self.role in (self.Role.STATE_STAFF, self.Role.AGENCY_ADMIN)


class ApiToken(models.Model):
    """A bearer token for the API. Only its SHA-256 is stored; the token is shown once."""

    class Scope(models.TextChoices):
        READ = "read", "Read"
        READ_WRITE = "read_write", "Read and write"

    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="api_tokens")
    name = models.CharField(max_length=100, default="api")
    prefix = models.CharField(max_length=12, help_text="First characters, to recognise a token.")
    key_hash = models.CharField(max_length=64, unique=True)
    # Read is the default: a leaked token that can only read does the least harm.
    scope = models.CharField(max_length=10, choices=Scope.choices, default=Scope.READ)
    created_at = models.DateTimeField(default=timezone.now)
    # No default: devices.auth.issue_token sets it from the request and the settings' bounds.
    expires_at = models.DateTimeField()
    last_used_at = models.DateTimeField(null=True, blank=True)
    last_used_ip = models.GenericIPAddressField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.CheckConstraint(
                condition=Q(expires_at__gt=models.F("created_at")),
                name="devices_apitoken_expires_after_created",
            ),
            models.CheckConstraint(
                condition=Q(scope__in=["read", "read_write"]),
                name="devices_apitoken_scope_in_choices",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.prefix}… ({self.user})"


class Invitation(models.Model):
    """An e-mailed, one-time offer of an account with a role; only the token's SHA-256 is kept."""

    email = models.EmailField(
        help_text="Stored lower-case, so one address has one open invitation."
    )
    username = models.CharField(
        max_length=150, blank=True, help_text="Pre-set username; empty lets the person choose."
    )
    role = models.CharField(max_length=16, choices=User.Role.choices)
    agency = models.ForeignKey(
        Agency, on_delete=models.PROTECT, null=True, blank=True, related_name="invitations"
    )
    invited_by = models.ForeignKey(
        User, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    token_hash = models.CharField(max_length=64, unique=True)
    created_at = models.DateTimeField(default=timezone.now)
    # No default: devices.users.invite_user sets it from TRACKER_INVITATION_HOURS.
    expires_at = models.DateTimeField()
    accepted_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)
    # The account the invitation became (null until accepted).
    user = models.ForeignKey(
        User, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            # The same rule as devices_user_role_matches_agency: the account it becomes must fit.
            models.CheckConstraint(
                condition=Q(role="state_staff", agency__isnull=True)
                | (Q(role__in=["agency_admin", "agency_viewer"]) & Q(agency__isnull=False)),
                name="devices_invitation_role_matches_agency",
            ),
            models.CheckConstraint(
                condition=Q(expires_at__gt=models.F("created_at")),
                name="devices_invitation_expires_after_created",
            ),
            # One open invitation per address: a second one would leave two live links to
            # two different roles. An expired one is closed (revoked_at) before a new one.
            models.UniqueConstraint(
                fields=["email"],
                condition=Q(accepted_at__isnull=True, revoked_at__isnull=True),
                name="devices_invitation_one_open_per_email",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.email} as {self.get_role_display()}"


class DeviceKind(models.TextChoices):
    BODY_CAMERA = "body_camera", "Body camera"
    IN_CAR_CAMERA = "in_car_camera", "In-car camera"
    SENSOR = "sensor", "Sensor"
    SMARTPHONE = "smartphone", "Smartphone"
    RUGGED_HANDHELD = "rugged_handheld", "Rugged handheld"
    MODEM = "modem", "Modem"
    IN_VEHICLE_ROUTER = "in_vehicle_router", "In-vehicle router"
    TABLET = "tablet", "Tablet"
    OTHER = "other", "Other"


class FirstNetProgram(models.TextChoices):
    # An open list, not an official definition of the programme labels.
    CERTIFIED = "certified", "FirstNet Certified"
    READY = "ready", "FirstNet Ready"
    CAPABLE = "capable", "FirstNet capable"
    NONE = "none", "None"
    UNKNOWN = "unknown", "Unknown"


class DeviceModel(models.Model):
    """A catalog entry: a manufacturer's model and what it can do."""

    Kind = DeviceKind

    FirstNetProgram = FirstNetProgram

    manufacturer = models.CharField(max_length=100)
    name = models.CharField(max_length=100)
    kind = models.CharField(max_length=24, choices=Kind.choices)
    has_band14 = models.BooleanField("Band 14", default=False)
    firstnet_program = models.CharField(
        max_length=12, choices=FirstNetProgram.choices, default=FirstNetProgram.UNKNOWN
    )
    fips_140_level = models.PositiveSmallIntegerField("FIPS 140 level", null=True, blank=True)
    has_mcptt = models.BooleanField("MCPTT", default=False)
    has_encryption_at_rest = models.BooleanField(default=False)
    is_cellular = models.BooleanField(default=False)
    telemetry_interval_s = models.PositiveIntegerField(
        "expected telemetry interval (s)", default=300
    )
    unit_cost = models.DecimalField(max_digits=10, decimal_places=2, default=0)
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["manufacturer", "name"]
        constraints = [
            models.UniqueConstraint(
                fields=["manufacturer", "name"], name="devices_model_unique_name"
            ),
            models.CheckConstraint(
                condition=Q(kind__in=[c.value for c in DeviceKind]), name="devices_model_kind_valid"
            ),
            models.CheckConstraint(
                condition=Q(fips_140_level__isnull=True)
                | Q(fips_140_level__gte=1, fips_140_level__lte=4),
                name="devices_model_fips_level_1_4",
            ),
            models.CheckConstraint(
                condition=Q(telemetry_interval_s__gte=10), name="devices_model_interval_min_10s"
            ),
            models.CheckConstraint(
                condition=Q(unit_cost__gte=0), name="devices_model_cost_not_negative"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.manufacturer} {self.name}"


class DeviceQuerySet(models.QuerySet["Device"]):
    def in_service(self) -> DeviceQuerySet:
        return self.exclude(status=Device.Status.RETIRED)


class DeviceStatus(models.TextChoices):
    IN_STOCK = "in_stock", "In stock"
    DEPLOYED = "deployed", "Deployed"
    IN_REPAIR = "in_repair", "In repair"
    LOST = "lost", "Lost"
    RETIRED = "retired", "Retired"


class DeviceNetwork(models.TextChoices):
    FIRSTNET = "firstnet", "FirstNet"
    COMMERCIAL = "commercial", "Commercial"
    NONE = "none", "None"


class Device(models.Model):
    """One physical device owned by an agency."""

    Status = DeviceStatus

    Network = DeviceNetwork

    agency = models.ForeignKey(Agency, on_delete=models.PROTECT, related_name="devices")
    model = models.ForeignKey(DeviceModel, on_delete=models.PROTECT, related_name="devices")
    # Copied from the model so "serial is unique per manufacturer" is a database constraint.
    manufacturer = models.CharField(max_length=100, editable=False)
    serial = models.CharField(max_length=64)
    asset_tag = models.CharField(max_length=64, blank=True)
    imei = models.CharField("IMEI", max_length=15, blank=True)
    iccid = models.CharField("ICCID", max_length=22, blank=True)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.IN_STOCK)
    status_changed_at = models.DateTimeField(default=timezone.now)
    assigned_unit = models.CharField(max_length=100, blank=True)
    assigned_officer = models.CharField(max_length=100, blank=True)
    firmware_version = models.CharField(max_length=64, blank=True)
    network = models.CharField(max_length=16, choices=Network.choices, default=Network.NONE)
    is_mdm_enrolled = models.BooleanField("MDM enrolled", default=False)
    is_encryption_enabled = models.BooleanField("encryption enabled", default=False)
    has_cji_access = models.BooleanField("CJI access", default=False)
    notes = models.TextField(blank=True)
    created_at = models.DateTimeField(default=timezone.now, db_index=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = DeviceQuerySet.as_manager()

    class Meta:
        ordering = ["agency_id", "serial"]
        constraints = [
            models.UniqueConstraint(
                fields=["manufacturer", "serial"],
                name="devices_device_serial_unique_per_manufacturer",
            ),
            models.UniqueConstraint(
                fields=["agency", "asset_tag"],
                condition=~Q(asset_tag=""),
                name="devices_device_asset_tag_unique_per_agency",
            ),
            models.UniqueConstraint(
                fields=["imei"], condition=~Q(imei=""), name="devices_device_imei_unique"
            ),
            models.UniqueConstraint(
                fields=["iccid"], condition=~Q(iccid=""), name="devices_device_iccid_unique"
            ),
            models.CheckConstraint(
                condition=Q(status__in=[c.value for c in DeviceStatus]),
                name="devices_device_status_valid",
            ),
            models.CheckConstraint(
                condition=Q(network__in=[c.value for c in DeviceNetwork]),
                name="devices_device_network_valid",
            ),
            models.CheckConstraint(condition=~Q(serial=""), name="devices_device_serial_not_blank"),
        ]
        indexes = [
            # The inventory list: one agency's devices, filtered by status, in serial order.
            models.Index(
                fields=["agency", "status", "serial"], name="devices_device_agency_status"
            ),
            # Telemetry resolves readings by serial within the topic's agency.
            models.Index(fields=["agency", "serial"], name="devices_device_agency_serial"),
            models.Index(fields=["asset_tag"], name="devices_device_asset_tag"),
        ]

    def __str__(self) -> str:
        return f"{self.serial} ({self.model})"

    def save(self, *args, **kwargs) -> None:
        self.manufacturer = self.model.manufacturer
        super().save(*args, **kwargs)


class DeviceStatusChange(models.Model):
    """One lifecycle change of a device, kept so its history can be shown."""

    device = models.ForeignKey(Device, on_delete=models.CASCADE, related_name="status_changes")
    from_status = models.CharField(max_length=16, blank=True)
    to_status = models.CharField(max_length=16, choices=Device.Status.choices)
    changed_at = models.DateTimeField(default=timezone.now)
    changed_by = models.ForeignKey(
        User, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )

    class Meta:
        ordering = ["device", "changed_at"]

    def __str__(self) -> str:
        return f"{self.device_id}: {self.from_status or '-'} → {self.to_status}"


class Gateway(models.Model):
    """A telemetry gateway of an agency; publishes under its own agency and name only."""

    agency = models.ForeignKey(Agency, on_delete=models.PROTECT, related_name="gateways")
    name = models.SlugField(
        max_length=64, help_text="Used in MQTT topics: tracker/v1/<agency>/<name>/…"
    )
    description = models.CharField(max_length=200, blank=True)
    # A Django password hash (PBKDF2), so it is usable for the broker's password file too.
    credential_hash = models.CharField(max_length=200, blank=True)
    # The same secret hashed for Mosquitto's password file (see `devices.credentials`).
    broker_password_hash = models.CharField(max_length=300, blank=True)
    is_active = models.BooleanField(default=True)
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["agency_id", "name"]
        constraints = [
            models.UniqueConstraint(
                fields=["agency", "name"], name="devices_gateway_unique_name_per_agency"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.agency.slug}/{self.name}"


class AuditRecord(models.Model):
    """Who changed what, when and from where. Written by `devices.audit.record`; never edited."""

    class Action(models.TextChoices):
        CREATE = "create", "Create"
        UPDATE = "update", "Update"
        DELETE = "delete", "Delete"
        IMPORT = "import", "Import"
        REVOKE = "revoke", "Revoke"
        # Sign-in events (devices/login_audit.py): CJIS asks for every logon attempt.
        LOGIN = "login", "Logon"
        LOGIN_FAILED = "login_failed", "Failed logon"
        LOCKOUT = "lockout", "Lockout"
        UNLOCK = "unlock", "Unlock"
        LOGOUT = "logout", "Logout"
        SESSION_ENDED = "session_ended", "Session ended"
        TOKEN_NEW_ADDRESS = "token_new_address", "Token used from a new address"

    at = models.DateTimeField(default=timezone.now, db_index=True)
    actor = models.ForeignKey(
        User, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    actor_name = models.CharField(max_length=150, blank=True)
    remote_addr = models.GenericIPAddressField(null=True, blank=True)
    # Browsers send a few hundred characters at most; anything longer is cut, not refused.
    user_agent = models.CharField(max_length=300, blank=True, default="")
    action = models.CharField(max_length=32, choices=Action.choices)
    object_type = models.CharField(max_length=64)
    object_id = models.CharField(max_length=64, blank=True)
    object_repr = models.CharField(max_length=200, blank=True)
    agency = models.ForeignKey(
        Agency, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    before = models.JSONField(null=True, blank=True)
    after = models.JSONField(null=True, blank=True)
    message = models.CharField(max_length=500, blank=True)

    class Meta:
        ordering = ["-at", "-id"]
        indexes = [
            # The audit page filtered by object type within an agency, newest first.
            models.Index(fields=["agency", "object_type", "-at"], name="devices_audit_agency_type"),
        ]

    def __str__(self) -> str:
        return f"{self.at:%Y-%m-%d %H:%M} {self.actor_name} {self.action} {self.object_type} {self.object_repr}"


class UserSession(models.Model):
    """A signed-in browser, for "Your sessions": devices/sessions.py writes and ends it."""

    session_key = models.CharField(max_length=40, unique=True)
    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="browser_sessions")
    remote_addr = models.GenericIPAddressField(null=True, blank=True)
    user_agent = models.CharField(max_length=300, blank=True, default="")
    started_at = models.DateTimeField(default=timezone.now)
    last_active_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-last_active_at", "-id"]
        indexes = [
            # "Your sessions": one user's rows, most recently active first.
            models.Index(fields=["user", "-last_active_at"], name="devices_usersession_user"),
        ]

    def __str__(self) -> str:
        since = f"{self.started_at:%Y-%m-%d %H:%M}"
        return f"{self.user_id} from {self.remote_addr or '?'} since {since}"


class PeriodicRun(models.Model):
    """One slot of a periodic task: who holds it, until when, and whether its work is done."""

    name = models.CharField(max_length=100)
    slot = models.CharField(max_length=40)
    # The latest claim: a retry or a takeover moves it (retention prunes by it).
    claimed_at = models.DateTimeField(default=timezone.now)
    # The delivery (Celery task id) holding the slot: its retries and redeliveries keep it.
    holder = models.CharField(max_length=255, blank=True)
    # Null once released (the work failed) or before the first claim; see config/periodic.py.
    lease_until = models.DateTimeField(null=True, blank=True)
    completed_at = models.DateTimeField(null=True, blank=True)
    attempts = models.PositiveIntegerField(default=0)
    last_error = models.CharField(max_length=500, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["name", "slot"], name="devices_periodic_run_once_per_slot"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.name}@{self.slot}"


class OidcIdentity(models.Model):
    """Who a user is at an OpenID provider: (issuer, subject), linked at their first SSO logon.

    The subject is the provider's stable, never-reassigned id (OIDC Core 2); e-mail addresses
    change and get reused, so they never identify anyone after the first link (devices/sso.py).
    """

    issuer = models.CharField(max_length=255)
    subject = models.CharField(max_length=255)
    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="oidc_identities")
    created_at = models.DateTimeField(default=timezone.now)
    last_login_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["issuer", "subject"], name="devices_oidc_identity_unique_subject"
            ),
            # One identity per provider per user: a second subject for the same person at the
            # same provider would be a second way in nobody chose.
            models.UniqueConstraint(
                fields=["user", "issuer"], name="devices_oidc_identity_one_per_issuer"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.subject} at {self.issuer}"


class Officer(models.Model):
    """A person of an agency who holds devices (a trooper, a deputy, a medic).

    A row of its own rather than a name typed on each check-out: the same person checked out
    twice is one officer, so their page lists what they hold now and held before, and a
    badge number is unique within the agency.
    """

    agency = models.ForeignKey(Agency, on_delete=models.PROTECT, related_name="officers")
    name = models.CharField(max_length=100)
    badge = models.CharField("badge or ID", max_length=32)
    unit = models.CharField("usual unit", max_length=100, blank=True)
    is_active = models.BooleanField(default=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["agency_id", "name", "badge"]
        constraints = [
            models.UniqueConstraint(
                fields=["agency", "badge"], name="devices_officer_badge_unique_per_agency"
            ),
            models.CheckConstraint(
                condition=~Q(badge="") & ~Q(name=""), name="devices_officer_name_badge_not_blank"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.badge})"


class AssignmentCondition(models.TextChoices):
    GOOD = "good", "Good"
    WORN = "worn", "Worn"
    DAMAGED = "damaged", "Damaged"
    MISSING_PARTS = "missing_parts", "Missing parts"
    NOT_WORKING = "not_working", "Not working"


class Assignment(models.Model):
    """One check-out of a device to an officer and unit, and its check-in (open until then)."""

    Condition = AssignmentCondition

    device = models.ForeignKey(Device, on_delete=models.CASCADE, related_name="assignments")
    officer = models.ForeignKey(Officer, on_delete=models.PROTECT, related_name="assignments")
    unit = models.CharField(max_length=100, blank=True)
    checked_out_at = models.DateTimeField(default=timezone.now)
    checked_out_by = models.ForeignKey(
        User, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    checked_in_at = models.DateTimeField(null=True, blank=True)
    checked_in_by = models.ForeignKey(
        User, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    condition = models.CharField(
        "condition on return", max_length=16, choices=Condition.choices, blank=True
    )
    notes = models.TextField(blank=True)
    return_notes = models.TextField(blank=True)

    class Meta:
        ordering = ["device", "-checked_out_at", "-id"]
        constraints = [
            # A device is in one pair of hands at a time.
            models.UniqueConstraint(
                fields=["device"],
                condition=Q(checked_in_at__isnull=True),
                name="devices_assignment_one_open_per_device",
            ),
            models.CheckConstraint(
                condition=Q(checked_in_at__isnull=True)
                | Q(checked_in_at__gte=models.F("checked_out_at")),
                name="devices_assignment_in_after_out",
            ),
            models.CheckConstraint(
                condition=Q(condition="") | Q(condition__in=[c.value for c in AssignmentCondition]),
                name="devices_assignment_condition_valid",
            ),
        ]
        indexes = [
            # An officer's page: what they hold now and held before, newest first.
            models.Index(fields=["officer", "-checked_out_at"], name="devices_assignment_officer"),
        ]

    def __str__(self) -> str:
        return f"{self.device_id} → {self.officer_id} since {self.checked_out_at:%Y-%m-%d %H:%M}"

    @property
    def is_open(self) -> bool:
        return self.checked_in_at is None
