"""`onboard90 import customers|vip|bills|events|usage PATH [--json]`: bulk import with an error file per run.

Exit codes: 0 every row imported, 3 some rows rejected (see the error file), 2 the file is unusable.
"""

from __future__ import annotations

import sys
from typing import Any

from onboard90.core.commands import OnboardCommand
from onboard90.core.progress import progress_bar
from onboard90.customers.services import IMPORT_KINDS, IMPORTERS, ImportResult, UnusableFile
from onboard90.usage.services import usage_import

TITLES = {"customers": "客户", "vip": "VIP评级", "bills": "账单", "events": "事件", "usage": "用量"}
# The customers' own imports, and usage (an app above them, with the same reader, rejects and exit codes).
KINDS = (*IMPORT_KINDS, "usage")
RUNS = {**IMPORTERS, "usage": usage_import}


class Command(OnboardCommand):
    help = (
        "导入客户/VIP评级/账单/事件/用量 / import customers, VIP ratings, bills, events or daily usage "
        "(CSV, XLSX or JSON lines)"
    )

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("kind", help="customers | vip | bills | events | usage")
        parser.add_argument("path", help="CSV (UTF-8 or GBK) or XLSX; events: JSON lines")
        parser.add_argument("--json", action="store_true", help="print one JSON document on stdout")

    def handle(self, *args: Any, **options: Any) -> None:
        kind, path, as_json = options["kind"].strip().lower(), options["path"], options["json"]
        if kind not in RUNS:
            self._unusable(
                kind, path, as_json,
                f"未知导入类型 / unknown import kind: {kind} (expected {', '.join(KINDS)})",
            )
        label = f"导入{TITLES[kind]} / importing {kind}"
        with progress_bar(enabled=sys.stderr.isatty() and not as_json, transient=True) as update:
            try:
                result = RUNS[kind](path=path, on_progress=lambda done, total: update(label, done, total))
            except UnusableFile as exc:
                self._unusable(kind, path, as_json, str(exc))
        if as_json:
            self.emit_json(result.as_dict())
        else:
            self.stdout.write(summary(result))
        sys.exit(result.exit_code)

    def _unusable(self, kind: str, path: str, as_json: bool, reason: str) -> None:
        sys.stderr.write(f"无法导入 / cannot import: {reason}\n")
        if as_json:
            self.emit_json({"kind": kind, "path": path, "error": reason, "exit_code": 2})
        sys.exit(2)


def summary(result: ImportResult) -> str:
    lines = [
        f"导入{TITLES[result.kind]} / import {result.kind}: {result.path}",
        f"  共 {result.total} 行 / rows: {result.total}",
        f"  新增 / created: {result.created}   更新 / updated: {result.updated}   "
        f"未变 / unchanged: {result.unchanged}   重复 / duplicates: {result.duplicates}   "
        f"拒绝 / rejected: {result.rejected}",
    ]
    if result.error_path:
        lines.append(f"  错误文件 / error file: {result.error_path}")
    return "\n".join(lines)
