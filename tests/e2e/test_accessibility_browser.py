"""Every page passes axe-core (WCAG 2.0 and 2.1, levels A and AA) in a real browser: logged
out, as state staff and as an agency admin, with the HTMX partials and plotly charts in.

axe-core is vendored in tests/e2e/vendor (see its README). It goes in by an init script: the
browser runs those itself, outside the page's Content-Security-Policy, so the pages are
checked exactly as served, policy and all. No axe rule is disabled; an element is excluded
only where a third-party widget cannot meet a rule, in AXE_EXCLUDE, with the reason.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.e2e.conftest import log_in, open_each_page

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

AXE = Path(__file__).parent / "vendor" / "axe.min.js"
WCAG_AA = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]
AXE_EXCLUDE: list[list[str]] = []
RUN_AXE = """
async ([tags, exclude]) => {
  const result = await axe.run(
    {include: [document], exclude: exclude},
    {runOnly: {type: "tag", values: tags}, resultTypes: ["violations"]},
  );
  return result.violations.map((v) => ({
    id: v.id, impact: v.impact, help: v.help, count: v.nodes.length,
    nodes: v.nodes.slice(0, 3).map((n) => n.target.join(" ") + "  " + n.failureSummary.split("\\n").slice(1, 2).join("")),
  }));
}
"""


def _axe(page, path: str) -> list[str]:
    # Folded content (a chart's data table) is checked too: unfold every <details> first.
    page.evaluate("() => document.querySelectorAll('details').forEach((d) => { d.open = true; })")
    found = page.evaluate(RUN_AXE, [WCAG_AA, AXE_EXCLUDE])
    return [
        f"{path}: {v['id']} ({v['impact']}, {v['count']}x) {v['help']}\n    "
        + "\n    ".join(v["nodes"])
        for v in found
    ]


def _new_page(chromium):
    context = chromium.new_context(viewport={"width": 1280, "height": 900})
    context.add_init_script(path=str(AXE))
    page = context.new_page()
    page.set_default_timeout(20_000)
    return context, page


def _check_every_page(chromium, live_server, username: str, paths: list[str]) -> list[str]:
    context, page = _new_page(chromium)
    log_in(page, live_server, username)
    problems: list[str] = []
    visited = 0
    for path, _ in open_each_page(page, live_server, paths):
        problems += _axe(page, path)
        visited += 1
    context.close()
    assert visited >= 15, f"only {visited} pages opened"
    return problems


def test_the_login_page_passes_axe(site, chromium, live_server):
    context, page = _new_page(chromium)
    page.goto(f"{live_server.url}/login/")
    problems = _axe(page, "/login/")
    context.close()
    assert problems == [], "\n".join(problems)


def test_every_page_passes_axe_for_state_staff(site, chromium, live_server):
    problems = _check_every_page(chromium, live_server, site.staff.username, site.paths())
    assert problems == [], "\n".join(problems)


def test_every_page_passes_axe_for_an_agency_admin(site, chromium, live_server):
    problems = _check_every_page(chromium, live_server, site.admin.username, site.paths())
    assert problems == [], "\n".join(problems)


def test_the_import_preview_passes_axe(site, chromium, live_server, tmp_path):
    # The preview lives in the uploader's session, so it is reached by uploading, not by URL.
    sheet = tmp_path / "devices.csv"
    sheet.write_text(
        "serial,manufacturer,model,status\n"
        "KSP-NEW-1,Axon,Body 4,in_stock\n"
        "KSP-OK-1,Axon,Body 4,deployed\n"
        ",Axon,Body 4,not-a-status\n"
    )
    context, page = _new_page(chromium)
    log_in(page, live_server, site.admin.username)
    page.goto(f"{live_server.url}/devices/import/")
    page.locator("input[type=file]").set_input_files(str(sheet))
    page.get_by_role("button", name="Upload and preview").click()
    page.wait_for_url("**/devices/import/*/")
    page.wait_for_load_state("networkidle")
    problems = _axe(page, "/devices/import/<token>/")
    context.close()
    assert problems == [], "\n".join(problems)


def test_the_one_time_gateway_secret_page_passes_axe(site, chromium, live_server):
    # Shown once, in answer to the rotation's POST: reached by pressing the button.
    context, page = _new_page(chromium)
    log_in(page, live_server, site.admin.username)
    page.goto(f"{live_server.url}/gateways/")
    page.get_by_role("button", name="New secret").first.click()
    page.wait_for_load_state("networkidle")
    assert "/credential/" in page.url, page.url
    problems = _axe(page, "/gateways/<pk>/credential/")
    context.close()
    assert problems == [], "\n".join(problems)
