"""Issue a private CA and the MQTT broker's and clients' certificates, with openssl.

    python manage.py issue_certificates --out /etc/mosquitto/tracker/tls \\
        --broker-host mqtt.example.org --broker-host 10.0.0.5 \\
        --gateway state-police/post-12 [--client tracker-ingest]

* ``ca.crt`` / ``ca.key``: the private CA. Kept and reused when already in ``--out``, so
  later runs add certificates under the same CA; keep ``ca.key`` offline after issuing.
* ``broker.crt`` / ``broker.key``: the broker's certificate, its subject alternative names
  the ``--broker-host`` names and addresses (clients verify the host name against them).
* ``gateways/<agency>/<gateway>.crt`` / ``.key``: a client certificate whose common name is
  ``<agency>/<gateway>``, the user name the broker's ACL binds (Mosquitto
  ``use_identity_as_username``).
* ``clients/<name>.crt`` / ``.key``: any other client certificate, e.g. the ingest's.

Keys are EC P-256 and written 0600; certificates 0644. The command runs the same openssl
steps as the README's recipe, so an operator without the product can issue by hand.
Re-running replaces the broker's and the named clients' certificates, never the CA.
"""

from __future__ import annotations

import ipaddress
import os
import re
import secrets
import subprocess
import tempfile
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from telemetry.topics import TopicError, gateway_acl_pattern

# A host name or a wildcard; anything else could not be a subjectAltName and would reach the
# openssl configuration text unchecked.
HOST_NAME = re.compile(
    r"^(\*\.)?[A-Za-z0-9]([A-Za-z0-9-]{0,62}[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]{0,62}[A-Za-z0-9])?)*$"
)
CLIENT_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
CA_NAME = "Readiness Tracker MQTT CA"
SERVER_EXTENSIONS = "basicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=serverAuth\n"
CLIENT_EXTENSIONS = "basicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=clientAuth\n"


def run_openssl(*args: str) -> None:
    """One openssl step; files it creates are private (umask 077) until chmod says otherwise."""
    try:
        done = subprocess.run(
            ["openssl", *args], capture_output=True, text=True, umask=0o077, check=False
        )
    except FileNotFoundError:
        raise CommandError("openssl is not installed (apt-get install openssl)") from None
    if done.returncode:
        last = (done.stderr.strip().splitlines() or ["no message"])[-1]
        raise CommandError(f"openssl {args[0]} failed: {last}")


def _subject_config(common_name: str, work: Path) -> Path:
    # A config file rather than -subj: a common name such as "agency/gateway" holds the "/"
    # that -subj would read as a field separator.
    path = work / "subject.cnf"
    path.write_text(f"[req]\nprompt = no\ndistinguished_name = dn\n[dn]\nCN = {common_name}\n")
    return path


def ensure_ca(out: Path, *, days: int) -> bool:
    """Create ``ca.crt``/``ca.key`` in ``out`` unless both exist; True when created."""
    crt, key = out / "ca.crt", out / "ca.key"
    if crt.exists() and key.exists():
        return False
    with tempfile.TemporaryDirectory() as tmp:
        run_openssl(
            "req", "-x509", "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
            "-keyout", str(key), "-out", str(crt), "-days", str(days), "-sha256",
            "-config", str(_subject_config(CA_NAME, Path(tmp))),
            "-addext", "basicConstraints=critical,CA:TRUE,pathlen:0",
            "-addext", "keyUsage=critical,keyCertSign,cRLSign",
        )  # fmt: skip
    crt.chmod(0o644)
    return True


def issue_certificate(
    out: Path, stem: str, *, common_name: str, extensions: str, days: int
) -> Path:
    """``<stem>.key`` and ``<stem>.crt`` under ``out``, signed by ``out``'s CA; replaces both."""
    crt, key = out / f"{stem}.crt", out / f"{stem}.key"
    crt.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        (work / "ext.cnf").write_text(extensions)
        run_openssl(
            "req", "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
            "-keyout", str(key), "-out", str(work / "req.csr"),
            "-config", str(_subject_config(common_name, work)),
        )  # fmt: skip
        run_openssl(
            "x509", "-req", "-in", str(work / "req.csr"), "-CA", str(out / "ca.crt"),
            "-CAkey", str(out / "ca.key"), "-set_serial", f"0x{secrets.token_hex(16)}",
            "-days", str(days), "-sha256", "-extfile", str(work / "ext.cnf"), "-out", str(crt),
        )  # fmt: skip
    os.chmod(key, 0o600)
    crt.chmod(0o644)
    return crt


def server_extensions(hosts: list[str]) -> str:
    """The broker's extensions: each host as an IP or DNS subject alternative name."""
    names = []
    for host in hosts:
        try:
            names.append(f"IP:{ipaddress.ip_address(host)}")
        except ValueError:
            if not HOST_NAME.match(host):
                raise CommandError(
                    f"--broker-host {host!r} is neither a host name nor an IP address"
                ) from None
            names.append(f"DNS:{host}")
    return SERVER_EXTENSIONS + f"subjectAltName={','.join(names)}\n"


def gateway_identity(value: str) -> tuple[str, str]:
    agency, _, gateway = value.partition("/")
    try:
        gateway_acl_pattern(agency, gateway)  # the ACL's own check of the two slugs
    except TopicError as exc:
        raise CommandError(f"--gateway {value!r}: expected <agency>/<gateway>; {exc}") from None
    return agency, gateway


class Command(BaseCommand):
    help = "Issue a private CA, the MQTT broker's certificate and gateways' client certificates (openssl)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--out", required=True, help="Directory for the CA, keys and certificates."
        )
        parser.add_argument(
            "--ca-days", type=int, default=3650, help="CA lifetime in days (default 3650)."
        )
        parser.add_argument(
            "--days",
            type=int,
            default=825,
            help="Broker and client certificate lifetime (default 825).",
        )
        parser.add_argument(
            "--broker-host", action="append", default=[], metavar="NAME",
            help="A host name or IP address gateways use to reach the broker (repeatable).",
        )  # fmt: skip
        parser.add_argument(
            "--gateway", action="append", default=[], metavar="AGENCY/GATEWAY",
            help="Issue a client certificate with this common name (repeatable).",
        )  # fmt: skip
        parser.add_argument(
            "--client", action="append", default=[], metavar="NAME",
            help="Issue a client certificate for another MQTT user, e.g. the ingest's (repeatable).",
        )  # fmt: skip

    def handle(self, *args: Any, **options: Any) -> None:
        if options["ca_days"] < 1 or options["days"] < 1:
            raise CommandError("--ca-days and --days must be at least 1")
        gateways = [gateway_identity(value) for value in options["gateway"]]
        for name in options["client"]:
            if not CLIENT_NAME.match(name):
                raise CommandError(f"--client {name!r}: letters, digits, '.', '-' and '_' only")
        extensions = server_extensions(options["broker_host"]) if options["broker_host"] else None
        out = Path(options["out"])
        out.mkdir(parents=True, exist_ok=True)
        days = options["days"]
        created = ensure_ca(out, days=options["ca_days"])
        self.stdout.write(f"{'issued' if created else 'kept'} CA {out / 'ca.crt'}")
        if extensions:
            crt = issue_certificate(
                out,
                "broker",
                common_name=options["broker_host"][0],
                extensions=extensions,
                days=days,
            )
            self.stdout.write(
                f"issued broker certificate {crt} for {', '.join(options['broker_host'])}"
            )
        for agency, gateway in gateways:
            crt = issue_certificate(
                out,
                f"gateways/{agency}/{gateway}",
                common_name=f"{agency}/{gateway}",
                extensions=CLIENT_EXTENSIONS,
                days=days,
            )
            self.stdout.write(f"issued gateway certificate {crt} (CN {agency}/{gateway})")
        for name in options["client"]:
            crt = issue_certificate(
                out, f"clients/{name}", common_name=name, extensions=CLIENT_EXTENSIONS, days=days
            )
            self.stdout.write(f"issued client certificate {crt} (CN {name})")
