"""`onboard90 apikey create NAME --scope province|city:<code>|unit:<code>`, `apikey list`, `apikey revoke NAME`:
the keys of the system accounts (BSS, CRM, CTI) that call the API."""

from __future__ import annotations

from typing import Any

from django.core.management.base import CommandError

from onboard90.api.models import ApiKey
from onboard90.api.services import apikey_as_dict, apikey_create, apikey_revoke
from onboard90.core.commands import OnboardCommand


class Command(OnboardCommand):
    help = "接口密钥 / API keys of the system accounts: create (shown once), list, revoke"

    def add_arguments(self, parser):
        sub = parser.add_subparsers(dest="action", metavar="create|list|revoke", required=True)
        create = sub.add_parser("create", help="新建密钥（只显示一次）/ a new key, shown once")
        create.add_argument("name", help="系统账号名 / system account name, e.g. bss, crm, cti")
        create.add_argument(
            "--scope",
            required=True,
            help="范围 / scope: province, city:<地市代码 code>, unit:<单位代码 code> (a store, club or call centre)",
        )
        create.add_argument("--json", action="store_true", help="JSON 输出 / print the key as JSON")
        lst = sub.add_parser("list", help="密钥列表 / list keys (never their secrets)")
        lst.add_argument("--json", action="store_true")
        revoke = sub.add_parser("revoke", help="吊销密钥 / revoke an account's live key")
        revoke.add_argument("name")

    def handle(self, *args: Any, **options: Any) -> None:
        action = options["action"]
        if action == "create":
            new = apikey_create(name=options["name"], scope=options["scope"])
            row = apikey_as_dict(new.key)
            if options["json"]:
                self.emit_json({**row, "key": new.token})
                return
            where = row["unit"] or row["city"] or "全省 / province"
            self.stdout.write(f"已创建密钥 / key created for {row['account']} ({row['scope']}: {where})")
            self.stdout.write(new.token)
            self.stdout.write("请立即保存，密钥不会再次显示 / store it now: it is not shown again")
        elif action == "list":
            rows = [apikey_as_dict(k) for k in ApiKey.objects.select_related("account", "city", "unit")]
            if options["json"]:
                self.emit_json(rows)
                return
            if not rows:
                self.stdout.write("没有密钥 / no keys (onboard90 apikey create NAME --scope …)")
            for r in rows:
                state = f"吊销 revoked {r['revoked_at'][:16]}" if r["revoked_at"] else "有效 live"
                used = r["last_used_at"][:16] if r["last_used_at"] else "-"
                where = r["unit"] or r["city"] or "province"
                self.stdout.write(
                    f"{r['name']:<16} ob90_{r['prefix']}_…  {r['scope']}:{where:<20} {state:<26} 最近使用 last used {used}"
                )
        elif action == "revoke":
            key = apikey_revoke(name=options["name"])
            self.stdout.write(f"已吊销 / revoked: {key.name} (ob90_{key.prefix}_…)")
        else:  # pragma: no cover - argparse enforces the choice
            raise CommandError("用法 / usage: onboard90 apikey create|list|revoke …")
