"""`onboard90 fit MSISDN [--json]`: the package-fit comparison of one customer — every package open to them
priced on their last two complete months, the verdict, the recommendation, the saving and why."""

from __future__ import annotations

from typing import Any

from rich.table import Table

from onboard90.core import clock
from onboard90.core.commands import OnboardCommand, console_for
from onboard90.usage.selectors import customer_fit


class Command(OnboardCommand):
    help = "套餐适配：按近两个完整月的用量比较可选套餐 / package fit: every package open to a customer priced on their usage"

    def add_arguments(self, parser):
        parser.add_argument("msisdn")
        parser.add_argument("--date", help="按此日期查看 / as of this date, YYYY-MM-DD (default today)")
        parser.add_argument("--json", action="store_true", help="JSON 输出 / print JSON")

    def handle(self, *args: Any, **options: Any) -> None:
        today = clock.parse_date(options["date"]) if options["date"] else None
        doc = customer_fit(msisdn=options["msisdn"], today=today)
        if options["json"]:
            self.emit_json(doc)
            return
        console = console_for(self.stdout)
        console.print(f"号码 {doc['msisdn']}  现套餐 / package {doc['package']}  ({doc['product']})")
        for month in doc["usage"]:
            partial = (
                ""
                if month["days"] >= month["days_in_month"]
                else f"  ⚠ 仅{month['days']}天有用量 / days on file"
            )
            console.print(
                f"  {month['month']}: 通话 {month['voice_min']} 分钟 min, 流量 {month['data_mb']} MB, "
                f"短信 {month['sms']} 条 SMS{partial}"
            )
        if doc["missing_months"]:
            console.print(f"  ⚠ 无用量的月份 / months without usage: {', '.join(doc['missing_months'])}")
        table = Table(show_header=True, box=None, padding=(0, 2))
        table.add_column("套餐 / package")
        table.add_column("月费 / fee", justify="right")
        for month in doc["months"]:
            table.add_column(month, justify="right")
        table.add_column("月均 / average", justify="right")
        table.add_column("比现套餐 / vs current", justify="right")
        table.add_column("")
        for row in doc["packages"]:
            mark = "现套餐 current" if row["current"] else ""
            if row["recommended"] and not row["current"]:
                mark = "推荐 recommended"
            difference = row["vs_current"]
            table.add_row(
                f"{row['package']} {row['name']}",
                str(row["monthly_fee"]),
                *(str(row["months"][m]) for m in doc["months"]),
                str(row["average"]),
                "-" if row["current"] else (f"+{difference}" if difference > 0 else str(difference)),
                mark,
                style="bold" if row["current"] or row["recommended"] else None,
            )
        console.print(table)
        verdict = "合适 / fits" if doc["fits"] else "不合适 / does not fit"
        console.print(f"结论 / verdict: {verdict}")
        if not doc["fits"]:
            console.print(
                f"推荐 / recommended: {doc['recommended']}，每月可省 / saves {doc['monthly_saving']} 元 a month"
            )
        console.print(f"说明: {doc['explanation']}")
