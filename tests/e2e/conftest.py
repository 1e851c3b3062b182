"""Browser tests: Playwright driving Debian's chromium against pytest-django's live server.

Playwright's sync API runs an event loop in this thread, which makes Django refuse ORM calls
from it; the tests only set up data and read rows between browser steps, so the guard is
lifted here, for these tests only.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from tests.conftest import skip_or_fail

os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

CHROMIUM = Path("/usr/bin/chromium")
LAUNCH_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


@pytest.fixture(scope="session")
def chromium() -> Iterator[object]:
    if not CHROMIUM.exists():
        skip_or_fail(
            "Debian chromium is not installed at /usr/bin/chromium (apt-get install chromium)"
        )
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=LAUNCH_ARGS)
        yield browser
        browser.close()


@dataclass
class Watched:
    """What a page did that a test must check: console errors, and requests leaving the server."""

    origin: str
    console_errors: list[str] = field(default_factory=list)
    foreign_requests: list[str] = field(default_factory=list)

    def assert_clean(self) -> None:
        assert self.foreign_requests == [], f"requests outside the server: {self.foreign_requests}"
        assert self.console_errors == [], f"console errors: {self.console_errors}"


@pytest.fixture
def browser_page(chromium, live_server):
    """A fresh context (tablet-to-laptop width) whose page records console errors and foreign requests."""
    context = chromium.new_context(viewport={"width": 1280, "height": 900}, accept_downloads=True)
    page = context.new_page()
    origin = urlsplit(live_server.url)
    watched = Watched(origin=live_server.url)

    def on_request(request) -> None:  # noqa: ANN001
        url = urlsplit(request.url)
        if url.scheme in ("data", "blob", "about"):
            return
        if (url.hostname, url.port) != (origin.hostname, origin.port):
            watched.foreign_requests.append(request.url)

    page.on("request", on_request)
    page.on(
        "console",
        lambda msg: watched.console_errors.append(msg.text) if msg.type == "error" else None,
    )
    page.on("pageerror", lambda exc: watched.console_errors.append(str(exc)))
    page.set_default_timeout(20_000)
    yield page, watched
    context.close()
