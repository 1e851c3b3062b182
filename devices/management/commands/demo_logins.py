"""`manage.py demo_logins`: the demo logins and a fresh API token for each, as `make run` prints.

Each run revokes the user's previous tokens named "demo" and issues a new one, so the
tokens printed are the ones that work; both are audited like the same actions in the API.
Each token has the scope its role needs: read for the viewer, read and write for the roles
that can change things, so the demo shows both scopes. The printed passwords are set again
too, so a database loaded before they last changed still accepts what is printed. Run
`manage.py load_demo` first.
"""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError
from django.db import transaction
from django.utils import timezone

from devices import services
from devices.demo import DEMO_USERS
from devices.models import ApiToken, User

TOKEN_NAME = "demo"
URL = "http://127.0.0.1:8000/"


def scope_for(user: User) -> str:
    """The token scope a demo role needs: a viewer cannot write, so it gets a read token."""
    return ApiToken.Scope.READ_WRITE if user.can_manage_inventory else ApiToken.Scope.READ


class Command(BaseCommand):
    help = "Print each demo role's username, password and a new API token (older demo tokens are revoked)."

    def handle(self, *args: Any, **options: Any) -> None:
        users = {
            u.username: u
            for u in User.objects.filter(username__in=[d.username for d in DEMO_USERS])
        }
        missing = [d.username for d in DEMO_USERS if d.username not in users]
        if missing:
            raise CommandError(
                f"Demo users missing ({', '.join(missing)}): run `manage.py load_demo` first."
            )
        lines = [f"Readiness Tracker: {URL}  (API docs: {URL}api/docs)", ""]
        now = timezone.now()
        with transaction.atomic():
            for demo in DEMO_USERS:
                user = users[demo.username]
                user.set_password(demo.password)
                user.save(update_fields=["password"])
                for old in ApiToken.objects.filter(
                    user=user, name=TOKEN_NAME, revoked_at__isnull=True
                ):
                    services.revoke_api_token(actor=None, token=old)
                row, token = services.create_api_token(
                    actor=None, user=user, name=TOKEN_NAME, scope=scope_for(user), now=now
                )
                lines += [
                    f"{demo.label}",
                    f"  username: {demo.username}   password: {demo.password}",
                    f"  API token: {token}   ({row.get_scope_display().lower()}, "
                    f"expires {row.expires_at:%Y-%m-%d})",
                    f"  curl -H 'Authorization: Bearer {token}' {URL}api/devices",
                    "",
                ]
        self.stdout.write("\n".join(lines))
