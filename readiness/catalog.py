"""Reads of the requirement catalog: a version's requirements, compiled for evaluation.

``requirements_for_version(version_id)`` is what callers hand to
``readiness.scoring.evaluate``: each stored rule parsed into its typed tree. Rules were
validated when loaded, so a parse failure here means the database was edited around the
loader; it raises ``RuleError`` naming the requirement rather than evaluating something else.
"""

from __future__ import annotations

from readiness.models import Requirement
from readiness.rules import CompiledRequirement, RuleError, parse_rule


def compile_requirement(req: Requirement) -> CompiledRequirement:
    """One stored requirement as a CompiledRequirement."""
    try:
        rule = parse_rule(req.rule)
        applies_when = (
            None if req.applies_when is None else parse_rule(req.applies_when, "applies_when")
        )
    except RuleError as exc:
        raise RuleError(f"requirement {req.code}: {exc.problem}", exc.path) from None
    return CompiledRequirement(
        key=req.key,
        code=req.code,
        title=req.title,
        rule=rule,
        severity=req.severity,
        weight=req.weight,
        applies_to=frozenset(req.applies_to or ()),
        applies_when=applies_when,
        section=req.section,
        due_on=req.due_on,
        requirement_id=req.pk,
        version_id=req.version_id,
    )


def requirements_for_version(version_id: int) -> list[CompiledRequirement]:
    """The requirements of a version, compiled, in section order (one query)."""
    rows = Requirement.objects.filter(version_id=version_id).order_by("section", "code")
    return [compile_requirement(r) for r in rows]
