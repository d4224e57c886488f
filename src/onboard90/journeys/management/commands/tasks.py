"""`onboard90 tasks [--msisdn M] [--status S] [--unit U] [--city C] [--action A] [--limit N] [--json]`: worklists.

An unknown unit, city, act or status is refused with the valid values (see `selectors.task_list`).
"""

from __future__ import annotations

from django.core.management.base import CommandError

from onboard90.core.commands import OnboardCommand
from onboard90.core.masking import mask_msisdn
from onboard90.journeys import selectors
from onboard90.journeys.management.commands.report import pad

COLUMNS = [("任务 id / id", 10, True), ("号码 / number", 14, False), ("动作 / act", 26, False),
           ("状态 / status", 16, False), ("截止 / due", 18, False), ("责任单位 / unit", 22, False),
           ("负责人 / staff", 0, False)]


class Command(OnboardCommand):
    help = "任务列表 / list tasks (default: open and overdue)"

    def add_arguments(self, parser):
        parser.add_argument("--msisdn")
        parser.add_argument("--status", help="open, overdue, done, done_late, missed, …, running (default) or all")
        parser.add_argument("--unit", help="单位代码 / owning unit code, e.g. jinan-store-1")
        parser.add_argument("--city", help="地市 / city of the owning unit: 济南, jinan or 0531")
        parser.add_argument("--action", help="动作代码 / act code, e.g. first_callback")
        parser.add_argument("--limit", type=int, default=None)
        parser.add_argument("--json", action="store_true")

    def handle(self, *args, **options):
        if options["limit"] is not None and options["limit"] < 1:
            raise CommandError(f"--limit 须为正整数 / --limit must be a positive number, not {options['limit']}")
        tasks = selectors.task_list(
            msisdn=options["msisdn"], status=options["status"], unit=options["unit"], city=options["city"],
            action=options["action"], limit=options["limit"],
        )
        entries = [selectors.task_entry(task) for task in tasks]
        if options["json"]:
            self.emit_json(entries)
            return
        self.stdout.write(_line([title for title, _width, _right in COLUMNS]))
        for e in entries:
            masked = mask_msisdn(e["msisdn"])
            status = f"{e['status']}(补录)" if e["backdated"] else e["status"]
            due = e["due_at"][:16].replace("T", " ") if e["due_at"] else "-"
            self.stdout.write(
                _line([str(e["id"]), masked, e["action"], status, due, e["owner_unit"] or "-", e["assignee"] or "-"])
            )
        self.stdout.write(f"共 {len(entries)} 项 / {len(entries)} task(s)")


def _line(cells: list[str]) -> str:
    return "".join(
        pad(cell, width, right=right) + " " if width else cell
        for cell, (_title, width, right) in zip(cells, COLUMNS, strict=True)
    ).rstrip()
