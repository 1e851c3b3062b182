"""Demo inventory: a Kentucky-like state with cabinets, ~40 agencies, a catalog and devices.

Used by ``manage.py load_demo`` (and so by ``make run``). Everything is drawn from seeded random
streams (one for the agencies, one per device), so the same seed gives the same state, and
device ``i`` is the same whatever ``devices`` is: ``--devices 5000`` then ``--devices 100000`` adds 95,000 devices.

Idempotent: rows are found by their natural keys (cabinet and agency slug, manufacturer and
model name, manufacturer and serial, username) and only missing ones are created; nothing
that exists is changed, so a second run writes nothing and edits made in the product stay.
Devices, their lifecycle history and FirstNet history are written with ``bulk_create`` in
batches, so 100,000 devices take seconds, not minutes.

The catalog's manufacturers and models are fictional: they stand for the kinds of devices
agencies buy, without claiming anything about a real product's certifications.
"""

from __future__ import annotations

import datetime as dt
import random
import secrets
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal

from django.contrib.auth.hashers import PBKDF2PasswordHasher, get_hasher, make_password
from django.db import transaction
from django.utils import timezone

from devices.credentials import mosquitto_hash
from devices.models import (
    Agency,
    AgencyKind,
    Cabinet,
    Device,
    DeviceKind,
    DeviceModel,
    DeviceNetwork,
    DeviceStatus,
    DeviceStatusChange,
    FirstNetProgram,
    FirstNetStatus,
    FirstNetStatusChange,
    Gateway,
    User,
)
from devices.rules import luhn_check_digit

DEFAULT_DEVICES = 5000
DEFAULT_SEED = 2017
BATCH = 2000
# Demo gateway secrets are 192 random bits that nobody is ever shown, so key stretching adds
# nothing (it protects guessable passwords); fewer PBKDF2 rounds keep ~60 gateways from
# costing half a minute. Real gateways get Django's default rounds from
# devices.services.create_gateway / rotate_gateway_credential.
DEMO_HASH_ITERATIONS = 1_000
# The earliest history the demo invents: agencies' participation after the state opted in.
HISTORY_START = dt.date(2018, 1, 15)
PURCHASES_START = dt.date(2018, 1, 1)


@dataclass(frozen=True)
class DemoUser:
    username: str
    password: str
    role: str
    agency: str | None
    label: str
    first_name: str
    last_name: str


# Fixed demo passwords: this is a demonstration dataset, printed by `manage.py demo_logins`.
# Each passes the password policy (settings.AUTH_PASSWORD_VALIDATORS), as any password should.
DEMO_USERS: tuple[DemoUser, ...] = (
    DemoUser(
        "cio-analyst",
        "demo-state-staff",
        User.Role.STATE_STAFF,
        None,
        "State staff (Office of Technology)",
        "Morgan",
        "Ellis",
    ),
    DemoUser(
        "ksp-admin",
        "demo-bluegrass-trooper",
        User.Role.AGENCY_ADMIN,
        "ksp",
        "Agency admin, Kentucky State Police",
        "Jordan",
        "Hale",
    ),
    DemoUser(
        "ksp-viewer",
        "demo-kentucky-river",
        User.Role.AGENCY_VIEWER,
        "ksp",
        "Agency viewer, Kentucky State Police",
        "Casey",
        "Brandt",
    ),
    DemoUser(
        "lmpd-admin",
        "demo-falls-city-metro",
        User.Role.AGENCY_ADMIN,
        "lmpd",
        "Agency admin, Louisville Metro Police",
        "Riley",
        "Okafor",
    ),
)

# (slug, name, business relationship manager: username, first, last)
CABINETS: tuple[tuple[str, str, str, str, str], ...] = (
    ("justice", "Justice and Public Safety Cabinet", "brm-justice", "Dana", "Whitfield"),
    ("transportation", "Transportation Cabinet", "brm-transportation", "Lee", "Marcum"),
    ("energy-environment", "Energy and Environment Cabinet", "brm-energy", "Avery", "Combs"),
    ("health-family", "Cabinet for Health and Family Services", "brm-health", "Quinn", "Slone"),
    ("public-protection", "Public Protection Cabinet", "brm-protection", "Harper", "Gentry"),
    ("tourism", "Tourism, Arts and Heritage Cabinet", "brm-tourism", "Rowan", "Caudill"),
    ("military-affairs", "Department of Military Affairs", "brm-military", "Emerson", "Napier"),
)

# Kentucky State Police posts, used as its units.
KSP_POSTS: tuple[str, ...] = (
    "Post 1 Mayfield",
    "Post 2 Madisonville",
    "Post 3 Bowling Green",
    "Post 4 Elizabethtown",
    "Post 5 LaGrange",
    "Post 6 Dry Ridge",
    "Post 7 Richmond",
    "Post 8 Morehead",
    "Post 9 Pikeville",
    "Post 10 Harlan",
    "Post 11 London",
    "Post 12 Frankfort",
    "Post 13 Hazard",
    "Post 14 Ashland",
    "Post 15 Columbia",
    "Post 16 Henderson",
)


@dataclass(frozen=True)
class AgencySpec:
    slug: str
    name: str
    kind: str
    cabinet: str
    county: str
    weight: float  # share of the state's devices
    tag: str  # asset tag prefix
    gateways: int


_K = AgencyKind
# Local agencies belong to no executive cabinet; each is grouped under the cabinet whose
# relationship manager looks after its discipline (law enforcement under Justice, fire under
# Public Protection, EMS under Health, emergency management under Military Affairs).
AGENCIES: tuple[AgencySpec, ...] = (
    AgencySpec(
        "ksp", "Kentucky State Police", _K.STATE_POLICE, "justice", "Franklin", 20, "KSP", 3
    ),
    AgencySpec(
        "ky-doc",
        "Kentucky Department of Corrections",
        _K.OTHER,
        "justice",
        "Franklin",
        2.5,
        "DOC",
        2,
    ),
    AgencySpec(
        "ky-djj", "Department of Juvenile Justice", _K.OTHER, "justice", "Franklin", 0.8, "DJJ", 1
    ),
    AgencySpec(
        "kyem",
        "Kentucky Emergency Management",
        _K.EMERGENCY_MANAGEMENT,
        "military-affairs",
        "Franklin",
        1.2,
        "KYEM",
        2,
    ),
    AgencySpec(
        "kdfwr-le",
        "Fish and Wildlife Resources, Law Enforcement",
        _K.POLICE,
        "tourism",
        "Franklin",
        2,
        "FWLE",
        2,
    ),
    AgencySpec(
        "parks-rangers",
        "Kentucky State Parks Rangers",
        _K.POLICE,
        "tourism",
        "Franklin",
        0.7,
        "PARK",
        1,
    ),
    AgencySpec(
        "kytc-ssp",
        "Transportation Safety Service Patrol",
        _K.OTHER,
        "transportation",
        "Franklin",
        0.9,
        "KYTC",
        1,
    ),
    AgencySpec(
        "eec-response",
        "Environmental Emergency Response",
        _K.EMERGENCY_MANAGEMENT,
        "energy-environment",
        "Franklin",
        0.5,
        "EEC",
        1,
    ),
    AgencySpec(
        "dph-preparedness",
        "Public Health Preparedness",
        _K.EMERGENCY_MANAGEMENT,
        "health-family",
        "Franklin",
        0.5,
        "DPH",
        1,
    ),
    AgencySpec(
        "fire-marshal",
        "State Fire Marshal's Office",
        _K.FIRE,
        "public-protection",
        "Franklin",
        0.6,
        "SFM",
        1,
    ),
    AgencySpec(
        "lmpd",
        "Louisville Metro Police Department",
        _K.POLICE,
        "justice",
        "Jefferson",
        12,
        "LMPD",
        3,
    ),
    AgencySpec(
        "lexpd", "Lexington Police Department", _K.POLICE, "justice", "Fayette", 7, "LPD", 2
    ),
    AgencySpec(
        "bgpd", "Bowling Green Police Department", _K.POLICE, "justice", "Warren", 2, "BGPD", 1
    ),
    AgencySpec(
        "opd", "Owensboro Police Department", _K.POLICE, "justice", "Daviess", 1.8, "OPD", 1
    ),
    AgencySpec(
        "covpd", "Covington Police Department", _K.POLICE, "justice", "Kenton", 1.6, "CPD", 1
    ),
    AgencySpec("rpd", "Richmond Police Department", _K.POLICE, "justice", "Madison", 1.1, "RPD", 1),
    AgencySpec("fpd", "Frankfort Police Department", _K.POLICE, "justice", "Franklin", 1, "FPD", 1),
    AgencySpec("gpd", "Georgetown Police Department", _K.POLICE, "justice", "Scott", 0.9, "GPD", 1),
    AgencySpec("flpd", "Florence Police Department", _K.POLICE, "justice", "Boone", 0.9, "FLPD", 1),
    AgencySpec(
        "epd", "Elizabethtown Police Department", _K.POLICE, "justice", "Hardin", 0.9, "EPD", 1
    ),
    AgencySpec(
        "hpd", "Hopkinsville Police Department", _K.POLICE, "justice", "Christian", 0.9, "HPD", 1
    ),
    AgencySpec(
        "ppd", "Paducah Police Department", _K.POLICE, "justice", "McCracken", 0.9, "PPD", 1
    ),
    AgencySpec("apd", "Ashland Police Department", _K.POLICE, "justice", "Boyd", 0.7, "APD", 1),
    AgencySpec(
        "jcso",
        "Jefferson County Sheriff's Office",
        _K.SHERIFF,
        "justice",
        "Jefferson",
        2.2,
        "JCSO",
        2,
    ),
    AgencySpec(
        "fcso", "Fayette County Sheriff's Office", _K.SHERIFF, "justice", "Fayette", 1.2, "FCSO", 1
    ),
    AgencySpec(
        "kcso", "Kenton County Sheriff's Office", _K.SHERIFF, "justice", "Kenton", 1.2, "KCSO", 1
    ),
    AgencySpec(
        "bcso", "Boone County Sheriff's Office", _K.SHERIFF, "justice", "Boone", 1.4, "BCSO", 1
    ),
    AgencySpec(
        "wcso", "Warren County Sheriff's Office", _K.SHERIFF, "justice", "Warren", 1.1, "WCSO", 1
    ),
    AgencySpec(
        "hcso", "Hardin County Sheriff's Office", _K.SHERIFF, "justice", "Hardin", 0.9, "HCSO", 1
    ),
    AgencySpec(
        "dcso", "Daviess County Sheriff's Office", _K.SHERIFF, "justice", "Daviess", 0.9, "DCSO", 1
    ),
    AgencySpec(
        "ccso",
        "Campbell County Sheriff's Office",
        _K.SHERIFF,
        "justice",
        "Campbell",
        0.8,
        "CCSO",
        1,
    ),
    AgencySpec(
        "mcso", "Madison County Sheriff's Office", _K.SHERIFF, "justice", "Madison", 0.8, "MCSO", 1
    ),
    AgencySpec(
        "pcso", "Pike County Sheriff's Office", _K.SHERIFF, "justice", "Pike", 0.7, "PCSO", 1
    ),
    AgencySpec(
        "mccso",
        "McCracken County Sheriff's Office",
        _K.SHERIFF,
        "justice",
        "McCracken",
        0.7,
        "MCC",
        1,
    ),
    AgencySpec(
        "chcso",
        "Christian County Sheriff's Office",
        _K.SHERIFF,
        "justice",
        "Christian",
        0.6,
        "CHSO",
        1,
    ),
    AgencySpec(
        "lmems", "Louisville Metro EMS", _K.EMS, "health-family", "Jefferson", 2.2, "LMEMS", 2
    ),
    AgencySpec(
        "warren-ems", "Warren County EMS", _K.EMS, "health-family", "Warren", 0.8, "WEMS", 1
    ),
    AgencySpec("pike-ems", "Pike County EMS", _K.EMS, "health-family", "Pike", 0.6, "PEMS", 1),
    AgencySpec(
        "madison-ems", "Madison County EMS", _K.EMS, "health-family", "Madison", 0.6, "MEMS", 1
    ),
    AgencySpec(
        "lfd", "Louisville Fire Department", _K.FIRE, "public-protection", "Jefferson", 2, "LFD", 2
    ),
    AgencySpec(
        "lexfd",
        "Lexington Fire Department",
        _K.FIRE,
        "public-protection",
        "Fayette",
        1.8,
        "LXFD",
        2,
    ),
    AgencySpec(
        "ofd", "Owensboro Fire Department", _K.FIRE, "public-protection", "Daviess", 0.7, "OFD", 1
    ),
    AgencySpec(
        "cfd", "Covington Fire Department", _K.FIRE, "public-protection", "Kenton", 0.6, "CFD", 1
    ),
    AgencySpec(
        "lmema",
        "Louisville Metro Emergency Management",
        _K.EMERGENCY_MANAGEMENT,
        "military-affairs",
        "Jefferson",
        0.5,
        "LMEMA",
        1,
    ),
    AgencySpec(
        "lfucg-em",
        "Lexington-Fayette Emergency Management",
        _K.EMERGENCY_MANAGEMENT,
        "military-affairs",
        "Fayette",
        0.4,
        "LEM",
        1,
    ),
    AgencySpec(
        "kenton-em",
        "Kenton County Emergency Management",
        _K.EMERGENCY_MANAGEMENT,
        "military-affairs",
        "Kenton",
        0.3,
        "KEM",
        1,
    ),
)


@dataclass(frozen=True)
class ModelSpec:
    manufacturer: str
    name: str
    kind: str
    serial_prefix: str
    is_cellular: bool
    has_band14: bool
    firstnet_program: str
    fips_140_level: int | None
    has_mcptt: bool
    has_encryption_at_rest: bool
    telemetry_interval_s: int
    unit_cost: str
    tac: str  # the IMEI's type allocation code (8 digits), for cellular models
    firmware: tuple[str, ...]  # oldest first; newer versions are more common
    weight: float = 1.0  # popularity within its kind


_D = DeviceKind
_P = FirstNetProgram
CATALOG: tuple[ModelSpec, ...] = (
    ModelSpec(
        "Axiom Vision",
        "AV-300",
        _D.BODY_CAMERA,
        "AV3",
        False,
        False,
        _P.NONE,
        None,
        False,
        True,
        300,
        "699.00",
        "",
        ("2.0.3", "2.1.0", "2.2.1"),
        3,
    ),
    ModelSpec(
        "Axiom Vision",
        "AV-500 LTE",
        _D.BODY_CAMERA,
        "AV5",
        True,
        True,
        _P.READY,
        1,
        False,
        True,
        120,
        "1199.00",
        "35884712",
        ("1.4.0", "1.5.2"),
        1.5,
    ),
    ModelSpec(
        "Sentry Optics",
        "SO-2",
        _D.BODY_CAMERA,
        "SO2",
        False,
        False,
        _P.NONE,
        None,
        False,
        False,
        600,
        "399.00",
        "",
        ("3.1", "3.2", "3.3"),
        1,
    ),
    ModelSpec(
        "Axiom Vision",
        "AV-Fleet 3",
        _D.IN_CAR_CAMERA,
        "AVF",
        False,
        False,
        _P.NONE,
        None,
        False,
        True,
        300,
        "4500.00",
        "",
        ("5.0.1", "5.1.0"),
        2,
    ),
    ModelSpec(
        "Sentry Optics",
        "DashPro 8",
        _D.IN_CAR_CAMERA,
        "SDP",
        False,
        False,
        _P.NONE,
        None,
        False,
        True,
        300,
        "3800.00",
        "",
        ("8.2", "8.4"),
        1,
    ),
    ModelSpec(
        "Cardinal Sensing",
        "CS-Gas4",
        _D.SENSOR,
        "CG4",
        True,
        False,
        _P.NONE,
        None,
        False,
        False,
        60,
        "1150.00",
        "35220416",
        ("1.9", "2.0"),
        1,
    ),
    ModelSpec(
        "Cardinal Sensing",
        "CS-Env2",
        _D.SENSOR,
        "CE2",
        False,
        False,
        _P.NONE,
        None,
        False,
        False,
        60,
        "480.00",
        "",
        ("0.9.8", "1.0.2"),
        1,
    ),
    ModelSpec(
        "Ridgeway Telematics",
        "RT-GPS1",
        _D.SENSOR,
        "RTG",
        True,
        True,
        _P.CAPABLE,
        None,
        False,
        False,
        30,
        "250.00",
        "35311908",
        ("4.4", "4.6"),
        1.5,
    ),
    ModelSpec(
        "Keystone Mobile",
        "KM-5 Responder",
        _D.SMARTPHONE,
        "K5R",
        True,
        True,
        _P.CERTIFIED,
        1,
        True,
        True,
        900,
        "899.00",
        "35209900",
        ("13.1", "14.0", "14.2"),
        3,
    ),
    ModelSpec(
        "Keystone Mobile",
        "KM-5 Lite",
        _D.SMARTPHONE,
        "K5L",
        True,
        True,
        _P.READY,
        1,
        False,
        True,
        900,
        "549.00",
        "35209901",
        ("13.1", "14.0"),
        1.5,
    ),
    ModelSpec(
        "Meridia Phone",
        "M12",
        _D.SMARTPHONE,
        "M12",
        True,
        True,
        _P.CAPABLE,
        None,
        False,
        True,
        900,
        "999.00",
        "35467810",
        ("17.5", "18.1"),
        2,
    ),
    ModelSpec(
        "Meridia Phone",
        "M9",
        _D.SMARTPHONE,
        "M09",
        True,
        False,
        _P.NONE,
        None,
        False,
        True,
        900,
        "499.00",
        "35467809",
        ("15.7", "16.3"),
        0.8,
    ),
    ModelSpec(
        "Ironclad Devices",
        "XR-7",
        _D.RUGGED_HANDHELD,
        "XR7",
        True,
        True,
        _P.CERTIFIED,
        1,
        True,
        True,
        600,
        "1299.00",
        "35901107",
        ("7.2.0", "7.3.1"),
        2,
    ),
    ModelSpec(
        "Ironclad Devices",
        "XR-4",
        _D.RUGGED_HANDHELD,
        "XR4",
        True,
        False,
        _P.NONE,
        None,
        False,
        True,
        600,
        "799.00",
        "35901104",
        ("4.8", "4.9"),
        0.7,
    ),
    ModelSpec(
        "Northline Networks",
        "NL-M200",
        _D.MODEM,
        "M2X",
        True,
        True,
        _P.CERTIFIED,
        2,
        False,
        True,
        60,
        "649.00",
        "35655520",
        ("2.6.4", "2.7.0"),
        2,
    ),
    ModelSpec(
        "Northline Networks",
        "NL-M100",
        _D.MODEM,
        "M1X",
        True,
        False,
        _P.NONE,
        None,
        False,
        False,
        60,
        "329.00",
        "35655510",
        ("1.12",),
        0.8,
    ),
    ModelSpec(
        "Northline Networks",
        "NL-R900",
        _D.IN_VEHICLE_ROUTER,
        "R9X",
        True,
        True,
        _P.CERTIFIED,
        2,
        False,
        True,
        60,
        "1899.00",
        "35655590",
        ("9.3.2", "9.4.0", "9.4.1"),
        2,
    ),
    ModelSpec(
        "Vantage Mobility",
        "VX-450",
        _D.IN_VEHICLE_ROUTER,
        "VX4",
        True,
        True,
        _P.READY,
        2,
        False,
        True,
        60,
        "1499.00",
        "35743045",
        ("4.5.0", "4.5.3"),
        1,
    ),
    ModelSpec(
        "Tessera Systems",
        "T10 Rugged",
        _D.TABLET,
        "T10",
        True,
        True,
        _P.READY,
        1,
        False,
        True,
        900,
        "1699.00",
        "35118810",
        ("11.0", "12.1"),
        2,
    ),
    ModelSpec(
        "Tessera Systems",
        "T8 Wi-Fi",
        _D.TABLET,
        "T8W",
        False,
        False,
        _P.NONE,
        None,
        False,
        True,
        900,
        "649.00",
        "",
        ("10.4", "11.0"),
        1,
    ),
    ModelSpec(
        "Meridia Phone",
        "Tab S",
        _D.TABLET,
        "TBS",
        True,
        True,
        _P.CAPABLE,
        None,
        False,
        True,
        900,
        "729.00",
        "35467830",
        ("17.5", "18.1"),
        1,
    ),
)

# The mix of device kinds each kind of agency buys (relative weights).
KIND_MIX: dict[str, dict[str, float]] = {
    "law": {
        _D.BODY_CAMERA: 30,
        _D.IN_CAR_CAMERA: 12,
        _D.SMARTPHONE: 24,
        _D.RUGGED_HANDHELD: 8,
        _D.IN_VEHICLE_ROUTER: 10,
        _D.MODEM: 5,
        _D.TABLET: 7,
        _D.SENSOR: 4,
    },
    _K.FIRE: {
        _D.SMARTPHONE: 30,
        _D.TABLET: 25,
        _D.IN_VEHICLE_ROUTER: 15,
        _D.SENSOR: 20,
        _D.RUGGED_HANDHELD: 10,
    },
    _K.EMS: {
        _D.TABLET: 30,
        _D.SMARTPHONE: 30,
        _D.IN_VEHICLE_ROUTER: 20,
        _D.SENSOR: 10,
        _D.MODEM: 10,
    },
    _K.EMERGENCY_MANAGEMENT: {
        _D.SMARTPHONE: 40,
        _D.TABLET: 25,
        _D.IN_VEHICLE_ROUTER: 15,
        _D.SENSOR: 20,
    },
    _K.OTHER: {
        _D.SMARTPHONE: 35,
        _D.RUGGED_HANDHELD: 20,
        _D.TABLET: 20,
        _D.BODY_CAMERA: 15,
        _D.IN_VEHICLE_ROUTER: 10,
    },
}
LAW = {_K.STATE_POLICE, _K.SHERIFF, _K.POLICE}
STATUS_MIX: dict[str, float] = {
    DeviceStatus.DEPLOYED: 72,
    DeviceStatus.IN_STOCK: 12,
    DeviceStatus.IN_REPAIR: 6,
    DeviceStatus.LOST: 2,
    DeviceStatus.RETIRED: 8,
}
# Final FirstNet status by discipline (law enforcement leads adoption).
FIRSTNET_MIX: dict[str, dict[str, float]] = {
    "law": {
        FirstNetStatus.SUBSCRIBED: 65,
        FirstNetStatus.PILOT: 10,
        FirstNetStatus.EVALUATING: 15,
        FirstNetStatus.DECLINED: 5,
        FirstNetStatus.NOT_ENGAGED: 5,
    },
    "other": {
        FirstNetStatus.SUBSCRIBED: 45,
        FirstNetStatus.PILOT: 15,
        FirstNetStatus.EVALUATING: 20,
        FirstNetStatus.DECLINED: 5,
        FirstNetStatus.NOT_ENGAGED: 15,
    },
}
PERSONAL_KINDS = {_D.BODY_CAMERA, _D.SMARTPHONE, _D.RUGGED_HANDHELD, _D.TABLET}
CJI_KINDS = {_D.SMARTPHONE, _D.TABLET, _D.RUGGED_HANDHELD, _D.MODEM, _D.IN_VEHICLE_ROUTER}
MDM_KINDS = {_D.SMARTPHONE, _D.TABLET, _D.RUGGED_HANDHELD}
TITLES: dict[str, str] = {
    _K.STATE_POLICE: "Tpr.",
    _K.SHERIFF: "Dep.",
    _K.POLICE: "Ofc.",
    _K.FIRE: "FF",
    _K.EMS: "Medic",
    _K.EMERGENCY_MANAGEMENT: "Coord.",
    _K.OTHER: "Ofc.",
}
SURNAMES = (
    "Adams",
    "Baker",
    "Bishop",
    "Blevins",
    "Carter",
    "Collins",
    "Combs",
    "Cornett",
    "Davis",
    "Dixon",
    "Fields",
    "Gibson",
    "Hall",
    "Hensley",
    "Howard",
    "Jackson",
    "Johnson",
    "Lewis",
    "Mason",
    "Miller",
    "Moore",
    "Napier",
    "Noble",
    "Osborne",
    "Patton",
    "Perry",
    "Reed",
    "Ritchie",
    "Sexton",
    "Sizemore",
    "Slone",
    "Smith",
    "Spencer",
    "Stamper",
    "Taylor",
    "Thomas",
    "Turner",
    "Walker",
    "Watts",
    "Wells",
    "Williams",
    "Wilson",
    "Young",
)
UNIT_NAMES: dict[str, tuple[str, ...]] = {
    _K.POLICE: (
        "1st Division",
        "2nd Division",
        "3rd Division",
        "4th Division",
        "Traffic Unit",
        "K-9 Unit",
    ),
    _K.SHERIFF: ("Patrol North", "Patrol South", "Court Security", "Warrants"),
    _K.FIRE: ("Engine 1", "Engine 4", "Ladder 2", "Rescue 1", "Hazmat 1", "Battalion 1"),
    _K.EMS: ("Medic 1", "Medic 4", "Medic 7", "Medic 12", "Supervisor 1"),
    _K.EMERGENCY_MANAGEMENT: ("EOC", "Field Operations", "Logistics"),
    _K.OTHER: ("Central Office", "Region 1", "Region 2", "Region 3"),
}
# SIM issuer prefixes (7 digits of the ICCID) for the two kinds of service.
ICCID_PREFIX = {DeviceNetwork.FIRSTNET: "8901410", DeviceNetwork.COMMERCIAL: "8901260"}


@dataclass
class DemoSummary:
    """How many rows one run created (all zero on a second run with the same arguments)."""

    created: dict[str, int] = field(default_factory=dict)

    def add(self, name: str, count: int) -> None:
        self.created[name] = self.created.get(name, 0) + count

    def __str__(self) -> str:
        parts = [f"{n} {name}" for name, n in self.created.items() if n]
        return (
            "created " + ", ".join(parts)
            if parts
            else "nothing to create: the demo data is already there"
        )


def _pick(rng: random.Random, weights: dict[str, float]) -> str:
    return rng.choices(list(weights), weights=list(weights.values()))[0]


def _luhn(body: str) -> str:
    return body + luhn_check_digit(body)


def _discipline(kind: str) -> str:
    return "law" if kind in LAW else kind


def _demo_hash(secret: str) -> str:
    hasher = get_hasher()
    if isinstance(hasher, PBKDF2PasswordHasher):
        return hasher.encode(secret, hasher.salt(), iterations=DEMO_HASH_ITERATIONS)
    return make_password(secret)


def load_inventory_demo(
    *,
    devices: int = DEFAULT_DEVICES,
    seed: int = DEFAULT_SEED,
    now: dt.datetime | None = None,
    log: Callable[[str], None] = lambda message: None,
) -> DemoSummary:
    """Create whatever part of the demo inventory is missing, in one transaction.

    Idempotent (see the module docstring); ``devices`` is the total the demo should hold,
    never a number to add.
    """
    now = now or timezone.now()
    rng = random.Random(seed)
    summary = DemoSummary()
    with transaction.atomic():
        cabinets = _cabinets(summary)
        agencies = _agencies(rng, cabinets, now.date(), summary)
        models = _catalog(summary)
        _users(agencies, summary)
        _gateways(agencies, summary)
        _devices(seed, agencies, models, devices, now, summary)
    log(f"inventory: {summary}")
    return summary


def _cabinets(summary: DemoSummary) -> dict[str, Cabinet]:
    cabinets = {}
    for slug, name, username, first, last in CABINETS:
        brm, created = User.objects.get_or_create(
            username=username,
            defaults={
                "role": User.Role.STATE_STAFF,
                "first_name": first,
                "last_name": last,
                "email": f"{username}@example.gov",
            },
        )
        if created:
            # Relationship managers are people in the data, not demo logins.
            brm.set_unusable_password()
            brm.save(update_fields=["password"])
            summary.add("users", 1)
        cabinet, created = Cabinet.objects.get_or_create(
            slug=slug, defaults={"name": name, "brm": brm}
        )
        summary.add("cabinets", int(created))
        cabinets[slug] = cabinet
    return cabinets


def _firstnet_history(
    rng: random.Random, spec: AgencySpec, today: dt.date
) -> list[tuple[str, dt.date]]:
    """A plausible path from not engaged to the agency's status today, with dates."""
    if spec.slug == "ksp":
        return [
            (FirstNetStatus.NOT_ENGAGED, HISTORY_START),
            (FirstNetStatus.EVALUATING, dt.date(2018, 3, 1)),
            (FirstNetStatus.PILOT, dt.date(2018, 6, 1)),
            (FirstNetStatus.SUBSCRIBED, dt.date(2018, 11, 1)),
        ]
    final = _pick(rng, FIRSTNET_MIX["law" if spec.kind in LAW else "other"])
    paths: dict[str, list[str]] = {
        FirstNetStatus.NOT_ENGAGED: [FirstNetStatus.NOT_ENGAGED],
        FirstNetStatus.EVALUATING: [FirstNetStatus.NOT_ENGAGED, FirstNetStatus.EVALUATING],
        FirstNetStatus.PILOT: [
            FirstNetStatus.NOT_ENGAGED,
            FirstNetStatus.EVALUATING,
            FirstNetStatus.PILOT,
        ],
        FirstNetStatus.SUBSCRIBED: [
            FirstNetStatus.NOT_ENGAGED,
            FirstNetStatus.EVALUATING,
            FirstNetStatus.PILOT,
            FirstNetStatus.SUBSCRIBED,
        ],
        FirstNetStatus.DECLINED: [
            FirstNetStatus.NOT_ENGAGED,
            FirstNetStatus.EVALUATING,
            FirstNetStatus.DECLINED,
        ],
    }
    path = paths[final]
    history = [(path[0], HISTORY_START)]
    day = HISTORY_START
    for status in path[1:]:
        day = min(day + dt.timedelta(days=rng.randint(120, 700)), today - dt.timedelta(days=30))
        history.append((status, day))
    return history


def _agencies(
    rng: random.Random, cabinets: dict[str, Cabinet], today: dt.date, summary: DemoSummary
) -> dict[str, tuple[Agency, AgencySpec]]:
    existing = {a.slug: a for a in Agency.objects.filter(slug__in=[s.slug for s in AGENCIES])}
    result = {}
    changes = []
    for spec in AGENCIES:
        # Drawn for every agency, created or not, so the random stream stays the same.
        history = _firstnet_history(rng, spec, today)
        agency = existing.get(spec.slug)
        if agency is None:
            status, changed_on = history[-1]
            agency = Agency.objects.create(
                slug=spec.slug,
                name=spec.name,
                kind=spec.kind,
                cabinet=cabinets[spec.cabinet],
                county=spec.county,
                firstnet_status=status,
                firstnet_status_changed_on=changed_on,
            )
            changes += [
                FirstNetStatusChange(
                    agency=agency,
                    status=s,
                    changed_on=d,
                    note="after the state's 2017 opt-in" if i == 0 else "",
                )
                for i, (s, d) in enumerate(history)
            ]
            summary.add("agencies", 1)
        result[spec.slug] = (agency, spec)
    FirstNetStatusChange.objects.bulk_create(changes)
    summary.add("FirstNet status changes", len(changes))
    return result


def _catalog(summary: DemoSummary) -> dict[str, tuple[DeviceModel, ModelSpec]]:
    models = {}
    for spec in CATALOG:
        model, created = DeviceModel.objects.get_or_create(
            manufacturer=spec.manufacturer,
            name=spec.name,
            defaults={
                "kind": spec.kind,
                "is_cellular": spec.is_cellular,
                "has_band14": spec.has_band14,
                "firstnet_program": spec.firstnet_program,
                "fips_140_level": spec.fips_140_level,
                "has_mcptt": spec.has_mcptt,
                "has_encryption_at_rest": spec.has_encryption_at_rest,
                "telemetry_interval_s": spec.telemetry_interval_s,
                "unit_cost": Decimal(spec.unit_cost),
            },
        )
        summary.add("device models", int(created))
        models[spec.serial_prefix] = (model, spec)
    return models


def _users(agencies: dict[str, tuple[Agency, AgencySpec]], summary: DemoSummary) -> None:
    for demo in DEMO_USERS:
        if User.objects.filter(username=demo.username).exists():
            continue
        user = User(
            username=demo.username,
            role=demo.role,
            first_name=demo.first_name,
            last_name=demo.last_name,
            agency=agencies[demo.agency][0] if demo.agency else None,
            email=f"{demo.username}@example.gov",
        )
        user.set_password(demo.password)
        user.save()
        summary.add("users", 1)


def _gateways(agencies: dict[str, tuple[Agency, AgencySpec]], summary: DemoSummary) -> None:
    existing = set(Gateway.objects.values_list("agency__slug", "name"))
    new = []
    for agency, spec in agencies.values():
        names = ["hq"]
        if spec.slug == "ksp":
            names = ["hq-frankfort", "post-05", "post-12"]
        elif spec.gateways > 1:
            names += [f"site-{n}" for n in range(2, spec.gateways + 1)]
        for name in names:
            if (spec.slug, name) in existing:
                continue
            # A random secret nobody is shown: rotate it (page or API) to connect a real gateway.
            secret = secrets.token_urlsafe(24)
            new.append(
                Gateway(
                    agency=agency,
                    name=name,
                    description=f"{agency.name} telemetry gateway ({name})",
                    credential_hash=_demo_hash(secret),
                    broker_password_hash=mosquitto_hash(secret, iterations=DEMO_HASH_ITERATIONS),
                )
            )
    Gateway.objects.bulk_create(new)
    summary.add("gateways", len(new))


def _devices(
    seed: int,
    agencies: dict[str, tuple[Agency, AgencySpec]],
    models: dict[str, tuple[DeviceModel, ModelSpec]],
    count: int,
    now: dt.datetime,
    summary: DemoSummary,
) -> None:
    existing = set(Device.objects.values_list("manufacturer", "serial"))
    agency_list = list(agencies.values())
    agency_weights = [spec.weight for _, spec in agency_list]
    by_kind: dict[str, list[tuple[DeviceModel, ModelSpec]]] = {}
    for model, spec in models.values():
        by_kind.setdefault(spec.kind, []).append((model, spec))
    start = dt.datetime.combine(PURCHASES_START, dt.time(9), tzinfo=dt.UTC)
    span_days = max(60, (now - start).days - 30)

    pending: list[Device] = []
    histories: list[list[tuple[str, str, dt.datetime]]] = []
    created = history_rows = 0

    def flush() -> None:
        nonlocal created, history_rows
        if not pending:
            return
        Device.objects.bulk_create(pending)
        rows = [
            DeviceStatusChange(device_id=device.pk, from_status=old, to_status=new, changed_at=at)
            for device, steps in zip(pending, histories, strict=True)
            for old, new, at in steps
        ]
        DeviceStatusChange.objects.bulk_create(rows, batch_size=BATCH)
        created += len(pending)
        history_rows += len(rows)
        pending.clear()
        histories.clear()

    for i in range(1, count + 1):
        # Each device has its own random stream, seeded by (seed, i): device i is the same on
        # every run even when a draw's range depends on the clock (dates near "now").
        rng = random.Random(seed * 1_000_003 + i)
        agency, aspec = rng.choices(agency_list, weights=agency_weights)[0]
        kind = _pick(rng, KIND_MIX[_discipline(aspec.kind)])
        choices = by_kind[kind]
        model, mspec = rng.choices(choices, weights=[s.weight for _, s in choices])[0]
        device, steps = _device(rng, i, agency, aspec, model, mspec, start, span_days, now)
        if (model.manufacturer, device.serial) in existing:
            continue
        pending.append(device)
        histories.append(steps)
        if len(pending) >= BATCH:
            flush()
    flush()
    summary.add("devices", created)
    summary.add("device status changes", history_rows)


Steps = list[tuple[str, str, dt.datetime]]


def _device(
    rng: random.Random,
    i: int,
    agency: Agency,
    aspec: AgencySpec,
    model: DeviceModel,
    mspec: ModelSpec,
    start: dt.datetime,
    span_days: int,
    now: dt.datetime,
) -> tuple[Device, Steps]:
    """Device number ``i`` and its lifecycle steps (from, to, when).

    Each step below draws from ``rng`` in a fixed order, so the same seed gives the same
    device; a new draw goes after the existing ones, never between them.
    """
    status, steps = _lifecycle(rng, start, span_days, now)
    imei, iccid, network = _cellular_identity(rng, i, agency, mspec, status)
    unit, officer = _assignment(rng, aspec, mspec, status)
    notes = _notes(rng, mspec, status, steps)
    firmware = mspec.firmware[
        min(len(mspec.firmware) - 1, int(len(mspec.firmware) * rng.random() ** 0.5))
    ]
    device = Device(
        agency=agency,
        model=model,
        manufacturer=model.manufacturer,
        serial=f"{mspec.serial_prefix}{i:07d}",
        asset_tag=f"{aspec.tag}-{i:06d}",
        imei=imei,
        iccid=iccid,
        status=status,
        status_changed_at=steps[-1][2],
        assigned_unit=unit,
        assigned_officer=officer,
        firmware_version=firmware,
        network=network,
        is_mdm_enrolled=mspec.kind in MDM_KINDS and rng.random() < 0.85,
        is_encryption_enabled=mspec.has_encryption_at_rest and rng.random() < 0.9,
        has_cji_access=aspec.kind in LAW and mspec.kind in CJI_KINDS and rng.random() < 0.6,
        notes=notes,
        created_at=steps[0][2],
    )
    return device, steps


def _lifecycle(
    rng: random.Random, start: dt.datetime, span_days: int, now: dt.datetime
) -> tuple[str, Steps]:
    """The current status and the steps to it: bought into stock, deployed, then maybe on."""
    # Purchases lean recent: a power below one skews the draw toward the end of the span.
    bought = start + dt.timedelta(
        days=int(span_days * rng.random() ** 0.6), minutes=rng.randint(0, 600)
    )
    status = _pick(rng, STATUS_MIX)
    steps: Steps = [("", DeviceStatus.IN_STOCK, bought)]
    at = bought
    if status != DeviceStatus.IN_STOCK:
        at = min(at + dt.timedelta(days=rng.randint(3, 45)), now - dt.timedelta(hours=2))
        steps.append((DeviceStatus.IN_STOCK, DeviceStatus.DEPLOYED, at))
        if status != DeviceStatus.DEPLOYED:
            remaining = max(1, (now - at).days - 1)
            at = min(at + dt.timedelta(days=rng.randint(1, remaining)), now - dt.timedelta(hours=1))
            steps.append((DeviceStatus.DEPLOYED, status, at))
    return status, steps


def _cellular_identity(
    rng: random.Random, i: int, agency: Agency, mspec: ModelSpec, status: str
) -> tuple[str, str, str]:
    """(IMEI, ICCID, network): FirstNet is likelier where the agency subscribes or pilots."""
    if not mspec.is_cellular:
        return "", "", DeviceNetwork.NONE
    network = DeviceNetwork.NONE
    iccid = ""
    imei = _luhn(f"{mspec.tac}{i % 1_000_000:06d}")
    shares: dict[str, float] = {FirstNetStatus.SUBSCRIBED: 0.8, FirstNetStatus.PILOT: 0.35}
    firstnet_share = shares.get(agency.firstnet_status, 0.0)
    draw = rng.random()
    if not mspec.has_band14:
        firstnet_share = 0.0
    if draw < firstnet_share:
        network = DeviceNetwork.FIRSTNET
    elif draw < 0.95:
        network = DeviceNetwork.COMMERCIAL
    if network != DeviceNetwork.NONE:
        iccid = _luhn(f"{ICCID_PREFIX[network]}{i:012d}")
    if status == DeviceStatus.RETIRED:
        network = DeviceNetwork.NONE  # the line was cancelled; the SIM number stays on record
    return imei, iccid, network


def _assignment(
    rng: random.Random, aspec: AgencySpec, mspec: ModelSpec, status: str
) -> tuple[str, str]:
    """(unit, officer) of a device in service; a personal device is issued to someone."""
    if status not in (DeviceStatus.DEPLOYED, DeviceStatus.IN_REPAIR):
        return "", ""
    units = KSP_POSTS if aspec.slug == "ksp" else UNIT_NAMES.get(aspec.kind, UNIT_NAMES[_K.OTHER])
    unit = rng.choice(units)
    officer = ""
    if mspec.kind in PERSONAL_KINDS:
        initial = chr(65 + rng.randint(0, 25))
        surname = rng.choice(SURNAMES)
        officer = f"{TITLES[aspec.kind]} {initial}. {surname} #{rng.randint(100, 9999)}"
    return unit, officer


def _notes(rng: random.Random, mspec: ModelSpec, status: str, steps: Steps) -> str:
    if status == DeviceStatus.LOST:
        return f"Reported lost {steps[-1][2]:%Y-%m-%d}; remote lock requested."
    if status == DeviceStatus.IN_REPAIR:
        return f"RMA {rng.randint(100000, 999999)} with {mspec.manufacturer}."
    return ""
