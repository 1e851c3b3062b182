"""Requirement files: the shipped sets load, bad files are refused whole, reloads are idempotent."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from readiness.catalog import requirements_for_version
from readiness.loader import SETS_DIR, RequirementFileError, load_requirements
from readiness.models import Requirement, RequirementRemoval, RequirementSet, RequirementSetVersion

pytestmark = pytest.mark.django_db

BASE = """
[set]
code = "demo-set"
name = "Demo set"
publisher = "State Office of Technology"

[version]
version = "{version}"
status = "published"
effective_on = {effective}
issuing_authority = "State Office of Technology"
source_note = "Written for the tests."
{supersedes}
"""

REQ = """
[[requirement]]
key = "{key}"
code = "{code}"
section = "{section}"
title = "A requirement"
explanation = "Explained."
applies_to = ["smartphone"]
weight = 2
relation = "{relation}"
rule = {rule}
"""

MDM = '{ attr = "device.is_mdm_enrolled", op = "==", value = true }'
FW = '{ attr = "device.firmware", op = ">=", value = "3.2.1" }'


def write(
    folder: Path,
    name: str,
    *,
    version: str = "1",
    effective: str = "2024-01-01",
    supersedes: str = "",
    reqs: list[dict] | None = None,
    extra: str = "",
) -> Path:
    body = BASE.format(
        version=version,
        effective=effective,
        supersedes=f'supersedes = "{supersedes}"' if supersedes else "",
    )
    for r in reqs if reqs is not None else [{}]:
        body += REQ.format(
            **({"key": "mdm", "code": "D-1", "section": "1", "relation": "new", "rule": MDM} | r)
        )
    path = folder / name
    path.write_text(body + extra)
    return path


def counts() -> tuple[int, int, int, int]:
    return (
        RequirementSet.objects.count(),
        RequirementSetVersion.objects.count(),
        Requirement.objects.count(),
        RequirementRemoval.objects.count(),
    )


def test_shipped_sets_load_and_compile():
    report = load_requirements([SETS_DIR])
    assert len(report.created) >= 6
    for set_code in ("cjis-mobile", "firstnet-device-baseline", "bwc-programme"):
        versions = RequirementSetVersion.objects.filter(requirement_set__code=set_code)
        assert versions.count() >= 2
        for version in versions:
            assert requirements_for_version(version.pk)
    cjis = Requirement.objects.get(
        version__requirement_set__code="cjis-mobile",
        version__version="6.0",
        key="cjis.mdm.enrolled",
    )
    assert (cjis.section, cjis.relation, cjis.previous.section) == (
        "5.20.2",
        "renumbered",
        "5.13.2",
    )
    assert RequirementRemoval.objects.filter(key="firstnet.router_gps").exists()


def test_reloading_the_same_files_changes_nothing():
    load_requirements([SETS_DIR])
    before = counts()
    ids = sorted(Requirement.objects.values_list("id", flat=True))
    report = load_requirements([SETS_DIR])
    assert report.created == []
    assert report.updated == []
    assert counts() == before
    assert sorted(Requirement.objects.values_list("id", flat=True)) == ids


def test_changed_file_of_a_draft_updates_it_in_place(tmp_path):
    path = write(tmp_path, "v1.toml", extra="")
    path.write_text(path.read_text().replace('status = "published"', 'status = "draft"'))
    load_requirements([path])
    req_id = Requirement.objects.get(key="mdm").pk
    write(tmp_path, "v1.toml", reqs=[{"rule": FW}, {"key": "fw", "code": "D-2", "rule": FW}])
    path.write_text(path.read_text().replace('status = "published"', 'status = "draft"'))
    report = load_requirements([path])
    assert report.updated == ["demo-set 1"]
    mdm = Requirement.objects.get(key="mdm")
    assert mdm.pk == req_id
    assert mdm.rule == {"attr": "device.firmware", "op": ">=", "value": "3.2.1"}
    assert Requirement.objects.filter(version__version="1").count() == 2


def test_changed_file_of_a_published_version_is_refused_and_changes_nothing(tmp_path):
    path = write(tmp_path, "v1.toml")
    load_requirements([path])
    before = list(Requirement.objects.values())
    write(tmp_path, "v1.toml", reqs=[{"rule": FW}])
    with pytest.raises(RequirementFileError, match="is published and its requirements cannot"):
        load_requirements([path])
    assert list(Requirement.objects.values()) == before


def test_a_bad_rule_is_refused_with_file_code_and_problem(tmp_path):
    write(tmp_path, "a-good.toml")
    write(
        tmp_path,
        "b-bad.toml",
        version="2",
        effective="2025-01-01",
        supersedes="1",
        reqs=[
            {"relation": "same"},
            {
                "key": "fw",
                "code": "D-9",
                "rule": '{ attr = "device.firmware", op = ">=", value = "abc" }',
            },
        ],
    )
    with pytest.raises(RequirementFileError) as caught:
        load_requirements([tmp_path])
    assert caught.value.problems == [
        "b-bad.toml: requirement D-9: rule.value: device.firmware: 'abc' is not a version",
    ]
    assert counts() == (0, 0, 0, 0)  # the good file was not loaded either


@pytest.mark.parametrize(
    ("req", "problem"),
    [
        (
            {"rule": '{ attr = "device.colour", op = "==", value = "red" }'},
            "rule.attr: unknown attribute 'device.colour'",
        ),
        (
            {"rule": '{ attr = "device.is_mdm_enrolled", op = "==", value = "yes" }'},
            "rule.value: device.is_mdm_enrolled is true or false",
        ),
        ({"relation": "tightened"}, "relation 'tightened' needs [version] supersedes"),
        ({"key": "Bad Key"}, "key 'Bad Key' may hold only"),
    ],
)
def test_requirement_mistakes_name_the_code(tmp_path, req, problem):
    write(tmp_path, "one.toml", reqs=[req])
    with pytest.raises(RequirementFileError) as caught:
        load_requirements([tmp_path / "one.toml"])
    assert any(
        p.startswith("one.toml: requirement D-1: ") and problem in p for p in caught.value.problems
    ), caught.value.problems


def test_file_level_mistakes_are_reported(tmp_path):
    path = write(tmp_path, "one.toml", extra='\n[[requirement]]\nkey = "x"\n')
    path.write_text(path.read_text().replace('status = "published"', 'status = "final"'))
    with pytest.raises(RequirementFileError) as caught:
        load_requirements([path])
    problems = caught.value.problems
    assert "one.toml: [version] status 'final' must be one of draft, published, retired" in problems
    assert "one.toml: requirement #2: code is missing" in problems
    assert "one.toml: requirement #2: rule is missing" in problems


def test_not_toml_is_refused(tmp_path):
    (tmp_path / "x.toml").write_text("[set\ncode = 1")
    with pytest.raises(RequirementFileError, match=r"x.toml: not valid TOML"):
        load_requirements([tmp_path])


def test_lineage_must_account_for_every_key(tmp_path):
    write(tmp_path, "v1.toml", reqs=[{}, {"key": "fw", "code": "D-2", "rule": FW}])
    write(
        tmp_path,
        "v2.toml",
        version="2",
        effective="2025-01-01",
        supersedes="1",
        reqs=[
            {"relation": "same", "rule": FW},
            {"key": "new-one", "code": "D-3", "relation": "tightened"},
        ],
    )
    with pytest.raises(RequirementFileError) as caught:
        load_requirements([tmp_path])
    assert set(caught.value.problems) == {
        "v2.toml: requirement D-1: relation 'same' but rule changed from 1 (use tightened or relaxed)",
        "v2.toml: requirement D-3: relation 'tightened' but 1 has no requirement with key 'new-one'",
        "v2.toml: 1 has key 'fw', which this version neither keeps nor lists under [[removed]]",
    }


def test_renumbering_and_removal_are_recorded(tmp_path):
    write(tmp_path, "v1.toml", reqs=[{}, {"key": "fw", "code": "D-2", "rule": FW}])
    write(
        tmp_path,
        "v2.toml",
        version="2",
        effective="2025-01-01",
        supersedes="1",
        reqs=[{"relation": "renumbered", "section": "7"}],
        extra='\n[[removed]]\nkey = "fw"\nnote = "Dropped."\n',
    )
    load_requirements([tmp_path])
    moved = Requirement.objects.get(version__version="2", key="mdm")
    assert (moved.relation, moved.section, moved.previous.section) == ("renumbered", "7", "1")
    removal = RequirementRemoval.objects.get(version__version="2")
    assert (removal.key, removal.previous.code, removal.note) == ("fw", "D-2", "Dropped.")


def test_a_version_can_supersede_one_already_loaded(tmp_path):
    write(tmp_path, "v1.toml")
    load_requirements([tmp_path / "v1.toml"])
    write(
        tmp_path,
        "v2.toml",
        version="2",
        effective="2025-01-01",
        supersedes="1",
        reqs=[{"relation": "same"}],
    )
    load_requirements([tmp_path / "v2.toml"])
    v2 = RequirementSetVersion.objects.get(version="2")
    assert v2.supersedes.version == "1"


def test_command_refuses_with_the_problems_and_loads_nothing(tmp_path):
    shutil.copy(SETS_DIR / "cjis-mobile-5.9.toml", tmp_path)
    write(
        tmp_path,
        "zz-bad.toml",
        reqs=[{"rule": '{ attr = "health.last_seen", op = "within", value = "a week" }'}],
    )
    with pytest.raises(
        CommandError, match=r"zz-bad.toml: requirement D-1: rule.value: 'a week' is not a duration"
    ):
        call_command("load_requirements", str(tmp_path))
    assert counts() == (0, 0, 0, 0)


def test_command_loads_the_shipped_sets_by_default(capsys):
    call_command("load_requirements")
    assert "created   cjis-mobile 6.0" in capsys.readouterr().out
