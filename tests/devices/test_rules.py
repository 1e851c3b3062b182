"""The device rules on their own: plain values in, a violation (field and message) or None out."""

from __future__ import annotations

import pytest

from devices import rules
from devices.rules import Holder, Violation
from tests.factories import luhn_complete

IMEI = "490154203237518"
ICCID = "89014103211118510720"


@pytest.mark.parametrize(
    ("value", "valid"),
    [
        (IMEI, True),
        ("490154203237519", False),  # last digit mistyped
        (ICCID, True),
        ("89014103211118510721", False),
        (luhn_complete("891004234814455936"), True),  # 19-digit ICCID
        ("12a4", False),
        ("", False),
    ],
)
def test_luhn_check_digit(value, valid):
    assert rules.luhn_is_valid(value) is valid


def test_luhn_check_digit_completes_a_body():
    assert rules.luhn_check_digit(IMEI[:-1]) == IMEI[-1]


@pytest.mark.parametrize(
    ("raw", "stored"),
    [
        (IMEI, IMEI),
        ("49 015420 323751 8", IMEI),  # as printed on a label
        ("49-015420-323751-8", IMEI),
        (" 490154203237518 ", IMEI),
        ("", ""),
        ("   ", ""),
    ],
)
def test_imei_separators_are_accepted_and_only_digits_are_stored(raw, stored):
    assert rules.normalise_imei(raw) == (stored, None)


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ("49015420323751", "IMEI '49015420323751' must be exactly 15 digits"),
        ("49015420323751X", "must be exactly 15 digits"),
        ("4901542032375180", "must be exactly 15 digits"),
        ("490154203237519", "IMEI '490154203237519' has a wrong check digit (expected 8)"),
        ("4.90154E+14", "scientific notation"),
    ],
)
def test_bad_imei_is_a_violation_on_its_field(raw, message):
    _, violation = rules.normalise_imei(raw)
    assert violation is not None
    assert violation.field == "imei"
    assert message in violation.message
    assert not violation.is_conflict


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ("890141032111185107", "must be 19 or 20 digits"),
        ("890141032111185107200", "must be 19 or 20 digits"),
        ("89014103211118510721", "wrong check digit (expected 0)"),
        ("8.9014103211118E+19", "format the ICCID column as text"),
    ],
)
def test_bad_iccid_is_a_violation_on_its_field(raw, message):
    _, violation = rules.normalise_iccid(raw)
    assert violation is not None
    assert violation.field == "iccid"
    assert message in violation.message


def test_iccid_with_spaces_is_stored_as_digits():
    assert rules.normalise_iccid("8901 4103 2111 1851 0720") == (ICCID, None)


def test_a_model_without_a_radio_has_no_imei_iccid_or_network():
    found = rules.cellular_violations(
        model_label="Axon Body 4", is_cellular=False, imei=IMEI, iccid=ICCID, network="firstnet"
    )
    assert [v.field for v in found] == ["imei", "iccid", "network"]
    assert found[0].message.startswith("Axon Body 4 is not a cellular model, so it has no IMEI")
    assert (
        rules.cellular_violations(
            model_label="Axon Body 4", is_cellular=False, imei="", iccid="", network="none"
        )
        == []
    )
    assert (
        rules.cellular_violations(
            model_label="Sonim XP10", is_cellular=True, imei=IMEI, iccid=ICCID, network="firstnet"
        )
        == []
    )


def test_serial_clash_names_another_agency_only_as_such():
    assert (
        rules.serial_violation(serial="S1", manufacturer="Axon", holder=None, agency_id=1) is None
    )
    same = rules.serial_violation(
        serial="S1", manufacturer="Axon", holder=Holder("Axon", "S1", 1), agency_id=1
    )
    other = rules.serial_violation(
        serial="S1", manufacturer="Axon", holder=Holder("Axon", "S1", 2), agency_id=1
    )
    assert same == Violation(
        "serial",
        "Serial S1 by Axon is already registered to another device of this agency; correct the serial.",
        is_conflict=True,
    )
    assert other is not None
    assert "registered to another agency" in other.message


@pytest.mark.parametrize("field", ["imei", "iccid", "asset_tag"])
def test_a_taken_identifier_names_the_holder_within_the_agency_only(field):
    assert rules.taken_violation(field, "V", None, agency_id=1) is None
    own = rules.taken_violation(field, "V", Holder("Axon", "S9", 1), agency_id=1)
    other = rules.taken_violation(field, "V", Holder("Axon", "S9", 2), agency_id=1)
    assert own is not None
    assert other is not None
    assert (own.field, own.is_conflict) == (field, True)
    assert own.message == f"{rules.LABELS[field]} V already belongs to device S9 by Axon."
    assert "another agency" in other.message
    assert "S9" not in other.message


@pytest.mark.parametrize(
    ("current", "new", "allowed"),
    [
        ("in_stock", "deployed", True),
        ("deployed", "in_repair", True),
        ("lost", "deployed", True),
        ("deployed", "retired", True),
        ("retired", "retired", True),  # no move at all
        ("retired", "deployed", False),
        ("retired", "in_stock", False),
    ],
)
def test_a_retired_device_stays_retired(current, new, allowed):
    violation = rules.status_change_violation(serial="S1", current=current, new=new)
    assert (violation is None) is allowed
    if violation is not None:
        assert violation.field == "status"
        assert "a retired device does not return to service" in violation.message


def test_retiring_twice_is_refused():
    assert rules.retirement_violation(serial="S1", current="deployed") is None
    violation = rules.retirement_violation(serial="S1", current="retired")
    assert violation is not None
    assert violation.message == "Device S1 is already retired."


@pytest.mark.parametrize(
    ("status", "has_history", "has_telemetry", "allowed"),
    [
        ("in_stock", False, False, True),
        ("deployed", False, False, False),
        ("in_stock", True, False, False),
        ("in_stock", False, True, False),
    ],
)
def test_only_an_in_stock_device_without_history_can_be_deleted(
    status, has_history, has_telemetry, allowed
):
    violation = rules.deletion_violation(
        serial="S1", status=status, has_history=has_history, has_telemetry=has_telemetry
    )
    assert (violation is None) is allowed
