"""`onboard90 bench cycle --journeys N [--daily D] [--days K] [--usage] [--json]`: time the daily cycle at scale.
`onboard90 bench web [--customers N] [--users U] [--requests R] [--seconds S] [--json]`: signed-in staff on
the real web server.
`onboard90 bench usage --rows N [--days D] [--json]`: the usage import against a raw bulk write.
`onboard90 bench insights [--customers N] [--json]`: package fit and surge detection on synthetic arrays.
`onboard90 bench dispatch [--messages N] [--json]`: the SMS render and send, through Kannel beside its ceiling.
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

from django.conf import settings
from django.core.management.base import CommandError

from onboard90.bench import api, dispatch, insights, services, usage, web
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


DISPATCH_HELP = """\
Builds a province whose outbox holds N messages (as `bench cycle` builds, set-based), queues them again
unrendered and due now, and times the outbox-dispatch job on them — the render and the hand-over — through
the file gateway (all N) and through a Kannel started on loopback (bearerbox, smsbox and the fake SMS
centre from Debian's kannel and kannel-extras; M of them), with the rate limit off. In the same run the same
M messages are posted straight to Kannel's sendsms by a plain loop, one request at a time on one connection
as the gateway sends them: Kannel's ceiling. Reports messages/s for each and the ratio gateway/ceiling
(target >= 0.5). Without Kannel installed the Kannel part is reported skipped, with the reason.

Database: DATABASE_URL if set, else a fresh SQLite file var/bench/dispatch.sqlite3 (recreated on every run).
The database named by DATABASE_URL is EMPTIED AND REBUILT, as for `bench cycle`.
"""


INSIGHTS_HELP = """\
Builds N customers' usage as NumPy arrays in memory (seeded: light and heavy users, phones and data cards
on the shipped catalogue's packages; no database) and times package fit over N customers × 2 months ×
every package and data-surge detection over the N customers' day, each beside its scalar pure-Python
reference over a sample, with the speed-up per customer and the peak memory. Targets at 1M customers:
package fit <= 10 s, surge <= 5 s, >= 100× the reference per customer.
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
            "`bench dispatch` the SMS render and send, `bench web` the web pages under signed-in users, "
            "`bench usage` the usage import, `bench insights` package fit and surge detection, "
            "`bench api` event intake through the API")

    def add_arguments(self, parser):
        sub = parser.add_subparsers(dest="bench", required=True, metavar="{cycle,dispatch,web,usage,insights,api}")
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
        cycle.add_argument("--usage", action="store_true",
                           help="a usage feed: the history the earlier cycles consumed, and yesterday's file "
                                "imported before each cycle (package fit, offers and surge alerts have work)")
        cycle.add_argument("--workers", type=int, default=0,
                           help="fan each cycle out over N Celery worker processes on the configured broker "
                                "(0–8; default 0: in this process)")
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

        dispatch = sub.add_parser("dispatch", help="time the SMS render and send", description=DISPATCH_HELP,
                                  formatter_class=argparse.RawDescriptionHelpFormatter)
        dispatch.add_argument("--messages", type=int, default=20000, help="messages to render and send (default 20000)")
        dispatch.add_argument("--kannel-messages", type=int, default=None,
                              help="of which through Kannel, and posted by the plain loop (default min(N, 2000))")
        dispatch.add_argument("--date", default=None, help="the dispatch's date, YYYY-MM-DD (default today)")
        dispatch.add_argument("--seed", type=int, default=2012, help="random seed (default 2012)")
        dispatch.add_argument("--force", action="store_true", help="empty a database that holds non-bench customers")
        dispatch.add_argument("--json", action="store_true", help="print one JSON document on stdout")

        insights = sub.add_parser("insights", help="time package fit and surge detection (no database)",
                                  description=INSIGHTS_HELP, formatter_class=argparse.RawDescriptionHelpFormatter)
        insights.add_argument("--customers", type=int, default=1_000_000, help="customers (default 1000000)")
        insights.add_argument("--sample", type=int, default=10_000,
                              help="customers the scalar references run over (default 10000)")
        insights.add_argument("--seed", type=int, default=2012, help="random seed (default 2012)")
        insights.add_argument("--repeat", type=int, default=3,
                              help="timed runs of each side, the best kept (default 3)")
        insights.add_argument("--json", action="store_true", help="print one JSON document on stdout")

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
        if options["bench"] == "dispatch":
            self._dispatch(options)
            return
        if options["bench"] == "insights":
            self._insights(options)
            return
        if options["bench"] == "api":
            self._api(options)
            return
        if options["bench"] != "cycle":
            raise CommandError(f"unknown bench {options['bench']!r}")
        if not os.environ.get("DATABASE_URL"):
            self._in_fresh_sqlite(options)
            return

        today = clock.parse_date(options["date"]) if options["date"] else None
        with progress_bar(enabled=sys.stderr.isatty()) as progress, services.quiet_logs():
            try:
                result = services.run(
                    journeys=options["journeys"], daily=options["daily"], days=options["days"], today=today,
                    seed=options["seed"], force=options["force"], dispatch=not options["no_dispatch"],
                    progress=progress, workers=options["workers"], usage=options["usage"],
                )
            except (services.BenchRefused, ValueError) as exc:
                raise CommandError(str(exc)) from None
        if options["json"]:
            self.emit_json(result)
        else:
            self._print(result)

    def _dispatch(self, options: dict[str, Any]) -> None:
        if not os.environ.get("DATABASE_URL"):
            _again_in_sqlite("dispatch", options, valued=("messages", "kannel_messages", "date", "seed"))
            return

        today = clock.parse_date(options["date"]) if options["date"] else None
        with progress_bar(enabled=sys.stderr.isatty()) as progress, services.quiet_logs():
            try:
                result = dispatch.run(
                    messages=options["messages"], kannel_messages=options["kannel_messages"], today=today,
                    seed=options["seed"], force=options["force"], progress=progress,
                )
            except services.BenchRefused as exc:
                raise CommandError(str(exc)) from None
        if options["json"]:
            self.emit_json(result)
        else:
            self._print_dispatch(result)

    def _print_dispatch(self, r: dict[str, Any]) -> None:
        w = self.stdout.write
        w(f"数据库 / database        {r['database_location']}  (build {r['build_s']} s)")
        f = r["file"]
        w(f"文件网关 / file gateway   {f['messages']:,} messages: render {f['render_s']} s + send {f['send_s']} s "
          f"= {f['per_s']:,} /s")
        k = r["kannel"]
        if "skipped" in k:
            w(f"Kannel                   skipped: {k['skipped']}")
            return
        c = k["ceiling"]
        w(f"Kannel 网关 / gateway     {k['messages']:,} messages: render {k['render_s']} s + send {k['send_s']} s "
          f"= {k['per_s']:,} /s (send alone {k['send_per_s']:,} /s)")
        w(f"Kannel 上限 / ceiling     {c['messages']:,} messages posted by a plain loop in {c['seconds']} s "
          f"= {c['per_s']:,} /s ({c['refused']} refused)")
        self._print_ratio("比值 / ratio", k["ratio"], k["target"]["ratio"], k["target"]["met"])

    def _print_ratio(self, label: str, ratio: float, target: float, met: bool) -> None:
        """A benchmark's verdict: its ratio to the reference measured in the same run, against the target."""
        self.stdout.write(f"{label:<22} {ratio} (target >= {target}: {'met' if met else 'NOT met'})")

    def _in_fresh_sqlite(self, options: dict[str, Any]) -> None:
        """No DATABASE_URL: run again in a child process on a new SQLite file under var/bench/."""
        _again_in_sqlite(
            "cycle", options, file="bench", valued=("journeys", "days", "seed", "daily", "date", "workers"),
            flags=("no_dispatch", "usage", "force", "json"),
        )

    def _measured(self, name: str, options: dict[str, Any], *, valued: tuple[str, ...], run) -> dict | None:
        """The result of `run()` on the database of DATABASE_URL — or None once a child process has run the
        bench on a fresh SQLite file, or once the result went out as JSON (--json)."""
        if not os.environ.get("DATABASE_URL"):
            _again_in_sqlite(name, options, valued=valued)
            return None

        with services.quiet_logs():
            try:
                result = run()
            except services.BenchRefused as exc:
                raise CommandError(str(exc)) from None
        if options["json"]:
            self.emit_json(result)
            return None
        return result

    def _usage(self, options: dict[str, Any]) -> None:
        result = self._measured("usage", options, valued=("rows", "days", "seed"), run=lambda: usage.run(
            rows=options["rows"], days=options["days"], seed=options["seed"], force=options["force"]
        ))  # fmt: skip
        if result is None:
            return
        w = self.stdout.write
        w(f"数据库 / database        {result['database_location']}")
        w(f"用量行 / usage rows      {result['rows']:,} ({result['customers']:,} customers × {result['days']} days, "
          f"{result['file_mb']} MB CSV)")
        w(f"导入 / import            {result['import_s']} s  ({result['import_rows_per_s']:,} rows/s)")
        w(f"基线 / raw bulk write    {result['baseline']['seconds']} s  ({result['baseline_rows_per_s']:,} rows/s)")
        self._print_ratio("比值 / ratio", result["ratio"], result["target_ratio"], result["met"])
        w(f"内存峰值 / peak RSS       {result['peak_rss_mb']} MB")

    def _api(self, options: dict[str, Any]) -> None:
        result = self._measured("api", options, valued=("events", "single", "seed"), run=lambda: api.run(
            events=options["events"], single=options["single"], seed=options["seed"], force=options["force"]
        ))  # fmt: skip
        if result is None:
            return
        w = self.stdout.write
        w(f"数据库 / database        {result['database_location']}")
        w(f"事件 / events            {result['events']:,} (client: {result['client']})")
        w(f"导入 / import events     {result['import_s']} s  ({result['import_events_per_s']:,} events/s)")
        w(f"批量 / batches of {result['batch_size']}  {result['batched_s']} s  "
          f"({result['batched_events_per_s']:,} events/s)")
        w(f"单个 / one per request   {result['single_s']} s for {result['single_events']:,}  "
          f"({result['single_events_per_s']:,} events/s)")
        self._print_ratio("比值 / batched÷import", result["ratio"], result["target_ratio"], result["met"])

    def _insights(self, options: dict[str, Any]) -> None:
        try:
            r = insights.run(
                customers=options["customers"], sample=options["sample"], seed=options["seed"],
                repeat=options["repeat"],
            )
        except ValueError as exc:
            raise CommandError(str(exc)) from None
        if options["json"]:
            self.emit_json(r)
            return
        w = self.stdout.write
        w(f"客户 / customers          {r['customers']:,} × {r['months']} months × {r['packages']} packages; "
          f"surge window {r['window_days']} days; reference sample {r['sample']:,}; best of {r['repeat']} runs")
        for name, label in (("fit", "套餐适配 / package fit"), ("surge", "流量突增 / surge")):
            f = r[name]
            met = "met" if f["met"] else "NOT met"
            w(f"{label:<24} {f['seconds']} s ({f['us_per_customer']} µs/customer), reference "
              f"{f['reference_us_per_customer']} µs/customer: {f['speedup']}×; peak {f['peak_traced_mb']} MB "
              f"traced (target ≤ {f['target_s']} s at 1M and ≥ 100×: {met})")
        w(f"内存峰值 / peak RSS       {r['peak_rss_mb']} MB")

    def _web(self, options: dict[str, Any]) -> None:
        if not os.environ.get("DATABASE_URL"):
            # Kept from one run to the next: `bench web` without --customers reuses the province built before.
            _again_in_sqlite(
                "web", options, fresh=False, capture=False,
                valued=("customers", "users", "requests", "seconds", "think", "workers", "threads", "date", "seed"),
            )
            return

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
        if r.get("workers"):
            w(f"工作进程 / workers        {r['workers']} (peak RSS {', '.join(map(str, r['worker_peak_rss_mb']))} MB)")
        if r.get("usage"):
            for day in r["days"]:
                counts = day["counts"]
                w(f"用量 / usage {day['date']}  file {day['usage_rows']:,} rows imported in {day['usage_import_s']} s "
                  f"(before the cycle); verdicts {counts.get('fit_verdicts', 0):,}, offers "
                  f"{counts.get('offers_chosen', 0):,}, surge alerts {counts.get('surge_alerts', 0):,}")
        if len(r["days"]) > 1:
            for day in r["days"]:
                w(f"  {day['date']}  due {day['due_rows']:>8,}  cycle {day['cycle_s']:>7} s  "
                  f"{day['rows_per_s']:>9,} rows/s")


def _again_in_sqlite(
    bench: str, options: dict[str, Any], *, valued: tuple[str, ...], flags: tuple[str, ...] = ("force", "json"),
    file: str | None = None, fresh: bool = True, capture: bool = True,
) -> None:
    """No DATABASE_URL: run `bench <bench>` again in a child process on the bench's own SQLite file under
    var/bench/ (new unless not `fresh`), never the data folder's database, which a build would empty."""
    path = Path(settings.VAR_DIR) / "bench" / f"{file or bench}.sqlite3"
    path.parent.mkdir(parents=True, exist_ok=True)
    if fresh:
        for suffix in ("", "-wal", "-shm", "-journal"):
            Path(f"{path}{suffix}").unlink(missing_ok=True)
    argv = [sys.executable, "-m", "onboard90", "bench", bench]
    for name in valued:
        if options[name] is not None:
            argv += [f"--{name.replace('_', '-')}", str(options[name])]
    argv += [f"--{name.replace('_', '-')}" for name in flags if options[name]]
    env = {**os.environ, "DATABASE_URL": f"sqlite:///{path}"}
    done = subprocess.run(argv, env=env, stdout=subprocess.PIPE if capture else None)
    if capture:
        sys.stdout.write(done.stdout.decode())
        sys.stdout.flush()
    if done.returncode:
        sys.exit(done.returncode)
