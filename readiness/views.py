"""Dashboard pages: parse the filters (`readiness.filters`), resolve the scope once
(`readiness.scoping`), call the page data (`readiness.pages`, `participation_pages`,
`catalog_pages`, `failing_devices`, `briefings.data`), render.

State staff see every page. An agency user reaches only their own agency's page (another
agency's answers 404, statewide pages 403) and their own agency's briefings. Partials
(templates starting with "_") are what HTMX swaps in: the live figures every 30 s, a
briefing's progress every 2 s.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from functools import wraps
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.db.models import Count
from django.http import FileResponse, Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_POST

from config.errors import DomainError, InvalidInput
from config.typing import AuthedRequest
from readiness import (
    catalog_pages,
    charts,
    evaluation_store,
    evaluations,
    exports,
    figures_cache,
    pages,
    participation_pages,
    scoping,
    waivers,
)
from readiness.briefings import FORMATS
from readiness.briefings.data import BriefingParams, briefing_choices
from readiness.failing_devices import failing_devices
from readiness.filters import Filters, filter_choices, parse_filters
from readiness.models import BriefingExport, ReadinessEvaluation
from readiness.scoping import Scope

View = Callable[..., HttpResponse]


def state_staff_only(view: View) -> View:
    """Statewide pages: an agency user is refused (their landing page is their agency's)."""

    @wraps(view)
    @login_required
    def wrapper(request: AuthedRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        scoping.require_state_staff(
            request.user, "This page is for state staff; your agency's page is your home page."
        )
        return view(request, *args, **kwargs)

    return wrapper


def _filters(request: HttpRequest) -> Filters:
    return parse_filters(request.GET, today=timezone.localdate())


def _error_page(request: HttpRequest, exc: DomainError, *, title: str) -> HttpResponse:
    """A bad filter or an unknown version: the page says what to change, with the right status."""
    return render(
        request, "readiness/error.html", {"title": title, "error": exc}, status=exc.status
    )


def _sorted(frame, request: HttpRequest, *, allowed: tuple[str, ...], default: str):  # noqa: ANN001, ANN202
    """Server-side sort of a table by ?sort=COLUMN&dir=asc|desc (works without JavaScript)."""
    column = request.GET.get("sort", default)
    column = column if column in allowed else default
    descending = request.GET.get("dir", "asc") == "desc"
    if frame.empty or column not in frame:
        return frame, column, descending
    return frame.sort_values([column, "name"], ascending=[not descending, True]), column, descending


AGENCY_COLUMNS = [
    ("name", "Agency", False),
    ("devices", "Devices", True),
    ("ready", "Ready", True),
    ("ready_pct", "Ready %", True),
    ("coverage_pct", "Coverage %", True),
]


def _sort_headers(request: HttpRequest, sort: str, descending: bool) -> list[dict[str, Any]]:
    """Column headings as links: the current column toggles direction, another sorts ascending."""
    headers = []
    for key, label, numeric in AGENCY_COLUMNS:
        params = request.GET.copy()
        params["sort"] = key
        params["dir"] = "asc" if key != sort or descending else "desc"
        headers.append(
            {
                "key": key,
                "label": label,
                "numeric": numeric,
                "query": params.urlencode(),
                "aria_sort": ("descending" if descending else "ascending")
                if key == sort
                else "none",
            }
        )
    return headers


def _readiness_charts(fig: pages.ReadinessFigures, *, by_cabinet: bool) -> dict[str, str]:
    if fig.empty_message:
        return {}
    if fig.cache_key:
        # The figures come from snapshots: their charts are the same until a snapshot changes.
        return figures_cache.get_or_set(
            f"{fig.cache_key}:charts:{by_cabinet}",
            lambda: _build_readiness_charts(fig, by_cabinet=by_cabinet),
            now=timezone.now(),
        )
    return _build_readiness_charts(fig, by_cabinet=by_cabinet)


def _build_readiness_charts(fig: pages.ReadinessFigures, *, by_cabinet: bool) -> dict[str, str]:
    out = {
        "trend": charts.render(
            charts.trend_figure(fig.trend, title=f"Readiness trend, {fig.set_name}"),
            div_id="chart-trend",
        ),
        "failing": charts.render(
            charts.failing_requirements_figure(fig.requirements), div_id="chart-failing"
        ),
    }
    if by_cabinet:
        out["cabinets"] = charts.render(
            charts.readiness_bar_figure(
                fig.cabinets.rename(columns={"name": "cabinet"}),
                label="cabinet",
                title="Ready % by cabinet (lowest first)",
            ),
            div_id="chart-cabinets",
        )
    return out


def _live_context(scope: Scope, filters: Filters, live_url: str) -> dict[str, Any]:
    # Every viewer of a scope shares one reading for a few seconds: the section says when it
    # was refreshed, polls every 30 s, and without this each page view would run the fleet's
    # GROUP BY and build two plotly figures (most of the overview's time under load).
    now = timezone.now()
    built = figures_cache.shared(
        f"live:{scope.key}",
        lambda: _build_live(scope, now=now),
        now=now,
    )
    return {**built, "live_url": live_url}


def _build_live(scope: Scope, *, now: datetime) -> dict[str, Any]:
    live = pages.live_figures(scope, now=now)
    return {
        "live": live,
        "health_chart": charts.render(charts.health_figure(live.health), div_id="chart-health"),
        "mix_chart": charts.render(charts.device_mix_figure(live.mix), div_id="chart-mix"),
    }


def wants_live(request: HttpRequest) -> bool:
    """``?live=true``: evaluate now instead of reading the evaluation of record (marked "live")."""
    return request.GET.get("live", "").lower() in ("true", "1", "yes")


def _figures(request: HttpRequest, scope: Scope, filters: Filters) -> pages.ReadinessFigures:
    """Readiness figures of the page: the latest evaluation of record for today (recorded
    first on a fresh install), live when asked for, a snapshot for a past date."""
    now = timezone.now()
    return pages.readiness_figures(
        scope,
        filters,
        today=timezone.localdate(now),
        now=now,
        evaluation=_record_for(request, filters, now=now),
        live=wants_live(request),
    )


def _record_for(
    request: HttpRequest, filters: Filters, *, now: datetime
) -> ReadinessEvaluation | None:
    """The evaluation of record a page reads for today (recorded first on a fresh install);
    None when live figures were asked for or the page is about a past date."""
    if wants_live(request) or (
        filters.as_of is not None and filters.as_of != timezone.localdate(now)
    ):
        return None
    return evaluations.current_evaluation(now=now)


@require_POST
@state_staff_only
def reevaluate(request: AuthedRequest) -> HttpResponse:
    """Record a new evaluation of record now (state staff), then go back where the user was."""
    record = evaluations.record_evaluation(
        now=timezone.now(), trigger=ReadinessEvaluation.Trigger.REQUESTED
    )
    messages.success(
        request,
        f"Re-evaluated: figures as of {timezone.localtime(record.evaluated_at):%H:%M:%S} "
        f"({record.devices} devices).",
    )
    back = request.POST.get("next", "")
    if not url_has_allowed_host_and_scheme(back, allowed_hosts={request.get_host()}):
        back = reverse("readiness:overview")
    return redirect(back or reverse("readiness:overview"))


@state_staff_only
def overview(request: AuthedRequest) -> HttpResponse:
    try:
        filters = _filters(request)
        scope = scoping.state_scope(request.user, filters)
        fig = _figures(request, scope, filters)
        # The participation headline and the filter options cost several queries each, are
        # alike for every viewer and change only with the inventory: shared for a few seconds.
        participation = figures_cache.shared(
            f"participation:{scope.key}:{fig.as_of}",
            lambda: participation_pages.participation_headline(scope, as_of=fig.as_of),
            now=timezone.now(),
        )
    except DomainError as exc:
        return _error_page(request, exc, title="Statewide overview")
    agencies, sort, descending = _sorted(
        fig.agencies,
        request,
        default="ready_pct",
        allowed=("name", "devices", "ready", "ready_pct", "coverage_pct"),
    )
    context = {
        "filters": filters,
        "scope": scope,
        "fig": fig,
        "participation": participation,
        "agencies": agencies.to_dict("records") if not agencies.empty else [],
        "headers": _sort_headers(request, sort, descending),
        "choices": figures_cache.shared(
            f"choices:all:{fig.set_code}",  # state staff only: every agency
            lambda: filter_choices(None, set_code=fig.set_code),
            now=timezone.now(),
        ),
        "charts": _readiness_charts(fig, by_cabinet=True),
        **_live_context(scope, filters, f"{reverse('readiness:overview_live')}?{filters.query()}"),
    }
    return render(request, "readiness/overview.html", context)


@state_staff_only
def overview_live(request: AuthedRequest) -> HttpResponse:
    try:
        filters = _filters(request)
        scope = scoping.state_scope(request.user, filters)
    except DomainError as exc:
        return HttpResponse(exc.message, status=exc.status)
    return render(
        request,
        "readiness/_live_figures.html",
        _live_context(scope, filters, request.get_full_path()),
    )


@login_required
def agency(request: AuthedRequest, slug: str) -> HttpResponse:
    # Scope first: another agency's slug is a 404 before any filter is read.
    scope = scoping.agency_scope(request.user, slug)
    try:
        filters = _filters(request)
        fig = _figures(request, scope, filters)
        participation = participation_pages.participation_headline(scope, as_of=fig.as_of)
    except DomainError as exc:
        return _error_page(request, exc, title=scope.label)
    context = {
        "filters": filters,
        "scope": scope,
        "fig": fig,
        "participation": participation,
        "agency": pages.agency_summary(scope),
        "choices": filter_choices(scoping.visible_agency_ids(request.user), set_code=fig.set_code),
        "charts": _readiness_charts(fig, by_cabinet=False),
        "gateways": pages.agency_gateways(scope.agency_id),
        "alerts": pages.open_alerts(scope),
        "waivers": pages.agency_waivers(scope, now=timezone.now()),
        **_live_context(
            scope, filters, f"{reverse('readiness:agency_live', args=[slug])}?{filters.query()}"
        ),
    }
    return render(request, "readiness/agency.html", context)


@login_required
def agency_live(request: AuthedRequest, slug: str) -> HttpResponse:
    scope = scoping.agency_scope(request.user, slug)
    try:
        filters = _filters(request)
    except DomainError as exc:
        return HttpResponse(exc.message, status=exc.status)
    return render(
        request,
        "readiness/_live_figures.html",
        _live_context(scope, filters, request.get_full_path()),
    )


@login_required
def agency_failing(request: AuthedRequest, slug: str) -> HttpResponse:
    """The agency's failing devices with reasons: evaluated live, loaded after the page."""
    scope = scoping.agency_scope(request.user, slug)
    try:
        filters = _filters(request)
        failing = failing_devices(scope, filters, now=timezone.now())
    except DomainError as exc:
        return render(request, "readiness/_failing_devices.html", {"error": exc}, status=exc.status)
    if isinstance(failing, str):  # nothing to evaluate: the page says why, and so does this
        return render(request, "readiness/_failing_devices.html", {"nothing": failing})
    return render(request, "readiness/_failing_devices.html", {"failing": failing, "scope": scope})


# --- briefings ------------------------------------------------------------------------------


def _briefing_params(data: Any) -> BriefingParams:
    """Parameters from the form; a bad value raises InvalidInput naming the field."""
    from datetime import date

    as_of = None
    raw = (data.get("as_of") or "").strip()
    if raw:
        try:
            as_of = date.fromisoformat(raw)
        except ValueError as exc:
            raise InvalidInput(f"'{raw}' is not a date: use YYYY-MM-DD.", field="as_of") from exc
    since = (data.get("since") or "").strip()
    if since and not since.isdigit():
        raise InvalidInput("Choose an earlier briefing from the list.", field="since")
    evaluation = (data.get("evaluation") or "").strip()
    if evaluation and not evaluation.isdigit():
        raise InvalidInput("Choose an evaluation of today from the list.", field="evaluation")
    return BriefingParams(
        scope=(data.get("scope") or "state").strip(),
        set_code=(data.get("set") or "").strip(),
        version=(data.get("version") or "").strip(),
        compare_version=(data.get("compare") or "").strip(),
        as_of=as_of,
        since_id=int(since) if since else None,
        evaluation_id=int(evaluation) if evaluation else None,
    )


def _briefing_form_context(request: AuthedRequest) -> dict[str, Any]:
    user = request.user
    set_code = request.GET.get("set") or request.POST.get("set") or ""
    choices = briefing_choices(scoping.visible_agency_ids(user), set_code=set_code)
    return {
        "choices": choices,
        "exports": scoping.visible_briefings(user)[:30],
        "formats": [*BriefingExport.Format.choices, (exports.ALL_FORMATS, "All three formats")],
        "evaluations": evaluation_store.evaluations_since(
            timezone.make_aware(datetime.combine(timezone.localdate(), datetime.min.time()))
        ),
    }


@login_required
def briefings(request: AuthedRequest) -> HttpResponse:
    """The briefing form and the list of briefings the user may see; POST requests one."""
    form = request.POST if request.method == "POST" else request.GET
    if request.method == "POST":
        try:
            made = exports.request_briefing_exports(
                requested_by=request.user,
                params=_briefing_params(form),
                fmt=form.get("format", ""),
                now=timezone.now(),
            )
        except DomainError as exc:
            context = {**_briefing_form_context(request), "form": form, "error": exc}
            return render(request, "readiness/briefings.html", context, status=exc.status)
        if len(made) == 1:
            return redirect("readiness:briefing", pk=made[0].pk)
        messages.success(
            request,
            "Requested "
            + ", ".join(f"#{e.pk} ({e.format.upper()})" for e in made)
            + ": the same figures in every format.",
        )
        return redirect("readiness:briefings")
    return render(
        request, "readiness/briefings.html", {**_briefing_form_context(request), "form": form}
    )


@login_required
def briefing(request: AuthedRequest, pk: int) -> HttpResponse:
    export = scoping.get_visible_briefing(request.user, pk)
    return render(request, "readiness/briefing_detail.html", {"export": export})


@login_required
def briefing_status(request: AuthedRequest, pk: int) -> HttpResponse:
    """The progress partial, polled every 2 s until the export is done or failed."""
    export = scoping.get_visible_briefing(request.user, pk)
    return render(request, "readiness/_briefing_status.html", {"export": export})


@login_required
def briefing_download(request: AuthedRequest, pk: int) -> FileResponse:
    export = scoping.get_visible_briefing(request.user, pk)
    if export.status != BriefingExport.Status.DONE:
        raise Http404("This briefing is not built yet.")
    return FileResponse(
        export.file.open("rb"),
        as_attachment=True,
        filename=export.filename,
        content_type=FORMATS[export.format],
    )


# --- requirement pages ------------------------------------------------------------------------


@state_staff_only
def requirement_sets(request: AuthedRequest) -> HttpResponse:
    return render(
        request, "readiness/requirement_sets.html", {"catalog": catalog_pages.requirement_catalog()}
    )


@state_staff_only
def requirement_set(request: AuthedRequest, code: str) -> HttpResponse:
    try:
        filters = _filters(request)
        comparison = catalog_pages.set_comparison(code, as_of=filters.as_of or timezone.localdate())
    except DomainError as exc:
        return _error_page(request, exc, title=f"Requirement set {code}")
    versions = [v.version for v in comparison.versions if v.version in comparison.pass_rates]
    chart = (
        charts.render(
            charts.pass_rate_figure(
                comparison.pass_rates,
                versions=versions,
                title="Statewide pass rate per requirement and version",
            ),
            div_id="chart-pass-rates",
        )
        if versions
        else ""
    )
    return render(
        request,
        "readiness/requirement_set.html",
        {"comparison": comparison, "chart": chart, "filters": filters},
    )


@state_staff_only
def whatif(request: AuthedRequest, code: str) -> HttpResponse:
    """The comparison form; the results load after the page (two fleet evaluations)."""
    try:
        comparison = catalog_pages.set_comparison(code, as_of=timezone.localdate())
    except DomainError as exc:
        return _error_page(request, exc, title=f"What-if for {code}")
    return render(
        request,
        "readiness/whatif.html",
        {
            "comparison": comparison,
            "from_version": request.GET.get("from", ""),
            "to_version": request.GET.get("to", ""),
            "query": request.GET.urlencode(),
        },
    )


@state_staff_only
def whatif_results(request: AuthedRequest, code: str) -> HttpResponse:
    try:
        page = catalog_pages.whatif_page(
            scoping.visible_agency_ids(request.user),
            code,
            from_version=request.GET.get("from", ""),
            to_version=request.GET.get("to", ""),
            now=timezone.now(),
        )
    except DomainError as exc:
        return render(request, "readiness/_whatif_results.html", {"error": exc}, status=exc.status)
    chart = charts.render(charts.remediation_figure(page.summary.plan), div_id="chart-plan")
    return render(
        request, "readiness/_whatif_results.html", {"page": page, "chart": chart, "code": code}
    )


# --- participation and portfolio ----------------------------------------------------------------


@state_staff_only
def participation(request: AuthedRequest) -> HttpResponse:
    from devices.models import FirstNetStatus

    try:
        filters = _filters(request)
        scope = scoping.state_scope(request.user, filters)
        page = participation_pages.participation_page(
            scope, as_of=filters.as_of or timezone.localdate(), today=timezone.localdate()
        )
    except DomainError as exc:
        return _error_page(request, exc, title="FirstNet participation")
    labels = dict(FirstNetStatus.choices)
    context = {
        "filters": filters,
        "scope": scope,
        "page": page,
        "labels": labels,
        "choices": filter_choices(scoping.visible_agency_ids(request.user)),
        "timeline_chart": charts.render(
            charts.participation_timeline_figure(
                charts.history_to_long(page.history, list(labels)), labels=labels
            ),
            div_id="chart-participation",
        ),
        "share_chart": charts.render(
            charts.participation_share_figure(page.history), div_id="chart-shares"
        ),
    }
    return render(request, "readiness/participation.html", context)


@state_staff_only
def portfolio(request: AuthedRequest) -> HttpResponse:
    """A BRM lands on their own cabinet; others choose one."""
    from devices.models import Cabinet

    own = list(Cabinet.objects.filter(brm=request.user).order_by("name"))
    if len(own) == 1:
        return redirect("readiness:portfolio_cabinet", slug=own[0].slug)
    cabinets = (
        Cabinet.objects.select_related("brm")
        .annotate(n_agencies=Count("agencies"))
        .order_by("name")
    )
    return render(request, "readiness/portfolio_list.html", {"cabinets": cabinets, "own": own})


@state_staff_only
def portfolio_cabinet(request: AuthedRequest, slug: str) -> HttpResponse:
    try:
        filters = _filters(request)
        scope = scoping.cabinet_scope(request.user, slug)
        now = timezone.now()
        page = pages.portfolio_page(
            scope,
            filters,
            today=timezone.localdate(now),
            now=now,
            evaluation=_record_for(request, filters, now=now),
            live=wants_live(request),
        )
    except DomainError as exc:
        return _error_page(request, exc, title="Portfolio")
    fig = page.readiness
    return render(
        request,
        "readiness/portfolio.html",
        {
            "page": page,
            "fig": fig,
            "filters": filters,
            "choices": filter_choices(
                scoping.visible_agency_ids(request.user), set_code=fig.set_code
            ),
            "charts": {
                **_readiness_charts(fig, by_cabinet=False),
                "agencies": charts.render(
                    charts.readiness_bar_figure(
                        fig.agencies.rename(columns={"name": "agency"}),
                        label="agency",
                        title="Ready % by agency (lowest first)",
                    ),
                    div_id="chart-agencies",
                )
                if not fig.empty_message
                else "",
            },
            "formats": BriefingExport.Format.choices,
        },
    )


# --- waivers: a waiver's page and the pending approvals (decided by state staff) ------------------


def _pending_page(
    request: AuthedRequest, *, error: DomainError | None = None, status: int = 200
) -> HttpResponse:
    pending = waivers.list_pending_waivers(agency_ids=scoping.visible_agency_ids(request.user))
    context = {"waivers": pending[:200], "error": error, "now": timezone.now()}
    return render(request, "readiness/waivers_pending.html", context, status=status)


@state_staff_only
def waivers_pending(request: AuthedRequest) -> HttpResponse:
    """Requests waiting for a second person, oldest first, each with approve and reject forms."""
    return _pending_page(request)


@login_required
def waiver_detail(request: AuthedRequest, pk: int) -> HttpResponse:
    """One waiver: who requested and who decided it, when, and why (another agency's: 404)."""
    found = scoping.get_visible_or_404(scoping.visible_waivers(request.user), pk=pk)
    context = {"w": found, "state": waivers.waiver_state(found, now=timezone.now())}
    return render(request, "readiness/waiver_detail.html", context)


@require_POST
@login_required
def waiver_decide(request: AuthedRequest, pk: int) -> HttpResponse:
    """Approve or reject (``decision``) with a comment; a refusal re-shows the pending list."""
    found = scoping.get_visible_or_404(scoping.visible_waivers(request.user), pk=pk)
    scoping.require_waiver_decider(request.user)
    decision = request.POST.get("decision", "")
    decide = {"approve": waivers.approve_waiver, "reject": waivers.reject_waiver}.get(decision)
    try:
        if decide is None:
            raise InvalidInput("Choose approve or reject.", field="decision")
        decided = decide(
            actor=request.user,
            waiver_id=found.pk,
            comment=request.POST.get("comment", ""),
            request=request,
        )
    except DomainError as exc:
        return _pending_page(request, error=exc, status=exc.status)
    messages.success(request, f"Waiver {decided.pk} {decided.get_status_display().lower()}.")
    return redirect("readiness:waiver_detail", pk=decided.pk)
