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

Each table's shape is checked by a strict pydantic model (`SetTable`, `VersionTable`,
`RequirementTable`, `RemovedTable`: TOML has types, so ``"5"`` is not a weight), rules by the
rule language itself (`readiness.rules`). Every file is checked before anything is written,
and the cross-version story must add up:
a version that supersedes another accounts for each of its keys (kept with a relation, or
listed under ``removed``); "new" is only for keys the superseded version lacks; "same" and
"renumbered" keep the rule, scope, severity and weight ("renumbered" changes the section),
and "tightened"/"relaxed" change something. Any mistake raises ``RequirementFileError``
listing each as ``file: requirement CODE: problem`` and nothing is written. Loading an
unchanged file again changes nothing (its SHA-256 is stored); a changed file of a draft
updates it in place, requirements matched by key. A version already published (or retired)
never changes its requirements, removals, effective date or lineage: a file that would is
refused, and one with the same content (an exported file loaded back) changes nothing.
Versions are written as drafts and then given their file's status, so requirements are only
ever written to a draft (``readiness.models.require_draft_version``).
"""

from __future__ import annotations

import hashlib
import tomllib
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Annotated, Any, TypeVar

from django.db import transaction
from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    ValidationError,
    ValidationInfo,
)
from pydantic_core import ErrorDetails, PydanticCustomError

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
_SLUG = r"^[a-z0-9][a-z0-9-]*$"
_KEY = r"^[a-z0-9][a-z0-9._-]*$"
# What "same"/"renumbered" must keep unchanged from the superseded version.
_SUBSTANCE = ("rule", "applies_to", "applies_when", "severity", "weight")


class RequirementFileError(ValueError):
    """One or more requirement files are wrong; ``problems`` lists each, file and code first."""

    def __init__(self, problems: list[str]):
        self.problems = problems
        super().__init__(
            "requirement files refused, nothing loaded:\n" + "\n".join(f"- {p}" for p in problems)
        )


# --- the shape of a file: pydantic models, strict (TOML has types; "1" is not 1) ----------


def _one_of(values: Iterable[str]) -> AfterValidator:
    choices = list(values)

    def check(value: str) -> str:
        if value not in choices:
            raise PydanticCustomError(
                "choice", "must be one of {choices}", {"choices": ", ".join(choices)}
            )
        return value

    return AfterValidator(check)


def _canonical_rule(data: Any, info: ValidationInfo) -> dict:
    # Stored in the canonical form, so an equal rule compares equal across versions. The rule
    # language words its own problems (readiness.rules); they are passed on as they are.
    try:
        return node_to_json(parse_rule(data, info.field_name or "rule"))
    except RuleError as exc:
        raise PydanticCustomError("rule", "{problem}", {"problem": str(exc)}) from None


Text = Annotated[str, StringConstraints(min_length=1)]
Slug = Annotated[str, StringConstraints(pattern=_SLUG)]
Key = Annotated[str, StringConstraints(pattern=_KEY)]
Rule = Annotated[Any, AfterValidator(_canonical_rule)]
_PATTERN_HINTS = {
    _SLUG: "may hold only lower-case letters, digits and '-'",
    _KEY: "may hold only lower-case letters, digits, '-', '.', '_'",
}


_M = TypeVar("_M", bound=BaseModel)


class _Table(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)


class SetTable(_Table):
    """``[set]``: the same in every file of the set."""

    code: Slug
    name: Text
    publisher: Text
    description: str = ""


class VersionTable(_Table):
    """``[version]``."""

    version: Text
    title: str = ""
    status: Annotated[str, _one_of(VersionStatus.values)]
    effective_on: date
    published_on: date | None = None
    issuing_authority: Text
    source_url: str = ""
    source_note: Text
    supersedes: str = ""


class RequirementTable(_Table):
    """One ``[[requirement]]``; ``rule`` and ``applies_when`` are held in canonical form."""

    key: Key
    code: Text
    section: str = ""
    title: Text
    explanation: Text
    applies_to: Annotated[
        list[Annotated[str, _one_of(sorted(DeviceKind.values))]], AfterValidator(sorted)
    ] = []
    applies_when: Rule = None
    severity: Annotated[str, _one_of(Severity.values)] = Severity.MANDATORY.value
    weight: int = Field(1, ge=1, le=100)
    due_on: date | None = None
    relation: Annotated[str, _one_of(Relation.values)] = Relation.NEW.value
    change_note: str = ""
    rule: Rule

    def substance(self) -> tuple:
        return (self.rule, sorted(self.applies_to), self.applies_when, self.severity, self.weight)


class RemovedTable(_Table):
    """One ``[[removed]]``: a key of the superseded version this one drops."""

    key: Key
    note: str = ""


class _FileTables(_Table):
    """The top level; each table is then checked by its own model, so one bad table does not
    hide the problems of the others. Unknown top-level names are reported the same way, but
    do not stop the tables from being checked."""

    model_config = ConfigDict(extra="allow", strict=True)

    set_table: dict = Field(alias="set")
    version_table: dict = Field(alias="version")
    requirement: list[dict] = Field(min_length=1)
    removed: list[dict] = []


_LABELS = {
    "set": "[set]",
    "version": "[version]",
    "requirement": "[[requirement]]",
    "removed": "[[removed]]",
}
_MESSAGES = {
    "missing": "{name} is missing",
    "string_too_short": "{name} is missing",
    "too_short": "needs at least one {name}",
    "string_type": "{name} must be text, got {value!r}",
    "dict_type": "{name} must be a table, got {value!r}",
    "list_type": "{name} must be a list, got {value!r}",
    "date_type": "{name} must be a TOML date like 2024-12-27, got {value!r}",
    "int_type": "{name} must be a whole number, got {value!r}",
    "greater_than_equal": "{name} must be at least {ge}, got {value!r}",
    "less_than_equal": "{name} must be at most {le}, got {value!r}",
    "choice": "{name} {value!r} {msg}",
    "rule": "{msg}",
}


def _unknown_field(name: object, model: type[BaseModel]) -> str:
    allowed = sorted(f.alias or n for n, f in model.model_fields.items())
    return f"unknown field {name!r} (allowed: {', '.join(allowed)})"


def _describe(error: ErrorDetails, model: type[BaseModel]) -> str:
    """One pydantic error in the words of a requirement file's author."""
    name = " ".join(_LABELS.get(p, p) if isinstance(p, str) else f"#{p + 1}" for p in error["loc"])
    kind, ctx = error["type"], error.get("ctx", {})
    if kind == "extra_forbidden":
        return _unknown_field(error["loc"][-1], model)
    if kind == "string_pattern_mismatch":
        return f"{name} {error['input']!r} {_PATTERN_HINTS[ctx['pattern']]}"
    template = _MESSAGES.get(kind, "{name}: {msg}")
    return template.format(name=name, value=error["input"], msg=error["msg"], **ctx)


def describe_problem(error: ErrorDetails, model: type[BaseModel]) -> str:
    """One pydantic error of any strict table model, worded as the loader words its own."""
    return _describe(error, model)


def _validated(model: type[_M], data: object, add: Callable[[str], None]) -> _M | None:
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        for error in exc.errors():
            add(_describe(error, model))
        return None


# --- reading and checking one file ---------------------------------------------------------


@dataclass
class _VersionFile:
    path: Path
    digest: str
    set: SetTable
    info: VersionTable
    requirements: list[RequirementTable] = field(default_factory=list)
    removed: list[RemovedTable] = field(default_factory=list)

    @property
    def set_code(self) -> str:
        return self.set.code

    @property
    def version(self) -> str:
        return self.info.version


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
        raise RequirementFileError(
            [f"{', '.join(map(str, paths))}: no .toml requirement files found"]
        )
    return found


class _Problems:
    def __init__(self, name: str):
        self.name = name
        self.items: list[str] = []

    def add(self, problem: str, code: str | None = None) -> None:
        where = f"{self.name}: requirement {code}: " if code else f"{self.name}: "
        self.items.append(where + problem)

    def adder(self, prefix: str = "", code: str | None = None) -> Callable[[str], None]:
        return lambda problem: self.add(prefix + problem, code)


def _read_file(path: Path, problems: _Problems) -> _VersionFile | None:
    return _read_content(path, path.read_bytes(), problems)


def _read_content(path: Path, content: bytes, problems: _Problems) -> _VersionFile | None:
    try:
        data = tomllib.loads(content.decode("utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        problems.add(f"not valid TOML: {exc}")
        return None
    tables = _validated(_FileTables, data, problems.adder())
    if tables is None:
        return None
    for name in tables.model_extra or {}:
        problems.add(_unknown_field(name, _FileTables))
    set_table = _validated(SetTable, tables.set_table, problems.adder("[set] "))
    info = _validated(VersionTable, tables.version_table, problems.adder("[version] "))
    requirements = [_read_requirement(t, i, problems) for i, t in enumerate(tables.requirement)]
    removed = [
        _validated(RemovedTable, t, problems.adder(f"[[removed]] #{i + 1} "))
        for i, t in enumerate(tables.removed)
    ]
    if set_table is None or info is None:
        return None
    vf = _VersionFile(
        path,
        hashlib.sha256(content).hexdigest(),
        set_table,
        info,
        requirements=[r for r in requirements if r is not None],
        removed=[r for r in removed if r is not None],
    )
    _check_unique(vf, problems)
    return vf


def _read_requirement(table: dict, index: int, problems: _Problems) -> RequirementTable | None:
    # Problems name the requirement by its code, or by its place when the code is unusable.
    code = table.get("code")
    if not isinstance(code, str) or not code:
        code = f"#{index + 1}"
    return _validated(RequirementTable, table, problems.adder(code=code))


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
    requirements: dict[str, RequirementTable]


def _previous_from_db(set_code: str, version: str) -> _Previous | None:
    found = RequirementSetVersion.objects.filter(
        requirement_set__code=set_code, version=version
    ).first()
    if found is None:
        return None
    reqs = {r.key: table_of(r) for r in found.requirements.all()}
    return _Previous(found.effective_on, reqs)


def _check_together(files: list[_VersionFile], problems_of: dict[Path, _Problems]) -> None:
    by_version: dict[tuple[str, str], _VersionFile] = {}
    set_tables: dict[str, tuple[Path, SetTable]] = {}
    for vf in files:
        p = problems_of[vf.path]
        ident = (vf.set_code, vf.version)
        if ident in by_version:
            p.add(f"version {vf.version} of {vf.set_code} is also in {by_version[ident].path.name}")
        by_version[ident] = vf
        first = set_tables.setdefault(vf.set_code, (vf.path, vf.set))
        if first[1] != vf.set:
            p.add(
                f"[set] differs from the [set] of {first[0].name}; every file of a set has the same [set]"
            )
    for vf in files:
        _check_lineage(vf, by_version, problems_of[vf.path])


def _check_lineage(
    vf: _VersionFile, by_version: dict[tuple[str, str], _VersionFile], p: _Problems
) -> None:
    sup = vf.info.supersedes
    if not sup:
        for req in vf.requirements:
            if req.relation != Relation.NEW:
                p.add(
                    f"relation {req.relation!r} needs [version] supersedes; a first version has only new ones",
                    req.code,
                )
        if vf.removed:
            p.add("[[removed]] needs [version] supersedes")
        return
    if sup == vf.version:
        p.add("[version] supersedes itself")
        return
    prev_file = by_version.get((vf.set_code, sup))
    prev = (
        _Previous(prev_file.info.effective_on, {r.key: r for r in prev_file.requirements})
        if prev_file
        else _previous_from_db(vf.set_code, sup)
    )
    if prev is None:
        p.add(f"[version] supersedes {sup!r}, which is neither in these files nor loaded")
        return
    eff = vf.info.effective_on
    if eff and prev.effective_on and eff <= prev.effective_on:
        p.add(
            f"[version] effective_on {eff} is not after {prev.effective_on}, when {sup} took effect"
        )
    current = {r.key for r in vf.requirements}
    for req in vf.requirements:
        _check_relation(req, prev.requirements.get(req.key), sup, p)
    removed = {r.key for r in vf.removed}
    for key in sorted(removed):
        if key not in prev.requirements:
            p.add(f"[[removed]] key {key!r} is not in {sup}")
        if key in current:
            p.add(f"[[removed]] key {key!r} is still a requirement of this version")
    for key in sorted(set(prev.requirements) - current - removed):
        p.add(
            f"{sup} has key {key!r}, which this version neither keeps nor lists under [[removed]]"
        )


def _check_relation(
    req: RequirementTable, old: RequirementTable | None, sup: str, p: _Problems
) -> None:
    """Whether ``req``'s declared relation to the superseded version ``sup`` is true."""
    if old is None:
        if req.relation != Relation.NEW:
            p.add(
                f"relation {req.relation!r} but {sup} has no requirement with key {req.key!r}",
                req.code,
            )
        return
    if req.relation == Relation.NEW:
        p.add(
            f"relation 'new' but {sup} already has key {req.key!r} (use same, renumbered, tightened "
            "or relaxed)",
            req.code,
        )
    elif req.relation in (Relation.SAME, Relation.RENUMBERED):
        changed = [
            name
            for name, a, b in zip(_SUBSTANCE, req.substance(), old.substance(), strict=True)
            if a != b
        ]
        if changed:
            p.add(
                f"relation {req.relation!r} but {', '.join(changed)} changed from {sup} "
                "(use tightened or relaxed)",
                req.code,
            )
        if req.relation == Relation.SAME and req.section != old.section:
            p.add(
                f"relation 'same' but the section moved from {old.section} to {req.section} "
                "(use renumbered)",
                req.code,
            )
        if req.relation == Relation.RENUMBERED and req.section == old.section:
            p.add(f"relation 'renumbered' but the section is still {req.section}", req.code)
    elif req.substance() == old.substance() and req.due_on == old.due_on:
        p.add(f"relation {req.relation!r} but nothing changed from {sup}", req.code)


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


def check_document(name: str, content: str) -> list[str]:
    """The problems of one version document, worded as ``validate_files`` words them.

    Nothing is loaded. The draft editor (``readiness.drafts``) checks a draft with it before
    publishing, so a version published in the product passes exactly the checks of a file.
    """
    path = Path(name)
    problems = _Problems(name)
    vf = _read_content(path, content.encode("utf-8"), problems)
    if vf is not None and not problems.items:
        _check_together([vf], {path: problems})
    return problems.items


def requirement_problems(data: object) -> tuple[RequirementTable | None, list[tuple[str, str]]]:
    """One requirement checked as a file's ``[[requirement]]`` is: (the table, [(field, problem)]).

    ``data`` is JSON text (dates as ISO strings) or a dict with TOML's types. The draft editor
    shows each problem next to its field.
    """
    try:
        if isinstance(data, str | bytes):
            return RequirementTable.model_validate_json(data), []
        return RequirementTable.model_validate(data), []
    except ValidationError as exc:
        return None, [
            (str(e["loc"][0]) if e["loc"] else "", _describe(e, RequirementTable))
            for e in exc.errors()
        ]


def table_of(r: Requirement) -> RequirementTable:
    """A stored requirement as the table a file would hold (already validated when stored)."""
    return RequirementTable.model_construct(
        key=r.key,
        code=r.code,
        section=r.section,
        title=r.title,
        explanation=r.explanation,
        applies_to=list(r.applies_to or []),
        applies_when=r.applies_when,
        severity=r.severity,
        weight=r.weight,
        due_on=r.due_on,
        relation=r.relation,
        change_note=r.change_note,
        rule=r.rule,
    )


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
        sup = by_version.get((vf.set_code, vf.info.supersedes))
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
        defaults=vf.set.model_dump(exclude={"code"}),
    )
    existing = RequirementSetVersion.objects.filter(
        requirement_set=req_set, version=vf.version
    ).first()
    if existing is not None and existing.content_hash == vf.digest:
        return "unchanged"
    if existing is not None and existing.status != VersionStatus.DRAFT:
        return _reload_issued(existing, vf)
    fields = vf.info.model_dump(exclude={"version", "supersedes", "status"})
    supersedes = None
    if vf.info.supersedes:
        supersedes = RequirementSetVersion.objects.get(
            requirement_set=req_set, version=vf.info.supersedes
        )
    version, created = RequirementSetVersion.objects.update_or_create(
        requirement_set=req_set,
        version=vf.version,
        defaults={
            **fields,
            # Written as a draft, then given the file's status: requirements are only ever
            # written to a draft (readiness.models.require_draft_version).
            "status": VersionStatus.DRAFT,
            "supersedes": supersedes,
            "source_file": vf.path.name,
            "content_hash": vf.digest,
        },
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
            defaults={**req.model_dump(exclude={"key"}), "previous": previous.get(req.key)},
        )
    version.removals.all().delete()
    RequirementRemoval.objects.bulk_create(
        RequirementRemoval(version=version, key=r.key, previous=previous[r.key], note=r.note)
        for r in vf.removed
    )
    RequirementSetVersion.objects.filter(pk=version.pk).update(status=vf.info.status)
    return "created" if created else "updated"


def _content_of(
    effective_on: date, supersedes: str, reqs: Iterable[RequirementTable], removed: Iterable
) -> tuple:
    return (
        effective_on,
        supersedes,
        sorted((r.model_dump() for r in reqs), key=lambda r: r["key"]),
        sorted((r.key, r.note) for r in removed),
    )


def _reload_issued(existing: RequirementSetVersion, vf: _VersionFile) -> str:
    """A file of a version already published (or retired): unchanged content or refused.

    The requirements, removals, effective date and lineage of an issued version never change
    (a new version supersedes it instead); its description (title, source, status) may.
    """
    stored = _content_of(
        existing.effective_on,
        existing.supersedes.version if existing.supersedes else "",
        [table_of(r) for r in existing.requirements.all()],
        existing.removals.all(),
    )
    loaded = _content_of(vf.info.effective_on, vf.info.supersedes, vf.requirements, vf.removed)
    if stored != loaded or vf.info.status == VersionStatus.DRAFT:
        raise RequirementFileError(
            [
                f"{vf.path.name}: version {vf.version} of {vf.set_code} is {existing.status} and "
                "its requirements cannot change; give the changed content a new version that "
                "supersedes it"
            ]
        )
    described = vf.info.model_dump(exclude={"version", "supersedes", "effective_on"})
    if all(getattr(existing, name) == value for name, value in described.items()):
        return "unchanged"
    RequirementSetVersion.objects.filter(pk=existing.pk).update(**described)
    return "updated"
