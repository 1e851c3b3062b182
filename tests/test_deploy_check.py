"""Production settings: `check --deploy` passes with production values and names unsafe ones.

Each case runs manage.py in a subprocess, because settings are read once per process.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
# 64 characters, as a generated production secret would be.
SECRET = "kT9#vQ2m!Lx7pR4z&Wc8nB1y^Hs6dF3g*Jq5aE0u@Zo2iN7tY4r(Mv9lK1b)Xp8e"


def _manage(tmp_path: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("DJANGO_")}
    clean.update({"TRACKER_VAR_DIR": str(tmp_path / "var"), **env})
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env=clean,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_check_deploy_passes_with_production_values(tmp_path):
    result = _manage(
        tmp_path,
        "check",
        "--deploy",
        "--fail-level",
        "WARNING",
        DJANGO_DEBUG="false",
        DJANGO_SECRET_KEY=SECRET,
        DJANGO_ALLOWED_HOSTS="tracker.example.gov",
        TRACKER_MFA_REQUIRED="true",  # the suite's environment turns it off
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


def test_check_deploy_warns_when_two_factor_sign_in_is_off(tmp_path):
    result = _manage(
        tmp_path,
        "check",
        "--deploy",
        DJANGO_DEBUG="false",
        DJANGO_SECRET_KEY=SECRET,
        DJANGO_ALLOWED_HOSTS="tracker.example.gov",
        TRACKER_MFA_REQUIRED="false",
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "tracker.W001" in result.stderr + result.stdout


def test_check_deploy_fails_in_debug_mode(tmp_path):
    # The same command must be able to fail, or the test above proves nothing.
    result = _manage(
        tmp_path,
        "check",
        "--deploy",
        "--fail-level",
        "WARNING",
        DJANGO_DEBUG="true",
        DJANGO_SECRET_KEY=SECRET,
        DJANGO_ALLOWED_HOSTS="tracker.example.gov",
    )
    assert result.returncode != 0
    assert "security.W018" in result.stdout + result.stderr


@pytest.mark.parametrize(
    "env",
    [
        {"DJANGO_DEBUG": "false"},  # the shipped default secret
        {"DJANGO_DEBUG": "false", "DJANGO_SECRET_KEY": "short-secret"},
    ],
    ids=["default-secret", "short-secret"],
)
def test_check_deploy_names_an_unsafe_secret(tmp_path, env):
    # The production start refuses it too: tests/test_production_start.py.
    result = _manage(
        tmp_path, "check", "--deploy", DJANGO_ALLOWED_HOSTS="tracker.example.gov", **env
    )
    assert result.returncode != 0
    assert "tracker.E001" in result.stderr
    assert "DJANGO_SECRET_KEY" in result.stderr


def test_an_unknown_boolean_spelling_is_an_error_not_false(tmp_path):
    result = _manage(tmp_path, "check", DJANGO_DEBUG="maybe")
    assert result.returncode != 0
    assert "DJANGO_DEBUG" in result.stderr
