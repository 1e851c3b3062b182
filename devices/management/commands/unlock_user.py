"""Unlock an account locked by failed sign-ins: `manage.py unlock_user USERNAME`."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from devices.lockout import unlock_user
from devices.models import User


class Command(BaseCommand):
    help = "Clear a user's failed sign-ins so they can sign in again before the lock ends."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("username")

    def handle(self, *args: Any, username: str, **options: Any) -> None:
        user = User.objects.filter(username=username).first()
        if user is None:
            raise CommandError(f"No user named {username!r}.")
        cleared = unlock_user(user_id=user.pk, actor_id=None, user_agent="manage.py unlock_user")
        self.stdout.write(f"Unlocked {username} ({cleared} failed sign-in record(s) cleared).")
