from __future__ import annotations

from django.http import HttpRequest
from django.utils import timezone


def page_meta(request: HttpRequest) -> dict[str, object]:
    """What every page shows in its frame: when it was rendered (the data's freshness)."""
    return {"rendered_at": timezone.now()}
