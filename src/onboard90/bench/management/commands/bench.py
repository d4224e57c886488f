"""`onboard90 bench cycle --journeys N [--daily D] [--days K] [--json]`: time the daily cycle at scale.
`onboard90 bench web [--customers N] [--users U] [--requests R] [--seconds S] [--json]`: signed-in staff on
the real web server.
`onboard90 bench usage --rows N [--days D] [--json]`: the usage import against a raw bulk write.
`onboard90 bench api --events N [--single S] [--json]`: event intake through the API beside the importer.

The work is in `onboard90.bench.services` and `onboard90.bench.web`; this is the command line around it.
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
from onboard90.core.progress import progress_bar

HELP = """\
Builds N open journeys (with the acts, tasks, SMS and escalations the earlier cycles left) and times one
daily cycle, the outbox dispatch, and a raw bulk insert of as many rows as the cycle wrote.

Database: DATABASE_URL if set, else a fresh SQLite file var/bench/bench.sqlite3 (recreated on every run).
The database named by DATABASE_URL is EMPTIED AND REBUILT (PostgreSQL: its public schema is dropped and
migrated again; SQLite: the file is recreated). A database holding customers the bench did not create is
refused unless --force.
"""

WEB_HELP = """\
Starts the real web server (`onboard90 serve`, gunicorn, on a free loopback port) on a database the bench
built, signs in U virtual users through the login form (clerks of the stores with the most open work,
supervisors of the biggest cities, the province administrator) and lets them open the workbench, customer
pages from their own scope and the dashboard until R pages were asked for or S seconds passed. Reports
p50/p95/p99 per page, throughput and errors (any answer other than 2xx/3xx, a redirect to sign-in, or no
answer), /healthz as the floor of the stack, and the CPU the server, the database and the load generator
each used.

--customers N builds N customers with their open journeys first (as `bench cycle` does: the database named
by DATABASE_URL is EMPTIED AND REBUILT) and runs the day's cycle; without it the database the bench built
before is reused. Without DATABASE_URL the database is the SQLite file var/bench/web.sqlite3.
"""


USAGE_HELP = """\
Builds enough customers for N usage rows over D days (default 7: a week's files), writes the rows as a
CSV file as BSS drops it, times `onboard90 import usage` on it (reading, checking every row, staging,
upserting the days, recomputing the months), then times a raw bulk write of N rows into an empty table of
the same shape as the day rows (PostgreSQL COPY, SQLite executemany) and reports both rates and their
ratio (target >= 0.5).

Database: DATABASE_URL if set, else a fresh SQLite file var/bench/usage.sqlite3 (recreated on every run).
The database named by DATABASE_URL is EMPTIED AND REBUILT, as by `bench cycle`; one holding customers the
bench did not create is refused unless --force.
"""


API_HELP = """\
Writes N events as the BSS sends them (activations across every city, then VIP ratings, bills and
opt-outs of those customers), times `onboard90 import events` of them, then POSTs the same events to
/api/v1/events in batches of 1000 and the first --single of them one per request, each phase on a rebuilt
database, through the whole API in process (Django's test client: routing, key, throttle, parsing,
idempotency records, scope, the importer's services; no sockets). Reports the three rates and
batched / importer (target >= 0.5).

Database: DATABASE_URL if set, else a fresh SQLite file var/bench/api.sqlite3 (recreated on every run).
The database named by DATABASE_URL is EMPTIED AND REBUILT, as by `bench cycle`; one holding customers the
bench did not create is refused unless --force.
"""


class Command(OnboardCommand):
    help = ("基准测试 / benchmarks: `bench cycle` times the daily cycle on a province-sized database, "
            "`bench web` the web pages under signed-in users, `bench usage` the usage import")

    def add_arguments(self, parser):
        sub = parser.add_subparsers(dest="bench", required=True, metavar="{cycle,web,usage,api}")
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

        usage = sub.add_parser("usage", help="time the usage import against a raw bulk write",
                               description=USAGE_HELP, formatter_class=argparse.RawDescriptionHelpFormatter)
        usage.add_argument("--rows", type=int, required=True, help="usage rows to import (N)")
        usage.add_argument("--days", type=int, default=7, help="days the rows cover (1–28, default 7)")
        usage.add_argument("--seed", type=int, default=2012, help="random seed (default 2012)")
        usage.add_argument("--force", action="store_true", help="empty a database that holds non-bench customers")
        usage.add_argument("--json", action="store_true", help="print one JSON document on stdout")

        api = sub.add_parser("api", help="time event intake through the API against the importer",
                             description=API_HELP, formatter_class=argparse.RawDescriptionHelpFormatter)
        api.add_argument("--events", type=int, required=True, help="events to send (N)")
        api.add_argument("--single", type=int, default=1000,
                         help="of them, sent one per request (default 1000)")
        api.add_argument("--seed", type=int, default=2012, help="random seed (default 2012)")
        api.add_argument("--force", action="store_true", help="empty a database that holds non-bench customers")
        api.add_argument("--json", action="store_true", help="print one JSON document on stdout")

        web = sub.add_parser("web", help="signed-in users on the web server", description=WEB_HELP,
                             formatter_class=argparse.RawDescriptionHelpFormatter)
        web.add_argument("--customers", type=int, default=None,
                         help="build N customers first (empties the database); default: reuse the bench's")
        web.add_argument("--users", type=int, default=50, help="concurrent signed-in users (default 50)")
        web.add_argument("--requests", type=int, default=5000, help="stop after R pages (default 5000)")
        web.add_argument("--seconds", type=float, default=120, help="stop after S seconds (default 120)")
        web.add_argument("--think", type=float, default=1.0,
                         help="mean pause between a user's pages in s (default 1; 0: as fast as answered)")
        web.add_argument("--workers", type=int, default=None, help="serve's workers (default: serve's)")
        web.add_argument("--threads", type=int, default=4, help="serve's threads a worker (default 4)")
        web.add_argument("--date", default=None,
                         help="the built day's cycle date, YYYY-MM-DD (default: the latest cycle passed)")
        web.add_argument("--seed", type=int, default=2012, help="random seed (default 2012)")
        web.add_argument("--force", action="store_true", help="empty a database holding non-bench customers")
        web.add_argument("--json", action="store_true", help="print one JSON document on stdout")

    def handle(self, *args: Any, **options: Any) -> None:
        if options["bench"] == "web":
            self._web(options)
            return
        if options["bench"] == "usage":
            self._usage(options)
            return
        if options["bench"] == "api":
            self._api(options)
            return
        if options["bench"] != "cycle":
            raise CommandError(f"unknown bench {options['bench']!r}")
        if not os.environ.get("DATABASE_URL"):
            self._in_fresh_sqlite(options)
            return
        from onboard90.bench import services

        today = clock.parse_date(options["date"]) if options["date"] else None
        with progress_bar(enabled=sys.stderr.isatty()) as progress, services.quiet_logs():
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

    def _usage(self, options: dict[str, Any]) -> None:
        if not os.environ.get("DATABASE_URL"):
            # A fresh SQLite file of the bench's own, never the data folder's database (the run empties it).
            from django.conf import settings

            path = Path(settings.VAR_DIR) / "bench" / "usage.sqlite3"
            path.parent.mkdir(parents=True, exist_ok=True)
            for suffix in ("", "-wal", "-shm", "-journal"):
                Path(f"{path}{suffix}").unlink(missing_ok=True)
            argv = [sys.executable, "-m", "onboard90", "bench", "usage", "--rows", str(options["rows"]),
                    "--days", str(options["days"]), "--seed", str(options["seed"])]
            argv += [f"--{flag}" for flag in ("force", "json") if options[flag]]
            done = subprocess.run(argv, env={**os.environ, "DATABASE_URL": f"sqlite:///{path}"}, stdout=subprocess.PIPE)
            sys.stdout.write(done.stdout.decode())
            sys.stdout.flush()
            if done.returncode:
                sys.exit(done.returncode)
            return
        from onboard90.bench import services, usage

        with services.quiet_logs():
            try:
                result = usage.run(rows=options["rows"], days=options["days"], seed=options["seed"],
                                   force=options["force"])
            except services.BenchRefused as exc:
                raise CommandError(str(exc)) from None
        if options["json"]:
            self.emit_json(result)
            return
        w = self.stdout.write
        w(f"数据库 / database        {result['database_location']}")
        w(f"用量行 / usage rows      {result['rows']:,} ({result['customers']:,} customers × {result['days']} days, "
          f"{result['file_mb']} MB CSV)")
        w(f"导入 / import            {result['import_s']} s  ({result['import_rows_per_s']:,} rows/s)")
        w(f"基线 / raw bulk write    {result['baseline']['seconds']} s  ({result['baseline_rows_per_s']:,} rows/s)")
        met = "met" if result["met"] else "NOT met"
        w(f"比值 / ratio             {result['ratio']} (target >= {result['target_ratio']}: {met})")
        w(f"内存峰值 / peak RSS       {result['peak_rss_mb']} MB")

    def _api(self, options: dict[str, Any]) -> None:
        if not os.environ.get("DATABASE_URL"):
            # A fresh SQLite file of the bench's own, never the data folder's database (the run empties it).
            from django.conf import settings

            path = Path(settings.VAR_DIR) / "bench" / "api.sqlite3"
            path.parent.mkdir(parents=True, exist_ok=True)
            for suffix in ("", "-wal", "-shm", "-journal"):
                Path(f"{path}{suffix}").unlink(missing_ok=True)
            argv = [sys.executable, "-m", "onboard90", "bench", "api", "--events", str(options["events"]),
                    "--single", str(options["single"]), "--seed", str(options["seed"])]
            argv += [f"--{flag}" for flag in ("force", "json") if options[flag]]
            done = subprocess.run(argv, env={**os.environ, "DATABASE_URL": f"sqlite:///{path}"}, stdout=subprocess.PIPE)
            sys.stdout.write(done.stdout.decode())
            sys.stdout.flush()
            if done.returncode:
                sys.exit(done.returncode)
            return
        from onboard90.bench import api, services

        with services.quiet_logs():
            try:
                result = api.run(events=options["events"], single=options["single"], seed=options["seed"],
                                 force=options["force"])
            except services.BenchRefused as exc:
                raise CommandError(str(exc)) from None
        if options["json"]:
            self.emit_json(result)
            return
        w = self.stdout.write
        w(f"数据库 / database        {result['database_location']}")
        w(f"事件 / events            {result['events']:,} (client: {result['client']})")
        w(f"导入 / import events     {result['import_s']} s  ({result['import_events_per_s']:,} events/s)")
        w(f"批量 / batches of {result['batch_size']}  {result['batched_s']} s  "
          f"({result['batched_events_per_s']:,} events/s)")
        w(f"单个 / one per request   {result['single_s']} s for {result['single_events']:,}  "
          f"({result['single_events_per_s']:,} events/s)")
        met = "met" if result["met"] else "NOT met"
        w(f"比值 / batched÷import    {result['ratio']} (target >= {result['target_ratio']}: {met})")
        w(f"内存峰值 / peak RSS       {result['peak_rss_mb']} MB")

    def _web(self, options: dict[str, Any]) -> None:
        if not os.environ.get("DATABASE_URL"):
            # The bench's own SQLite file, never the data folder's database (a build empties it).
            from django.conf import settings

            path = Path(settings.VAR_DIR) / "bench" / "web.sqlite3"
            path.parent.mkdir(parents=True, exist_ok=True)
            argv = [sys.executable, "-m", "onboard90", "bench", "web"]
            for flag in ("customers", "users", "requests", "seconds", "think", "workers", "threads", "date",
                         "seed"):
                if options[flag] is not None:
                    argv += [f"--{flag}", str(options[flag])]
            argv += [f"--{flag}" for flag in ("force", "json") if options[flag]]
            done = subprocess.run(argv, env={**os.environ, "DATABASE_URL": f"sqlite:///{path}"})
            if done.returncode:
                sys.exit(done.returncode)
            return
        from onboard90.bench import services, web

        day = clock.parse_date(options["date"]) if options["date"] else None
        with progress_bar(enabled=sys.stderr.isatty()) as progress, services.quiet_logs():
            try:
                result = web.run(
                    customers=options["customers"], users=options["users"], requests=options["requests"],
                    seconds=options["seconds"], think=options["think"], workers=options["workers"],
                    threads=options["threads"], day=day, seed=options["seed"], force=options["force"],
                    progress=progress,
                )
            except (services.BenchRefused, RuntimeError) as exc:  # RuntimeError: the server or a sign-in
                raise CommandError(str(exc)) from None
        if options["json"]:
            self.emit_json(result)
        else:
            self._print_web(result)

    def _print_web(self, r: dict[str, Any]) -> None:
        w = self.stdout.write
        w(f"数据库 / database        {r['database']}  ({r['customers']:,} customers, cycle of {r['date']})")
        w(f"服务 / server            {r['server']['command']}")
        roles = ", ".join(f"{n} {role}" for role, n in r["roles"].items())
        w(f"用户 / users             {r['users']} ({roles}), think {r['think_s']} s; "
          f"signed in in {r['login']['seconds']} s (p50 {r['login']['p50_ms']} ms)")
        w(f"时长 / measured          {r['seconds']} s, {r['requests']:,} requests, "
          f"{r['throughput_per_s']} /s ({r['pages_per_s']} pages/s without healthz)")
        w("")
        w(f"{'page':<11} {'path':<22} {'requests':>9} {'errors':>7} {'p50 ms':>8} {'p95 ms':>8} "
          f"{'p99 ms':>8} {'max ms':>8} {'/s':>7}")
        rows = [*r["pages"].items(), ("all pages", {**r["all_pages"], "path": "(without healthz)"})]
        for page, f in rows:
            w(f"{page:<11} {f['path']:<22} {f['requests']:>9,} {f['errors']:>7} {f['p50_ms']!s:>8} "
              f"{f['p95_ms']!s:>8} {f['p99_ms']!s:>8} {f['max_ms']!s:>8} {f['per_s']!s:>7}")
        w("")
        cpu = r.get("cpu")
        if cpu:
            w(f"CPU s / {cpu['cores']} cores   server {cpu['server_s']}  database {cpu['database_s']}  "
              f"load generator {cpu['load_generator_s']} ({cpu['load_generator_per_server']}× the server)  "
              f"others {cpu['other_s']}  machine busy {cpu['machine_busy_share']:.0%}")
            per = r["cpu_per_request"]
            if per:
                w(f"CPU / request            server {per['server_ms']} ms, database {per['database_ms']} ms "
                  f"(load average before the run {r['load_average_before']})")
        met = "met" if r["target"]["met"] else "NOT met"
        w(f"目标 / target            p95 ≤ {r['target']['p95_ms']} ms and 0 errors: {met}")
        for line in r["error_samples"][:10]:
            w(f"  error: {line}")

    def _print(self, r: dict[str, Any]) -> None:
        w = self.stdout.write
        w(f"数据库 / database        {r['database_location']}")
        w(f"旅程 / journeys           {r['journeys']:,} (daily {r['daily']:,}; {r['actions_on_file']:,} actions on file)")
        w(f"构建 / build              {r['build_s']} s")
        w(f"当日到期 / due rows       {r['due_rows']:,}")
        w(f"日处理 / cycle            {r['cycle_s']} s  ({r['rows_written']:,} rows written, {r['rows_per_s']:,} rows/s)")
        if r.get("figures_s") is not None:
            w(f"  其中统计重算 / of which the dashboard's figures rebuilt in {r['figures_s']} s")
        w(f"基线 / baseline insert    {r['baseline_rows_per_s']:,} rows/s")
        if r.get("dispatch_s") is not None:
            w(f"短信发送 / dispatch       {r['dispatch_s']} s")
        w(f"内存峰值 / peak RSS       {r['peak_rss_mb']} MB")
        if len(r["days"]) > 1:
            for day in r["days"]:
                w(f"  {day['date']}  due {day['due_rows']:>8,}  cycle {day['cycle_s']:>7} s  "
                  f"{day['rows_per_s']:>9,} rows/s")



