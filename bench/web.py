"""The production web server against `runserver`, on one PostgreSQL database.

Run by hand (not part of the tests; needs nginx, PostgreSQL on 127.0.0.1:5432):

    .venv/bin/python bench/web.py [--devices 100000] [--duration 20] [--clients 8,32,64]

Two servers, one after the other, on the same database (``tracker_bench_web_<devices>``,
made with ``load_demo --devices N`` once and reused while it holds that fleet):

* production: gunicorn (config/gunicorn.py, its default workers) behind nginx with
  deploy/nginx/tracker.conf (TLS with a certificate made here, HTTP/1.1 keep-alive), DEBUG
  off, collected static files;
* runserver: ``manage.py runserver --noreload`` as ``make run`` starts it (DEBUG on, plain
  HTTP, no proxy).

For each, 8, 32 and 64 concurrent clients in turn (each on one keep-alive connection to
nginx; a connection a request to runserver, see ``Target.keep_alive``),
request the device list API (``/api/devices?limit=50``, a bearer token) and then the
statewide overview (``/dashboard/``, a signed-in session) for ``--duration`` seconds after a
warm-up (10 s at the most clients, then 3 s before each level). Prints requests per second,
p50/p95/p99 latency and errors (any status but 200, or a failed connection) for each, the
ratio of production to runserver throughput, and the load average, since the clients share
the machine's cores with the servers.

The load generator is ApacheBench (``ab``, Debian's apache2-utils), one keep-alive
connection a client. The clients share the machine's two cores with the servers under test,
so the generator should cost as little as it can: the earlier Python one (a thread a client
on http.client) spent CPU parsing every answer that the servers then lacked. wrk would be
the usual choice, but Debian's build sends nothing over TLS 1.3 here (0 requests, 0 errors).
Both servers pay the same toll either way. The targets: no errors and p95 under 1 s at 64
clients, and production at least 1.6 times runserver's throughput.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import secrets
import shutil
import socket
import ssl
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PYTHON = str(ROOT / ".venv" / "bin" / "python")
GUNICORN = str(ROOT / ".venv" / "bin" / "gunicorn")
PG_ADMIN = "postgres://postgres@127.0.0.1:5432/postgres"
WARM_UP_S = 3.0
WARM_UP_ROUND_S = 10.0
PACKAGES = {"nginx": "nginx", "ab": "apache2-utils"}
ENDPOINTS = {"device list API": "/api/devices?limit=50", "overview page": "/dashboard/"}

# Signs in a demo state staff member and issues a token, printing both as JSON: the session
# lives in the database, so one cookie serves both servers (same database, same secret).
CREDENTIALS_SCRIPT = """
import json
from django.conf import settings
from django.test import Client
from devices import services
from devices.demo import DEMO_USERS
from devices.models import User
user = User.objects.get(username=DEMO_USERS[0].username)
client = Client()
client.force_login(user)
_, token = services.create_api_token(actor=None, user=user, name="bench-web")
print(json.dumps({"cookie": client.cookies[settings.SESSION_COOKIE_NAME].value, "token": token}))
"""


@dataclass(frozen=True)
class Target:
    """Where a server listens; ``tls`` trusts the certificate this run made for nginx."""

    host: str
    port: int
    tls: ssl.SSLContext | None = None
    # ab speaks HTTP/1.0; runserver answers its keep-alive request but then neither keeps nor
    # closes the connection, so ab would wait out its timeout. runserver gets a connection a
    # request instead (on loopback about 0.1 ms, against a request's tens of milliseconds).
    keep_alive: bool = True


@dataclass(frozen=True)
class Result:
    """One level's figures as wrk measured them (latencies in seconds)."""

    requests: int
    errors: int
    seconds: float
    p50: float
    p95: float
    p99: float

    def rate(self) -> float:
        return self.requests / self.seconds


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for_port(port: int, process: subprocess.Popen, timeout: float = 120.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"{process.args[0]} exited with {process.returncode} before listening")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            time.sleep(0.2)
    raise SystemExit(f"nothing listens on {port} after {timeout:.0f} s")


def manage(env: dict[str, str], *args: str) -> str:
    done = subprocess.run(
        [PYTHON, "manage.py", *args], cwd=ROOT, env=env, capture_output=True, text=True, check=False
    )
    if done.returncode:
        raise SystemExit(f"manage.py {args[0]} failed:\n{done.stderr[-2000:]}")
    return done.stdout


def production_env(work: Path, database: str) -> dict[str, str]:
    """The settings of docs/production.md, with this run's folders and database."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "MQTT_", "WEB_"))}
    env.update(
        DATABASE_URL=f"postgres://postgres@127.0.0.1:5432/{database}",
        DJANGO_SECRET_KEY=secrets.token_urlsafe(64),
        DJANGO_DEBUG="false",
        DJANGO_ALLOWED_HOSTS="127.0.0.1,localhost",
        DJANGO_TRUSTED_PROXIES="127.0.0.1/32",
        TRACKER_VAR_DIR=str(work / "var"),
        # Nothing here uses Celery or MQTT; the filesystem transport needs no server.
        CELERY_BROKER_URL="filesystem://",
        # The clients are one signed-in session and one token: the bench measures serving
        # pages, not the second sign-in step, and one token far above its per-token rate.
        TRACKER_MFA_REQUIRED="false",
        TRACKER_API_TOKEN_RATE="1000000/minute",
    )
    return env


def ensure_fleet(env: dict[str, str], database: str, devices: int) -> None:
    """Create, migrate and load the demo fleet once; reuse a database that already has it."""
    import psycopg

    with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [database]).fetchone()
    count = 0
    if exists:
        # A database made but never migrated has no device table: no fleet.
        with psycopg.connect(env["DATABASE_URL"]) as conn, suppress(psycopg.errors.UndefinedTable):
            count = conn.execute("SELECT count(*) FROM devices_device").fetchone()[0]
    if count >= devices:
        print(f"reusing {database}: {count:,} devices")
        manage(env, "migrate", "--noinput")
        return
    # A missing or partial fleet (an interrupted load): start from an empty database.
    with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{database}"')
    print(f"loading {devices:,} demo devices into {database} (once) ...", flush=True)
    started = time.monotonic()
    manage(env, "migrate", "--noinput")
    manage(env, "load_demo", "--devices", str(devices))
    print(f"  loaded in {time.monotonic() - started:.0f} s")


@contextmanager
def process(args: list[str], env: dict[str, str], log: Path) -> Iterator[subprocess.Popen]:
    with log.open("wb") as out:
        proc = subprocess.Popen(args, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT)
    try:
        yield proc
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def nginx_config(work: Path, *, upstream: str, https_port: int) -> Path:
    """deploy/nginx/tracker.conf on this run's ports, certificate and folders."""
    site = (ROOT / "deploy" / "nginx" / "tracker.conf").read_text()
    replacements = {
        "server 127.0.0.1:8000;": f"server {upstream};",
        "/etc/tracker/tls/": f"{work}/",
        "/var/cache/nginx/tracker": f"{work}/nginx-cache",
        "listen 80;": f"listen 127.0.0.1:{free_port()};",
        "listen 443 ssl http2;": f"listen 127.0.0.1:{https_port} ssl http2;",
    }
    for old, new in replacements.items():
        if old not in site:
            raise SystemExit(
                f"deploy/nginx/tracker.conf no longer has {old!r}: update bench/web.py"
            )
        site = site.replace(old, new)
    site = "\n".join(line for line in site.splitlines() if "listen [::]" not in line)
    (work / "site.conf").write_text(site)
    temp = "\n".join(
        f"    {kind}_temp_path {work}/nginx-{kind};"
        for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")
    )
    main = work / "nginx.conf"
    main.write_text(
        f"worker_processes 1;\npid {work}/nginx.pid;\nerror_log {work}/nginx-error.log warn;\n"
        f"events {{ worker_connections 1024; }}\nhttp {{\n    include /etc/nginx/mime.types;\n"
        f"    access_log off;\n{temp}\n    include {work}/site.conf;\n}}\n"
    )
    return main


def make_certificate(work: Path) -> None:
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256",
         "-nodes", "-days", "2", "-subj", "/CN=localhost",
         "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1",
         "-keyout", str(work / "site.key"), "-out", str(work / "site.crt")],
        check=True, capture_output=True,
    )  # fmt: skip


@contextmanager
def production_server(env: dict[str, str], work: Path) -> Iterator[Target]:
    """gunicorn behind nginx, as deploy/ installs them."""
    web_port, https_port = free_port(), free_port()
    make_certificate(work)
    conf = nginx_config(work, upstream=f"127.0.0.1:{web_port}", https_port=https_port)
    env = {**env, "WEB_BIND": f"127.0.0.1:{web_port}"}
    gunicorn = [
        GUNICORN,
        "-c",
        "config/gunicorn.py",
        "config.wsgi:application",
        "--access-logfile",
        "/dev/null",
    ]
    with process(gunicorn, env, work / "gunicorn.log") as web:
        wait_for_port(web_port, web)
        nginx = ["nginx", "-p", str(work), "-c", str(conf), "-g", "daemon off;"]
        with process(nginx, env, work / "nginx.log") as proxy:
            wait_for_port(https_port, proxy)
            yield Target(
                "127.0.0.1", https_port, ssl.create_default_context(cafile=work / "site.crt")
            )


@contextmanager
def runserver(env: dict[str, str], work: Path) -> Iterator[Target]:
    """`manage.py runserver` as `make run` starts it: DEBUG on, plain HTTP."""
    port = free_port()
    env = {**env, "DJANGO_DEBUG": "true"}
    args = [PYTHON, "manage.py", "runserver", f"127.0.0.1:{port}", "--noreload"]
    with process(args, env, work / "runserver.log") as server:
        wait_for_port(port, server)
        yield Target("127.0.0.1", port, keep_alive=False)


def load(
    target: Target, path: str, headers: dict[str, str], clients: int, duration: float
) -> Result:
    """``clients`` keep-alive connections on ``path`` for ``duration`` seconds, with ab."""
    scheme = "https" if target.tls else "http"
    # -l: a page's length varies (CSRF tokens, times), which is not a failure.
    args = ["ab", *(["-k"] if target.keep_alive else []), "-l", "-q", "-s", "120"]
    args += ["-c", str(clients), "-t", f"{duration:g}"]
    for name, value in headers.items():
        args += ["-H", f"{name}: {value}"]
    args.append(f"{scheme}://{target.host}:{target.port}{path}")
    done = subprocess.run(args, capture_output=True, text=True, check=False)
    if done.returncode:
        raise SystemExit(f"ab failed: {done.stderr.strip()[-500:]}")
    return parse_ab(done.stdout)


def parse_ab(report: str) -> Result:
    """ab's report: completed and failed requests, answers other than 2xx, percentiles."""

    def figure(label: str, default: str | None = None) -> str:
        match = re.search(rf"^{re.escape(label)}:\s+([0-9.]+)", report, re.MULTILINE)
        if match is None:
            if default is None:
                raise SystemExit(f"ab printed no {label!r}:\n{report[-1500:]}")
            return default
        return match.group(1)

    def percentile(p: int) -> float:
        match = re.search(rf"^\s+{p}%\s+([0-9]+)", report, re.MULTILINE)
        return int(match.group(1)) / 1000 if match else float("nan")

    complete = int(figure("Complete requests"))
    failed = int(figure("Failed requests")) + int(figure("Non-2xx responses", "0"))
    return Result(
        requests=complete - failed,
        errors=failed,
        seconds=float(figure("Time taken for tests")),
        p50=percentile(50),
        p95=percentile(95),
        p99=percentile(99),
    )


def ms(seconds: float) -> str:
    return f"{seconds * 1000:6.0f} ms"


def loadavg() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def run_server(
    name: str, target: Target, credentials: dict[str, str], levels: list[int], duration: float
) -> dict[tuple[str, int], Result]:
    headers_for = {
        "device list API": {"Authorization": f"Bearer {credentials['token']}"},
        "overview page": {"Cookie": f"sessionid={credentials['cookie']}"},
    }
    results: dict[tuple[str, int], Result] = {}
    for endpoint, path in ENDPOINTS.items():
        # Unmeasured: every worker process builds its caches on its first requests.
        load(target, path, headers_for[endpoint], max(levels), WARM_UP_ROUND_S)
        for clients in levels:
            load(target, path, headers_for[endpoint], clients, WARM_UP_S)
            result = load(target, path, headers_for[endpoint], clients, duration)
            results[(endpoint, clients)] = result
            print(
                f"  {name:<10} {endpoint:<16} {clients:>3} clients: {result.rate():7.1f} req/s  "
                f"p50 {ms(result.p50)}  p95 {ms(result.p95)}  "
                f"p99 {ms(result.p99)}  errors {result.errors}  "
                f"(load average {loadavg()})",
                flush=True,
            )
    return results


def print_summary(results: dict[str, dict[tuple[str, int], Result]], levels: list[int]) -> None:
    print("\nproduction / runserver throughput")
    for endpoint in ENDPOINTS:
        ratios = []
        for clients in levels:
            prod, dev = (
                results["production"][(endpoint, clients)],
                results["runserver"][(endpoint, clients)],
            )
            ratios.append(
                f"{clients} clients {prod.rate() / dev.rate() if dev.rate() else float('inf'):.2f}x"
            )
        print(f"  {endpoint:<16} " + ", ".join(ratios))
    top = max(levels)
    for endpoint in ENDPOINTS:
        prod = results["production"][(endpoint, top)]
        verdict = "met" if prod.errors == 0 and prod.p95 < 1.0 else "NOT met"
        print(f"  target at {top} clients, {endpoint}: 0 errors and p95 under 1 s: {verdict}")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--devices", type=int, default=100_000)
    parser.add_argument("--duration", type=float, default=20.0, help="Measured seconds per level.")
    parser.add_argument("--clients", default="8,32,64", help="Concurrent clients, comma-separated.")
    parser.add_argument("--web-workers", help="WEB_WORKERS (default: config/gunicorn.py's).")
    parser.add_argument("--web-threads", help="WEB_THREADS (default: config/gunicorn.py's).")
    args = parser.parse_args()
    for program in ("nginx", "ab"):
        if not shutil.which(program):
            raise SystemExit(f"{program} is missing: apt-get install -y {PACKAGES[program]}")
    levels = [int(n) for n in args.clients.split(",")]
    database = f"tracker_bench_web_{args.devices}"
    work = Path(tempfile.mkdtemp(prefix="tracker-bench-web-"))
    os.chmod(work, 0o755)  # nginx's workers (user nobody) use its cache and temp folders
    try:
        env = production_env(work, database)
        for name, value in (("WEB_WORKERS", args.web_workers), ("WEB_THREADS", args.web_threads)):
            if value:
                env[name] = value
        ensure_fleet(env, database, args.devices)
        manage(env, "collectstatic", "--noinput")
        credentials = json.loads(
            manage(env, "shell", "-c", CREDENTIALS_SCRIPT).strip().splitlines()[-1]
        )
        print(f"load average before: {loadavg()}  (cores: {os.cpu_count()})")
        results = {}
        with production_server(env, work) as target:
            results["production"] = run_server(
                "production", target, credentials, levels, args.duration
            )
        with runserver(env, work) as target:
            results["runserver"] = run_server(
                "runserver", target, credentials, levels, args.duration
            )
        print_summary(results, levels)
        print(f"load average after: {loadavg()}")
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
