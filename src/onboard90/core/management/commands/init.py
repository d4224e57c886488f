"""`onboard90 init`: create or migrate the database and install the reference data, catalogue and playbook.

Safe to rerun: it applies only missing migrations and creates only missing rows, never overwriting an
operator's edits.
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import DEFAULT_DB_ALIAS, connections
from django.db.migrations.executor import MigrationExecutor

from onboard90.core.commands import OnboardCommand
from onboard90.core.models import ScratchDatabase
from onboard90.core.services import scratch_mark
from onboard90.customers.models import Customer
from onboard90.installation import install_reference_data, install_schedules

LABELS = {
    "cities": "地市 / cities",
    "units": "服务单位 / units",
    "packages": "套餐 / packages",
    "vip_tiers": "VIP等级 / VIP tiers",
    "reference_items": "参考信息 / reference items",
    "offers": "增值业务与优惠包 / offers",
}


def database_label() -> dict[str, Any]:
    """Which database this is, without its password."""
    config = settings.DATABASES[DEFAULT_DB_ALIAS]
    vendor = connections[DEFAULT_DB_ALIAS].vendor
    if vendor == "sqlite":
        return {"vendor": vendor, "location": str(config["NAME"])}
    host = config.get("HOST") or "localhost"
    port = f":{config['PORT']}" if config.get("PORT") else ""
    return {"vendor": vendor, "location": f"{host}{port}/{config['NAME']}"}


def _prepare_storage() -> None:
    Path(settings.VAR_DIR).mkdir(parents=True, exist_ok=True)
    _secret_key_file()
    config = settings.DATABASES[DEFAULT_DB_ALIAS]
    if connections[DEFAULT_DB_ALIAS].vendor == "sqlite" and str(config["NAME"]) != ":memory:":
        Path(config["NAME"]).parent.mkdir(parents=True, exist_ok=True)


def _secret_key_file() -> None:
    """A secret key of this installation's own, readable by its owner only, unless one is set in the
    environment (ONBOARD90_SECRET_KEY) or was generated before: the web app signs sessions with it."""
    path = Path(settings.VAR_DIR) / "secret.key"  # settings.SECRET_KEY_FILE, in the data folder as it is now
    if os.environ.get("ONBOARD90_SECRET_KEY") or path.exists():
        return
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "w", encoding="ascii") as fh:
        fh.write(secrets.token_urlsafe(50) + "\n")


def _migrate() -> int:
    """Apply pending migrations quietly; return how many were applied."""
    connection = connections[DEFAULT_DB_ALIAS]
    executor = MigrationExecutor(connection)
    pending = len(executor.migration_plan(executor.loader.graph.leaf_nodes()))
    if pending:
        call_command("migrate", interactive=False, verbosity=0)
    return pending


class Command(OnboardCommand):
    help = "初始化数据库、地市、套餐目录与默认服务方案 / create or migrate the database and load the defaults"

    def add_arguments(self, parser):
        parser.add_argument("--json", action="store_true", help="JSON 输出 / print the summary as JSON")
        parser.add_argument(
            "--scratch", action="store_true",
            help="标记为演练库：允许模拟时钟 (ONBOARD90_CLOCK)，只用于演示、培训与测试 / mark this a scratch "
            "database that accepts a simulated clock (ONBOARD90_CLOCK): for demos, training and tests, never "
            "for an operator's data",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        _prepare_storage()
        applied = _migrate()
        installed = install_reference_data()
        if options["scratch"]:
            if Customer.objects.exists() and not ScratchDatabase.objects.exists():
                raise CommandError(
                    "库中已有客户，不能标记为演练库 / this database already holds customers: it cannot be marked "
                    "scratch (use a new database for simulated history)"
                )
            scratch_mark(purpose="init")
        summary = {
            "scratch": ScratchDatabase.objects.exists(),
            "database": database_label(),
            "migrations_applied": applied,
            **installed,
            "schedules": install_schedules(),
        }
        if options["json"]:
            self.emit_json(summary)
            return
        self._print(summary)

    def _print(self, summary: dict[str, Any]) -> None:
        db = summary["database"]
        write = self.stdout.write
        write("onboard90 初始化完成 / initialised")
        write(
            f"  数据库 / database: {db['vendor']} {db['location']} "
            f"(本次迁移 / migrations applied: {summary['migrations_applied']})"
        )
        for key, label in LABELS.items():
            counts = summary[key]
            line = f"  {label}: 新建 / created {counts['created']}, 已有 / already present {counts['unchanged']}"
            if counts["edited"]:
                line += f" (其中 {counts['edited']} 条已被修改，予以保留 / {counts['edited']} edited, kept)"
            write(line)
        schedules = summary["schedules"]
        write(
            f"  定时任务 / schedules (onboard90 beat): 新建 / created {schedules['created']}, "
            f"已有 / already present {schedules['unchanged']}"
        )
        playbook = summary["playbook"]
        state = "已发布 / published" if playbook["published"] else "沿用当前版本 / current version kept"
        write(f"  服务方案 / playbook: v{playbook['version']} {playbook['name']} — {state}")
        if summary["scratch"]:
            write("  演练库：接受模拟时钟 / scratch database: accepts a simulated clock (ONBOARD90_CLOCK)")
        write("下一步 / next: onboard90 staff add … ; onboard90 serve")
