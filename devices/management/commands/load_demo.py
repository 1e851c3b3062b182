"""`manage.py load_demo [--devices N] [--seed S]`: the demo state `make run` serves.

Thin on purpose: each step is a function in its app's ``demo`` module. The inventory comes
first; the other apps append their steps to EXTRA_STEPS. A step whose module does not exist
(yet) is skipped with a note, so the command works whichever apps are present. Every step
must be idempotent: a second run changes nothing.

Extra steps are called as ``step(seed=S, log=callable)``.
"""

from __future__ import annotations

import importlib
import time
from collections.abc import Callable
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from devices.demo import DEFAULT_DEVICES, DEFAULT_SEED, load_inventory_demo

# (module, function), run in order after the inventory.
EXTRA_STEPS: list[tuple[str, str]] = [
    ("telemetry.demo", "load_telemetry_demo"),
    ("readiness.demo", "load_readiness_demo"),
]


def _find_step(module_name: str, function: str) -> Callable[..., Any] | None:
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        if exc.name != module_name:
            raise  # the module exists but one of its imports is broken: say so
        return None
    return getattr(module, function, None)


class Command(BaseCommand):
    help = "Load the demo state (idempotent): agencies, catalog, devices, users, then other apps' data."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--devices",
            type=int,
            default=DEFAULT_DEVICES,
            help=f"Total demo devices (default {DEFAULT_DEVICES}; 100000 works).",
        )
        parser.add_argument(
            "--seed", type=int, default=DEFAULT_SEED, help="Random seed (same seed, same data)."
        )

    def handle(self, *args: Any, devices: int, seed: int, **options: Any) -> None:
        if devices < 0 or devices > 1_000_000:
            raise CommandError("--devices must be between 0 and 1,000,000.")
        started = time.monotonic()
        load_inventory_demo(devices=devices, seed=seed, log=self.stdout.write)
        for module_name, function in EXTRA_STEPS:
            step = _find_step(module_name, function)
            if step is None:
                self.stdout.write(f"{module_name}: not present, skipped")
                continue
            step(seed=seed, log=self.stdout.write)
        self.stdout.write(f"Demo data ready in {time.monotonic() - started:.1f} s.")
