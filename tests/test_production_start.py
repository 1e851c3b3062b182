"""The production web server refuses insecure settings and serves with good ones.

Each case starts the real gunicorn, as the systemd unit does, in a subprocess: settings are
read once per process, and the refusal happens in gunicorn's master before it binds a port.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
GUNICORN = Path(sys.executable).with_name("gunicorn")
# 64 characters, as a generated production secret would be.
SECRET = "kT9#vQ2m!Lx7pR4z&Wc8nB1y^Hs6dF3g*Jq5aE0u@Zo2iN7tY4r(Mv9lK1b)Xp8e"


def _env(tmp_path: Path, port: int, **overrides: str) -> dict[str, str]:
    # The suite's own environment (tests/environment.py sets DJANGO_DEBUG) stays out.
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("DJANGO_", "TRACKER_", "WEB_", "MQTT_CA", "MQTT_CLIENT"))
    }
    env.update(
        TRACKER_VAR_DIR=str(tmp_path / "var"),
        DJANGO_SECRET_KEY=SECRET,
        DJANGO_ALLOWED_HOSTS="127.0.0.1",
        WEB_BIND=f"127.0.0.1:{port}",
        WEB_WORKERS="1",
    )
    env.update(overrides)
    return {k: v for k, v in env.items() if v != "<unset>"}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _start(env: dict[str, str]) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [str(GUNICORN), "-c", "config/gunicorn.py", "config.wsgi:application"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _bad_ca(tmp_path: Path) -> str:
    path = tmp_path / "ca.pem"
    path.write_text("-----BEGIN CERTIFICATE-----\nnot a certificate\n-----END CERTIFICATE-----\n")
    return str(path)


CASES = {
    "default-secret": ({"DJANGO_SECRET_KEY": "<unset>"}, "DJANGO_SECRET_KEY"),
    "short-secret": ({"DJANGO_SECRET_KEY": "short-secret"}, "DJANGO_SECRET_KEY"),
    "debug-on": ({"DJANGO_DEBUG": "true"}, "DJANGO_DEBUG"),
    "unreadable-file": (
        {"DJANGO_SECRET_KEY_FILE": "/nonexistent/secret"},
        "DJANGO_SECRET_KEY_FILE",
    ),
    "wildcard-host": ({"DJANGO_ALLOWED_HOSTS": "*"}, "DJANGO_ALLOWED_HOSTS"),
    "bad-ca-file": ({"MQTT_CA_FILE": "<bad-ca>"}, "MQTT_CA_FILE"),
    "bad-workers": ({"WEB_WORKERS": "many"}, "WEB_WORKERS"),
}


@pytest.mark.parametrize(("overrides", "variable"), CASES.values(), ids=CASES.keys())
def test_a_production_start_refuses_an_insecure_setting_in_one_line(tmp_path, overrides, variable):
    overrides = {k: _bad_ca(tmp_path) if v == "<bad-ca>" else v for k, v in overrides.items()}
    port = _free_port()
    process = _start(_env(tmp_path, port, **overrides))
    try:
        _, stderr = process.communicate(timeout=60)
    finally:
        process.kill()
    assert process.returncode != 0, stderr
    refusals = [line for line in stderr.splitlines() if line.startswith("refusing to start")]
    assert len(refusals) == 1, stderr
    assert variable in refusals[0]
    assert "Traceback" not in stderr
    with pytest.raises(ConnectionRefusedError):  # it never listened
        socket.create_connection(("127.0.0.1", port), timeout=0.5).close()


def test_a_production_start_with_good_settings_answers_healthz(tmp_path):
    port = _free_port()
    process = _start(_env(tmp_path, port))
    try:
        body = _get_when_up(f"http://127.0.0.1:{port}/healthz", process)
        # As behind the TLS-terminating proxy: HSTS joins the headers every response has.
        request = urllib.request.Request(
            f"http://127.0.0.1:{port}/healthz", headers={"X-Forwarded-Proto": "https"}
        )
        with urllib.request.urlopen(request, timeout=5) as response:  # noqa: S310
            headers = response.headers
    finally:
        process.terminate()
        _, stderr = process.communicate(timeout=30)
    assert body == b'{"status": "ok"}'
    assert headers["Strict-Transport-Security"].startswith("max-age=31536000")
    assert "script-src 'self'" in headers["Content-Security-Policy"]
    assert "camera=()" in headers["Permissions-Policy"]
    assert "refusing" not in stderr
    assert process.returncode == 0, stderr


def _get_when_up(url: str, process: subprocess.Popen[str], timeout: float = 60.0) -> bytes:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"gunicorn exited with {process.returncode}: {process.stderr.read()}")
        try:
            with urllib.request.urlopen(url, timeout=2) as response:  # noqa: S310
                return response.read()
        except OSError:
            time.sleep(0.2)
    pytest.fail(f"gunicorn did not answer {url} within {timeout}s")
