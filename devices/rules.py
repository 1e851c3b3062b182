"""The inventory's device rules, in one home: identifiers, cellular identity, uniqueness, lifecycle.

The single-device writes (`devices.services`, behind the API and the pages) and the bulk
import (`devices.importing`) both call these functions, so a device is accepted or refused
for the same reason and in the same words whichever way it arrives.

Every rule is pure: it takes plain values and returns a `Violation` (the field to fix and a
message a person can act on) or None; the caller decides how to report it (an HTTP error,
an error on a spreadsheet row). Uniqueness rules take the candidate value and the device
that already holds it (a `Holder`), which the caller finds: one indexed query for a single
device, one set-based query per column for a 100,000-row file.

IMEI and ICCID input is normalised the same way on both paths: spaces and dashes are the
separators people type (and labels print), so they are accepted and dropped, and only the
digits are stored. A number a spreadsheet shortened into scientific notation (``3.52E+14``)
has already lost digits, so it is an error that says how to fix the sheet.
"""

from __future__ import annotations

import re
from collections.abc import Collection
from dataclasses import dataclass
from typing import NamedTuple

from devices.models import DeviceNetwork, DeviceStatus

# Plain strings: comparing enum members costs measurably over 100,000 import rows.
NONE_NETWORK: str = DeviceNetwork.NONE.value
RETIRED: str = DeviceStatus.RETIRED.value
IN_STOCK: str = DeviceStatus.IN_STOCK.value
STATUSES: tuple[str, ...] = tuple(s.value for s in DeviceStatus)
# Which status may follow which. Retired is final; every other move is a fact of the field
# (a lost device turns up, a repaired one goes back to stock or straight out again).
ALLOWED_NEXT: dict[str, frozenset[str]] = {
    status: frozenset() if status == RETIRED else frozenset(STATUSES) - {status}
    for status in STATUSES
}

LABELS: dict[str, str] = {"imei": "IMEI", "iccid": "ICCID", "asset_tag": "Asset tag"}
IMEI_LENGTHS = (15,)
ICCID_LENGTHS = (19, 20)

_DOUBLED = (0, 2, 4, 6, 8, 1, 3, 5, 7, 9)
_SEPARATORS = re.compile(r"[\s\-]")
# What a spreadsheet shows for a long number it stored as a float: 3.52099E+14, 8.9E+19.
_SCIENTIFIC = re.compile(r"^\d+(\.\d+)?[eE]\+?\d+$")


@dataclass(frozen=True, slots=True)
class Violation:
    """One broken rule: the field (API) or column (import) to fix, and how to fix it.

    ``is_conflict`` marks a clash with another device (HTTP 409) rather than a bad value (422).
    """

    field: str | None
    message: str
    is_conflict: bool = False


class Holder(NamedTuple):
    """The device that already holds a serial, IMEI, ICCID or asset tag."""

    manufacturer: str
    serial: str
    agency_id: int


# --- identifiers -----------------------------------------------------------------------


def luhn_is_valid(digits: str) -> bool:
    """True when the last digit of ``digits`` is the Luhn check digit of the others."""
    if not digits.isdigit():
        return False
    # From the right: the check digit and every second one count as they are, the others
    # doubled with their digits summed (_DOUBLED). Slices keep the loop in C: an import
    # checks one or two of these per row.
    values = list(map(int, digits))
    total = sum(values[-1::-2]) + sum(map(_DOUBLED.__getitem__, values[-2::-2]))
    return total % 10 == 0


def luhn_check_digit(body: str) -> str:
    """The digit that makes ``body + digit`` pass the Luhn check."""
    for digit in "0123456789":
        if luhn_is_valid(body + digit):
            return digit
    raise ValueError(body)  # unreachable: one of ten digits always fits


def _normalise_digits(
    field: str, raw: str, lengths: tuple[int, ...], shape: str
) -> tuple[str, Violation | None]:
    raw = raw.strip()
    if not raw:
        return "", None
    label = LABELS[field]
    if _SCIENTIFIC.match(raw):
        return raw, Violation(
            field,
            f"'{raw}' is a number a spreadsheet shortened into scientific notation, so digits "
            f"are lost; format the {label} column as text and enter all its digits.",
        )
    digits = _SEPARATORS.sub("", raw)
    if not digits.isdigit() or len(digits) not in lengths:
        return digits, Violation(field, f"{label} '{raw}' must be {shape}.")
    if not luhn_is_valid(digits):
        expected = luhn_check_digit(digits[:-1])
        return digits, Violation(
            field,
            f"{label} '{raw}' has a wrong check digit (expected {expected}); check it for a typo.",
        )
    return digits, None


def normalise_imei(raw: str) -> tuple[str, Violation | None]:
    """(digits to store, violation or None). Blank means none; spaces and dashes are dropped."""
    return _normalise_digits(
        "imei", raw, IMEI_LENGTHS, "exactly 15 digits (14 digits and the Luhn check digit)"
    )


def normalise_iccid(raw: str) -> tuple[str, Violation | None]:
    """(digits to store, violation or None): the SIM number, 19 or 20 digits, check digit last."""
    return _normalise_digits(
        "iccid", raw, ICCID_LENGTHS, "19 or 20 digits (the SIM number, check digit last)"
    )


# --- cellular identity -----------------------------------------------------------------


def cellular_violations(
    *, model_label: str, is_cellular: bool, imei: str, iccid: str, network: str
) -> list[Violation]:
    """A model without a radio has no IMEI, no ICCID and no network (FirstNet or commercial)."""
    if is_cellular:
        return []
    found = [
        Violation(
            field,
            f"{model_label} is not a cellular model, so it has no {LABELS[field]}; leave the "
            f"{LABELS[field]} empty or choose a cellular model.",
        )
        for field, value in (("imei", imei), ("iccid", iccid))
        if value
    ]
    if network != NONE_NETWORK:
        found.append(
            Violation(
                "network", f"{model_label} is not a cellular model: its network must be 'none'."
            )
        )
    return found


# --- uniqueness ------------------------------------------------------------------------


def serial_violation(
    *, serial: str, manufacturer: str, holder: Holder | None, agency_id: int
) -> Violation | None:
    """A serial is unique per manufacturer. ``holder`` is another device with it, if any."""
    if holder is None:
        return None
    if holder.agency_id == agency_id:
        message = (
            f"Serial {serial} by {manufacturer} is already registered to another device of "
            "this agency; correct the serial."
        )
    else:
        # Another agency's device is not described: its details are not this agency's business.
        message = (
            f"Serial {serial} by {manufacturer} is registered to another agency; ask state "
            "staff to transfer it, or correct the serial."
        )
    return Violation("serial", message, is_conflict=True)


def taken_violation(
    field: str, value: str, holder: Holder | None, *, agency_id: int
) -> Violation | None:
    """An IMEI or ICCID is unique everywhere, an asset tag within its agency.

    ``holder`` is another device holding ``value`` (for an asset tag, one of the same
    agency), or None.
    """
    if holder is None:
        return None
    label = LABELS[field]
    if holder.agency_id == agency_id:
        message = (
            f"{label} {value} already belongs to device {holder.serial} by {holder.manufacturer}."
        )
    else:
        message = f"{label} {value} already belongs to a device of another agency."
    return Violation(field, message, is_conflict=True)


# --- lifecycle -------------------------------------------------------------------------


def status_change_violation(*, serial: str, current: str, new: str) -> Violation | None:
    """Whether a device may move from ``current`` to ``new`` (the same status is no move)."""
    if new == current or new in ALLOWED_NEXT[current]:
        return None
    if current == RETIRED:
        message = (
            f"Device {serial} is retired; a retired device does not return to service. "
            "Register the replacement under its own serial."
        )
    else:
        message = f"Device {serial} cannot go from {current} to {new}."
    return Violation("status", message, is_conflict=True)


def retirement_violation(*, serial: str, current: str) -> Violation | None:
    """Retiring is done once: a second retirement is refused rather than recorded again."""
    if current == RETIRED:
        return Violation("status", f"Device {serial} is already retired.", is_conflict=True)
    return None


# What may still change on a retired device's record: a note says something about it now.
RETIRED_EDITABLE = frozenset({"notes"})


def retired_edit_violation(
    *, serial: str, current: str, fields: Collection[str]
) -> Violation | None:
    """A retired device's record stays as it left service: no edit changes ``fields`` of it
    (a single update, a bulk edit or an import row alike), its notes apart.

    Its unit, network and flags were true on the day it was retired; changing them later
    would rewrite what the readiness history says about that day.
    """
    if current == RETIRED and set(fields) - RETIRED_EDITABLE:
        return Violation(
            "status",
            f"Device {serial} is retired; a retired device's record is kept as it left "
            "service (only its notes may change). Leave it out of the change.",
            is_conflict=True,
        )
    return None


def deletion_violation(
    *, serial: str, status: str, has_history: bool, has_telemetry: bool
) -> Violation | None:
    """Only a device registered by mistake may be deleted: in stock, no history, no telemetry.

    Anything else is retired instead, so the lifecycle and readiness history stay true.
    """
    if status == IN_STOCK and not has_history and not has_telemetry:
        return None
    return Violation(
        None,
        f"Device {serial} has a lifecycle or telemetry history; retire it instead of deleting it.",
        is_conflict=True,
    )


# --- check-out and check-in ------------------------------------------------------------


def checkout_violation(*, serial: str, status: str, holder: str | None) -> Violation | None:
    """A device goes out only when in service and not already out (``holder``: who has it)."""
    if status == RETIRED:
        return Violation(
            None,
            f"Device {serial} is retired; a retired device cannot be checked out.",
            is_conflict=True,
        )
    if holder is not None:
        return Violation(
            None,
            f"Device {serial} is already checked out to {holder}; check it in first.",
            is_conflict=True,
        )
    return None


def checkin_violation(*, serial: str, is_checked_out: bool) -> Violation | None:
    """Only a device that is out can come back."""
    if is_checked_out:
        return None
    return Violation(
        None,
        f"Device {serial} is not checked out, so there is nothing to check in; "
        "check it out to an officer first, or pick the device that was handed back.",
        is_conflict=True,
    )
