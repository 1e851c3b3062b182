"""The vectorised gap analysis and plan against straightforward per-device references.

The engine decides a replacement once per gap signature (model, kind, capabilities missing)
and ranks the plan with array counts; these references decide per device and rank with
exact fractions, so a grouping or tie-breaking mistake shows up as a difference.
"""

from __future__ import annotations

import random
from datetime import date
from decimal import Decimal
from fractions import Fraction

import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from devices.models import DeviceModel
from readiness.remediation import GAP_COLUMNS, plan_remediation
from readiness.results import evaluate_fleet
from readiness.whatif import gap_frame
from tests.factories import AgencyFactory, DeviceModelFactory
from tests.readiness.catalog_helpers import make_requirement, make_set, make_version, phone

BAND14 = {"attr": "model.has_band14", "op": "==", "value": True}
AT_REST = {"attr": "model.has_encryption_at_rest", "op": "==", "value": True}
FIPS2 = {"attr": "model.fips_140_level", "op": ">=", "value": 2}
FIRMWARE = {"attr": "device.firmware_version", "op": ">=", "value": "3.2.1"}
KINDS = (DeviceModel.Kind.SMARTPHONE, DeviceModel.Kind.TABLET, DeviceModel.Kind.MODEM)


def capability_gaps(model: DeviceModel) -> set[str]:
    """Which capability requirements a model fails, read straight from its fields."""
    gaps = set()
    if not model.has_band14:
        gaps.add("cap.b14")
    if not model.has_encryption_at_rest:
        gaps.add("cap.rest")
    if (model.fips_140_level or 0) < 2:
        gaps.add("cap.fips")
    return gaps


def reference_replacement(model: DeviceModel, catalog: list[DeviceModel]) -> tuple[str, float]:
    """The cheapest catalog model of the same kind without any of the model's gaps."""
    wanted = capability_gaps(model)
    fit = [m for m in catalog if m.kind == model.kind and not (capability_gaps(m) & wanted)]
    if not fit:
        return f"replace:{model.pk}", float(model.unit_cost)
    best = min(fit, key=lambda m: (m.unit_cost, m.pk))
    return f"replace:{model.pk}->{best.pk}", float(best.unit_cost)


@pytest.fixture
def mixed_fleet(db):
    """Three kinds of model with every mix of capabilities, and 120 devices over four agencies."""
    rng = random.Random(9)
    req_set = make_set("caps", "Capabilities")
    version = make_version(req_set, "1", effective_on=date(2020, 1, 1))
    make_requirement(version, "cap.b14", "B14", BAND14, section="1")
    make_requirement(version, "cap.rest", "REST", AT_REST, section="2")
    make_requirement(version, "cap.fips", "FIPS", FIPS2, section="3")
    make_requirement(version, "fw", "FW", FIRMWARE, section="4")
    models = []
    for i in range(18):
        kind = KINDS[i % 3]
        models.append(
            DeviceModelFactory(
                manufacturer="Acme",
                name=f"M{i}",
                kind=kind,
                has_band14=bool(i & 1),
                has_encryption_at_rest=bool(i & 2),
                fips_140_level=(None, 1, 2, 3)[i % 4],
                unit_cost=rng.choice([400, 500, 500, 650, 900]),
                telemetry_interval_s=300,
            )
        )
    # Modems only come without Band 14: a modem missing it has no replacement in the catalog.
    DeviceModel.objects.filter(kind=DeviceModel.Kind.MODEM).update(has_band14=False)
    agencies = [AgencyFactory(slug=f"vec-{i}") for i in range(4)]
    for i in range(120):
        phone(
            agencies[i % 4],
            model=rng.choice(models),
            firmware=rng.choice(["3.0.0", "3.2.1", "4.0"]),
        )
    return version


def test_each_device_gets_the_replacement_a_per_device_search_would_choose(mixed_fleet):
    gaps = gap_frame(
        evaluate_fleet(version=mixed_fleet), now=pd.Timestamp.now(tz="UTC").to_pydatetime()
    )
    catalog = list(DeviceModel.objects.all())
    from devices.models import Device

    replaced = gaps[gaps["action_kind"].eq("replace")]
    checked = 0
    for device in Device.objects.select_related("model"):
        rows = replaced[replaced["device_id"].eq(device.pk)]
        wanted = capability_gaps(device.model)
        assert set(rows["stable_key"]) == wanted, device.serial
        if not wanted:
            continue
        key, cost = reference_replacement(device.model, catalog)
        assert set(rows["action_key"]) == {key}, device.serial
        assert set(rows["unit_cost"]) == {cost}, device.serial
        checked += 1
    assert checked > 50
    # Both outcomes occur: a catalog swap and a like-for-like price where nothing fits.
    assert replaced["action_key"].str.contains("->").any()
    assert (~replaced["action_key"].str.contains("->")).any()


def test_a_replaced_device_gets_no_firmware_update_and_the_others_do(mixed_fleet):
    from devices.models import Device

    gaps = gap_frame(
        evaluate_fleet(version=mixed_fleet), now=pd.Timestamp.now(tz="UTC").to_pydatetime()
    )
    firmware = set(gaps.loc[gaps["action_kind"].eq("firmware"), "device_id"])
    replaced = set(gaps.loc[gaps["action_kind"].eq("replace"), "device_id"])
    old_firmware = {d.pk for d in Device.objects.filter(firmware_version="3.0.0")}
    assert firmware == old_firmware - replaced
    assert firmware  # the fixture has both kinds of device
    assert list(gaps.columns) == GAP_COLUMNS


# --- the plan: numpy rounds against exact fractions ------------------------------------------

ACTIONS = {  # key: (kind, unit cost)
    "configure:mdm": ("configure", 40),
    "configure:enc": ("configure", 40),
    "telemetry:silent": ("telemetry", 40),
    "firmware:1": ("firmware", 25),
    "firmware:2": ("firmware", 25),
    "replace:1->3": ("replace", 800),
    "replace:2->3": ("replace", 499.99),
}


def reference_plan(rows: list[tuple], *, ready_now: int) -> list[tuple]:
    """Greedy by (made ready / touched, mean progress, cost per device, key), in exact fractions."""
    needs: dict[int, set[str]] = {}
    for device, _agency, key, *_ in rows:
        needs.setdefault(device, set()).add(key)
    steps = []
    ready = ready_now
    while any(needs.values()):
        stats: dict[str, list] = {}
        for acts in needs.values():
            for key in acts:
                s = stats.setdefault(key, [0, 0, Fraction(0)])
                s[0] += 1
                s[1] += len(acts) == 1
                s[2] += Fraction(1, len(acts))
        best = min(
            stats,
            key=lambda k: (
                -Fraction(stats[k][1], stats[k][0]),
                -stats[k][2] / stats[k][0],
                Fraction(str(ACTIONS[k][1])),
                k,
            ),
        )
        touched, made, _ = stats[best]
        ready += made
        steps.append(
            (
                best,
                touched,
                made,
                Decimal(str(round(float(Fraction(str(ACTIONS[best][1])) * touched), 2))),
                ready,
            )
        )
        for acts in needs.values():
            acts.discard(best)
    return steps


@settings(max_examples=150, deadline=None)
@given(
    st.lists(
        st.sets(st.sampled_from(sorted(ACTIONS)), min_size=1, max_size=5), min_size=1, max_size=40
    )
)
def test_plan_matches_an_exact_greedy_reference(needs_per_device):
    rows = [
        (d, 1, key, ACTIONS[key][0], ACTIONS[key][1], key, "req")
        for d, keys in enumerate(needs_per_device, start=1)
        for key in sorted(keys)
    ]
    plan = plan_remediation(pd.DataFrame(rows, columns=GAP_COLUMNS), devices_total=60, ready_now=5)
    got = [
        (s.action_key, s.devices_touched, s.devices_made_ready, s.cost, s.ready_after) for s in plan
    ]
    assert got == reference_plan(rows, ready_now=5)
    assert plan[-1].ready_after == 5 + len(needs_per_device)  # every device ends ready
