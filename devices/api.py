"""The inventory API router. Bulk import/export endpoints live in `devices.api_transfer`."""

from ninja import Router

router = Router(tags=["devices"])

from devices.api_transfer import router as transfer_router  # noqa: E402

router.add_router("", transfer_router)
