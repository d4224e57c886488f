"""`onboard90 report compliance [--by city|store|staff|action] [--from D --to D] [--json|--xlsx PATH]`."""

from __future__ import annotations

from pathlib import Path

from django.core.management.base import CommandError

from onboard90.core import clock
from onboard90.core.commands import OnboardCommand
from onboard90.journeys import selectors

HEADERS = selectors.FIGURES
HEADERS_ZH = ["应做", "按时", "超时完成", "补录", "未完成", "进行中", "已超时", "按时率"]


class Command(OnboardCommand):
    help = "合规报告 / compliance report"

    def add_arguments(self, parser):
        parser.add_argument("report", choices=["compliance"])
        parser.add_argument("--by", default="city", choices=list(selectors.REPORT_KEYS))
        parser.add_argument("--json", action="store_true")
        parser.add_argument("--xlsx", metavar="PATH", help="write an Excel workbook")
        parser.add_argument("--date", help="截至此日 / as of this date (default: now)")
        parser.add_argument("--from", dest="due_from", help="截止日期从 / acts due from this date (YYYY-MM-DD)")
        parser.add_argument("--to", dest="due_to", help="截止日期到 / acts due up to this date, inclusive")

    def handle(self, *args, **options):
        as_of = clock.cycle_instant(clock.parse_date(options["date"])) if options["date"] else selectors.default_as_of()
        due_from = clock.parse_date(options["due_from"]) if options["due_from"] else None
        due_to = clock.parse_date(options["due_to"]) if options["due_to"] else None
        report = selectors.compliance_report(by=options["by"], as_of=as_of, due_from=due_from, due_to=due_to)
        by = report["by"]
        if options["xlsx"]:
            _write_xlsx(options["xlsx"], report)
        if options["json"]:
            self.emit_json(report)
            return
        span = ""
        if due_from or due_to:
            span = f", due {due_from or '…'} ~ {due_to or '…'}"
        self.stdout.write(f"服务动作合规报告 / compliance by {by}, as of {report['as_of'][:16]}{span}")
        self.stdout.write(f"{by:<34}" + "".join(f"{h:>10}" for h in HEADERS_ZH))
        for row in [*report["rows"], report["total"]]:
            rate = "-" if row["on_time_rate"] is None else f"{row['on_time_rate']:.1%}"
            cells = [row[h] for h in HEADERS[:-1]] + [rate]
            self.stdout.write(f"{str(row[by]):<34}" + "".join(f"{c:>12}" for c in cells))
        if options["xlsx"]:
            self.stdout.write(f"已写入 / written: {options['xlsx']}")


def _write_xlsx(path: str, report: dict) -> None:
    """The same rows and total as the table; refused in one line when the file cannot be written, and never
    left half-written (the workbook is saved beside it, then moved into place)."""
    from openpyxl import Workbook

    target = Path(path)
    if target.is_dir() or not target.parent.is_dir():
        raise CommandError(f"无法写入 / cannot write {path}: 目录不存在或是一个目录 / no such folder, or it is a folder")
    book = Workbook()
    sheet = book.active
    sheet.title = f"compliance-{report['by']}"
    sheet.append([report["by"], *HEADERS_ZH])
    sheet.append([report["by"], *HEADERS])
    for row in [*report["rows"], report["total"]]:
        sheet.append([row[report["by"]], *(row[h] for h in HEADERS)])
    partial = target.with_name(f".{target.name}.partial")
    try:
        book.save(partial)
        partial.replace(target)
    except OSError as exc:
        partial.unlink(missing_ok=True)
        raise CommandError(f"无法写入 / cannot write {path}: {exc.strerror or exc}") from exc
