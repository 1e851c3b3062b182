"""gunicorn's configuration for the production web server.

    .venv/bin/gunicorn -c config/gunicorn.py config.wsgi:application

The WEB_* variables are read here from the environment, not through config/settings.py:
gunicorn evaluates this file before any hook runs and before Django is imported, and a
settings module that fails to load must be reported by ``on_starting`` as one line, not as a
traceback from gunicorn's configuration loader. They concern the server, not the product.

Defaults: cores + 1 synchronous workers, at most 12. The work is CPU-bound (templates,
pandas, plotly) with short database waits, and each worker keeps its own cache of the shared
figures: on 2 cores bench/web.py measured 3 workers against gunicorn's usual 2 x cores + 1
(5) at 64 clients as 110 against 76 overview pages a second (p95 655 against 1,044 ms) and
122 against 88 device-list requests a second. WEB_THREADS above 1 switches to the gthread
worker class, for deployments where slow clients or long requests would otherwise hold whole
processes.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any

MAX_DEFAULT_WORKERS = 12


def _env_int(name: str, default: int) -> int:
    raw = os.environ.get(name, "").strip()
    if not raw:
        return default
    try:
        value = int(raw)
    except ValueError:
        sys.exit(f"refusing to start: {name}={raw!r}: expected a whole number")
    if value < 1:
        sys.exit(f"refusing to start: {name}={raw!r}: expected 1 or more")
    return value


chdir = str(Path(__file__).resolve().parent.parent)
bind = [address.strip() for address in os.environ.get("WEB_BIND", "127.0.0.1:8000").split(",")]
workers = _env_int("WEB_WORKERS", min((os.cpu_count() or 1) + 1, MAX_DEFAULT_WORKERS))
threads = _env_int("WEB_THREADS", 1)
worker_class = "gthread" if threads > 1 else "sync"
# Above the longest page a request may build (a what-if over the whole state); longer work
# runs in Celery. A worker silent this long is killed and replaced.
timeout = _env_int("WEB_TIMEOUT", 120)
graceful_timeout = 30
# A worker is replaced after this many requests (spread so they do not all restart at once),
# which bounds what a pandas-heavy process can grow to over months.
max_requests = 2000
max_requests_jitter = 200
# One line a request on stdout, for journald; errors on stderr.
accesslog = "-"
errorlog = "-"
proc_name = "tracker-web"
# gunicorn's run-time control socket is not used here, and its default place ($HOME) is not
# writable under the systemd unit's read-only file system.
control_socket_disable = True
raw_env = [f"DJANGO_SETTINGS_MODULE={os.environ.get('DJANGO_SETTINGS_MODULE', 'config.settings')}"]


def on_starting(server: Any) -> None:
    """Refuse insecure settings in the master, before it binds a port or forks a worker."""
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    import django
    from django.core.exceptions import ImproperlyConfigured

    try:
        django.setup()
    except ImproperlyConfigured as exc:
        sys.exit(f"refusing to start: {exc}")
    from config.production import refusal, site_warnings

    line = refusal()
    if line:
        sys.exit(line)
    for warning in site_warnings():
        print(f"warning: {warning}", file=sys.stderr)
