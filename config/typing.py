"""Request types for views and API operations, so `request.user` is a `User` where it is one.

Django types `request.user` as `User | AnonymousUser` because the type cannot know which
decorator or auth class ran. Where one did, the view says so in its annotation:

- `HtmxRequest`: any request. `django_htmx.middleware.HtmxMiddleware` (in MIDDLEWARE) sets
  `request.htmx` on every request before any view runs.
- `AuthedRequest`: a view behind `login_required`, or a ninja operation behind `api_auth`
  (both of its classes leave `request.user` a signed-in `User`: the bearer class sets it to
  the token's user, the session class accepts only an authenticated one).

These are annotations only: no request is ever constructed as one of these classes, so a view
annotated with `AuthedRequest` but reachable anonymously would still see an AnonymousUser.
Annotate only what a decorator or auth class guarantees.
"""

from __future__ import annotations

from django.http import HttpRequest
from django_htmx.middleware import HtmxDetails

from devices.models import User


class HtmxRequest(HttpRequest):
    htmx: HtmxDetails


class AuthedRequest(HtmxRequest):
    user: User
