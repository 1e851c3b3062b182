"""``{% requirement_deadlines fig scope %}``: the due-date card of the overview and agency page."""

from __future__ import annotations

from typing import Any

from django import template
from django.utils import timezone

from readiness import figures_cache
from readiness.deadlines import scope_deadlines

register = template.Library()


@register.inclusion_tag("readiness/_deadlines.html")
def requirement_deadlines(fig: Any, scope: Any) -> dict[str, Any]:
    # Without a resolved scope the agencies to count are unknown: show nothing rather than guess.
    # (The portfolio page names its scope by a string: it shows no deadlines.)
    if fig is None or not hasattr(scope, "agency_ids") or not getattr(fig, "version", ""):
        return {"deadlines": []}

    def build() -> list[Any]:
        return scope_deadlines(
            set_code=fig.set_code,
            version=fig.version,
            snapshot_date=fig.snapshot_date,
            agency_ids=scope.agency_ids,
            requirements=fig.requirements,
            today=fig.as_of,
            evaluation_id=getattr(fig, "evaluation_id", None),
        )

    # Figures of record (a cache key) give the same card to every viewer of the scope for the
    # live figures' few seconds; live figures are counted anew each time.
    deadlines = (
        figures_cache.shared(
            f"deadlines:{scope.key}:{fig.cache_key}",
            build,
            now=timezone.now(),
        )
        if getattr(fig, "cache_key", "")
        else build()
    )
    return {"deadlines": deadlines, "as_of": fig.as_of}
