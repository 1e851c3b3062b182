"""The inventory list's sort, columns and export: all kept in the URL, checked against a whitelist."""

from __future__ import annotations

import csv
import io
import re

import pytest

from devices.listing import chosen_columns, headings, parse_sort
from tests.factories import DeviceFactory, DeviceModelFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def fleet(agency_a, agency_b):
    model = DeviceModelFactory(manufacturer="Axon", name="Body 4")
    for serial, tag, status in (
        ("B-2", "T-3", "deployed"),
        ("A-1", "T-2", "lost"),
        ("C-3", "T-1", "in_stock"),
    ):
        DeviceFactory(agency=agency_a, model=model, serial=serial, asset_tag=tag, status=status)
    DeviceFactory(agency=agency_b, model=model, serial="LEX-1", status="deployed")


def _serials(html: str) -> list[str]:
    return re.findall(r'href="/devices/\d+/">([^<]+)</a>', html)


def test_a_column_sorts_ascending_then_descending_from_its_heading(admin_a, fleet):
    ascending = admin_a.browser.get("/devices/?sort=asset_tag").content.decode()
    descending = admin_a.browser.get("/devices/?sort=-asset_tag").content.decode()
    assert _serials(ascending) == ["C-3", "A-1", "B-2"]
    assert _serials(descending) == ["B-2", "A-1", "C-3"]
    assert 'aria-sort="ascending"><a class="sort" href="?sort=-asset_tag"' in ascending
    assert 'aria-sort="descending"><a class="sort" href="?sort=asset_tag"' in descending


def test_an_unknown_sort_falls_back_to_the_default_order(admin_a, fleet):
    response = admin_a.browser.get("/devices/?sort=credential_hash")
    assert response.status_code == 200
    assert _serials(response.content.decode()) == ["A-1", "B-2", "C-3"]
    assert parse_sort("-password") is None


def test_sorting_keeps_the_filter_in_the_url(admin_a, fleet):
    html = admin_a.browser.get("/devices/?status=deployed&sort=serial").content.decode()
    assert _serials(html) == ["B-2"]
    assert 'href="?status=deployed&amp;sort=-serial"' in html


def test_chosen_columns_are_shown_in_the_lists_order(admin_a, fleet):
    html = admin_a.browser.get("/devices/?cols=status&cols=serial&cols=bogus").content.decode()
    table = html[html.index("<thead>") : html.index("</thead>")]
    assert re.findall(r">(Serial|Asset tag|Status|Agency)<", table) == ["Serial", "Status"]
    assert [c.key for c in chosen_columns([])][:2] == ["serial", "asset_tag"]


def test_only_the_sorted_heading_carries_aria_sort():
    found = headings(chosen_columns(["serial", "status"]), parse_sort("-status"))
    assert [(h.column.key, h.aria_sort, h.next_sort) for h in found] == [
        ("serial", None, "serial"),
        ("status", "descending", "status"),
    ]


def test_the_export_links_carry_the_filter_and_sort_and_the_file_follows_them(admin_a, fleet):
    html = admin_a.browser.get("/devices/?q=-&sort=-serial&cols=serial").content.decode()
    link = re.search(r'href="(/devices/export/\?[^"]+format=csv)"', html)
    assert link is not None
    url = link.group(1).replace("&amp;", "&")
    assert "cols=" not in url
    response = admin_a.browser.get(url)
    rows = list(csv.reader(io.StringIO(b"".join(response.streaming_content).decode("utf-8-sig"))))
    assert [row[0] for row in rows[1:]] == ["C-3", "B-2", "A-1"]
    xlsx = admin_a.browser.get(url.replace("format=csv", "format=xlsx"))
    assert xlsx["Content-Disposition"].endswith('.xlsx"')
