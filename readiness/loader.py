"""Requirement files -> the catalog: validate everything, then load it all in one transaction.

One TOML file per version of a set (``readiness/requirement_sets/*.toml``)::

    [set]                      # the same in every file of the set
    code = "cjis-mobile"       # slug
    name = "..."
    publisher = "..."
    description = "..."        # optional

    [version]
    version = "6.0"
    title = "..."              # optional
    status = "published"       # draft | published | retired
    effective_on = 2024-12-27
    published_on = 2024-12-27  # optional
    issuing_authority = "..."
    source_url = "https://..." # optional
    source_note = "..."        # required: where it comes from; mark secondary sources
    supersedes = "5.9"         # optional: the version of the same set this one replaces

    [[requirement]]
    key = "cjis.mdm.enrolled"  # stable across versions
    code = "CJIS-MDM-1"        # unique in the version; errors name it
    section = "5.20.2"
    title = "..."
    explanation = "..."
    applies_to = ["smartphone", "tablet"]          # device kinds; omitted: every kind
    applies_when = { attr = "device.has_cji_access", op = "==", value = true }   # optional
    severity = "mandatory"     # or recommended
    weight = 5                 # 1..100, default 1
    due_on = 2025-10-01        # optional
    relation = "renumbered"    # to the superseded version: same | renumbered | tightened | relaxed | new
    change_note = "..."        # optional
    rule = { attr = "device.is_mdm_enrolled", op = "==", value = true }

    [[removed]]                # requirements of the superseded version this one drops
    key = "..."
    note = "..."

Every file is checked before anything is written, and the cross-version story must add up:
a version that supersedes another accounts for each of its keys (kept with a relation, or
listed under ``removed``); "new" is only for keys the superseded version lacks; "same" and
"renumbered" keep the rule, scope, severity and weight ("renumbered" changes the section),
and "tightened"/"relaxed" change something. Any mistake raises ``RequirementFileError``
listing each as ``file: requirement CODE: problem`` and nothing is written. Loading an
unchanged file again changes nothing (its SHA-256 is stored); a changed file updates its
version in place, requirements matched by key.
"""

from __future__ import annotations

import hashlib
import re
import tomllib
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

from django.db import transaction

from devices.models import DeviceKind
from readiness.models import (
    Relation,
    Requirement,
    RequirementRemoval,
    RequirementSet,
    RequirementSetVersion,
    Severity,
    VersionStatus,
)
from readiness.rules import RuleError, node_to_json, parse_rule

SETS_DIR = Path(__file__).resolve().parent / "requirement_sets"
_SLUG = re.compile(r"^[a-z0-9][a-z0-9-]*$")
_KEY = re.compile(r"^[a-z0-9][a-z0-9._-]*$")
_KINDS = {k.value for k in DeviceKind}
_TOP_KEYS = {"set", "version", "requirement", "removed"}
_SET_KEYS = {"code", "name", "publisher", "description"}
_VERSION_KEYS = {"version", "title", "status", "effective_on", "published_on", "issuing_authority",
                 "source_url", "source_note", "supersedes"}
_REQ_KEYS = {"key", "code", "section", "title", "explanation", "applies_to", "applies_when", "severity",
             "weight", "due_on", "relation", "change_note", "rule"}
_REMOVED_KEYS = {"key", "note"}
# What "same"/"renumbered" must keep unchanged from the superseded version.
_SUBSTANCE = ("rule", "applies_to", "applies_when", "severity", "weight")


class RequirementFileError(ValueError):
    """One or more requirement files are wrong; ``problems`` lists each, file and code first."""

    def __init__(self, problems: list[str]):
        self.problems = problems
        super().__init__("requirement files refused, nothing loaded:\n" + "\n".join(f"- {p}" for p in problems))


@dataclass
class _Req:
    key: str
    code: str
    section: str
    title: str
    explanation: str
    applies_to: list[str]
    applies_when: dict | None
    severity: str
    weight: int
    due_on: date | None
    relation: str
    change_note: str
    rule: dict

    def substance(self) -> tuple:
        return (self.rule, sorted(self.applies_to), self.applies_when, self.severity, self.weight)


@dataclass
class _VersionFile:
    path: Path
    digest: str
    set_fields: dict[str, str]
    version_fields: dict[str, Any]
    requirements: list[_Req] = field(default_factory=list)
    removed: list[tuple[str, str]] = field(default_factory=list)

    @property
    def set_code(self) -> str:
        return self.set_fields["code"]

    @property
    def version(self) -> str:
        return self.version_fields["version"]


@dataclass
class LoadReport:
    """What a load did: versions created, updated and left unchanged ("set version")."""

    created: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)


def find_files(paths: Iterable[str | Path]) -> list[Path]:
    """The TOML files named, or found (sorted) in the directories named."""
    found: list[Path] = []
    for p in map(Path, paths):
        if p.is_dir():
            found.extend(sorted(p.glob("*.toml")))
        elif p.is_file():
            found.append(p)
        else:
            raise RequirementFileError([f"{p}: no such file or directory"])
    if not found:
        raise RequirementFileError([f"{', '.join(map(str, paths))}: no .toml requirement files found"])
    return found


# --- reading and checking one file ---------------------------------------------------------


class _Problems:
    def __init__(self, name: str):
        self.name = name
        self.items: list[str] = []

    def add(self, problem: str, code: str | None = None) -> None:
        where = f"{self.name}: requirement {code}: " if code else f"{self.name}: "
        self.items.append(where + problem)


def _text(table: dict, name: str, problems: _Problems, where: str, code: str | None = None,
          *, required: bool = True, pattern: re.Pattern | None = None) -> str:
    value = table.get(name)
    if value is None or value == "":
        if required:
            problems.add(f"{where}{name} is missing", code)
        return ""
    if not isinstance(value, str):
        problems.add(f"{where}{name} must be text, got {value!r}", code)
        return ""
    if pattern and not pattern.match(value):
        problems.add(f"{where}{name} {value!r} may hold only lower-case letters, digits, '-', '.', '_'", code)
    return value


def _date(table: dict, name: str, problems: _Problems, where: str, code: str | None = None,
          *, required: bool) -> date | None:
    value = table.get(name)
    if value is None:
        if required:
            problems.add(f"{where}{name} is missing (a TOML date, e.g. 2024-12-27)", code)
        return None
    if not isinstance(value, date) or hasattr(value, "hour"):
        problems.add(f"{where}{name} must be a TOML date like 2024-12-27, got {value!r}", code)
        return None
    return value


def _unknown(table: dict, allowed: set[str], problems: _Problems, where: str, code: str | None = None) -> None:
    for extra in sorted(set(table) - allowed):
        problems.add(f"{where}unknown field {extra!r} (allowed: {', '.join(sorted(allowed))})", code)


def _read_file(path: Path, problems: _Problems) -> _VersionFile | None:
    content = path.read_bytes()
    try:
        data = tomllib.loads(content.decode("utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        problems.add(f"not valid TOML: {exc}")
        return None
    _unknown(data, _TOP_KEYS, problems, "")
    set_t, ver_t = data.get("set"), data.get("version")
    if not isinstance(set_t, dict) or not isinstance(ver_t, dict):
        problems.add("needs a [set] and a [version] table")
        return None
    _unknown(set_t, _SET_KEYS, problems, "[set] ")
    _unknown(ver_t, _VERSION_KEYS, problems, "[version] ")
    set_fields = {
        "code": _text(set_t, "code", problems, "[set] ", pattern=_SLUG),
        "name": _text(set_t, "name", problems, "[set] "),
        "publisher": _text(set_t, "publisher", problems, "[set] "),
        "description": _text(set_t, "description", problems, "[set] ", required=False),
    }
    status = _text(ver_t, "status", problems, "[version] ")
    if status and status not in VersionStatus.values:
        problems.add(f"[version] status {status!r} must be one of {', '.join(VersionStatus.values)}")
    version_fields = {
        "version": _text(ver_t, "version", problems, "[version] "),
        "title": _text(ver_t, "title", problems, "[version] ", required=False),
        "status": status,
        "effective_on": _date(ver_t, "effective_on", problems, "[version] ", required=True),
        "published_on": _date(ver_t, "published_on", problems, "[version] ", required=False),
        "issuing_authority": _text(ver_t, "issuing_authority", problems, "[version] "),
        "source_url": _text(ver_t, "source_url", problems, "[version] ", required=False),
        "source_note": _text(ver_t, "source_note", problems, "[version] "),
        "supersedes": _text(ver_t, "supersedes", problems, "[version] ", required=False),
    }
    vf = _VersionFile(path, hashlib.sha256(content).hexdigest(), set_fields, version_fields)
    reqs = data.get("requirement", [])
    if not isinstance(reqs, list) or not reqs:
        problems.add("needs at least one [[requirement]]")
        reqs = []
    for i, table in enumerate(reqs):
        req = _read_requirement(table, i, problems)
        if req is not None:
            vf.requirements.append(req)
    for i, table in enumerate(data.get("removed", [])):
        if not isinstance(table, dict):
            problems.add(f"[[removed]] #{i + 1} must be a table")
            continue
        _unknown(table, _REMOVED_KEYS, problems, f"[[removed]] #{i + 1} ")
        key = _text(table, "key", problems, f"[[removed]] #{i + 1} ", pattern=_KEY)
        vf.removed.append((key, _text(table, "note", problems, "[[removed]] ", required=False)))
    _check_unique(vf, problems)
    return vf


def _read_requirement(table: object, index: int, problems: _Problems) -> _Req | None:
    if not isinstance(table, dict):
        problems.add(f"[[requirement]] #{index + 1} must be a table")
        return None
    code = table.get("code") if isinstance(table.get("code"), str) and table.get("code") else f"#{index + 1}"
    _unknown(table, _REQ_KEYS, problems, "", code)
    key = _text(table, "key", problems, "", code, pattern=_KEY)
    _text(table, "code", problems, "", code)
    applies_to = table.get("applies_to", [])
    if not isinstance(applies_to, list) or not all(isinstance(k, str) for k in applies_to):
        problems.add(f"applies_to must be a list of device kinds, got {applies_to!r}", code)
        applies_to = []
    for kind in applies_to:
        if kind not in _KINDS:
            problems.add(f"applies_to: {kind!r} is not a device kind ({', '.join(sorted(_KINDS))})", code)
    severity = table.get("severity", Severity.MANDATORY)
    if severity not in Severity.values:
        problems.add(f"severity {severity!r} must be one of {', '.join(Severity.values)}", code)
    weight = table.get("weight", 1)
    if isinstance(weight, bool) or not isinstance(weight, int) or not 1 <= weight <= 100:
        problems.add(f"weight must be a whole number from 1 to 100, got {weight!r}", code)
        weight = 1
    relation = table.get("relation", Relation.NEW)
    if relation not in Relation.values:
        problems.add(f"relation {relation!r} must be one of {', '.join(Relation.values)}", code)
    rule = _rule(table.get("rule"), "rule", problems, code, required=True)
    applies_when = _rule(table.get("applies_when"), "applies_when", problems, code, required=False)
    return _Req(
        key=key,
        code=code,
        section=_text(table, "section", problems, "", code, required=False),
        title=_text(table, "title", problems, "", code),
        explanation=_text(table, "explanation", problems, "", code),
        applies_to=sorted(applies_to),
        applies_when=applies_when,
        severity=str(severity),
        weight=weight,
        due_on=_date(table, "due_on", problems, "", code, required=False),
        relation=str(relation),
        change_note=_text(table, "change_note", problems, "", code, required=False),
        rule=rule or {},
    )


def _rule(data: object, where: str, problems: _Problems, code: str, *, required: bool) -> dict | None:
    if data is None:
        if required:
            problems.add(f"{where} is missing", code)
        return None
    try:
        # Stored in the canonical form, so an equal rule compares equal across versions.
        return node_to_json(parse_rule(data, where))
    except RuleError as exc:
        problems.add(str(exc), code)
        return None


def _check_unique(vf: _VersionFile, problems: _Problems) -> None:
    for attr in ("key", "code"):
        seen: set[str] = set()
        for req in vf.requirements:
            value = getattr(req, attr)
            if value in seen:
                problems.add(f"{attr} {value!r} appears twice in this version", req.code)
            seen.add(value)


# --- checking the files together ----------------------------------------------------------


@dataclass
class _Previous:
    """The superseded version's requirements, from a file of this load or the database."""

    effective_on: date
    requirements: dict[str, _Req]


def _previous_from_db(set_code: str, version: str) -> _Previous | None:
    found = RequirementSetVersion.objects.filter(requirement_set__code=set_code, version=version).first()
    if found is None:
        return None
    reqs = {
        r.key: _Req(r.key, r.code, r.section, r.title, r.explanation, list(r.applies_to or []), r.applies_when,
                    r.severity, r.weight, r.due_on, r.relation, r.change_note, r.rule)
        for r in found.requirements.all()
    }
    return _Previous(found.effective_on, reqs)


def _check_together(files: list[_VersionFile], problems_of: dict[Path, _Problems]) -> None:
    by_version: dict[tuple[str, str], _VersionFile] = {}
    set_fields: dict[str, tuple[Path, dict]] = {}
    for vf in files:
        p = problems_of[vf.path]
        ident = (vf.set_code, vf.version)
        if ident in by_version:
            p.add(f"version {vf.version} of {vf.set_code} is also in {by_version[ident].path.name}")
        by_version[ident] = vf
        first = set_fields.setdefault(vf.set_code, (vf.path, vf.set_fields))
        if first[1] != vf.set_fields:
            p.add(f"[set] differs from the [set] of {first[0].name}; every file of a set has the same [set]")
    for vf in files:
        _check_lineage(vf, by_version, problems_of[vf.path])


def _check_lineage(vf: _VersionFile, by_version: dict[tuple[str, str], _VersionFile], p: _Problems) -> None:
    sup = vf.version_fields["supersedes"]
    if not sup:
        for req in vf.requirements:
            if req.relation != Relation.NEW:
                p.add(f"relation {req.relation!r} needs [version] supersedes; a first version has only new ones",
                      req.code)
        if vf.removed:
            p.add("[[removed]] needs [version] supersedes")
        return
    if sup == vf.version:
        p.add("[version] supersedes itself")
        return
    prev_file = by_version.get((vf.set_code, sup))
    prev = (
        _Previous(prev_file.version_fields["effective_on"], {r.key: r for r in prev_file.requirements})
        if prev_file else _previous_from_db(vf.set_code, sup)
    )
    if prev is None:
        p.add(f"[version] supersedes {sup!r}, which is neither in these files nor loaded")
        return
    eff = vf.version_fields["effective_on"]
    if eff and prev.effective_on and eff <= prev.effective_on:
        p.add(f"[version] effective_on {eff} is not after {prev.effective_on}, when {sup} took effect")
    current = {r.key for r in vf.requirements}
    for req in vf.requirements:
        old = prev.requirements.get(req.key)
        if old is None:
            if req.relation != Relation.NEW:
                p.add(f"relation {req.relation!r} but {sup} has no requirement with key {req.key!r}", req.code)
            continue
        if req.relation == Relation.NEW:
            p.add(f"relation 'new' but {sup} already has key {req.key!r} (use same, renumbered, tightened "
                  "or relaxed)", req.code)
        elif req.relation in (Relation.SAME, Relation.RENUMBERED):
            changed = [name for name, a, b in zip(_SUBSTANCE, req.substance(), old.substance(), strict=True)
                       if a != b]
            if changed:
                p.add(f"relation {req.relation!r} but {', '.join(changed)} changed from {sup} "
                      "(use tightened or relaxed)", req.code)
            if req.relation == Relation.SAME and req.section != old.section:
                p.add(f"relation 'same' but the section moved from {old.section} to {req.section} "
                      "(use renumbered)", req.code)
            if req.relation == Relation.RENUMBERED and req.section == old.section:
                p.add(f"relation 'renumbered' but the section is still {req.section}", req.code)
        elif req.substance() == old.substance() and req.due_on == old.due_on:
            p.add(f"relation {req.relation!r} but nothing changed from {sup}", req.code)
    removed = {key for key, _ in vf.removed}
    for key in sorted(removed):
        if key not in prev.requirements:
            p.add(f"[[removed]] key {key!r} is not in {sup}")
        if key in current:
            p.add(f"[[removed]] key {key!r} is still a requirement of this version")
    for key in sorted(set(prev.requirements) - current - removed):
        p.add(f"{sup} has key {key!r}, which this version neither keeps nor lists under [[removed]]")


# --- loading --------------------------------------------------------------------------------


def validate_files(paths: Iterable[str | Path]) -> list[_VersionFile]:
    """Read and check the files; raise RequirementFileError with every problem found."""
    files: list[_VersionFile] = []
    problems_of: dict[Path, _Problems] = {}
    for path in find_files(paths):
        p = problems_of[path] = _Problems(path.name)
        vf = _read_file(path, p)
        if vf is not None and not p.items:
            files.append(vf)
    if not any(p.items for p in problems_of.values()):
        _check_together(files, problems_of)
    problems = [item for p in problems_of.values() for item in p.items]
    if problems:
        raise RequirementFileError(problems)
    return files


def _load_order(files: list[_VersionFile]) -> list[_VersionFile]:
    """Superseded versions before the versions that supersede them."""
    by_version = {(f.set_code, f.version): f for f in files}
    ordered: list[_VersionFile] = []
    done: set[tuple[str, str]] = set()

    def visit(vf: _VersionFile, depth: int = 0) -> None:
        ident = (vf.set_code, vf.version)
        if ident in done:
            return
        if depth > len(files):
            raise RequirementFileError([f"{vf.path.name}: [version] supersedes forms a cycle"])
        sup = by_version.get((vf.set_code, vf.version_fields["supersedes"]))
        if sup is not None:
            visit(sup, depth + 1)
        done.add(ident)
        ordered.append(vf)

    for vf in files:
        visit(vf)
    return ordered


def load_requirements(paths: Iterable[str | Path]) -> LoadReport:
    """Validate the requirement files at ``paths`` (files or directories), then load them.

    All or nothing: one transaction, after every file passed validation. Idempotent: an
    unchanged file is recognised by its SHA-256 and left alone.
    """
    files = _load_order(validate_files(paths))
    report = LoadReport()
    with transaction.atomic():
        for vf in files:
            outcome = _load_version(vf)
            getattr(report, outcome).append(f"{vf.set_code} {vf.version}")
    return report


def _load_version(vf: _VersionFile) -> str:
    req_set, _ = RequirementSet.objects.update_or_create(
        code=vf.set_code,
        defaults={k: v for k, v in vf.set_fields.items() if k != "code"},
    )
    existing = RequirementSetVersion.objects.filter(requirement_set=req_set, version=vf.version).first()
    if existing is not None and existing.content_hash == vf.digest:
        return "unchanged"
    fields = {k: v for k, v in vf.version_fields.items() if k not in ("version", "supersedes")}
    fields = {k: ("" if v is None and k in ("title", "source_url") else v) for k, v in fields.items()}
    supersedes = None
    if vf.version_fields["supersedes"]:
        supersedes = RequirementSetVersion.objects.get(requirement_set=req_set, version=vf.version_fields["supersedes"])
    version, created = RequirementSetVersion.objects.update_or_create(
        requirement_set=req_set,
        version=vf.version,
        defaults={**fields, "supersedes": supersedes, "source_file": vf.path.name, "content_hash": vf.digest},
    )
    previous = {r.key: r for r in supersedes.requirements.all()} if supersedes else {}
    keep = [r.key for r in vf.requirements]
    version.requirements.exclude(key__in=keep).delete()
    # Codes may move between keys in a changed file: clear them first so the unique
    # (version, code) constraint does not trip over the intermediate state.
    new_codes = {r.key: r.code for r in vf.requirements}
    for row in version.requirements.all():
        if row.code != new_codes[row.key]:
            Requirement.objects.filter(pk=row.pk).update(code=f"~{row.pk}")
    for req in vf.requirements:
        Requirement.objects.update_or_create(
            version=version,
            key=req.key,
            defaults={
                "code": req.code, "section": req.section, "title": req.title, "explanation": req.explanation,
                "applies_to": req.applies_to, "applies_when": req.applies_when, "severity": req.severity,
                "weight": req.weight, "due_on": req.due_on, "rule": req.rule, "relation": req.relation,
                "previous": previous.get(req.key), "change_note": req.change_note,
            },
        )
    version.removals.all().delete()
    RequirementRemoval.objects.bulk_create(
        RequirementRemoval(version=version, key=key, previous=previous[key], note=note) for key, note in vf.removed
    )
    return "created" if created else "updated"
