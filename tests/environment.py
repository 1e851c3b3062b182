"""The environment the suite reads its settings in, set before pytest-django imports them.

Loaded with ``-p tests.environment`` (pyproject.toml), because a conftest is imported only
after pytest-django has read the settings. The suite reads them as the demo does
(DJANGO_DEBUG=true: static files under plain names without `collectstatic`, no redirect to
HTTPS, cookies over plain HTTP), since the test client and the live server speak plain HTTP;
pytest-django then turns DEBUG itself off for every test, as in production. A variable set by
the caller wins, and subprocesses started by tests inherit the same values.
"""

from __future__ import annotations

import os

os.environ.setdefault("DJANGO_DEBUG", "true")
# Two-factor sign-in off, as in the demo, so tests about other things sign in with a password;
# the tests of two-factor sign-in turn it on with the settings fixture.
os.environ.setdefault("TRACKER_MFA_REQUIRED", "false")
