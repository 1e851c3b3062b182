"""Write Mosquitto's password file and ACL from the tracker's gateways.

    python manage.py mosquitto_auth --out /etc/mosquitto/tracker [--issue-missing]

What the files hold is described in ``telemetry.broker_auth``. ``--issue-missing`` issues
secrets to active gateways that have none and writes them once to ``gateway-secrets.csv``
(mode 0600) for delivery to the gateways; the tracker keeps only hashes. Reload the broker
afterwards (``kill -HUP``).
"""

from __future__ import annotations

import secrets
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from config.errors import InvalidInput
from telemetry.broker_auth import write_broker_auth
from telemetry.mqtt import parse_mqtt_url


class Command(BaseCommand):
    help = "Write a Mosquitto password file and ACL for the tracker's gateways and ingest user."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--out", required=True, help="Directory for 'passwords' and 'acl'.")
        parser.add_argument(
            "--ingest-user",
            default=None,
            help="The ingest's MQTT user (default: the user in MQTT_URL, else tracker-ingest).",
        )
        parser.add_argument(
            "--ingest-password",
            default=None,
            help="Its password (default: the one in MQTT_URL, else a new one, printed once).",
        )
        parser.add_argument(
            "--issue-missing",
            action="store_true",
            help="Issue secrets to active gateways that have none; written to gateway-secrets.csv.",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        url = parse_mqtt_url(settings.MQTT_URL)
        ingest_user = options["ingest_user"] or url.username or "tracker-ingest"
        ingest_password = options["ingest_password"] or (
            url.password if ingest_user == url.username else None
        )
        if not ingest_password:
            ingest_password = secrets.token_urlsafe(24)
            self.stdout.write(
                f"new password for ingest user {ingest_user!r} (set it in MQTT_URL): {ingest_password}"
            )
        try:
            result = write_broker_auth(
                out=Path(options["out"]),
                ingest_user=ingest_user,
                ingest_password=ingest_password,
                root=settings.MQTT_TOPIC_ROOT,
                issue_missing=options["issue_missing"],
            )
        except InvalidInput as exc:
            raise CommandError(exc.message) from None
        if result.secrets_path is not None:
            self.stdout.write(
                f"issued {result.issued} gateway secrets: {result.secrets_path} (deliver, then delete it)"
            )
        self.stdout.write(
            f"wrote {result.passwords_path} ({result.gateways_with_password} gateways + ingest user {ingest_user!r}) and {result.acl_path}"
        )
        no_password = result.without_password
        if no_password:
            self.stdout.write(
                f"no password for {len(no_password)} gateways without a credential: {', '.join(no_password[:20])}"
                + (" ..." if len(no_password) > 20 else "")
                + " (use --issue-missing, or client certificates)"
            )
