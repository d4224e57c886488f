"""`onboard90 serve`: the web application on a threaded WSGI server, static files included.

Uses Django's own threaded WSGI server (the one behind `runserver`) without the autoreloader and with
static files served by the staticfiles handler, so it works with DEBUG off and nothing else installed.
For a large deployment, run a production WSGI server (e.g. gunicorn) on `onboard90.wsgi:application`.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.contrib.staticfiles.handlers import StaticFilesHandler
from django.core.management.base import CommandError
from django.core.servers.basehttp import ThreadedWSGIServer, WSGIRequestHandler, get_internal_wsgi_application
from django.db import DEFAULT_DB_ALIAS, connections
from django.db.migrations.executor import MigrationExecutor

from onboard90.core.commands import OnboardCommand


def make_server(*, host: str, port: int) -> ThreadedWSGIServer:
    """A bound, not yet running server for the web app (port 0 picks a free port)."""
    server = ThreadedWSGIServer((host, port), WSGIRequestHandler, ipv6=":" in host)
    server.set_app(StaticFilesHandler(get_internal_wsgi_application()))
    return server


def pending_migrations() -> int:
    executor = MigrationExecutor(connections[DEFAULT_DB_ALIAS])
    return len(executor.migration_plan(executor.loader.graph.leaf_nodes()))


class Command(OnboardCommand):
    help = "启动网页服务 / serve the web application"

    def add_arguments(self, parser):
        parser.add_argument("--host", default="127.0.0.1", help="监听地址 / address to listen on (default 127.0.0.1)")
        parser.add_argument("--port", type=int, default=8000, help="端口 / port (default 8000)")

    def handle(self, *args: Any, **options: Any) -> None:
        host, port = options["host"], options["port"]
        if not settings.DEBUG and settings.SECRET_KEY == settings.DEVELOPMENT_SECRET_KEY:
            raise CommandError(
                "拒绝使用内置的开发密钥提供网页服务：请运行 onboard90 init（生成 "
                f"{settings.SECRET_KEY_FILE}）或设置 ONBOARD90_SECRET_KEY / refusing to serve with the built-in "
                f"development secret key: run `onboard90 init` (it generates {settings.SECRET_KEY_FILE}) or set "
                "ONBOARD90_SECRET_KEY"
            )
        if pending_migrations():
            raise CommandError("数据库尚未初始化或需要迁移，请先运行 onboard90 init / the database needs `onboard90 init` first")
        if host not in ("127.0.0.1", "localhost", "::1") and "*" not in settings.ALLOWED_HOSTS:
            self.stderr.write(
                f"提示 / note: 从其他机器访问时请把主机名加入 ONBOARD90_ALLOWED_HOSTS "
                f"(当前 / now: {','.join(settings.ALLOWED_HOSTS)}) / add the host name you browse to"
            )
        try:
            server = make_server(host=host, port=port)
        except OSError as exc:
            raise CommandError(f"无法监听 / cannot listen on {host}:{port}: {exc.strerror or exc}") from exc
        shown = f"[{host}]" if ":" in host else host
        self.stdout.write(f"onboard90 网页服务 / web app: http://{shown}:{server.server_port}/")
        self.stdout.write(f"  管理后台 / admin: http://{shown}:{server.server_port}/admin/")
        self.stdout.write("  按 Ctrl-C 停止 / press Ctrl-C to stop")
        self.stdout.flush()
        try:
            server.serve_forever()
        except KeyboardInterrupt:
            self.stdout.write("已停止 / stopped")
        finally:
            server.server_close()
