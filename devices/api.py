"""The inventory API router. Bulk import/export endpoints live in `devices.api_transfer`."""

from ninja import Router

router = Router(tags=["devices"])
