"""`onboard90 partitions [--detach] [--date D] [--json]`: PostgreSQL's ranges of the act, task and message rows."""

from __future__ import annotations

from django.db import connection

from onboard90.core import clock
from onboard90.core.commands import OnboardCommand
from onboard90.core.partitions import partitions_list
from onboard90.journeys import partitioning


class Command(OnboardCommand):
    help = (
        "分区：按客户编号范围建好后续分区，列出各分区，可摘除已过保留期的分区 / the act, task and message tables' "
        "ranges of customer ids: make the next ones, list them, detach those past their retention (PostgreSQL)"
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--detach", action="store_true",
            help="摘除其客户旅程均已结束且超过保留期的分区（保留为独立表）/ detach the ranges past the retention",
        )
        parser.add_argument("--date", help="业务日期 YYYY-MM-DD（默认今天）/ the business day (default today)")
        parser.add_argument("--json", action="store_true")

    def handle(self, *args, **options):
        if connection.vendor != "postgresql":
            self.stdout.write("SQLite 数据库不分区 / SQLite keeps these tables unpartitioned: nothing to do")
            return
        today = clock.parse_date(options["date"]) if options["date"] else clock.today()
        made = partitioning.partitions_ahead()
        detachable = {p.name for p in partitioning.partitions_detachable(today=today)}
        detached = partitioning.partitions_detach_finished(today=today, actor=None) if options["detach"] else []
        rows = [
            {"table": p.table, "partition": p.name, "from": p.low, "to": p.high, "rows_estimate": p.rows,
             "detachable": p.name in detachable}
            for p in partitions_list()
        ]  # fmt: skip
        if options["json"]:
            self.emit_json({"created": made, "detached": detached, "partitions": rows})
            return
        for name in made:
            self.stdout.write(f"新建分区 created {name}")
        for name in detached:
            self.stdout.write(f"已摘除 detached {name}（独立表，可 pg_dump -t 归档后删除 / archive and drop it）")
        self.stdout.write(f"{'表 table':<26} {'分区 partition':<40} {'客户编号 customer ids':<24} {'行数(估) rows':>14}")
        for row in rows:
            ids = "默认 DEFAULT" if row["from"] is None else f"{row['from']}–{row['to'] - 1}"
            mark = "  可摘除 detachable" if row["detachable"] else ""
            self.stdout.write(f"{row['table']:<26} {row['partition']:<40} {ids:<24} {row['rows_estimate']:>14}{mark}")
