"""`onboard90 report compliance [--by city|store|staff|action] [--json|--xlsx PATH]`: the management report."""

from __future__ import annotations

from onboard90.core import clock
from onboard90.core.commands import OnboardCommand
from onboard90.journeys import selectors

HEADERS = ["due", "done", "done_late", "missed", "open", "overdue", "on_time_rate"]
HEADERS_ZH = ["应做", "按时", "超时完成", "未完成", "进行中", "已超时", "按时率"]


class Command(OnboardCommand):
    help = "合规报告 / compliance report"

    def add_arguments(self, parser):
        parser.add_argument("report", choices=["compliance"])
        parser.add_argument("--by", default="city", choices=list(selectors.REPORT_KEYS))
        parser.add_argument("--json", action="store_true")
        parser.add_argument("--xlsx", metavar="PATH", help="write an Excel workbook")
        parser.add_argument("--date", help="as of this date (default: the last cycle)")

    def handle(self, *args, **options):
        as_of = clock.cycle_instant(clock.parse_date(options["date"])) if options["date"] else selectors.default_as_of()
        report = selectors.compliance_report(by=options["by"], as_of=as_of)
        by = report["by"]
        if options["xlsx"]:
            _write_xlsx(options["xlsx"], report)
        if options["json"]:
            self.emit_json(report)
            return
        self.stdout.write(f"服务动作合规报告 / compliance by {by}, as of {report['as_of'][:16]}")
        self.stdout.write(f"{by:<26}" + "".join(f"{h:>10}" for h in HEADERS_ZH))
        for row in report["rows"]:
            rate = "-" if row["on_time_rate"] is None else f"{row['on_time_rate']:.1%}"
            cells = [row[h] for h in HEADERS[:-1]] + [rate]
            self.stdout.write(f"{str(row[by]):<26}" + "".join(f"{c:>12}" for c in cells))
        if options["xlsx"]:
            self.stdout.write(f"已写入 / written: {options['xlsx']}")


def _write_xlsx(path: str, report: dict) -> None:
    from openpyxl import Workbook

    book = Workbook()
    sheet = book.active
    sheet.title = f"compliance-{report['by']}"
    sheet.append([report["by"], *HEADERS_ZH])
    sheet.append([report["by"], *HEADERS])
    for row in report["rows"]:
        sheet.append([row[report["by"]], *(row[h] for h in HEADERS)])
    book.save(path)
