"""Small factories, one per model. Tests set every field they are about explicitly."""

from __future__ import annotations

import factory

from devices.models import Agency, Cabinet, Device, DeviceModel, Gateway, User


class CabinetFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Cabinet
        django_get_or_create = ("slug",)

    slug = factory.Sequence(lambda n: f"cabinet-{n}")
    name = factory.Sequence(lambda n: f"Cabinet {n}")


class AgencyFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Agency
        django_get_or_create = ("slug",)

    slug = factory.Sequence(lambda n: f"agency-{n}")
    name = factory.Sequence(lambda n: f"Agency {n}")
    kind = Agency.Kind.POLICE
    cabinet = factory.SubFactory(CabinetFactory)
    county = "Franklin"


class DeviceModelFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = DeviceModel
        django_get_or_create = ("manufacturer", "name")

    manufacturer = "Axon"
    name = factory.Sequence(lambda n: f"Body 4-{n}")
    kind = DeviceModel.Kind.BODY_CAMERA
    telemetry_interval_s = 60
    unit_cost = 699


class DeviceFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Device

    agency = factory.SubFactory(AgencyFactory)
    model = factory.SubFactory(DeviceModelFactory)
    serial = factory.Sequence(lambda n: f"SN{n:07d}")
    status = Device.Status.DEPLOYED


class GatewayFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Gateway

    agency = factory.SubFactory(AgencyFactory)
    name = factory.Sequence(lambda n: f"gw-{n}")


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = User
        django_get_or_create = ("username",)

    username = factory.Sequence(lambda n: f"user{n}")
    role = User.Role.AGENCY_VIEWER
    password = factory.django.Password("correct horse battery staple")


def luhn_complete(prefix: str) -> str:
    """``prefix`` followed by its Luhn check digit: a valid IMEI (14 digits in) or ICCID (18-19 in)."""
    total = 0
    for position, char in enumerate(reversed(prefix)):
        value = int(char)
        if (
            position % 2 == 0
        ):  # doubled: these sit at odd positions once the check digit is appended
            value = value * 2 - 9 if value > 4 else value * 2
        total += value
    return prefix + str((10 - total % 10) % 10)


class CellularDeviceModelFactory(DeviceModelFactory):
    """A smartphone-class model with a radio, so its devices may have an IMEI, ICCID and network."""

    manufacturer = "Sonim"
    name = factory.Sequence(lambda n: f"XP{n}")
    kind = DeviceModel.Kind.RUGGED_HANDHELD
    is_cellular = True
    has_band14 = True


class DeviceHealthFactory(factory.django.DjangoModelFactory):
    """A device's latest state; set level, deadlines and values the test is about."""

    class Meta:
        model = "telemetry.DeviceHealth"

    device = factory.SubFactory(DeviceFactory)
    level = "online"
