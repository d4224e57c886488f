"""`onboard90 report compliance [--by city|store|staff|action] [--date D] [--from D --to D] [--json|--xlsx PATH]`
`onboard90 report sms [--from D --to D] [--json]` and `onboard90 report offers [--json|--xlsx PATH]`.

The figures and their definitions are `journeys.selectors.figures` and `messaging.selectors.sms_figures`; this
command only lays them out.
"""

from __future__ import annotations

import os
from pathlib import Path

from django.core.management.base import CommandError
from rich.cells import cell_len

from onboard90.core import clock
from onboard90.core.commands import OnboardCommand
from onboard90.journeys import selectors
from onboard90.messaging.selectors import SMS_FIGURES, SMS_FIGURES_ZH, sms_figures
from onboard90.usage.selectors import OFFER_FIGURES, OFFER_FIGURES_ZH, offer_report

HEADERS = selectors.FIGURES
HEADERS_ZH = selectors.FIGURES_ZH
LABEL_WIDTH = 40
CELL_WIDTH = 12


def pad(text: str, width: int, *, right: bool = False) -> str:
    """`text` padded to `width` terminal columns, a Chinese character counting two (so columns line up)."""
    space = " " * max(width - cell_len(text), 1 if right else 0)
    return space + text if right else text + space


class Command(OnboardCommand):
    help = "合规报告 / compliance report"

    def add_arguments(self, parser):
        parser.add_argument("report", choices=["compliance", "sms", "offers"])
        parser.add_argument("--by", default="city", choices=list(selectors.REPORT_KEYS))
        parser.add_argument("--json", action="store_true")
        parser.add_argument("--xlsx", metavar="PATH", help="write an Excel workbook")
        parser.add_argument("--date", help="截至此日 / as of this date (default: now)")
        parser.add_argument("--from", dest="due_from", help="截止日期从 / acts due from this date (YYYY-MM-DD)")
        parser.add_argument("--to", dest="due_to", help="截止日期到 / acts due up to this date, inclusive")

    def handle(self, *args, **options):
        if options["report"] == "sms":
            return self._sms(options)
        if options["report"] == "offers":
            return self._offers(options)
        as_of = clock.cycle_instant(_date(options["date"], "--date")) if options["date"] else selectors.default_as_of()
        due_from = _date(options["due_from"], "--from")
        due_to = _date(options["due_to"], "--to")
        report = selectors.compliance_report(by=options["by"], as_of=as_of, due_from=due_from, due_to=due_to)
        by = report["by"]
        if options["xlsx"]:
            _write_xlsx(options["xlsx"], report)
        if options["json"]:
            self.emit_json(report)
            return
        span = ""
        if due_from or due_to:
            span = f", 截止 / due {due_from or '…'} ~ {due_to or '…'}"
        as_of_text = report["as_of"][:16].replace("T", " ")
        self.stdout.write(f"服务动作合规报告 / compliance by {by}, as of {as_of_text}{span}")
        self.stdout.write(pad(by, LABEL_WIDTH) + "".join(pad(h, CELL_WIDTH, right=True) for h in HEADERS_ZH))
        self.stdout.write(pad("", LABEL_WIDTH) + "".join(pad(h, CELL_WIDTH, right=True) for h in HEADERS))
        for row in [*report["rows"], report["total"]]:
            rate = "-" if row["on_time_rate"] is None else f"{row['on_time_rate']:.1%}"
            cells = [str(row[h]) for h in HEADERS[:-1]] + [rate]
            label = "-" if row[by] is None else str(row[by])
            self.stdout.write(pad(label, LABEL_WIDTH) + "".join(pad(c, CELL_WIDTH, right=True) for c in cells))
        if options["xlsx"]:
            self.stdout.write(f"已写入 / written: {options['xlsx']}")


    def _offers(self, options) -> None:
            """Offers made, accepted and taken up, per offer and per city (`usage.selectors.offer_report`)."""
            report = offer_report()
            if options["xlsx"]:
                _writable(options["xlsx"])
                # heavy (openpyxl, ~0.5 s): only --xlsx needs it
                from openpyxl import Workbook

                book = Workbook()
                for index, (key, label) in enumerate((("offers", "offer"), ("cities", "city"))):
                    sheet = book.active if index == 0 else book.create_sheet()
                    sheet.title = key
                    sheet.append([label, "name", *OFFER_FIGURES_ZH])
                    sheet.append([label, "name", *OFFER_FIGURES])
                    for row in report[key]:
                        sheet.append([row[label], row["name"], *(row[f] for f in OFFER_FIGURES)])
                    sheet.append(["合计 / total", "", *(report["total"][f] for f in OFFER_FIGURES)])
                _save(book, options["xlsx"])
            if options["json"]:
                self.emit_json(report)
                return
            width = 12
            for key, label, title in (("offers", "offer", "按优惠 / per offer"), ("cities", "city", "按地市 / per city")):
                self.stdout.write(f"增值业务推荐效果 / offers made and taken up, {title}")
                self.stdout.write(pad(label, 34) + "".join(pad(h, width, right=True) for h in OFFER_FIGURES_ZH))
                for row in [*report[key], {label: "合计 / total", "name": "", **report["total"]}]:
                    rate = "-" if row["take_up_rate"] is None else f"{row['take_up_rate']:.1%}"
                    cells = [str(row["made"]), str(row["accepted"]), str(row["taken"]), rate]
                    name = f"{row[label]} {row['name']}".strip()
                    self.stdout.write(pad(name, 34) + "".join(pad(c, width, right=True) for c in cells))
            if options["xlsx"]:
                self.stdout.write(f"已写入 / written: {options['xlsx']}")

    def _sms(self, options) -> None:
        report = sms_figures(day_from=_date(options["due_from"], "--from"), day_to=_date(options["due_to"], "--to"))
        if options["json"]:
            self.emit_json(report)
            return
        span = f"{report['day_from'] or '…'} ~ {report['day_to'] or '…'}"
        self.stdout.write(f"短信发送统计 / SMS figures, planned {span}")
        width = 10
        self.stdout.write(pad("act", 26) + "".join(pad(SMS_FIGURES_ZH[n], width, right=True) for n in SMS_FIGURES)
                          + pad("送达率", width, right=True))
        self.stdout.write(pad("", 26) + "".join(pad(n[:9], width, right=True) for n in SMS_FIGURES)
                          + pad("delivered%", width, right=True))
        for row in [*report["rows"], report["total"]]:
            rate = "-" if row["delivery_rate"] is None else f"{row['delivery_rate']:.1%}"
            cells = [str(row[n]) for n in SMS_FIGURES] + [rate]
            self.stdout.write(pad(row["action"] or "合计 / total", 26) + "".join(pad(c, width, right=True) for c in cells))


def _date(text: str | None, option: str):
    if not text:
        return None
    try:
        return clock.parse_date(text)
    except ValueError:
        raise CommandError(f"日期无效 / {option}: not a date: {text!r} (YYYY-MM-DD)") from None


def _write_xlsx(path: str, report: dict) -> None:
    """The same rows and province total (last row) as the table; refused in one line when the file cannot be
    written, and never left half-written (the workbook is saved beside it, then moved into place)."""
    # heavy (openpyxl, ~0.5 s): only --xlsx needs it
    from openpyxl import Workbook

    _writable(path)
    by = report["by"]
    book = Workbook()
    sheet = book.active
    sheet.title = f"compliance-{by}"
    sheet.append([by, *HEADERS_ZH])
    sheet.append([by, *HEADERS])
    for row in [*report["rows"], report["total"]]:
        sheet.append([row[by], *(row[h] for h in HEADERS)])
        sheet.cell(row=sheet.max_row, column=len(HEADERS) + 1).number_format = "0.0%"
    _save(book, path)


def _writable(path: str) -> None:
    """Refuse in one line a path the workbook cannot be written to."""
    target = Path(path)
    if target.is_dir():
        raise CommandError(f"无法写入 / cannot write {path}: 这是一个目录 / it is a folder")
    if not target.parent.is_dir():
        raise CommandError(f"无法写入 / cannot write {path}: 目录不存在 / no such folder")
    if not os.access(target.parent, os.W_OK) or (target.exists() and not os.access(target, os.W_OK)):
        raise CommandError(f"无法写入 / cannot write {path}: 没有写权限 / permission denied")


def _save(book, path: str) -> None:
    """Saved beside the target, then moved into place: never left half-written."""
    target = Path(path)
    partial = target.with_name(f".{target.name}.partial")
    try:
        book.save(partial)
        partial.replace(target)
    except OSError as exc:
        partial.unlink(missing_ok=True)
        raise CommandError(f"无法写入 / cannot write {path}: {exc.strerror or exc}") from exc
