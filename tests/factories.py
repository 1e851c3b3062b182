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
