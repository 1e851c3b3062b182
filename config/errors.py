"""Domain errors every app raises; `config.api` maps each to one JSON error shape.

The shape is always ``{"message": str, "errors": [{"field": str | None, "message": str}]}``
so a client (or a person reading it) knows what to fix and where.
"""

from __future__ import annotations


class DomainError(Exception):
    """A request the product understood but cannot carry out as asked."""

    status = 400

    def __init__(self, message: str, *, field: str | None = None, errors: list[dict] | None = None):
        super().__init__(message)
        self.message = message
        self.field = field
        self.errors = errors if errors is not None else [{"field": field, "message": message}]


class InvalidInput(DomainError):
    status = 422


class Conflict(DomainError):
    status = 409


class NotFound(DomainError):
    status = 404


class Forbidden(DomainError):
    status = 403
