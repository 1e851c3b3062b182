"""FirstNet participation: agencies' status over time, the funnel, and federal expectations.

Participation is measured per agency because agencies, not states, decide to subscribe
(every state opted in by 2018; individual agencies are not required to subscribe). The
funnel runs from eligible agencies to engaged (evaluating, pilot or subscribed) and
subscribed agencies, then from cellular devices to devices on FirstNet and Band 14 capable
ones. Federal expectations are versioned targets (``FederalExpectation``); each is compared
with the actual value of its metric, statewide and per cabinet.

An agency's status on a date comes from its ``FirstNetStatusChange`` history; an agency with
no history has had its current status since ``firstnet_status_changed_on`` and was not
engaged before. Device counts of a past date come from that date's ``ParticipationSnapshot``
(the inventory keeps no history of them); today's come from the inventory.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import pandas as pd
from django.db.models import Q

from devices.models import Agency, Device, FirstNetStatusChange
from readiness.models import FederalExpectation, ParticipationSnapshot

ENGAGED = ("evaluating", "pilot", "subscribed")
SUBSCRIBED = ("subscribed",)
NOT_ENGAGED = "not_engaged"


# --- pure -----------------------------------------------------------------------------------


def statuses_on(agencies: pd.DataFrame, changes: pd.DataFrame, day: date) -> pd.Series:
    """Each agency's FirstNet status on ``day`` (index agency_id).

    ``agencies``: agency_id, firstnet_status, firstnet_status_changed_on.
    ``changes``: agency_id, status, changed_on (any order).
    """
    current = agencies.set_index("agency_id")
    since = pd.to_datetime(current["firstnet_status_changed_on"]).dt.date
    out = current["firstnet_status"].where(since <= day, NOT_ENGAGED).astype(object)
    if not changes.empty:
        past = changes[pd.to_datetime(changes["changed_on"]).dt.date <= day]
        has_history = set(changes["agency_id"])
        # With history, an agency's status before its first change is "not engaged".
        out[out.index.isin(list(has_history))] = NOT_ENGAGED
        if not past.empty:
            latest = (
                past.sort_values(["agency_id", "changed_on"]).groupby("agency_id")["status"].last()
            )
            latest = latest[latest.index.isin(out.index)]
            out.loc[latest.index] = latest
    return out


def share(part: int, whole: int) -> float | None:
    return round(part / whole, 4) if whole else None


# --- reads ------------------------------------------------------------------------------------


def agencies_frame(agency_ids: list[int] | None) -> pd.DataFrame:
    """agency_id, slug, name, cabinet_id, cabinet_slug, cabinet, firstnet_status, firstnet_status_changed_on."""
    qs = Agency.objects.all()
    if agency_ids is not None:
        qs = qs.filter(pk__in=agency_ids)
    rows = list(
        qs.values(
            "id",
            "slug",
            "name",
            "cabinet_id",
            "cabinet__slug",
            "cabinet__name",
            "firstnet_status",
            "firstnet_status_changed_on",
        )
    )
    frame = pd.DataFrame(
        rows,
        columns=[
            "id",
            "slug",
            "name",
            "cabinet_id",
            "cabinet__slug",
            "cabinet__name",
            "firstnet_status",
            "firstnet_status_changed_on",
        ],
    )
    return frame.rename(
        columns={"id": "agency_id", "cabinet__slug": "cabinet_slug", "cabinet__name": "cabinet"}
    )


def status_changes_frame(agency_ids: list[int] | None) -> pd.DataFrame:
    """agency_id, status, changed_on: every FirstNet status change of the agencies."""
    qs = FirstNetStatusChange.objects.all()
    if agency_ids is not None:
        qs = qs.filter(agency_id__in=agency_ids)
    return pd.DataFrame(
        list(qs.values("agency_id", "status", "changed_on")),
        columns=["agency_id", "status", "changed_on"],
    )


def _device_counts(
    agency_ids: list[int] | None, *, on: date, today: date
) -> tuple[pd.DataFrame, str]:
    """Per agency: cellular, firstnet, band14, firstnet_band14 counts, and where they come from."""
    cols = ["cellular", "firstnet", "band14", "firstnet_band14"]
    if on < today:
        snapshots = ParticipationSnapshot.objects.filter(date__lte=on)
        if agency_ids is not None:
            snapshots = snapshots.filter(agency_id__in=agency_ids)
        snap_date = snapshots.order_by("-date").values_list("date", flat=True).first()
        if snap_date is not None:
            rows = snapshots.filter(date=snap_date).values(
                "agency_id", "devices_cellular", "devices_firstnet", "devices_band14"
            )
            frame = pd.DataFrame(list(rows)).rename(
                columns={
                    "devices_cellular": "cellular",
                    "devices_firstnet": "firstnet",
                    "devices_band14": "band14",
                }
            )
            # Snapshots do not split Band 14 by network; the funnel's last stage is then an
            # upper bound (the smaller of the two counts).
            frame["firstnet_band14"] = frame[["firstnet", "band14"]].min(axis=1)
            return frame.set_index("agency_id")[cols], f"snapshot of {snap_date}"
    devices = Device.objects.in_service().filter(model__is_cellular=True)
    if agency_ids is not None:
        devices = devices.filter(agency_id__in=agency_ids)
    frame = pd.DataFrame(
        list(devices.values("agency_id", "network", "model__has_band14")),
        columns=["agency_id", "network", "model__has_band14"],
    )
    if frame.empty:
        return pd.DataFrame(columns=cols), "inventory"
    frame["firstnet"] = frame["network"].eq(Device.Network.FIRSTNET)
    frame["band14"] = frame["model__has_band14"].astype(bool)
    frame["firstnet_band14"] = frame["firstnet"] & frame["band14"]
    out = frame.groupby("agency_id").agg(
        cellular=("network", "size"),
        firstnet=("firstnet", "sum"),
        band14=("band14", "sum"),
        firstnet_band14=("firstnet_band14", "sum"),
    )
    return out.astype("int64"), "inventory"


@dataclass
class FunnelStage:
    stage: str
    label: str
    count: int
    of: int
    share: float | None  # count / of


@dataclass
class Funnel:
    """The participation funnel of one scope on one date, with its metrics."""

    as_of: date
    scope: str  # "statewide" or a cabinet slug
    name: str
    stages: list[FunnelStage]
    metrics: dict[str, float | None]
    device_source: str


def _funnel_for(frame: pd.DataFrame, *, as_of: date, scope: str, name: str, source: str) -> Funnel:
    eligible = len(frame)
    engaged = int(frame["status"].isin(ENGAGED).sum())
    subscribed = int(frame["status"].isin(SUBSCRIBED).sum())
    cellular = int(frame["cellular"].sum())
    firstnet = int(frame["firstnet"].sum())
    band14 = int(frame["band14"].sum())
    fn_b14 = int(frame["firstnet_band14"].sum())
    stages = [
        FunnelStage("eligible", "Eligible agencies", eligible, eligible, share(eligible, eligible)),
        FunnelStage(
            "engaged",
            "Engaged (evaluating, pilot or subscribed)",
            engaged,
            eligible,
            share(engaged, eligible),
        ),
        FunnelStage(
            "subscribed", "Subscribed agencies", subscribed, eligible, share(subscribed, eligible)
        ),
        FunnelStage(
            "devices_cellular", "Cellular devices", cellular, cellular, share(cellular, cellular)
        ),
        FunnelStage(
            "devices_firstnet", "Devices on FirstNet", firstnet, cellular, share(firstnet, cellular)
        ),
        FunnelStage(
            "devices_firstnet_band14",
            "On FirstNet and Band 14 capable",
            fn_b14,
            firstnet,
            share(fn_b14, firstnet),
        ),
    ]
    metrics = {
        FederalExpectation.Metric.AGENCIES_ENGAGED: share(engaged, eligible),
        FederalExpectation.Metric.AGENCIES_SUBSCRIBED: share(subscribed, eligible),
        FederalExpectation.Metric.DEVICES_FIRSTNET: share(firstnet, cellular),
        FederalExpectation.Metric.DEVICES_BAND14: share(band14, cellular),
    }
    return Funnel(
        as_of=as_of,
        scope=scope,
        name=name,
        stages=stages,
        metrics={str(k): v for k, v in metrics.items()},
        device_source=source,
    )


def participation_frame(
    *, agency_ids: list[int] | None, as_of: date, today: date
) -> tuple[pd.DataFrame, str]:
    """Per agency: slug, cabinet, status on ``as_of`` and device counts."""
    agencies = agencies_frame(agency_ids)
    status = statuses_on(agencies, status_changes_frame(agency_ids), as_of)
    counts, source = _device_counts(agency_ids, on=as_of, today=today)
    frame = agencies.set_index("agency_id")
    frame["status"] = status
    frame = frame.join(counts, how="left")
    for col in ("cellular", "firstnet", "band14", "firstnet_band14"):
        frame[col] = frame[col].fillna(0).astype("int64")
    return frame.reset_index(), source


def funnels(
    *, agency_ids: list[int] | None, as_of: date, today: date, by: str = "state"
) -> list[Funnel]:
    """The funnel statewide (``by="state"``) or one per cabinet (``by="cabinet"``)."""
    frame, source = participation_frame(agency_ids=agency_ids, as_of=as_of, today=today)
    if by == "cabinet":
        return [
            _funnel_for(
                group,
                as_of=as_of,
                scope=str(slug),
                name=str(group["cabinet"].iloc[0]),
                source=source,
            )
            for slug, group in frame.groupby("cabinet_slug", sort=True)
        ]
    return [_funnel_for(frame, as_of=as_of, scope="statewide", name="Statewide", source=source)]


def expectations_in_effect(*, on: date, scope: str = "state") -> dict[str, FederalExpectation]:
    """Per metric, the expectation version in effect on ``on`` for ``scope`` ("state" or
    "cabinet:<slug>")."""
    out: dict[str, FederalExpectation] = {}
    for exp in FederalExpectation.objects.filter(effective_from__lte=on, scope=scope).order_by(
        "metric", "effective_from"
    ):
        out[exp.metric] = exp
    return out


def _applies_to(exp: FederalExpectation, funnel_scope: str) -> bool:
    """A statewide target applies to every funnel; a cabinet's only to that cabinet's."""
    return exp.scope == "state" or exp.scope == f"cabinet:{funnel_scope}"


@dataclass
class ExpectationComparison:
    expectation: FederalExpectation
    scope: str
    name: str
    actual: float | None
    gap: float | None  # actual - target (negative: below the target)
    is_met: bool | None
    is_current: bool  # the version in effect on as_of


def compare_with_expectations(
    *, agency_ids: list[int] | None, as_of: date, today: date, by: str = "state"
) -> list[ExpectationComparison]:
    """Actual participation against every expectation version, statewide or per cabinet."""
    current = {e.pk for e in expectations_in_effect(on=as_of).values()}
    current |= {
        e.pk
        for scope in FederalExpectation.objects.exclude(scope="state")
        .values_list("scope", flat=True)
        .distinct()
        for e in expectations_in_effect(on=as_of, scope=scope).values()
    }
    expectations = list(FederalExpectation.objects.order_by("metric", "effective_from"))
    out = []
    for funnel in funnels(agency_ids=agency_ids, as_of=as_of, today=today, by=by):
        for exp in (e for e in expectations if _applies_to(e, funnel.scope)):
            actual = funnel.metrics.get(exp.metric)
            gap = None if actual is None else round(actual - exp.target_value, 4)
            out.append(
                ExpectationComparison(
                    expectation=exp,
                    scope=funnel.scope,
                    name=funnel.name,
                    actual=actual,
                    gap=gap,
                    is_met=None if actual is None else actual >= exp.target_value,
                    is_current=exp.pk in current,
                )
            )
    return out


def history(*, agency_ids: list[int] | None, start: date, end: date) -> pd.DataFrame:
    """Monthly (first of each month, plus ``end``): agencies per status and the shares.

    Columns: date, eligible, not_engaged, evaluating, pilot, subscribed, declined,
    engaged_share, subscribed_share, devices_firstnet_share (from that date's participation
    snapshot, when one exists), and the target in effect for the two agency metrics.
    """
    agencies = agencies_frame(agency_ids)
    changes = status_changes_frame(agency_ids)
    dates = [d.date() for d in pd.date_range(start, end, freq="MS")]
    if not dates or dates[-1] != end:
        dates.append(end)
    snaps = ParticipationSnapshot.objects.filter(date__in=dates)
    if agency_ids is not None:
        snaps = snaps.filter(agency_id__in=agency_ids)
    snap = pd.DataFrame(
        list(snaps.values("date", "devices_cellular", "devices_firstnet")),
        columns=["date", "devices_cellular", "devices_firstnet"],
    )
    dev = (
        snap.groupby("date")[["devices_cellular", "devices_firstnet"]].sum()
        if not snap.empty
        else None
    )
    exps = list(
        FederalExpectation.objects.filter(
            Q(metric=FederalExpectation.Metric.AGENCIES_ENGAGED)
            | Q(metric=FederalExpectation.Metric.AGENCIES_SUBSCRIBED)
        ).order_by("effective_from")
    )
    rows = []
    statuses = ["not_engaged", "evaluating", "pilot", "subscribed", "declined"]
    for day in dates:
        status = (
            statuses_on(agencies, changes, day) if not agencies.empty else pd.Series(dtype=object)
        )
        counts = status.value_counts()
        row: dict[str, object] = {"date": day, "eligible": len(status)}
        for s in statuses:
            row[s] = int(counts.get(s, 0))
        row["engaged_share"] = share(sum(int(counts.get(s, 0)) for s in ENGAGED), len(status))
        row["subscribed_share"] = share(int(counts.get("subscribed", 0)), len(status))
        row["devices_firstnet_share"] = (
            share(int(dev.at[day, "devices_firstnet"]), int(dev.at[day, "devices_cellular"]))
            if dev is not None and day in dev.index
            else None
        )
        for metric in (
            FederalExpectation.Metric.AGENCIES_ENGAGED,
            FederalExpectation.Metric.AGENCIES_SUBSCRIBED,
        ):
            target = None
            for exp in exps:
                if exp.metric == metric and exp.effective_from <= day:
                    target = exp.target_value
            row[f"{metric}_target"] = target
        rows.append(row)
    return pd.DataFrame(rows)


def status_timeline(*, agency_ids: list[int] | None) -> list[dict]:
    """Each agency's status changes, oldest first: for the per-agency history view."""
    qs = FirstNetStatusChange.objects.select_related("agency").order_by(
        "agency__name", "changed_on", "id"
    )
    if agency_ids is not None:
        qs = qs.filter(agency_id__in=agency_ids)
    return [
        {
            "agency": c.agency.slug,
            "agency_name": c.agency.name,
            "status": c.status,
            "changed_on": c.changed_on,
            "note": c.note,
        }
        for c in qs
    ]


# Earlier names, kept for callers that imported them.
_agencies = agencies_frame
_changes = status_changes_frame
