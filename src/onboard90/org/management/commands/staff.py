"""`onboard90 staff add|list`: add staff members with their role and unit, and list them."""

from __future__ import annotations

from typing import Any

from django.core.management.base import CommandError
from rich.table import Table

from onboard90.core.commands import OnboardCommand, console_for
from onboard90.org.enums import Role
from onboard90.org.models import StaffProfile
from onboard90.org.selectors import staff_as_dict, staff_list
from onboard90.org.services import staff_add


class Command(OnboardCommand):
    help = "员工管理 / staff: add a staff member (add) or list staff (list)"

    def add_arguments(self, parser):
        sub = parser.add_subparsers(dest="action", metavar="add|list", required=True)

        add = sub.add_parser("add", help="添加员工 / add a staff member")
        add.add_argument("username", help="登录名 / login name")
        add.add_argument("--role", required=True, choices=Role.values, help="角色 / role")
        add.add_argument(
            "--city", help="地市: 代码、名称或区号 / city: code, name or area code (all roles but province_admin)"
        )
        add.add_argument("--unit", help="单位代码 / unit code, e.g. jinan-store-2 (default: by role)")
        add.add_argument("--password", help="初始密码 / initial password (default: none, cannot log in)")
        add.add_argument(
            "--name", default="", dest="display_name", help="姓名 / display name (account managers: required)"
        )
        add.add_argument(
            "--phone",
            default="",
            help="工作电话 / work phone, e.g. 18653112345 or 0531-88881234 (account managers: required)",
        )
        add.add_argument("--json", action="store_true", help="JSON 输出 / print the new staff member as JSON")

        lst = sub.add_parser("list", help="员工列表 / list staff")
        lst.add_argument("--city", help="地市 / city")
        lst.add_argument("--role", choices=Role.values, help="角色 / role")
        lst.add_argument("--json", action="store_true", help="JSON 输出 / print a JSON list")

    def handle(self, *args: Any, **options: Any) -> None:
        if options["action"] == "add":
            self._add(options)
        elif options["action"] == "list":
            self._list(options)
        else:  # argparse enforces the choice; this guards call_command misuse
            raise CommandError("用法 / usage: onboard90 staff add|list …")

    def _add(self, options: dict[str, Any]) -> None:
        user = staff_add(
            username=options["username"],
            role=options["role"],
            city=options.get("city"),
            unit=options.get("unit"),
            password=options.get("password"),
            display_name=options.get("display_name") or "",
            phone=options.get("phone") or "",
        )
        row = _row(user.staff)
        if options.get("json"):
            self.emit_json(row)
            return
        where = f"{row['unit_name']} ({row['unit']})" if row["unit"] else (row["city_name"] or "全省 / province")
        self.stdout.write(f"已添加员工 / staff added: {row['username']} {row['display_name']}".rstrip())
        self.stdout.write(f"  角色 / role: {row['role_name']} ({row['role']})")
        self.stdout.write(f"  单位 / unit: {where}")
        if row["phone"]:
            self.stdout.write(f"  工作电话 / work phone: {row['phone']}")
        if not row["can_log_in"]:
            self.stdout.write("  未设密码，暂不能登录 / no password set: cannot log in until one is set")

    def _list(self, options: dict[str, Any]) -> None:
        rows = [_row(p) for p in staff_list(city=options.get("city"), role=options.get("role"))]
        if options.get("json"):
            self.emit_json(rows)
            return
        if not rows:
            self.stdout.write("没有员工 / no staff")
            return
        table = Table(title=f"员工 / staff ({len(rows)})", title_justify="left")
        headers = ["用户名 / username", "姓名 / name", "工作电话 / phone", "角色 / role", "地市 / city", "单位 / unit",
                   "在岗 / active"]  # fmt: skip
        for header in headers:
            table.add_column(header, no_wrap=True)
        for row in rows:
            table.add_row(
                row["username"],
                row["display_name"],
                row["phone"] or "—",
                row["role_name"],
                row["city_name"] or "—",
                row["unit"] or "—",
                "是 yes" if row["active"] else "否 no",
            )
        console_for(self.stdout).print(table)


def _row(profile: StaffProfile) -> dict[str, Any]:
    """A staff member as the command prints them: `staff_as_dict` plus the work phone."""
    return {**staff_as_dict(profile), "phone": profile.phone}
