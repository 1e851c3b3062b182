"""`manage.py create_api_token --username NAME --role ROLE [--agency SLUG] [--scope read_write]
[--expires-in-days N]`: prints only the token.

Creates the user if needed (with no usable password: an API client, not a person who logs
in), so a script can do ``TOKEN=$(python manage.py create_api_token ...)``. The token is
shown once; only its hash is stored. It is read-only unless ``--scope read_write`` is given,
and expires after TRACKER_TOKEN_DEFAULT_DAYS (90) unless ``--expires-in-days`` says otherwise,
at most TRACKER_TOKEN_MAX_DAYS (365). The issue is audited like a token made in the API.
"""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import transaction

from config.errors import InvalidInput
from devices import services
from devices.models import Agency, ApiToken, User


class Command(BaseCommand):
    help = "Create an API token (and its user if needed); prints only the token."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--username", required=True)
        parser.add_argument("--role", required=True, choices=[r.value for r in User.Role])
        parser.add_argument("--agency", help="Agency slug; required for the agency roles.")
        parser.add_argument("--name", default="cli", help="A label to recognise the token by.")
        parser.add_argument(
            "--scope",
            default=ApiToken.Scope.READ.value,
            choices=[s.value for s in ApiToken.Scope],
            help="read (the default: safe methods only) or read_write.",
        )
        parser.add_argument(
            "--expires-in-days",
            type=int,
            default=None,
            help="Lifetime in days (default TRACKER_TOKEN_DEFAULT_DAYS, at most TRACKER_TOKEN_MAX_DAYS).",
        )

    def handle(
        self,
        *args: Any,
        username: str,
        role: str,
        agency: str | None,
        name: str,
        scope: str,
        expires_in_days: int | None,
        **options: Any,
    ) -> None:
        if role == User.Role.STATE_STAFF and agency:
            raise CommandError("State staff belong to no agency: leave out --agency.")
        if role != User.Role.STATE_STAFF and not agency:
            raise CommandError(f"--agency is required for the {role} role.")
        agency_obj = None
        if agency:
            agency_obj = Agency.objects.filter(slug=agency).first()
            if agency_obj is None:
                raise CommandError(f"No agency with the slug {agency!r}.")
        with transaction.atomic():
            user = User.objects.filter(username=username).first()
            if user is None:
                user = User(username=username, role=role, agency=agency_obj)
                user.set_unusable_password()
                user.save()
            elif (user.role, user.agency_id) != (role, agency_obj.pk if agency_obj else None):
                # Changing someone's access is a decision for the admin, not a side effect.
                raise CommandError(
                    f"User {username!r} exists as {user.role}"
                    f"{' of ' + user.agency.slug if user.agency else ''}; change the role in the admin."
                )
            try:
                _, token = services.create_api_token(
                    actor=None, user=user, name=name, scope=scope, expires_in_days=expires_in_days
                )
            except InvalidInput as exc:
                raise CommandError(
                    exc.message.replace("expires_in_days", "--expires-in-days")
                ) from exc
        self.stdout.write(token)
