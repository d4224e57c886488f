"""`onboard90 catalog [--json]`: the package catalogue (套餐) with allowances and out-of-package rates."""

from __future__ import annotations

from typing import Any

from rich.table import Table

from onboard90.catalog.selectors import package_as_dict, package_list
from onboard90.core.commands import OnboardCommand, console_for


class Command(OnboardCommand):
    help = "套餐目录 / the package catalogue"

    def add_arguments(self, parser):
        parser.add_argument("--json", action="store_true", help="JSON 输出 / print a JSON list")
        parser.add_argument("--all", action="store_true", help="包括停售套餐 / include packages no longer sold")

    def handle(self, *args: Any, **options: Any) -> None:
        rows = [package_as_dict(p) for p in package_list(include_inactive=options["all"])]
        if options["json"]:
            self.emit_json(rows)
            return
        if not rows:
            self.stdout.write("目录为空，请先运行 onboard90 init / the catalogue is empty: run `onboard90 init` first")
            return
        table = Table(title=f"套餐目录 / package catalogue ({len(rows)})", title_justify="left")
        columns = [
            ("代码 / code", "code", "left"),
            ("名称 / name", "name", "left"),
            ("系列 / family", "family", "left"),
            ("付费 / product", "product", "left"),
            ("月费(元) / fee", "monthly_fee", "right"),
            ("分钟 / min", "voice_min", "right"),
            ("流量MB / data", "data_mb", "right"),
            ("短信 / SMS", "sms", "right"),
            ("套外语音 元/分", "voice_rate", "right"),
            ("套外流量 元/MB", "data_rate", "right"),
            ("套外短信 元/条", "sms_rate", "right"),
        ]
        for header, _key, justify in columns:
            table.add_column(header, justify=justify, no_wrap=True)
        for row in rows:
            table.add_row(*(str(row[key]) for _header, key, _justify in columns))
        console_for(self.stdout).print(table)
