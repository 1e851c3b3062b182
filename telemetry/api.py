from ninja import Router

router = Router(tags=["telemetry"])

from telemetry.api_health import router as health_router  # noqa: E402

router.add_router("", health_router)
