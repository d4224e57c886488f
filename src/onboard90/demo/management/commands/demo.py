"""`onboard90 demo`: build a synthetic Shandong province with its history simulated by the real cycle,
say what was built and where to look, and optionally serve it."""

from __future__ import annotations

import sys
from typing import Any

from django.core.management import call_command

from onboard90.core import clock
from onboard90.core.commands import OnboardCommand, require_tools
from onboard90.core.progress import progress_bar
from onboard90.demo import services

JOURNEY_LABELS = {"active": "进行中 / active", "completed": "已完成 / completed", "exited": "已退出 / exited"}


class Command(OnboardCommand):
    help = "生成演示省份并模拟历史 / build a demo province with its history simulated up to today"

    def add_arguments(self, parser):
        parser.add_argument("--customers", type=int, default=20000, help="客户数 / customers (default 20000)")
        parser.add_argument("--days", type=int, default=120, help="入网天数 / days of activations (default 120)")
        parser.add_argument("--seed", type=int, default=2012, help="随机种子 / random seed (default 2012)")
        parser.add_argument("--today", help="模拟到此日期 / simulate up to this date, YYYY-MM-DD (default: today)")
        parser.add_argument(
            "--reset", action="store_true",
            help="先删除上次的演示数据（保留参考数据与服务方案）/ delete the previous demo first (reference data and "
            "playbook are kept)",
        )
        parser.add_argument(
            "--gateway", choices=services.GATEWAYS, default="file",
            help="短信网关：file 写入 var/demo/sms-sent.jsonl（默认），kannel 经本机启动的 Kannel 发送并接收送达报告 / "
            "SMS gateway: file appends to var/demo/sms-sent.jsonl (default); kannel sends through a Kannel started "
            "on loopback, with delivery reports (needs Debian's kannel and kannel-extras)",
        )
        parser.add_argument("--serve", action="store_true", help="完成后启动网页服务 / serve the web app afterwards")
        parser.add_argument("--port", type=int, default=8000, help="网页服务端口 / port for --serve (default 8000)")

    def handle(self, *args: Any, **options: Any) -> None:
        require_tools("faker", command="demo")
        today = clock.parse_date(options["today"]) if options["today"] else None
        opts = services.DemoOptions(
            customers=options["customers"], days=options["days"], seed=options["seed"], today=today,
            gateway=options["gateway"],
        )
        with progress_bar(enabled=sys.stderr.isatty()) as update:
            summary = services.demo_build(options=opts, reset=options["reset"], on_progress=update)
        self._print(summary)
        if options["serve"]:
            self.stdout.flush()
            call_command("serve", port=options["port"])

    def _print(self, s: dict[str, Any]) -> None:
        write = self.stdout.write
        c, t, sms = s["customers"], s["tasks"], s["sms"]
        journeys = "，".join(f"{JOURNEY_LABELS.get(k, k)} {v}" for k, v in s["journeys"].items())
        write(f"演示省份已生成 / demo province built  ({s['seconds']} s, seed {s['seed']})")
        write(f"  模拟区间 / simulated: {s['first_day']} → {s['today']}，日处理 {s['cycles']} 次 / {s['cycles']} daily cycles")
        write(
            f"  客户 / customers: {c['total']}（VIP {c['vip']}，预付费 / prepaid {c['prepaid']}，"
            f"已离网 / cancelled {c['cancelled']}）"
        )
        write(f"  旅程 / journeys: {journeys}")
        write(
            f"  任务 / tasks: 待办 / open {t['open']}（今日新增 / new today {t['opened_today']}），"
            f"已超时 / overdue {t['overdue']}，已关闭 / closed {t['closed']}"
        )
        write(
            f"  短信 / SMS（{s['gateway']}）: 已发送 / sent {sms['sent']}，已送达 / delivered {sms['delivered']}，"
            f"待发 / queued {sms['queued']}，错过 / missed {sms['missed']}"
        )
        r = s["replies"]
        write(
            f"  客户回复 / replies: 退订 / opt-outs {r['opt_out']}，满意度评分 / survey scores {r['survey_score']}，"
            f"接受推荐 / offers accepted {r['offer_accepted']}，未识别 / unmatched {r['unmatched']}"
        )
        write(f"  员工 / staff: {s['staff']}，生成的BSS文件与短信记录 / BSS files and sent SMS: {s['files']}")
        write("")
        write("下一步 / where to look next:")
        if s["example_vip"]:
            write(f"  onboard90 journey {s['example_vip']}        # 一位VIP客户的旅程 / a VIP customer's journey")
        if s["example_store"]:
            write(f"  onboard90 tasks --unit {s['example_store']}   # 营业厅待办 / a store's worklist")
        write("  onboard90 report compliance --by city   # 各地市合规率 / compliance by city")
        write("  onboard90 report sms                     # 短信发送与送达 / SMS sent, delivered, suppressed")
        write("  onboard90 replies --unmatched            # 待人工处理的回复 / replies for staff to read")
        admin = s["admin"]
        if s["admin_created"]:
            write(
                f"  登录 / sign in: admin, supervisor, clerk, club, agent, manager, clerk_qd — "
                f"密码 / password {admin['password']}（所有演示员工同一密码 / every demo staff account has it）"
            )
        else:
            write(
                f"  管理员 {admin['username']} 已存在，密码未改 / {admin['username']} already existed, password kept; "
                f"演示员工密码 / demo staff password: {admin['password']}"
            )
        write("  onboard90 serve                          # 网页与管理后台 / web app and admin: http://127.0.0.1:8000/")
