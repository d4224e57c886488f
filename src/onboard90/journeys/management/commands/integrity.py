"""`onboard90 integrity [--json]`: the engine's unchecked references all point somewhere (exit 1 if not)."""

from __future__ import annotations

from django.core.management.base import CommandError

from onboard90.core.commands import OnboardCommand
from onboard90.journeys import selectors


class Command(OnboardCommand):
    help = "数据完整性检查 / check that every reference of the engine's rows points to an existing row"

    def add_arguments(self, parser):
        parser.add_argument("--json", action="store_true")

    def handle(self, *args, **options):
        found = selectors.dangling_references()
        bad = {name: n for name, n in found.items() if n}
        if options["json"]:
            self.emit_json({"ok": not bad, "dangling": found})
        else:
            for name, n in found.items():
                self.stdout.write(f"{'✗' if n else '✓'} {name}: {n}")
        if bad:
            raise CommandError(
                "引用失效 / dangling references: " + ", ".join(f"{name}={n}" for name, n in bad.items())
            )
