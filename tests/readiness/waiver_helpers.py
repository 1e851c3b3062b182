"""A waiver as the product grants one: requested by one person, approved by another."""

from __future__ import annotations

from readiness.models import Waiver
from readiness.waivers import approve_waiver, request_waiver


def approved_waiver(*, requester, approver, comment: str = "approved", **fields) -> Waiver:
    """``request_waiver(actor=requester, **fields)``, then approved by ``approver`` at the same ``now``."""
    asked = request_waiver(actor=requester, **fields)
    return approve_waiver(
        actor=approver, waiver_id=asked.pk, comment=comment, now=fields.get("now")
    )
