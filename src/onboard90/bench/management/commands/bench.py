"""`onboard90 bench cycle --journeys N [--daily D] [--days K] [--json]`: time the daily cycle at scale.

The work is in `onboard90.bench.services`; this is the command line around it.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from django.core.management.base import CommandError

from onboard90.core import clock
from onboard90.core.commands import OnboardCommand

HELP = """\
Builds N open journeys (with the acts, tasks, SMS and escalations the earlier cycles left) and times one
daily cycle, the outbox dispatch, and a raw bulk insert of as many rows as the cycle wrote.

Database: DATABASE_URL if set, else a fresh SQLite file var/bench/bench.sqlite3 (recreated on every run).
The database named by DATABASE_URL is EMPTIED AND REBUILT (PostgreSQL: its public schema is dropped and
migrated again; SQLite: the file is recreated). A database holding customers the bench did not create is
refused unless --force.
"""


class Command(OnboardCommand):
    help = "基准测试 / benchmarks: `bench cycle` times the daily cycle on a province-sized database"

    def add_arguments(self, parser):
        sub = parser.add_subparsers(dest="bench", required=True, metavar="cycle")
        cycle = sub.add_parser("cycle", help="time the daily cycle", description=HELP,
                               formatter_class=argparse.RawDescriptionHelpFormatter)
        cycle.add_argument("--journeys", type=int, required=True, help="open journeys to build (N)")
        cycle.add_argument("--daily", type=int, default=None,
                           help="activations per day on the days with work due (default N/92): fixes the day's "
                                "work independent of N")
        cycle.add_argument("--days", type=int, default=1, help="time K consecutive cycles (1–7, default 1)")
        cycle.add_argument("--date", default=None, help="the measured cycle's date, YYYY-MM-DD (default today)")
        cycle.add_argument("--seed", type=int, default=2012, help="random seed (default 2012)")
        cycle.add_argument("--no-dispatch", action="store_true", help="skip timing the outbox dispatch")
        cycle.add_argument("--force", action="store_true",
                           help="empty a database that holds non-bench customers")
        cycle.add_argument("--json", action="store_true", help="print one JSON document on stdout")

    def handle(self, *args: Any, **options: Any) -> None:
        if options["bench"] != "cycle":
            raise CommandError(f"unknown bench {options['bench']!r}")
        if not os.environ.get("DATABASE_URL"):
            self._in_fresh_sqlite(options)
            return
        from onboard90.bench import services

        today = clock.parse_date(options["date"]) if options["date"] else None
        with _progress(enabled=sys.stderr.isatty()) as progress, services.quiet_logs():
            try:
                result = services.run(
                    journeys=options["journeys"], daily=options["daily"], days=options["days"], today=today,
                    seed=options["seed"], force=options["force"], dispatch=not options["no_dispatch"],
                    progress=progress,
                )
            except services.BenchRefused as exc:
                raise CommandError(str(exc)) from None
        if options["json"]:
            self.emit_json(result)
        else:
            self._print(result)

    def _in_fresh_sqlite(self, options: dict[str, Any]) -> None:
        """No DATABASE_URL: run again in a child process on a new SQLite file under var/bench/."""
        from django.conf import settings

        path = Path(settings.VAR_DIR) / "bench" / "bench.sqlite3"
        path.parent.mkdir(parents=True, exist_ok=True)
        for suffix in ("", "-wal", "-shm", "-journal"):
            Path(f"{path}{suffix}").unlink(missing_ok=True)
        argv = [sys.executable, "-m", "onboard90", "bench", "cycle", "--journeys", str(options["journeys"]),
                "--days", str(options["days"]), "--seed", str(options["seed"])]
        for flag in ("daily", "date"):
            if options[flag] is not None:
                argv += [f"--{flag}", str(options[flag])]
        argv += [f"--{flag.replace('_', '-')}" for flag in ("no_dispatch", "force", "json") if options[flag]]
        env = {**os.environ, "DATABASE_URL": f"sqlite:///{path}"}
        done = subprocess.run(argv, env=env, stdout=subprocess.PIPE)
        sys.stdout.write(done.stdout.decode())
        sys.stdout.flush()
        if done.returncode:
            sys.exit(done.returncode)

    def _print(self, r: dict[str, Any]) -> None:
        w = self.stdout.write
        w(f"数据库 / database        {r['database_location']}")
        w(f"旅程 / journeys           {r['journeys']:,} (daily {r['daily']:,}; {r['actions_on_file']:,} actions on file)")
        w(f"构建 / build              {r['build_s']} s")
        w(f"当日到期 / due rows       {r['due_rows']:,}")
        w(f"日处理 / cycle            {r['cycle_s']} s  ({r['rows_written']:,} rows written, {r['rows_per_s']:,} rows/s)")
        w(f"基线 / baseline insert    {r['baseline_rows_per_s']:,} rows/s")
        if r.get("dispatch_s") is not None:
            w(f"短信发送 / dispatch       {r['dispatch_s']} s")
        w(f"内存峰值 / peak RSS       {r['peak_rss_mb']} MB")
        if len(r["days"]) > 1:
            for day in r["days"]:
                w(f"  {day['date']}  due {day['due_rows']:>8,}  cycle {day['cycle_s']:>7} s  "
                  f"{day['rows_per_s']:>9,} rows/s")


class _progress:
    """A rich progress bar on stderr when it is a terminal; nothing when piped."""

    def __init__(self, enabled: bool):
        self.enabled = enabled
        self.tasks: dict[str, Any] = {}

    def __enter__(self):
        if not self.enabled:
            return lambda label, done, total: None
        from rich.console import Console
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

        self.bar = Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                            TimeElapsedColumn(), console=Console(file=sys.stderr))
        self.bar.start()

        def update(label: str, done: int, total: int) -> None:
            if label not in self.tasks:
                self.tasks[label] = self.bar.add_task(label, total=total)
            self.bar.update(self.tasks[label], completed=done, total=total)
            self.bar.refresh()  # also from a forked child, where the refresh thread does not run

        return update

    def __exit__(self, *exc):
        if self.enabled:
            self.bar.stop()


