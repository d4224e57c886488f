"""`onboard90 figures rebuild`: recount the dashboard's figures now (the daily cycle does it at its end)."""

from __future__ import annotations

from onboard90.core import clock
from onboard90.core.commands import OnboardCommand


class Command(OnboardCommand):
    help = "看板统计重算 / rebuild the dashboard's figures from the acts (the daily cycle does this at its end)"

    def add_arguments(self, parser):
        parser.add_argument("action", choices=["rebuild"], help="rebuild: 重算全部统计单元 / recount every cell")

    def handle(self, *args, **options):
        from onboard90.reporting.services import figures_rebuild

        refresh = figures_rebuild(as_of=clock.now())
        self.stdout.write(
            f"已重算 {refresh.cells} 个统计单元，用时 {refresh.seconds:.2f} 秒 / rebuilt {refresh.cells} cells in "
            f"{refresh.seconds:.2f} s"
        )
