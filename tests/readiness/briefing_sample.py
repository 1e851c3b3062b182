"""A hand-built BriefingData for the renderer tests (no database)."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pandas as pd

from readiness.briefings import BriefingData, ChangesSince, Headline, WhatIf


def sample_briefing(**overrides) -> BriefingData:
    agencies = pd.DataFrame(
        {
            "agency": ["Kentucky State Police", "Lexington Police", "Frankfort Fire"],
            "cabinet": ["Justice", "Justice", "Public Protection"],
            "county": ["Franklin", "Fayette", "Franklin"],
            "kind": ["State police", "Police", "Fire"],
            "firstnet_status": ["Subscribed", "Pilot", "Not engaged"],
            "devices": [120, 40, 12],
            "ready": [90, 10, 3],
            "ready_pct": [75.0, 25.0, 25.0],
            "coverage_pct": [95.0, 80.0, 50.0],
        }
    )
    values = {
        "title": "Device readiness briefing",
        "scope": "state",
        "scope_label": "Statewide",
        "set_code": "cjis-mobile",
        "set_name": "CJIS mobile devices",
        "version": "6.0",
        "compare_version": "7.0",
        "as_of": date(2026, 11, 20),
        "headline": Headline(
            devices=172,
            online_now=150,
            ready=103,
            ready_pct=59.883720930232556,
            coverage_pct=88.4,
            agencies=3,
            agencies_participating=1,
            open_alerts=7,
            waived=4,
            expectation_label="Share of eligible agencies subscribed: 60% by 2027-01-01",
            expectation_actual=33.3,
            expectation_target=60.0,
        ),
        "trend": pd.DataFrame(
            {
                "date": [date(2026, 11, 18), date(2026, 11, 19), date(2026, 11, 20)],
                "ready_pct": [55.0, 57.5, 59.9],
                "coverage_pct": [85.0, 86.0, 88.4],
            }
        ),
        "cabinets": pd.DataFrame(
            {
                "cabinet": ["Justice", "Public Protection"],
                "agencies": [2, 1],
                "devices": [160, 12],
                "ready": [100, 3],
                "ready_pct": [62.5, 25.0],
                "coverage_pct": [91.25, 50.0],
            }
        ),
        "agencies": agencies,
        "requirements": pd.DataFrame(
            {
                "code": ["CJIS-5.20.2-a", "CJIS-5.20.3-4", "CJIS-5.20.3-1"],
                "title": [
                    "MDM enrolled with remote wipe",
                    "Encryption at rest (FIPS 140)",
                    "Critical patches applied",
                ],
                "severity": ["mandatory", "mandatory", "recommended"],
                "applicable": [172, 172, 160],
                "passed": [140, 120, 159],
                "failed": [30, 50, 1],
                "waived": [2, 2, 0],
                "pass_pct": [81.4, 69.8, 99.4],
            }
        ),
        "failing_devices": pd.DataFrame(
            {
                "agency": ["Lexington Police"],
                "serial": ["SN0000042"],
                "model": ["Axon Body 4"],
                "kind": ["Body camera"],
                "requirement": ["CJIS-5.20.3-4"],
                "reason": ["encryption at rest is off"],
            }
        ),
        "participation": pd.DataFrame(
            {
                "agency": list(agencies["agency"]),
                "cabinet": list(agencies["cabinet"]),
                "status": ["Subscribed", "Pilot", "Not engaged"],
                "since": [date(2018, 3, 1), date(2024, 5, 1), date(2017, 1, 1)],
            }
        ),
        "expectations": pd.DataFrame(
            {
                "label": ["Agencies subscribed 2021", "Agencies subscribed 2025"],
                "version": ["2021", "2025"],
                "metric": ["agencies_subscribed"] * 2,
                "target": [40.0, 60.0],
                "actual": [33.3, 33.3],
                "by_date": [date(2023, 1, 1), date(2027, 1, 1)],
                "source": ["illustrative", "illustrative"],
                "met": [False, False],
            }
        ),
        "versions_in_effect": ["cjis-mobile 6.0 (published, effective 2025-10-01)"],
        "parameters": {
            "scope": "state",
            "set": "cjis-mobile",
            "version": "6.0",
            "compare_version": "7.0",
            "as_of": "2026-11-20",
        },
        "whatif": WhatIf(
            from_version="6.0",
            to_version="7.0",
            added=1,
            removed=0,
            tightened=2,
            relaxed=0,
            ready_pct_before=59.9,
            ready_pct_after=48.3,
            newly_failing_devices=18,
            newly_failing_agencies=2,
            estimated_cost=12580.0,
            changes=pd.DataFrame(
                {
                    "code": ["CJIS-5.20.3-4"],
                    "change": ["tightened"],
                    "title": ["Encryption at rest (FIPS 140)"],
                }
            ),
            plan=pd.DataFrame(
                {
                    "rank": [1, 2],
                    "action": ["Update firmware on 10 Axon Body 4", "Replace 8 Sierra MG90"],
                    "devices": [10, 8],
                    "ready_pct_after": [65.7, 70.0],
                    "cost": [0.0, 12580.0],
                }
            ),
        ),
        "changes": ChangesSince(
            previous_id=3,
            previous_as_of=date(2026, 10, 1),
            previous_data_hash="ab" * 32,
            devices_before=160,
            devices_after=172,
            ready_pct_before=52.0,
            ready_pct_after=59.9,
            agencies_participating_before=0,
            agencies_participating_after=1,
            requirement_changes=pd.DataFrame(
                {
                    "set": ["cjis-mobile"],
                    "version": ["6.0"],
                    "status": ["published"],
                    "effective": ["2026-10-15"],
                    "change": ["1 new, 2 tightened"],
                }
            ),
            participation_changes=pd.DataFrame(
                {
                    "agency": ["Kentucky State Police"],
                    "from_status": ["Pilot"],
                    "to_status": ["Subscribed"],
                    "changed_on": ["2026-10-20"],
                }
            ),
        ),
        "failing_devices_total": 1,
        "generated_at": datetime(2026, 11, 20, 12, 0, tzinfo=UTC),
    }
    values.update(overrides)
    return BriefingData(**values)
