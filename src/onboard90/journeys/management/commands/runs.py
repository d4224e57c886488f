"""`onboard90 runs [--json]`: the record of daily cycles (as of, when, how long, what they did)."""

from __future__ import annotations

from onboard90.core import clock
from onboard90.core.commands import OnboardCommand
from onboard90.journeys import selectors


class Command(OnboardCommand):
    help = "日处理记录 / list daily cycle runs"

    def add_arguments(self, parser):
        parser.add_argument("--limit", type=int, default=30)
        parser.add_argument("--json", action="store_true")

    def handle(self, *args, **options):
        runs = [
            {
                "id": run.pk,
                "as_of": run.as_of.astimezone(clock.OPERATOR_TZ).isoformat(),
                "started_at": run.started_at.isoformat(),
                "finished_at": run.finished_at.isoformat() if run.finished_at else None,
                "seconds": round((run.finished_at - run.started_at).total_seconds(), 3) if run.finished_at else None,
                "status": run.status,
                "counts": run.counts,
            }
            for run in selectors.cycle_runs(options["limit"])
        ]
        if options["json"]:
            self.emit_json(runs)
            return
        self.stdout.write(f"{'编号 id':>8} {'业务日期 day':<12} {'状态 status':<11} {'用时 time':>9}  计数 / counts")
        for run in runs:
            counts = " ".join(f"{k}={v}" for k, v in run["counts"].items()) or "-"
            took = "-" if run["seconds"] is None else f"{run['seconds']}s"
            self.stdout.write(f"{run['id']:>8} {run['as_of'][:10]:<12} {run['status']:<11} {took:>9}  {counts}")
