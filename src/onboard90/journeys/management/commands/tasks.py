"""`onboard90 tasks [--msisdn M] [--status S] [--unit U] [--json]`: worklists from the command line."""

from __future__ import annotations

from onboard90.core.commands import OnboardCommand
from onboard90.journeys import selectors


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
        tasks = selectors.task_list(
            msisdn=options["msisdn"], status=options["status"], unit=options["unit"], city=options["city"],
            action=options["action"], limit=options["limit"],
        )
        entries = [selectors.task_entry(task) for task in tasks]
        if options["json"]:
            self.emit_json(entries)
            return
        self.stdout.write(
            f"{'任务 id':>8} {'号码 number':<11} {'动作 act':<24} {'状态 status':<10} {'截止 due':<16} "
            f"{'责任单位 unit':<20} 负责人 staff"
        )
        for e in entries:
            masked = f"{e['msisdn'][:3]}****{e['msisdn'][-4:]}"
            status = f"{e['status']}(补录)" if e["backdated"] else e["status"]
            self.stdout.write(
                f"{e['id']:>8} {masked:<11} {e['action']:<24} {status:<10} {e['due_at'][:16]:<16} "
                f"{e['owner_unit']:<20} {e['assignee'] or '-'}"
            )
        self.stdout.write(f"共 {len(entries)} 项 / {len(entries)} task(s)")
