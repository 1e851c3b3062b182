"""The one list shape of the API: ``{items, count, limit, offset}``, sliced in the database.

List operations declare ``response={200: list[XOut], ...}`` under ``@paginated`` (ninja's
``paginate`` with `Pagination`) and return a queryset; ninja turns the response into
``PagedXOut`` with this page's fields and adds ``limit`` and ``offset`` to the query. A bad
page is a 422 naming the parameter, like any other query field.
"""

from __future__ import annotations

import typing
from collections.abc import Callable
from typing import Any

from django.db.models import QuerySet
from django.http import HttpRequest
from ninja import Field, Schema
from ninja.pagination import LimitOffsetPagination, paginate

MAX_PAGE_SIZE = 500
DEFAULT_PAGE_SIZE = 50
# Larger offsets are never a real request, and SQLite cannot bind integers past 2**63.
MAX_OFFSET = 10_000_000


class Pagination(LimitOffsetPagination):
    """Limit/offset pages; ``rows=`` turns the sliced queryset into the page's items.

    The default evaluates the slice into model instances. The device list passes
    `devices.selectors.device_rows`, plain dicts that halve a 500-row page's time.
    """

    # A subclass of ninja's Input, so paginate_queryset keeps its supertype's signature.
    class Input(LimitOffsetPagination.Input):
        limit: int = Field(
            DEFAULT_PAGE_SIZE,
            ge=1,
            le=MAX_PAGE_SIZE,
            description=f"Page size, 1 to {MAX_PAGE_SIZE}.",
        )
        offset: int = Field(0, ge=0, le=MAX_OFFSET, description="Number of items to skip.")

    class Output(Schema):
        items: list[Any]
        count: int
        limit: int
        offset: int

    def __init__(self, *, rows: Callable[[QuerySet], list] = list, **kwargs: Any) -> None:
        super().__init__(max_limit=MAX_PAGE_SIZE, **kwargs)
        self.rows = rows

    def paginate_queryset(
        self,
        queryset: QuerySet,
        pagination: LimitOffsetPagination.Input,
        request: HttpRequest,
        **params: Any,
    ) -> dict[str, Any]:
        offset, limit = pagination.offset, pagination.limit
        return {
            "items": self.rows(queryset[offset : offset + limit]),
            "count": queryset.count(),
            "limit": limit,
            "offset": offset,
        }


def paginated(func: Callable | None = None, *, rows: Callable[[QuerySet], list] = list) -> Any:
    """``@paginated`` or ``@paginated(rows=...)``: ninja's ``paginate`` with `Pagination`.

    ninja's wrapper resolves the view's postponed annotations (``from __future__ import
    annotations``) in ninja's own module, where ``Query`` and the view's schemas are unknown;
    resolving them here, against the view's module, lets the API modules keep the import.
    """

    def decorate(view: Callable) -> Any:
        view.__annotations__ = typing.get_type_hints(view, include_extras=True)
        return paginate(Pagination, rows=rows)(view)

    return decorate(func) if func is not None else decorate
