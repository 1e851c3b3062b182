"""Scan to find: what a barcode scanner types (a serial, asset tag, IMEI or ICCID) → a device.

`lookup` answers one of three things, and the page says only that much: the device (one the
user may see), the name of the agency holding it (one they may not see: nothing else about
it is told), or nothing. IMEI and ICCID labels print their digits in groups, so spaces and
dashes are dropped for those two, as `devices.rules` does when they are stored.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from django.db.models import Q

from devices.models import Device, DeviceQuerySet

MAX_CODE = 64
_SEPARATORS = re.compile(r"[\s\-]")


@dataclass(frozen=True)
class ScanResult:
    devices: list[Device]  # visible matches (several only when one code fits several devices)
    held_by: str | None = None  # another agency's name, when only a hidden device matched

    @property
    def found(self) -> bool:
        return bool(self.devices)


def matching(code: str) -> Q:
    """Devices whose serial, asset tag, IMEI or ICCID is ``code``."""
    code = code.strip()
    digits = _SEPARATORS.sub("", code)
    match = Q(serial__iexact=code) | Q(asset_tag__iexact=code)
    if digits.isdigit():
        match |= Q(imei=digits) | Q(iccid=digits)
    return match


def lookup(code: str, *, visible: DeviceQuerySet) -> ScanResult:
    """The devices in ``visible`` matching ``code``, else the agency holding a hidden one."""
    code = code.strip()[:MAX_CODE]
    if not code:
        return ScanResult(devices=[])
    found = list(visible.filter(matching(code)).order_by("serial", "pk")[:20])
    if found:
        return ScanResult(devices=found)
    hidden = (
        Device.objects.filter(matching(code))
        .order_by("pk")
        .values_list("agency__name", flat=True)
        .first()
    )
    return ScanResult(devices=[], held_by=hidden)
