"""Readiness: versioned requirement sets, the rule language and vectorised evaluation.

The engine's public API (everything else in the app builds on these):

- ``readiness.loader.load_requirements(paths) -> LoadReport``: validate TOML requirement
  files (one per version, ``readiness/requirement_sets/``) and load them idempotently in one
  transaction; ``manage.py load_requirements PATH`` is its command. ``RequirementFileError``
  names the file, the requirement code and the problem.
- ``readiness.catalog.requirements_for_version(version_id) -> list[CompiledRequirement]``:
  a version's requirements with their rules parsed (``readiness.rules``).
- ``readiness.frames.build_fleet_frame(devices=None, *, agency_ids=None, device_ids=None,
  now=None) -> DataFrame``: the fleet, one row per device, columns named like the rule
  attributes (``readiness.attributes``); the only ORM -> pandas step.
  ``fleet_frame_from_records(rows)`` builds the same frame without a database.
- ``readiness.scoring.evaluate(fleet, requirements, now) -> DataFrame``: results
  (device_id, agency_id, stable_key, status, reason); status is one of ``scoring.STATUSES``
  (pass, fail, waived, not_applicable).
- ``readiness.scoring.aggregate(results, fleet, requirements, now=, by="agency"|"cabinet"|
  "county"|"state")`` and ``scoring.device_readiness(results, fleet, requirements, now=)``:
  scores, readiness and telemetry coverage; both accept results in which some fails were
  turned into "waived".
"""
