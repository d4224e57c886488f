"""`onboard90 bill --package CODE --minutes M --data-mb D --sms S [--first-month 全月|减半|包外] [--json]`:
one month's charges of a usage profile under a package, part by part, in yuan (catalog.tariff)."""

from __future__ import annotations

from typing import Any

from rich.table import Table

from onboard90.catalog import tariff
from onboard90.catalog.selectors import package_as_dict, package_list, package_lookup
from onboard90.core.commands import OnboardCommand, console_for

PARTS = (
    ("fee", "月费 / monthly fee"),
    ("voice_over", "套外通话 / voice beyond the allowance"),
    ("data_over", "套外流量 / data beyond the allowance"),
    ("sms_over", "套外短信 / SMS beyond the allowance"),
    ("top_up", "最低消费补足 / minimum-spend top-up"),
)


class Command(OnboardCommand):
    help = "按套餐计算一个月的费用 / one month's charges of a usage profile under a package"

    def add_arguments(self, parser):
        parser.add_argument("--package", required=True, help="套餐代码 / package code, e.g. A66, P20, D80")
        parser.add_argument("--minutes", type=int, default=0, help="主叫分钟数 / outgoing minutes (whole)")
        parser.add_argument("--data-mb", type=int, default=0, help="流量(MB) / data in MB (whole)")
        parser.add_argument("--sms", type=int, default=0, help="短信条数 / SMS sent")
        parser.add_argument(
            "--first-month",
            default=None,
            help="入网当月及其资费选项 / price the activation month with the form's option: 全月|减半|包外 "
            "(full|half|outside); without it, a regular month",
        )
        parser.add_argument("--json", action="store_true", help="JSON 输出 / print JSON")

    def handle(self, *args: Any, **options: Any) -> None:
        package = package_lookup(options["package"])
        month = tariff.first_month_code(options["first_month"])
        usage = {"minutes": options["minutes"], "data_mb": options["data_mb"], "sms": options["sms"]}
        for name, value in usage.items():
            if value < 0:
                raise ValueError(f"用量不能为负 / usage cannot be negative: --{name.replace('_', '-')} {value}")
        # The data cards on sale are the tiers a data card's month may move up to.
        rows = [package_as_dict(p) for p in package_list() if p.pk != package.pk]
        chosen = tariff.tariffs_of([*rows, package_as_dict(package)])[package.code]
        if usage["minutes"] and not chosen.voice:
            raise ValueError(f"{package.code} 是上网卡，不能通话 / {package.code} is a data card: it has no voice")
        bill = tariff.charge(chosen, **usage, first_month=month)
        parts = {name: tariff.to_yuan(getattr(bill, name)) for name, _label in PARTS}
        if options["json"]:
            self.emit_json(
                {
                    "package": package.code,
                    "name": package.name,
                    "billed_as": bill.billed_as,
                    "first_month": [None, "full", "half", "outside"][month],
                    "usage": usage,
                    **parts,
                    "total": tariff.to_yuan(bill.total),
                    "total_fen": bill.total,
                    "notes": list(bill.notes),
                }
            )
            return
        console = console_for(self.stdout)
        console.print(f"{package.code} {package.name} — {tariff.FIRST_MONTH_LABELS[month]}")
        console.print(f"用量 / usage: {usage['minutes']} 分钟 min, {usage['data_mb']} MB, {usage['sms']} 条 SMS")
        if bill.billed_as != package.code:
            console.print(f"按 {bill.billed_as} 计费 / billed as {bill.billed_as}")
        table = Table(show_header=True, box=None, padding=(0, 2))
        table.add_column("项目 / item")
        table.add_column("元 / yuan", justify="right")
        for name, label in PARTS:
            if name != "top_up" or chosen.minimum_spend:
                table.add_row(label, str(parts[name]))
        table.add_row("合计 / total", str(tariff.to_yuan(bill.total)), style="bold")
        console.print(table)
        if bill.notes:
            console.print("说明 / notes:")
            for note in bill.notes:
                console.print(f"  - {note}")
