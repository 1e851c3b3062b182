"""Daily readiness and participation snapshots: the raw material of trends and "as of" views.

``compute_snapshots(as_of=D)`` evaluates the fleet against every version that was in effect
on D (``readiness.results.versions_in_effect``), with the waivers that counted on D, and
replaces that date's rows: re-running a date (by hand, by the nightly task, twice by two beat
processes) leaves exactly one set of rows. One transaction per date, so a reader never sees
half a day.

The inventory keeps no history of device attributes, so a backfilled past date is today's
fleet judged by the rules and waivers of that date; the command says so when it backfills.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta

import pandas as pd
from django.db import connection, transaction
from django.utils import timezone

from devices.models import Device
from readiness.models import ParticipationSnapshot, ReadinessSnapshot, RequirementSetVersion


@dataclass
class SnapshotRun:
    """What one ``compute_snapshots`` call wrote."""

    date: date
    versions: list[str] = field(default_factory=list)
    readiness_rows: int = 0
    participation_rows: int = 0


def end_of_day(day: date, *, now: datetime | None = None) -> datetime:
    """The moment a date's snapshot describes: the end of that day in the site's time zone.

    Today (by ``now``, default the clock) has not ended, so its moment is ``now``.
    """
    now = now or timezone.now()
    if day >= timezone.localdate(now):
        return now
    return timezone.make_aware(datetime.combine(day, time(23, 59, 59)))


SNAPSHOT_COLUMNS = [
    "date",
    "agency_id",
    "version_id",
    "requirement_key",
    "weight",
    "is_mandatory",
    "n_pass",
    "n_fail",
    "n_waived",
    "n_na",
    "n_reporting",
    "score",
    "coverage",
    "source",
    "computed_at",
]


def snapshot_frame(
    counts: pd.DataFrame,
    *,
    day: date,
    version: RequirementSetVersion,
    computed_at: datetime,
    source: str = ReadinessSnapshot.Source.COMPUTED,
) -> pd.DataFrame:
    """Pure: the snapshot rows (SNAPSHOT_COLUMNS) for one version's counts (``results.agency_counts``).

    Requirement rows that apply to none of an agency's devices are left out (nothing to
    trend); the agency's total row is always kept.
    """
    c = counts.copy()
    is_total = c["key"].eq(ReadinessSnapshot.TOTAL_KEY)
    applicable = c["n_pass"] + c["n_fail"] + c["n_waived"]
    c = c[is_total | (applicable > 0)]
    is_total = c["key"].eq(ReadinessSnapshot.TOTAL_KEY)
    applicable = (c["n_pass"] + c["n_fail"] + c["n_waived"]).astype("float64")
    ok = c["n_pass"] + c["n_waived"].where(~is_total, 0)
    score = (100.0 * ok / applicable.where(applicable > 0)).fillna(100.0).clip(upper=100.0).round(4)
    coverage = (
        (c["n_reporting"] / applicable.where(applicable > 0)).fillna(0.0).clip(upper=1.0).round(6)
    )
    return pd.DataFrame(
        {
            "date": day,
            "agency_id": c["agency_id"].astype("int64"),
            "version_id": version.pk,
            "requirement_key": c["key"].astype(str),
            "weight": c["weight"].astype("int64").clip(lower=1),
            "is_mandatory": c["is_mandatory"].astype(bool),
            "n_pass": c["n_pass"].astype("int64"),
            "n_fail": c["n_fail"].astype("int64"),
            "n_waived": c["n_waived"].astype("int64"),
            "n_na": c["n_na"].astype("int64"),
            "n_reporting": c["n_reporting"].astype("int64"),
            "score": score,
            "coverage": coverage,
            "source": str(source),
            "computed_at": computed_at,
        },
        columns=SNAPSHOT_COLUMNS,
    )


def insert_snapshots(frame: pd.DataFrame) -> int:
    """Insert snapshot rows with one ``executemany`` (the ORM's bulk_create is about five
    times slower here, FINDINGS.md). Call inside the transaction that deleted the date."""
    if frame.empty:
        return 0
    table = ReadinessSnapshot._meta.db_table
    cols = ", ".join(SNAPSHOT_COLUMNS)
    marks = ", ".join(["%s"] * len(SNAPSHOT_COLUMNS))
    ops = connection.ops
    rows = [
        (
            ops.adapt_datefield_value(r[0]),
            int(r[1]),
            int(r[2]),
            r[3],
            int(r[4]),
            bool(r[5]),
            int(r[6]),
            int(r[7]),
            int(r[8]),
            int(r[9]),
            int(r[10]),
            float(r[11]),
            float(r[12]),
            r[13],
            ops.adapt_datetimefield_value(r[14]),
        )
        for r in frame.itertuples(index=False, name=None)
    ]
    with connection.cursor() as cursor:
        cursor.executemany(f"INSERT INTO {table} ({cols}) VALUES ({marks})", rows)
    return len(rows)


def firstnet_status_on(day: date) -> dict[int, str]:
    """Each agency's FirstNet status on ``day`` (see ``readiness.participation.statuses_on``)."""
    from readiness.participation import agencies_frame, status_changes_frame, statuses_on

    agencies = agencies_frame(None)
    if agencies.empty:
        return {}
    return {
        int(k): str(v) for k, v in statuses_on(agencies, status_changes_frame(None), day).items()
    }


def participation_rows(day: date, *, computed_at: datetime) -> list[ParticipationSnapshot]:
    """One row per agency: its status on ``day`` and today's cellular device counts."""
    statuses = firstnet_status_on(day)
    frame = pd.DataFrame(
        list(
            Device.objects.in_service()
            .filter(model__is_cellular=True)
            .values("agency_id", "network", "model__has_band14")
        ),
        columns=["agency_id", "network", "model__has_band14"],
    )
    if frame.empty:
        counts = pd.DataFrame(columns=["cellular", "firstnet", "band14"])
    else:
        frame["firstnet"] = frame["network"].eq(Device.Network.FIRSTNET)
        frame["band14"] = frame["model__has_band14"].astype(bool)
        counts = frame.groupby("agency_id").agg(
            cellular=("network", "size"), firstnet=("firstnet", "sum"), band14=("band14", "sum")
        )
    rows = []
    for agency_id, status in statuses.items():
        c = counts.loc[agency_id] if agency_id in counts.index else None
        rows.append(
            ParticipationSnapshot(
                date=day,
                agency_id=agency_id,
                firstnet_status=status,
                devices_cellular=int(c["cellular"]) if c is not None else 0,
                devices_firstnet=int(c["firstnet"]) if c is not None else 0,
                devices_band14=int(c["band14"]) if c is not None else 0,
                computed_at=computed_at,
            )
        )
    return rows


def compute_snapshots(
    *,
    as_of: date,
    now: datetime | None = None,
    cache: dict | None = None,
    source: str = ReadinessSnapshot.Source.COMPUTED,
) -> SnapshotRun:
    """Replace the readiness and participation snapshots of ``as_of``. Idempotent.

    Every version in effect on ``as_of`` is evaluated (all agencies) with the waivers that
    counted at the end of that day. The date's old rows are deleted and the new ones
    inserted in one transaction. ``cache`` (a dict the caller keeps) lets a backfill
    evaluate each version once: the fleet is today's for every date anyway.
    """
    from readiness.results import agency_counts, evaluate_raw, finish_results, versions_in_effect

    now = now or timezone.now()
    at = min(end_of_day(as_of, now=now), now)
    cache = {} if cache is None else cache
    run = SnapshotRun(date=as_of)
    frames: list[pd.DataFrame] = []
    for version in versions_in_effect(on=as_of):
        if version.pk not in cache:
            cache[version.pk] = evaluate_raw(version=version, now=now)
        fleet = finish_results(cache[version.pk], waivers_at=at)
        frames.append(
            snapshot_frame(
                agency_counts(fleet), day=as_of, version=version, computed_at=now, source=source
            )
        )
        run.versions.append(f"{version.requirement_set.code} {version.version}")
    part = participation_rows(as_of, computed_at=now)
    for row in part:
        row.source = source
    with transaction.atomic():
        ReadinessSnapshot.objects.filter(date=as_of).delete()
        ParticipationSnapshot.objects.filter(date=as_of).delete()
        written = insert_snapshots(
            pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()
        )
        ParticipationSnapshot.objects.bulk_create(part, batch_size=2000)
    run.readiness_rows = written
    run.participation_rows = len(part)
    return run


def backfill_snapshots(*, until: date, days: int, now: datetime | None = None) -> list[SnapshotRun]:
    """``compute_snapshots`` for each of the ``days`` dates ending on ``until``, oldest first."""
    cache: dict = {}
    return [
        compute_snapshots(as_of=until - timedelta(days=offset), now=now, cache=cache)
        for offset in range(days - 1, -1, -1)
    ]


def trend(*, set_code: str, agency_ids: list[int] | None, start: date, end: date) -> pd.DataFrame:
    """Per snapshot date: the version in effect then, devices, ready, ready_pct, score, coverage.

    Reads snapshots only. Each date uses the version of ``set_code`` that was in effect on it,
    so a new version taking effect shows as a step in the line.
    """
    qs = ReadinessSnapshot.objects.filter(
        version__requirement_set__code=set_code, date__gte=start, date__lte=end
    )
    if agency_ids is not None:
        qs = qs.filter(agency_id__in=agency_ids)
    frame = pd.DataFrame(
        list(
            qs.values(
                "date",
                "version__version",
                "requirement_key",
                "weight",
                "n_pass",
                "n_fail",
                "n_waived",
                "n_reporting",
            )
        ),
        columns=[
            "date",
            "version__version",
            "requirement_key",
            "weight",
            "n_pass",
            "n_fail",
            "n_waived",
            "n_reporting",
        ],
    )
    columns = ["date", "version", "devices", "ready", "ready_pct", "score", "coverage"]
    if frame.empty:
        return pd.DataFrame(columns=columns)
    total = frame[frame["requirement_key"].eq(ReadinessSnapshot.TOTAL_KEY)]
    reqs = frame[~frame["requirement_key"].eq(ReadinessSnapshot.TOTAL_KEY)].copy()
    reqs["w_ok"] = reqs["weight"] * (reqs["n_pass"] + reqs["n_waived"])
    reqs["w_all"] = reqs["weight"] * (reqs["n_pass"] + reqs["n_fail"] + reqs["n_waived"])
    t = total.groupby(["date", "version__version"]).agg(
        ready=("n_pass", "sum"), not_ready=("n_fail", "sum"), reporting=("n_reporting", "sum")
    )
    r = reqs.groupby(["date", "version__version"])[["w_ok", "w_all"]].sum()
    out = (
        t.join(r, how="left")
        .fillna(0)
        .reset_index()
        .rename(columns={"version__version": "version"})
    )
    out["devices"] = (out["ready"] + out["not_ready"]).astype("int64")
    devices = out["devices"].clip(lower=1)
    out["ready_pct"] = (100.0 * out["ready"] / devices).round(2)
    out["score"] = (100.0 * out["w_ok"] / out["w_all"].clip(lower=1)).round(2)
    out["coverage"] = (out["reporting"] / devices).round(4)
    out["ready"] = out["ready"].astype("int64")
    return out[columns].sort_values("date").reset_index(drop=True)
