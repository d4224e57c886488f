"""`onboard90 serve`: the web application on gunicorn, the production WSGI server, static files included.

gunicorn rather than waitress: the operator's servers run Linux, and gunicorn's pre-forked workers use
both cores of a machine like this one for the Python work, where one waitress process shares one core
between its threads. Each worker runs a few threads (the `gthread` worker) so a slow export does not hold
up a clerk's page. Static files (the admin's, the web app's, htmx, ECharts) are served by WhiteNoise
inside the same process. DEBUG stays off unless ONBOARD90_DEBUG=1 asks for it.

`/metrics` is answered by whichever worker the scrape reaches, so each worker writes its request figures to
files in one folder (prometheus-client's multiprocess mode: `metrics_folder`) and the answer sums them all.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management.base import CommandError
from django.db import DEFAULT_DB_ALIAS, connections
from django.db.migrations.executor import MigrationExecutor

from onboard90.core.commands import OnboardCommand
from onboard90.core.logs import JsonFormatter


def pending_migrations() -> int:
    executor = MigrationExecutor(connections[DEFAULT_DB_ALIAS])
    return len(executor.migration_plan(executor.loader.graph.leaf_nodes()))


def default_workers() -> int:
    """Two workers a core, at least two: the usual gunicorn sizing for a database-bound web app."""
    return max(2, 2 * (os.cpu_count() or 1))


def metrics_folder() -> Path:
    """The folder the workers count their requests in (settings.METRICS_DIR), emptied — the figures of a server
    that stopped are not this one's — and named in PROMETHEUS_MULTIPROC_DIR, which the workers inherit.

    Called before the application is loaded (`gunicorn_application`): prometheus-client picks its way of keeping
    values by that variable when it is imported, and the request metrics are made with the middleware. The
    workers inherit them, and each writes files of its own (named by its process id) from its first request.
    """
    folder = Path(settings.METRICS_DIR)
    folder.mkdir(parents=True, exist_ok=True)
    for stale in folder.glob("*.db"):
        stale.unlink()
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = str(folder)
    # after PROMETHEUS_MULTIPROC_DIR is set: prometheus-client picks its way of keeping values as it is imported
    from prometheus_client import values

    # Imported in this process already (by a caller that reported metrics), it would have picked the
    # one-process way: pick again, for the metrics the workers create.
    values.ValueClass = values.get_value_class()
    return folder


def _worker_gone(arbiter, worker) -> None:
    """gunicorn's `child_exit` hook, in the arbiter: a worker that exited drops out of the live gauges (its
    counters stay in the sums: a request it served was served)."""
    # prometheus-client only once metrics_folder() has named its folder (see there), not at this module's top
    from prometheus_client import multiprocess

    multiprocess.mark_process_dead(worker.pid)


def _json_server_logs(arbiter) -> None:
    """gunicorn's `on_starting` hook with ONBOARD90_LOG_FORMAT=json: its own lines (errors, the access log)
    as JSON objects too, so that the server's output is one JSON object a line throughout."""
    for name in ("gunicorn.error", "gunicorn.access"):
        for handler in logging.getLogger(name).handlers:
            handler.setFormatter(JsonFormatter(time_zone=settings.TIME_ZONE))


def gunicorn_application(*, host: str, port: int, workers: int, threads: int, access_log: bool):
    """A gunicorn application serving `onboard90.wsgi` with the given options, not yet running."""
    # gunicorn only where it serves: worker, beat and the bench import this module too
    from gunicorn.app.base import BaseApplication

    # after metrics_folder(): loading the application makes the request metrics, in the workers' shared mode
    from onboard90.wsgi import application

    bind = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
    options = {
        "bind": bind,
        "workers": workers,
        "threads": threads,
        "worker_class": "gthread",
        "timeout": 120,  # a province-wide Excel export may take a while; a hung worker is still replaced
        "graceful_timeout": 20,
        "keepalive": 5,
        "accesslog": "-" if access_log else None,
        "errorlog": "-",
        "loglevel": "warning",
        "proc_name": "onboard90",
        # Connections are opened per request (CONN_MAX_AGE 0), never inherited across the fork.
        "preload_app": False,
        "child_exit": _worker_gone,
        "on_starting": _json_server_logs if settings.LOG_FORMAT == "json" else None,
    }

    class Server(BaseApplication):
        def load_config(self):
            for key, value in options.items():
                if value is not None:
                    self.cfg.set(key, value)

        def load(self):
            return application

    return Server()


class Command(OnboardCommand):
    help = "启动网页服务（gunicorn）/ serve the web application (gunicorn)"

    def add_arguments(self, parser):
        parser.add_argument("--host", default="127.0.0.1", help="监听地址 / address to listen on (default 127.0.0.1)")
        parser.add_argument("--port", type=int, default=8000, help="端口 / port (default 8000)")
        parser.add_argument(
            "--workers", type=int, default=None,
            help=f"工作进程数 / worker processes (default {default_workers()}: two a core)",
        )
        parser.add_argument("--threads", type=int, default=4, help="每进程线程数 / threads a worker (default 4)")
        parser.add_argument("--access-log", action="store_true", help="打印访问日志 / print the access log")
        parser.add_argument(
            "--conn-max-age", type=int, default=300,
            help="数据库连接复用秒数 / seconds a worker keeps its database connection (default 300; 0: one a request)",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        host, port = options["host"], options["port"]
        workers = options["workers"] or default_workers()
        if workers < 1 or options["threads"] < 1:
            raise CommandError("--workers 与 --threads 须为正数 / --workers and --threads must be positive")
        if not settings.DEBUG and settings.SECRET_KEY == settings.DEVELOPMENT_SECRET_KEY:
            raise CommandError(
                "拒绝使用内置的开发密钥提供网页服务：请运行 onboard90 init（生成 "
                f"{settings.SECRET_KEY_FILE}）或设置 ONBOARD90_SECRET_KEY / refusing to serve with the built-in "
                f"development secret key: run `onboard90 init` (it generates {settings.SECRET_KEY_FILE}) or set "
                "ONBOARD90_SECRET_KEY"
            )
        if pending_migrations():
            raise CommandError("数据库尚未初始化或需要迁移，请先运行 onboard90 init / the database needs `onboard90 init` first")
        if not (settings.NODE_MODULES / "htmx.org").is_dir():
            self.stderr.write(
                f"提示 / note: 未找到前端资源 {settings.NODE_MODULES}（运行 npm ci 或 make install）/ the front-end "
                "assets are missing: run `npm ci` (or `make install`); pages work, charts and partial updates do not"
            )
        if host not in ("127.0.0.1", "localhost", "::1") and "*" not in settings.ALLOWED_HOSTS:
            self.stderr.write(
                f"提示 / note: 从其他机器访问时请把主机名加入 ONBOARD90_ALLOWED_HOSTS "
                f"(当前 / now: {','.join(settings.ALLOWED_HOSTS)}) / add the host name you browse to"
            )
        # Each worker thread keeps its database connection between requests (checked before reuse): opening
        # one per request costs the database a new backend process and cold caches every time. The command
        # line, the cycle and the tests keep opening and closing theirs (settings: CONN_MAX_AGE 0).
        for alias in connections:
            connections[alias].settings_dict.update(CONN_MAX_AGE=options["conn_max_age"], CONN_HEALTH_CHECKS=True)
        # The database connection used for the checks above must not be shared with forked workers.
        connections.close_all()
        metrics_folder()
        shown = f"[{host}]" if ":" in host else host
        self.stdout.write(f"onboard90 网页服务 / web app: http://{shown}:{port}/  (gunicorn, {workers}×{options['threads']})")
        self.stdout.write(f"  管理后台 / admin: http://{shown}:{port}/admin/   健康检查 / health: http://{shown}:{port}/healthz")
        self.stdout.write("  按 Ctrl-C 停止 / press Ctrl-C to stop")
        self.stdout.flush()
        server = gunicorn_application(
            host=host, port=port, workers=workers, threads=options["threads"], access_log=options["access_log"]
        )
        try:
            server.run()
        except SystemExit as exc:
            if exc.code not in (0, None):
                raise CommandError(f"网页服务无法启动 / the web server could not start on {host}:{port}") from exc
        self.stdout.write("已停止 / stopped")
