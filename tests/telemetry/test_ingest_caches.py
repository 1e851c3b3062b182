"""The ingest's look-up caches: entries expire one by one a ttl after they were put, and a
fresh ingest can load its whole fleet before it takes the first message."""

from __future__ import annotations

import pytest

from devices.models import Device
from telemetry import ingest
from telemetry.ingest import _TTLCache, ingest_batch, warm_caches
from telemetry.models import DeviceHealth
from tests.factories import DeviceFactory, DeviceModelFactory
from tests.telemetry.conftest import NOW, make_fleet, minutes, reading


class Clock:
    def __init__(self, start: float = 1000.0) -> None:
        self.seconds = start

    def __call__(self) -> float:
        return self.seconds


def test_a_cached_lookup_lives_exactly_its_time_to_live():
    clock = Clock()
    cache = _TTLCache(ttl=60, clock=clock)
    cache.put("key", 1)
    clock.seconds += 59.9
    cache.expire()
    assert cache.get("key") == 1
    clock.seconds += 0.1
    cache.expire()
    assert cache.get("key") is None


def test_a_lookup_put_again_lives_on_from_its_second_put():
    clock = Clock()
    cache = _TTLCache(ttl=60, clock=clock)
    cache.put("key", 1)
    clock.seconds += 30
    cache.put("key", 2)
    clock.seconds += 40  # 70 s after the first put, 40 s after the second
    cache.expire()
    assert cache.get("key") == 2
    clock.seconds += 20
    cache.expire()
    assert cache.get("key") is None


@pytest.mark.django_db
def test_a_warmed_ingest_resolves_its_devices_from_the_cache_not_the_database():
    fleet = make_fleet(devices=3)
    assert warm_caches() >= 3
    device = fleet.devices[0]
    old_serial = device.serial
    # Renamed behind the cache's back: only a cached look-up still finds the old serial.
    Device.objects.filter(pk=device.pk).update(serial=f"{old_serial}-renamed")

    result = ingest_batch([fleet.message([reading(old_serial, NOW - minutes(1))])], now=NOW)

    assert (result.readings_stored, result.dead_letters) == (1, 0)
    assert DeviceHealth.objects.get(device=device).last_reading_at == NOW - minutes(1)


@pytest.mark.django_db
def test_warming_knows_gateways_so_a_deactivated_one_is_still_refused():
    fleet = make_fleet(devices=1)
    fleet.gateway.is_active = False
    fleet.gateway.save(update_fields=["is_active"])
    warm_caches()

    result = ingest_batch(
        [fleet.message([reading(fleet.devices[0].serial, NOW - minutes(1))])], now=NOW
    )

    assert result.readings_stored == 0
    assert result.rejected == {"unknown_gateway": 1}


@pytest.mark.django_db
def test_warming_keeps_the_first_device_of_a_serial_repeated_in_one_agency():
    fleet = make_fleet(devices=1)
    first = fleet.devices[0]
    # The same serial from another manufacturer's model: the contract keys on serial alone.
    DeviceFactory(
        agency=fleet.agency, serial=first.serial, model=DeviceModelFactory(manufacturer="Motorola")
    )
    warm_caches()

    result = ingest_batch([fleet.message([reading(first.serial, NOW - minutes(1))])], now=NOW)

    assert result.readings_stored == 1
    assert DeviceHealth.objects.get(device=first).last_reading_at == NOW - minutes(1)


@pytest.mark.django_db
def test_warmed_devices_expire_a_few_at_a_time_over_one_ttl_not_all_together(monkeypatch):
    clock = Clock()
    cache = _TTLCache(ttl=60, clock=clock)
    monkeypatch.setattr(ingest, "_devices", cache)
    make_fleet(devices=20)
    loaded = warm_caches()
    assert len(cache) == loaded >= 20

    remaining = []
    for _ in range(4):
        clock.seconds += 15
        cache.expire()
        remaining.append(len(cache))

    # About a quarter goes at each quarter of the ttl, and everything within one ttl.
    quarter = loaded / 4
    assert [round((loaded - n) / quarter) for n in remaining] == [1, 2, 3, 4]
    assert remaining[-1] == 0


@pytest.mark.django_db
def test_warming_stops_at_its_limit():
    make_fleet(devices=5)
    assert warm_caches(limit=2) == 2
