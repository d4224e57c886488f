"""`onboard90 figures rebuild`: recount the dashboard's figures now (the daily cycle does it at its end).
`onboard90 figures dashboards`: read the dashboards' operations figures ahead of the first look (`onboard90 run`
does it after today's cycle)."""

from __future__ import annotations

from onboard90.core import clock
from onboard90.core.commands import OnboardCommand
from onboard90.reporting.services import dashboards_refresh, figures_rebuild


class Command(OnboardCommand):
    help = (
        "看板统计 / the dashboard's figures: rebuild 重算全部统计单元 (the daily cycle does this at its end); "
        "dashboards 预先读取各看板的运营数据 (onboard90 run does this after today's cycle)"
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "action", choices=["rebuild", "dashboards"],
            help="rebuild: 重算全部统计单元 / recount every cell; dashboards: 预计算全省与各地市看板 / read the "
            "province's and each city's operations figures now",
        )

    def handle(self, *args, **options):
        if options["action"] == "dashboards":
            done = dashboards_refresh(today=clock.today())
            self.stdout.write(
                f"已预计算 {len(done.scopes)} 个看板（全省与各地市），用时 {done.seconds:.2f} 秒 / read "
                f"{len(done.scopes)} dashboards (the province and each city) in {done.seconds:.2f} s"
            )
            return
        refresh = figures_rebuild(as_of=clock.now())
        self.stdout.write(
            f"已重算 {refresh.cells} 个统计单元，用时 {refresh.seconds:.2f} 秒 / rebuilt {refresh.cells} cells in "
            f"{refresh.seconds:.2f} s"
        )
