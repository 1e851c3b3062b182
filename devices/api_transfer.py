"""Bulk import and export endpoints of the inventory (mounted under the devices router)."""

from ninja import Router

router = Router(tags=["devices"])
