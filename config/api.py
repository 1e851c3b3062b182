"""The NinjaAPI: one router per app, and the one place errors become JSON."""

from __future__ import annotations

from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404, HttpRequest, HttpResponse
from ninja import NinjaAPI, Schema, Swagger
from ninja.errors import AuthenticationError, HttpError, Throttled
from ninja.errors import ValidationError as NinjaValidationError

from config.errors import DomainError
from devices.auth import api_auth
from devices.throttling import TokenRateThrottle, over_limit_message


class FieldError(Schema):
    field: str | None = None
    message: str


class ErrorOut(Schema):
    """Every error the API returns."""

    message: str
    errors: list[FieldError] = []


# Statuses every authenticated operation can return; routers add 404/409 as they apply.
# (ninja's codes_4xx leaves out 422, and an undocumented status makes the OpenAPI untrue.)
COMMON_ERRORS: dict[int, type[Schema]] = {
    400: ErrorOut,
    401: ErrorOut,
    403: ErrorOut,
    422: ErrorOut,
    429: ErrorOut,  # a bearer token over TRACKER_API_TOKEN_RATE (devices/throttling.py)
}
NOT_FOUND_ERRORS: dict[int, type[Schema]] = {**COMMON_ERRORS, 404: ErrorOut}
WRITE_ERRORS: dict[int, type[Schema]] = {**NOT_FOUND_ERRORS, 409: ErrorOut}

api = NinjaAPI(
    title="Device Readiness Tracker API",
    version="1",
    description=(
        "Inventory, telemetry and readiness of public-safety devices. Authenticate with "
        "`Authorization: Bearer <token>` (see `manage.py create_api_token`). Every error is "
        "`{message, errors: [{field, message}]}`."
    ),
    auth=api_auth,
    # Per bearer token (devices/throttling.py): 429 with Retry-After over TRACKER_API_TOKEN_RATE.
    throttle=[TokenRateThrottle()],
    urls_namespace="api",
    # Deep links put a link inside each operation's summary button, where keyboard and screen
    # reader users cannot reach it (WCAG 4.1.2); the cost is no #/tag/operation URLs.
    docs=Swagger(settings={"deepLinking": False}),
)


def _error(
    request: HttpRequest, status: int, message: str, errors: list[dict] | None = None
) -> HttpResponse:
    return api.create_response(request, {"message": message, "errors": errors or []}, status=status)


def _loc_to_field(loc: list | tuple) -> str | None:
    # ninja reports ("body", "payload", "serial"); people want "serial".
    parts = [
        str(p)
        for p in loc
        if p not in ("body", "query", "path", "form", "payload", "data", "filters")
    ]
    return ".".join(parts) or None


@api.exception_handler(NinjaValidationError)
def on_validation_error(request: HttpRequest, exc: NinjaValidationError) -> HttpResponse:
    errors = [
        {"field": _loc_to_field(e.get("loc", ())), "message": e.get("msg", "invalid value")}
        for e in exc.errors
    ]
    summary = "; ".join(f"{e['field'] or 'request'}: {e['message']}" for e in errors[:5])
    return _error(request, 422, f"The request is not valid: {summary}", errors)


@api.exception_handler(DomainError)
def on_domain_error(request: HttpRequest, exc: DomainError) -> HttpResponse:
    return _error(request, exc.status, exc.message, exc.errors)


@api.exception_handler(ValidationError)
def on_model_validation_error(request: HttpRequest, exc: ValidationError) -> HttpResponse:
    if hasattr(exc, "error_dict"):
        pairs = [
            (None if f == "__all__" else f, m) for f, msgs in exc.message_dict.items() for m in msgs
        ]
    else:
        pairs = [(None, m) for m in exc.messages]
    errors = [{"field": f, "message": m} for f, m in pairs]
    return _error(request, 422, "; ".join(m for _, m in pairs), errors)


@api.exception_handler(Http404)
def on_not_found(request: HttpRequest, exc: Http404) -> HttpResponse:
    return _error(request, 404, str(exc) or "Not found, or not visible to you.")


@api.exception_handler(AuthenticationError)
def on_unauthenticated(request: HttpRequest, exc: AuthenticationError) -> HttpResponse:
    return _error(
        request,
        401,
        "Authentication required: send 'Authorization: Bearer <token>' with a valid, unrevoked token.",
    )


@api.exception_handler(PermissionDenied)
def on_forbidden(request: HttpRequest, exc: PermissionDenied) -> HttpResponse:
    return _error(request, 403, str(exc) or "Your role does not allow this.")


@api.exception_handler(Throttled)
def on_throttled(request: HttpRequest, exc: Throttled) -> HttpResponse:
    # ninja adds the Retry-After header to this response.
    return _error(request, 429, over_limit_message(exc.wait))


@api.exception_handler(HttpError)
def on_http_error(request: HttpRequest, exc: HttpError) -> HttpResponse:
    return _error(request, exc.status_code, str(exc))


def _mount_routers() -> None:
    from devices.api import router as devices_router
    from devices.api_accounts import router as accounts_router
    from devices.api_users import router as users_router
    from readiness.api import router as readiness_router
    from telemetry.api import router as telemetry_router

    api.add_router("/", devices_router)
    api.add_router("/users", users_router)
    api.add_router("/", accounts_router)
    api.add_router("/", telemetry_router)
    api.add_router("/", readiness_router)


_mount_routers()
